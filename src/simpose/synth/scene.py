"""Scene sampling: people (motions, bodies, looks, placement), camera path, light, background.

World frame: y down, floor at y = 0 (as :mod:`simpose.motion.library`). A :class:`Scene` holds
only numbers and arrays; :mod:`simpose.synth.clip` renders it.

Camera: focal length ``f_mm`` uniform in [35, 85] mm full-frame equivalent (``fx = f_mm / 36 * W``),
height 0.5-2.5 m above the floor, random azimuth, distance chosen so that the box around every
person over the whole clip fits in view with a margin, looking at the box centre (pitch and yaw
follow), moving linearly at up to ``max_camera_speed`` m/s while keeping that target.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from simpose.body.model import BodyModel
from simpose.camera import Camera
from simpose.motion.library import MotionLibrary
from simpose.render.appearance import Appearance, BackgroundSource, sample_appearance, sample_lighting
from simpose.render.raster import Lighting
from simpose.viz.preview import look_at

__all__ = ["SceneConfig", "Person", "Scene", "sample_scene", "camera_at"]


@dataclasses.dataclass(frozen=True)
class SceneConfig:
    """How scenes are drawn.

    Attributes:
        size: image width = height, pixels.
        frames: T frames per clip.
        fps: frame rate.
        people: at most this many people (1..people, uniform).
        focal_mm: (min, max) full-frame equivalent focal length, mm.
        height_m: (min, max) camera height above the floor, m.
        max_camera_speed: m/s.
        spacing_m: minimum distance between people's start positions, m.
        far_m: distance of the background plane behind the target (see ``clip``), m.
    """

    size: int = 256
    frames: int = 16
    fps: float = 30.0
    people: int = 1
    focal_mm: tuple[float, float] = (35.0, 85.0)
    height_m: tuple[float, float] = (0.5, 2.5)
    max_camera_speed: float = 0.5
    spacing_m: float = 1.0
    far_m: float = 6.0

    def __post_init__(self) -> None:
        if self.size <= 0 or self.frames < 1 or self.people < 1 or not self.fps > 0:
            raise ValueError(
                f"need size > 0, frames >= 1, people >= 1 and fps > 0; got size={self.size}, "
                f"frames={self.frames}, people={self.people}, fps={self.fps}"
            )


@dataclasses.dataclass(frozen=True)
class Person:
    """One person of a scene.

    Attributes:
        pose_rotvecs: (T, 19, 3) radians. global_rotvecs: (T, 3). trans: (T, 3) world, metres.
        shape_params: (6,). vertices: (T, V, 3) and bone_heads (T, NB, 3) world, metres.
        appearance: colours.
        source: the motion library's source string.
    """

    pose_rotvecs: np.ndarray
    global_rotvecs: np.ndarray
    trans: np.ndarray
    shape_params: np.ndarray
    vertices: np.ndarray
    bone_heads: np.ndarray
    appearance: Appearance
    source: str


@dataclasses.dataclass(frozen=True)
class Scene:
    """A sampled scene: people, the camera path and the look.

    Attributes:
        people: P :class:`Person`.
        K: (3, 3) intrinsics. eyes: (T, 3) camera centres, world. target: (3,) look-at point.
        size: pixels. lighting, background (H, W, 3) uint8 for frame 0, background_source.
        far_depth: depth of the background plane in camera 0, metres.
    """

    people: list[Person]
    K: np.ndarray
    eyes: np.ndarray
    target: np.ndarray
    size: int
    lighting: Lighting
    background: np.ndarray
    background_source: str
    far_depth: float
    focal_mm: float

    def camera(self, t: int) -> Camera:
        """The camera of frame ``t`` (float64)."""
        return camera_at(self.eyes[t], self.target, self.K, self.size)


def camera_at(eye: np.ndarray, target: np.ndarray, K: np.ndarray, size: int) -> Camera:
    """A float64 camera at ``eye`` looking at ``target`` with intrinsics ``K``."""
    cam = look_at(np.asarray(eye, np.float64), np.asarray(target, np.float64), float(K[0, 0]), (size, size))
    return Camera(torch.as_tensor(K, dtype=torch.float64), cam.R, cam.t, (size, size))


def sample_scene(
    config: SceneConfig,
    rng: np.random.Generator,
    body: BodyModel,
    library: MotionLibrary,
    part_labels: np.ndarray,
    backgrounds: BackgroundSource,
) -> Scene:
    """Draw people, a camera path, light and background.

    Every person's T frames go through one batched body forward.
    """
    T, S = config.frames, config.size
    n_people = int(rng.integers(1, config.people + 1))
    people: list[Person] = []
    starts: list[np.ndarray] = []
    for _ in range(n_people):
        sample = library.sample(rng, T, config.fps)
        m = sample.motion
        # a start at least spacing_m from the others, on a growing ring
        offset = np.zeros(3)
        for attempt in range(100):
            r = config.spacing_m * (len(starts) + attempt * 0.1) ** 0.5 * 1.2
            a = rng.uniform(0, 2 * np.pi)
            offset = np.array([r * np.cos(a), 0.0, r * np.sin(a)])
            if all(np.linalg.norm(offset - s) >= config.spacing_m for s in starts):
                break
        starts.append(offset)
        trans = np.asarray(m.trans, np.float64) + offset
        shape = np.asarray(sample.shape_params, np.float64)
        with torch.no_grad():
            out = body(
                torch.as_tensor(m.pose_rotvecs, dtype=body.dtype),
                torch.as_tensor(shape[None], dtype=body.dtype),
                torch.as_tensor(m.global_rotvecs, dtype=body.dtype),
                torch.as_tensor(trans, dtype=body.dtype),
            )
            rest = body.rest_vertices(torch.as_tensor(shape[None], dtype=body.dtype))[0].numpy()
        people.append(
            Person(
                pose_rotvecs=np.asarray(m.pose_rotvecs, np.float64),
                global_rotvecs=np.asarray(m.global_rotvecs, np.float64),
                trans=trans,
                shape_params=shape,
                vertices=out.vertices.numpy(),
                bone_heads=out.bone_heads.numpy(),
                appearance=sample_appearance(rest, part_labels, rng),
                source=sample.source,
            )
        )
    allv = np.concatenate([p.vertices.reshape(-1, 3) for p in people])
    lo, hi = allv.min(0), allv.max(0)
    target = (lo + hi) / 2
    f_mm = float(rng.uniform(*config.focal_mm))
    fx = f_mm / 36.0 * S
    K = np.array([[fx, 0, (S - 1) / 2], [0, fx, (S - 1) / 2], [0, 0, 1.0]])
    tan_half = (S / 2) / fx
    radius = 0.5 * np.linalg.norm(hi - lo)
    dist = radius / tan_half * 1.05 + 0.3 * radius  # the bounding sphere in view, a little margin
    height = float(rng.uniform(*config.height_m))
    az = rng.uniform(0, 2 * np.pi)
    horiz = np.sqrt(max(dist**2 - (height + target[1]) ** 2, (0.3 * dist) ** 2))
    eye0 = np.array([target[0] + horiz * np.cos(az), -height, target[2] + horiz * np.sin(az)])
    vel = rng.normal(size=3)
    vel[1] *= 0.3
    vel *= rng.uniform(0, config.max_camera_speed) / max(np.linalg.norm(vel), 1e-9)
    eyes = eye0 + vel * (np.arange(T)[:, None] / config.fps)
    background, bg_source = backgrounds.sample((S, S), rng)
    return Scene(
        people=people,
        K=K,
        eyes=eyes,
        target=target,
        size=S,
        lighting=sample_lighting(rng),
        background=background,
        background_source=bg_source,
        far_depth=float(np.linalg.norm(target - eye0) + config.far_m),
        focal_mm=f_mm,
    )
