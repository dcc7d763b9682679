"""Looking at motion: a video of the body model driven by a clip, and a gallery of bodies.

Both render the mesh with the rasterizer over a checkered floor, seen by a camera that keeps the
whole motion in view.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from simpose.body.model import BodyModel, sample_shape
from simpose.geometry import look_at
from simpose.motion.retarget import MotionClip

logger = logging.getLogger(__name__)

__all__ = ["PreviewError", "load_motion", "render_preview", "render_gallery"]


class PreviewError(ValueError):
    """A clip that cannot be previewed (unknown family, unreadable file, bad output type)."""


def _floor(center: np.ndarray, half: float, n: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A checkered floor at y = 0: vertices (V,3), faces (F,3), colours (V,3) uint8."""
    verts, faces, cols = [], [], []
    step = 2 * half / n
    for i in range(n):
        for j in range(n):
            x0, z0 = center[0] - half + i * step, center[2] - half + j * step
            base = len(verts)
            verts += [[x0, 0, z0], [x0 + step, 0, z0], [x0 + step, 0, z0 + step], [x0, 0, z0 + step]]
            faces += [[base, base + 1, base + 2], [base, base + 2, base + 3]]
            cols += [[200, 200, 200] if (i + j) % 2 else [150, 150, 160]] * 4
    return np.array(verts, float), np.array(faces, np.int32), np.array(cols, np.uint8)


def load_motion(
    clip: str | Path,
    body: BodyModel,
    fps: float,
    seconds: float,
    shape_params: np.ndarray,
    rng: np.random.Generator,
    joint_map: Path | None = None,
) -> MotionClip:
    """A BVH file retargeted onto ``shape_params`` at ``fps``, or ``procedural:FAMILY``."""
    n_frames = max(2, int(round(seconds * fps)))
    spec = str(clip)
    if spec.startswith("procedural:"):
        from simpose.motion.procedural import FAMILIES, generate

        family = spec.split(":", 1)[1]
        if family not in FAMILIES:
            raise PreviewError(f"unknown procedural family {family!r}; known: {', '.join(FAMILIES)}")
        return generate(family, n_frames, fps, rng, body, shape_params=shape_params)
    from simpose.motion.library import read_mocap
    from simpose.motion.retarget import load_joint_map, retarget

    path = Path(clip)
    if not path.is_file():
        raise PreviewError(f"{path}: no such BVH file (nor AMC; or use procedural:FAMILY)")
    bvh = read_mocap(path)  # .bvh, or Acclaim .amc with its .asf beside or above it
    motion = retarget(
        bvh, body, shape_params=shape_params, joint_map=load_joint_map(joint_map) if joint_map else None,
        skip_first_frame=path.suffix.lower() != ".amc",  # the cgspeed BVH files start with a T-pose
        align_hips=path.suffix.lower() == ".amc",  # as the motion library retargets AMC takes
    )  # fmt: skip
    step = max(1, int(round(motion.fps / fps)))  # the preview only needs to look right: subsample
    n = min(motion.n_frames, n_frames * step)
    motion = motion.slice(0, n)
    return MotionClip(
        pose_rotvecs=motion.pose_rotvecs[::step],
        global_rotvecs=motion.global_rotvecs[::step],
        trans=motion.trans[::step],
        fps=motion.fps / step,
        source=motion.source,
        shape_params=motion.shape_params,
    )


def _skin_color(shape_params: np.ndarray) -> np.ndarray:
    palette = np.array([[224, 172, 105], [241, 194, 125], [198, 134, 66], [141, 85, 36], [255, 219, 172]], np.uint8)
    return palette[int(shape_params.sum() * 1000) % len(palette)]


