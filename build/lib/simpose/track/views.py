"""The views of a run: ``overlay.mp4``, ``skeleton3d.mp4`` and ``summary.png``.

Each video is written to a temporary file and renamed when complete
(:class:`simpose.viz.video.VideoWriter`), so an interrupted run leaves no truncated file.
Without OpenGL (no EGL here) the overlay is skipped with a logged error; the rest is written.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from simpose.body.fit import BodyFit, body_vertices
from simpose.body.model import BodyModel
from simpose.viz.overlay import OverlayRenderer
from simpose.viz.skeleton3d import render_skeleton3d
from simpose.viz.summary import write_summary
from simpose.viz.video import VideoWriter

__all__ = ["write_views"]

log = logging.getLogger(__name__)
MESH_BATCH = 32  # frames per batched mesh forward


def write_views(out_dir: Path, source, frame_index: np.ndarray, arrays: dict, body: BodyModel, fit: BodyFit, config) -> dict[str, Path]:
    """Write the three views of one run (main person, P index 0).

    Args:
        out_dir: run folder.
        source: the opened video.
        frame_index: (T,) video frame of each result row.
        arrays: the ``poses.npz`` content.
        body, fit: the body model and the fitted motion.
        config: the :class:`~simpose.track.run.RunConfig` (``max_side``, ``progress``).
    Returns:
        name -> path.
    """
    T = len(frame_index)
    fps = float(arrays["fps"])
    valid = arrays["valid"][:, 0]
    joint_set = str(arrays["joint_set"])
    valid_rows = np.flatnonzero(valid)
    picks = set(valid_rows[np.linspace(0, len(valid_rows) - 1, min(4, len(valid_rows))).round().astype(int)].tolist())
    thumbs: list[tuple[int, np.ndarray]] = []
    paths: dict[str, Path] = {}

    from simpose.render.context import RenderError

    try:
        paths["overlay.mp4"] = _overlay(out_dir, source, frame_index, arrays, body, fit, config, picks, thumbs)
    except RenderError as e:  # the poses are written already; say what is missing and go on
        log.error("overlay.mp4 not written: %s", e)
        thumbs = []

    frames3d = render_skeleton3d(arrays["joints3d"][:, 0], valid, joint_set, fps)
    if config.progress:
        from rich.progress import track

        frames3d = track(frames3d, total=T, description="3D view", transient=True)
    with VideoWriter(out_dir / "skeleton3d.mp4", fps) as writer:
        for f in frames3d:
            writer.write(f)
    paths["skeleton3d.mp4"] = writer.path

    title = f"{Path(source.path).name}: {int(valid.sum())} of {T} frames with a person, {fps:g} fps"
    paths["summary.png"] = write_summary(
        out_dir / "summary.png", arrays["joints3d"][:, 0], arrays["confidence"][:, 0], valid, joint_set, fps, thumbs, title
    )
    return paths


def _overlay(out_dir: Path, source, frame_index, arrays, body, fit, config, picks: set, thumbs: list) -> Path:
    """Write overlay.mp4; appends (frame, image) of the rows in ``picks`` to ``thumbs``."""
    T = len(frame_index)
    valid = arrays["valid"][:, 0]
    joint_set = str(arrays["joint_set"])
    row = {int(f): i for i, f in enumerate(frame_index)}
    valid_rows = np.flatnonzero(valid)
    renderer = OverlayRenderer(tuple(source.size), arrays["K"], body.faces.numpy(), max_side=config.max_side)
    frames = source.frames(start=int(frame_index[0]), end=int(frame_index[-1]) + 1)
    if config.progress:
        from rich.progress import track

        frames = track(frames, total=T, description="overlay", transient=True)
    verts_cache: dict[int, np.ndarray] = {}
    try:
        with VideoWriter(out_dir / "overlay.mp4", float(arrays["fps"])) as writer:
            for index, image in frames:
                i = row.get(int(index))
                if i is None:
                    continue
                verts = None
                if valid[i]:
                    if i not in verts_cache:  # batched mesh forward for the next valid frames
                        nxt = valid_rows[valid_rows >= i][:MESH_BATCH]
                        verts_cache = dict(zip(nxt.tolist(), body_vertices(body, fit, nxt)))
                    verts = verts_cache[i]
                out = renderer.render(image, verts, arrays["joints2d"][i, 0], arrays["confidence"][i, 0], joint_set)
                writer.write(out)
                if i in picks:
                    thumbs.append((int(index), out))
    finally:
        renderer.close()
    return writer.path
