"""Scene sampling: people (motions, bodies, looks, placement), camera path, light, background.

World frame: y down, floor at y = 0 (as :mod:`simpose.motion.library`). A :class:`Scene` holds
only numbers and arrays; :mod:`simpose.synth.clip` renders it.

Camera: focal length ``f_mm`` uniform in [35, 85] mm full-frame equivalent (``fx = f_mm / 36 * W``),
height 0.5-2.5 m above the floor, random azimuth, distance chosen so that the box around every
person over the whole clip fits in view with a margin, looking at the box centre (pitch and yaw
follow), moving linearly at up to ``max_camera_speed`` m/s while keeping that target. Optionally
(``distance_scale``, ``off_centre``; off by default) the distance is scaled and the look-at point
moved, for people at the sizes, crops and image positions of real video.

Truncation: each person is, with probability ``truncated_share``, left out of that framing and then
shifted along camera 0's horizontal axis (so it stays on the floor) until a random 20-60 % of its
frame-0 image width lies beyond the left or right border. ``Person.truncated`` records the draw;
``tests/synth`` checks the rendered share.

Bodies are posed with :class:`simpose.body.skinning.Skinner` (rest model once per person, float32
skinning per frame). Truncation and occluders draw from their own random streams (seeded from
the clip's generator at fixed points), so switching them on or off leaves the rest of a scene as it was.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from simpose.body.model import BodyModel
from simpose.body.skinning import Skinner
from simpose.camera import Camera
from simpose.geometry import look_at
from simpose.motion.library import MotionLibrary
from simpose.render.appearance import Appearance, BackgroundSource, sample_appearance, sample_lighting
from simpose.render.raster import Lighting

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
        truncated_share: probability that a person is cut by the left or right frame border.
        occluder_prob: probability that a clip has synthetic occluders pasted in front
            (:mod:`simpose.synth.occluders`); max_occluders: 1..this many then.
        motion_blur: exposure as a fraction of the frame interval (0 = off): RGB is averaged
            along the ground-truth flow (:mod:`simpose.synth.degrade`).
        noise_std: sensor noise: each clip gets Gaussian noise with a standard deviation uniform
            in [0, noise_std] 8-bit levels (0 = off).
        jpeg_quality: JPEG compression of every frame at a quality uniform in
            [jpeg_quality, 95] per clip (0 = off).
        distance_scale: (min, max): the camera distance that fits everyone in view is multiplied
            by a log-uniform factor in this range per clip: above 1 people are smaller (far
            away), below 1 the frame crops them (close-ups, as in real video). (1, 1) = off.
        off_centre: the look-at point moves sideways and up/down by up to this fraction of the
            half field of view at the target's distance (people not always centred; 0 = off).
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
    truncated_share: float = 0.1
    occluder_prob: float = 0.3
    max_occluders: int = 2
    motion_blur: float = 0.0
    noise_std: float = 0.0
    jpeg_quality: int = 0
    distance_scale: tuple[float, float] = (1.0, 1.0)
    off_centre: float = 0.0

    def __post_init__(self) -> None:
        if self.size <= 0 or self.frames < 1 or self.people < 1 or not self.fps > 0:
            raise ValueError(
                f"need size > 0, frames >= 1, people >= 1 and fps > 0; got size={self.size}, "
                f"frames={self.frames}, people={self.people}, fps={self.fps}"
            )
        if not (0 <= self.truncated_share <= 1 and 0 <= self.occluder_prob <= 1):
            raise ValueError(
                f"truncated_share and occluder_prob are probabilities in [0, 1]; got {self.truncated_share}, {self.occluder_prob}"
            )
        if self.max_occluders < 1 or not 0 <= self.motion_blur <= 1 or self.noise_std < 0:
            raise ValueError(
                f"need max_occluders >= 1, 0 <= motion_blur <= 1 (fraction of a frame) and noise_std >= 0; "
                f"got {self.max_occluders}, {self.motion_blur}, {self.noise_std}"
            )
        if self.jpeg_quality != 0 and not 1 <= self.jpeg_quality <= 95:
            raise ValueError(f"jpeg_quality must be 0 (off) or a JPEG quality in 1..95, got {self.jpeg_quality}")
        lo, hi = self.distance_scale
        if not 0 < lo <= hi or not 0 <= self.off_centre <= 1:
            raise ValueError(
                f"need 0 < distance_scale[0] <= distance_scale[1] and 0 <= off_centre <= 1; got {self.distance_scale}, {self.off_centre}"
            )


@dataclasses.dataclass(frozen=True)
class Person:
    """One person of a scene.

    Attributes:
        pose_rotvecs: (T, 19, 3) radians. global_rotvecs: (T, 3). trans: (T, 3) world, metres.
        shape_params: (6,). vertices: (T, V, 3) float32 and bone_heads (T, NB, 3) world, metres.
        appearance: colours.
        source: the motion library's source string.
        truncated: whether the person was placed across a frame border.
        normals: (T, V, 3) float32 world-frame vertex normals for shading (skinned rest
            normals, :meth:`simpose.body.skinning.Skinner.pose`), or None (computed from the mesh).
    """

    pose_rotvecs: np.ndarray
    global_rotvecs: np.ndarray
    trans: np.ndarray
    shape_params: np.ndarray
    vertices: np.ndarray
    bone_heads: np.ndarray
    appearance: Appearance
    source: str
    truncated: bool = False
    normals: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class Scene:
    """A sampled scene: people, the camera path and the look.

    Attributes:
        people: P :class:`Person`.
        K: (3, 3) intrinsics. eyes: (T, 3) camera centres, world. target: (3,) look-at point.
        size: pixels. lighting, background (H, W, 3) uint8 for frame 0, background_source.
        far_depth: depth of the background plane in camera 0, metres.
        focal_mm: full-frame equivalent focal length.
        occluders: :class:`simpose.synth.occluders.Occluder` pasted in front, in order.
        degrade_seed: seed of the stream of the RGB degradations (:mod:`simpose.synth.degrade`).
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
    occluders: tuple = ()
    degrade_seed: int = 0

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
    skinner: Skinner | None = None,
) -> Scene:
    """Draw people, a camera path, light, background and occluders.

    Args:
        skinner: the fast posing path for ``body`` (made here when None; pass one to reuse it).
    """
    from simpose.synth.occluders import sample_occluders

    skinner = Skinner(body) if skinner is None else skinner
    T, S = config.frames, config.size
    # seeds of the truncation and occluder streams, drawn whatever the config says
    trunc_seed, occ_seed, degrade_seed = (int(x) for x in rng.integers(0, 2**63 - 1, size=3))
    trunc_rng, occ_rng = np.random.default_rng(trunc_seed), np.random.default_rng(occ_seed)
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
        rest = skinner.rest(shape, normals=True)
        pose = np.asarray(m.pose_rotvecs, np.float64)
        glob = np.asarray(m.global_rotvecs, np.float64)
        vertices, heads, normals = skinner.pose(rest, pose, glob, trans, normals=True)
        ref = skinner.pose(rest, np.zeros((1, *pose.shape[1:])), np.zeros((1, 3)), np.zeros((1, 3)))[0][0]
        people.append(
            Person(
                pose_rotvecs=pose,
                global_rotvecs=glob,
                trans=trans,
                shape_params=shape,
                vertices=vertices,
                bone_heads=heads,
                appearance=sample_appearance(ref, part_labels, rng),
                source=sample.source,
                normals=normals,
            )
        )
    truncated = trunc_rng.random(n_people) < config.truncated_share if config.truncated_share > 0 else np.zeros(n_people, bool)
    framed = [p for p, cut in zip(people, truncated) if not cut] or people
    allv = np.concatenate([p.vertices.reshape(-1, 3) for p in framed]).astype(np.float64)
    lo, hi = allv.min(0), allv.max(0)
    target = (lo + hi) / 2
    f_mm = float(rng.uniform(*config.focal_mm))
    fx = f_mm / 36.0 * S
    K = np.array([[fx, 0, (S - 1) / 2], [0, fx, (S - 1) / 2], [0, 0, 1.0]])
    tan_half = (S / 2) / fx
    radius = 0.5 * np.linalg.norm(hi - lo)
    dist = radius / tan_half * 1.05 + 0.3 * radius  # the bounding sphere in view, a little margin
    # framing of real video (sizes, crops, off-centre people): a stream of its own, seeded from
    # the truncation seed, so the default framing leaves every other draw as it was
    frame_rng = np.random.default_rng([trunc_seed, 1])
    lo_s, hi_s = config.distance_scale
    if hi_s != 1.0 or lo_s != 1.0:
        dist *= float(np.exp(frame_rng.uniform(np.log(lo_s), np.log(hi_s))))
    height = float(rng.uniform(*config.height_m))
    az = rng.uniform(0, 2 * np.pi)
    horiz = np.sqrt(max(dist**2 - (height + target[1]) ** 2, (0.3 * dist) ** 2))
    eye0 = np.array([target[0] + horiz * np.cos(az), -height, target[2] + horiz * np.sin(az)])
    vel = rng.normal(size=3)
    vel[1] *= 0.3
    vel *= rng.uniform(0, config.max_camera_speed) / max(np.linalg.norm(vel), 1e-9)
    eyes = eye0 + vel * (np.arange(T)[:, None] / config.fps)
    if config.off_centre > 0:
        view = (target - eye0) / np.linalg.norm(target - eye0)
        right = np.cross(view, [0.0, 1.0, 0.0])
        right /= max(np.linalg.norm(right), 1e-9)
        a, b = frame_rng.uniform(-1, 1, size=2) * config.off_centre * np.linalg.norm(target - eye0) * tan_half
        target = target + a * right + np.array([0.0, b, 0.0])
    background, bg_source = backgrounds.sample((S, S), rng)
    cam0 = camera_at(eyes[0], target, K, S)
    people = [
        _truncate(p, cam0, K, S, trunc_rng) if cut else p for p, cut in zip(people, truncated)
    ]
    occluders = sample_occluders(config, occ_rng, [p.vertices for p in people], cam0, T) if (
        config.occluder_prob > 0 and occ_rng.random() < config.occluder_prob
    ) else ()
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
        occluders=tuple(occluders),
        degrade_seed=degrade_seed,
    )


def _truncate(person: Person, cam0: Camera, K: np.ndarray, S: int, rng: np.random.Generator) -> Person:
    """The person shifted along camera 0's x axis (horizontal: the camera has no roll) so that a
    random 20-60 % of its frame-0 image width lies beyond the left or right border."""
    R, t = cam0.R.numpy(), cam0.t.numpy()
    vc = person.vertices[0].astype(np.float64) @ R.T + t
    u = K[0, 0] * vc[:, 0] / vc[:, 2] + K[0, 2]
    lo, hi, width = u.min(), u.max(), np.ptp(u)
    cut = rng.uniform(0.2, 0.6) * width
    right = rng.random() < 0.5
    du = (S - 0.5 + cut - hi) if right else (-0.5 - cut - lo)
    z = float(np.median(vc[:, 2]))
    offset = R[0] * (du * z / K[0, 0])  # world shift along the camera's x axis
    return dataclasses.replace(
        person,
        trans=person.trans + offset,
        vertices=person.vertices + offset.astype(np.float32),
        bone_heads=person.bone_heads + offset,
        truncated=True,
    )