def render_preview(
    clip: str | Path,
    out: str | Path,
    fps: float = 30.0,
    seconds: float = 4.0,
    size: int = 384,
    seed: int = 0,
    age: float | None = None,
    joint_map: Path | None = None,
    progress: bool = False,
) -> Path:
    """Render the body driven by ``clip`` to ``out`` (.mp4 or .gif); returns the path."""
    from simpose.render.raster import Lighting, Rasterizer
    from simpose.viz.video import VideoWriter

    out = Path(out)
    if out.suffix.lower() not in (".mp4", ".gif"):
        raise PreviewError(f"{out}: the preview must be a .mp4 or .gif file")
    rng = np.random.default_rng(seed)
    shape = sample_shape(1, rng)[0]
    if age is not None:
        if not 0.0 <= age <= 1.0:
            raise PreviewError(f"age must lie in [0, 1], got {age}")
        shape[1] = age
    body = BodyModel()
    motion = load_motion(clip, body, fps, seconds, shape, rng, joint_map)
    sp = torch.as_tensor(shape)[None]
    faces = body.faces.numpy().astype(np.int32)
    path_center = motion.trans.mean(0)
    extent = np.ptp(motion.trans[:, [0, 2]], axis=0).max() + 2.0
    target = np.array([path_center[0], -0.9, path_center[2]])
    eye = target + np.array([0.5, -0.6, -1.0]) / np.linalg.norm([0.5, -0.6, -1.0]) * (1.1 * extent + 1.5)
    camera = look_at(eye, target, focal=1.2 * size, size=(size, size))
    fv, ff, fc = _floor(np.array([path_center[0], 0, path_center[2]]), extent / 2 + 1.0)
    color = _skin_color(shape)
    frames = range(motion.n_frames)
    if progress:
        from rich.progress import track

        frames = track(frames, description=f"preview {Path(str(clip)).name}", transient=True)
    with Rasterizer(size, size) as raster, VideoWriter(out, motion.fps) as writer:
        for t in frames:
            with torch.no_grad():
                o = body(
                    torch.as_tensor(motion.pose_rotvecs[t : t + 1]),
                    sp,
                    torch.as_tensor(motion.global_rotvecs[t : t + 1]),
                    torch.as_tensor(motion.trans[t : t + 1]),
                )
            verts = [camera.world_to_camera(o.vertices)[0].numpy(), camera.world_to_camera(torch.as_tensor(fv))[None][0].numpy()]
            res = raster.rasterize(
                verts,
                [faces, ff],
                camera,
                colors=[np.broadcast_to(color, (verts[0].shape[0], 3)), fc],
                background=np.full((size, size, 3), 235, np.uint8),
                lighting=Lighting(direction=(0.3, 0.6, 1.0), intensity=0.65, ambient=0.35),
            )
            writer.write(res.rgb)
    return out


def render_gallery(
    clips: list[Path],
    out: str | Path,
    n_bodies: int = 8,
    seed: int = 0,
    tile: int = 192,
) -> Path:
    """A grid image: row i is a body from child to elder, column j a pose from clip j.

    Each body takes its pose from a random frame of its clip, retargeted onto that body.
    """
    from PIL import Image

    from simpose.motion.bvh import BvhClip
    from simpose.motion.library import read_mocap
    from simpose.motion.retarget import retarget
    from simpose.render.raster import Lighting, Rasterizer

    rng = np.random.default_rng(seed)
    body = BodyModel()
    shapes = sample_shape(n_bodies, rng)
    shapes[:, 1] = np.linspace(0.1, 1.0, n_bodies)  # children to elders, in order
    faces = body.faces.numpy().astype(np.int32)
    grid = np.full((n_bodies * tile, len(clips) * tile, 3), 255, np.uint8)
    with Rasterizer(tile, tile) as raster:
        for j, clip_path in enumerate(clips):
            bvh = read_mocap(clip_path)
            frame = int(rng.integers(1, bvh.n_frames - 1))
            # frame 0 (the T-pose, dropped by retarget) and the chosen frame only: one pose is enough
            two = BvhClip(bvh.skeleton, bvh.motion[[0, frame]], bvh.frame_time, bvh.source)
            for i, shape in enumerate(shapes):
                motion = retarget(two, body, shape_params=shape)
                with torch.no_grad():
                    o = body(torch.as_tensor(motion.pose_rotvecs), torch.as_tensor(shape)[None], torch.as_tensor(motion.global_rotvecs))
                v = o.vertices[0].numpy()
                center = (v.max(0) + v.min(0)) / 2
                eye = center + np.array([0.0, 0.0, -6.5])  # front view, one scale for all: 2 m fills the tile
                camera = look_at(eye, center, focal=2.6 * tile, size=(tile, tile))
                res = raster.rasterize(
                    camera.world_to_camera(torch.as_tensor(v)).numpy(),
                    faces,
                    camera,
                    colors=np.broadcast_to(_skin_color(shape), v.shape),
                    background=np.full((tile, tile, 3), 245, np.uint8),
                    lighting=Lighting(direction=(0.3, 0.6, 1.0), intensity=0.65, ambient=0.35),
                )
                grid[i * tile : (i + 1) * tile, j * tile : (j + 1) * tile] = res.rgb
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(out)
    return out
