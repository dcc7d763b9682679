"""The views of a run: ``overlay.mp4``, ``skeleton3d.mp4`` and ``summary.png``.

Each video is written to a temporary file and renamed when complete
(:class:`simpose.viz.video.VideoWriter`), so an interrupted run leaves no truncated file.
Without OpenGL (no EGL here) the overlay is skipped with a logged error; the rest is written.

The turning 3D view is drawn and encoded in a thread while the overlay is (OpenCV drawing,
the rasterizer and x264 release the GIL), and each video's encoder has a thread of its own:
on a machine with idle cores the views take about the time of the overlay alone. The stage
times are logged (DEBUG) and returned by :func:`write_views` in ``timings``.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np

from simpose.body.fit import BodyFit, body_vertices
from simpose.body.model import BodyModel
from simpose.cues.video import prefetch
from simpose.viz.overlay import OverlayRenderer, cluster_mesh
from simpose.viz.skeleton3d import render_skeleton3d
from simpose.viz.summary import write_summary
from simpose.viz.video import VideoWriter

__all__ = ["write_views"]

log = logging.getLogger(__name__)
MESH_BATCH = 32  # frames per batched mesh forward
# The overlay draws the body decimated by vertex clustering in 1.5 cm cubes (anny's 27k faces
# -> about 10k): the software rasterizer's time follows the faces, and at overlay sizes (a body
# a few hundred pixels tall, 640 px raster) a cell is ~2-3 px, so it looks the same; at 2 cm the
# face and fingers show collapsed folds.
OVERLAY_CELL = 0.015


def write_views(
    out_dir: Path, source, frame_index: np.ndarray, arrays: dict, body: BodyModel, fits: list[BodyFit], config, timings: dict | None = None
) -> dict[str, Path]:
    """Write the three views of one run: every person column in the overlay and the 3D view
    and the summary (several: each in its track colour with its id).

    Args:
        out_dir: run folder.
        source: the opened video.
        frame_index: (T,) video frame of each result row.
        arrays: the ``poses.npz`` content.
        body, fits: the body model and the fitted motion of each person column.
        config: the :class:`~simpose.track.run.RunConfig` (``max_side``, ``progress``).
        timings: if given, gets the seconds of ``overlay`` (drawing and encoding), ``skeleton3d``
            (in a thread beside the overlay), ``summary``.
    Returns:
        name -> path.
    """
    T = len(frame_index)
    fps = float(arrays["fps"])
    valid = arrays["valid"][:, 0]
    labels = _labels(arrays)
    joint_set = str(arrays["joint_set"])
    valid_rows = np.flatnonzero(arrays["valid"].any(1))  # thumbnails where anyone is seen
    picks = set(valid_rows[np.linspace(0, len(valid_rows) - 1, min(4, len(valid_rows))).round().astype(int)].tolist())
    thumbs: list[tuple[int, np.ndarray]] = []
    paths: dict[str, Path] = {}

    from simpose.render.context import RenderError

    timings = {} if timings is None else timings
    tick = time.perf_counter()
    if labels is None:  # one person: drawn as a main-person run
        skeleton = _Skeleton3DWriter(out_dir / "skeleton3d.mp4", arrays["joints3d"][:, 0], valid, joint_set, fps)
    else:
        skeleton = _Skeleton3DWriter(out_dir / "skeleton3d.mp4", arrays["joints3d"], arrays["valid"], joint_set, fps, labels)
    skeleton.start()  # beside the overlay
    try:
        try:
            if labels is None:
                paths["overlay.mp4"] = _overlay(out_dir, source, frame_index, arrays, body, fits[0], config, picks, thumbs)
            else:
                paths["overlay.mp4"] = _overlay_people(out_dir, source, frame_index, arrays, body, fits, labels, config, picks, thumbs)
        except RenderError as e:  # the poses are written already; say what is missing and go on
            log.error("overlay.mp4 not written: %s", e)
            thumbs = []
        timings["overlay"] = time.perf_counter() - tick
    except BaseException:  # an interrupt or an error: the 3D view stops at its next frame, leaving no file
        skeleton.stop.set()
        raise
    finally:
        skeleton.join()
    paths["skeleton3d.mp4"] = skeleton.result()
    timings["skeleton3d"] = skeleton.seconds

    tick = time.perf_counter()
    title = f"{Path(source.path).name}: {int(valid.sum())} of {T} frames with a person, {fps:g} fps"
    if labels is not None:
        title = f"{Path(source.path).name}: {len(labels)} people, someone in {len(valid_rows)} of {T} frames, {fps:g} fps"
    if labels is None:
        paths["summary.png"] = write_summary(
            out_dir / "summary.png", arrays["joints3d"][:, 0], arrays["confidence"][:, 0], valid, joint_set, fps, thumbs, title
        )
    else:
        paths["summary.png"] = write_summary(
            out_dir / "summary.png", arrays["joints3d"], arrays["confidence"], arrays["valid"], joint_set, fps, thumbs, title, labels
        )
    timings["summary"] = time.perf_counter() - tick
    log.debug("views: %s", ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    return paths


class _Skeleton3DWriter(threading.Thread):
    """Draws and writes skeleton3d.mp4 in a thread; ``join`` then ``result`` gives its path or raises
    its error. ``stop`` (set by ``join`` when the main thread was interrupted) ends it early, without
    a file."""

    def __init__(self, path: Path, joints3d: np.ndarray, valid: np.ndarray, joint_set: str, fps: float, labels=None) -> None:
        super().__init__(name="skeleton3d view", daemon=True)
        self.args = (path, joints3d, valid, joint_set, fps, labels)
        self.stop = threading.Event()
        self.seconds = 0.0
        self._path: Path | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        path, joints3d, valid, joint_set, fps, labels = self.args
        tick = time.perf_counter()
        try:
            with VideoWriter(path, fps) as writer:
                for frame in render_skeleton3d(joints3d, valid, joint_set, fps, labels=labels):
                    if self.stop.is_set():
                        raise KeyboardInterrupt  # aborts the writer: no file
                    writer.write(frame)
            self._path = writer.path
        except BaseException as e:  # noqa: BLE001  (handed to the main thread by result())
            self._error = e
        self.seconds = time.perf_counter() - tick

    def join(self, timeout: float | None = None) -> None:
        try:
            super().join(timeout)
        except BaseException:  # Ctrl-C while waiting: stop the thread, wait for it, go on raising
            self.stop.set()
            super().join()
            raise

    def result(self) -> Path:
        if self._error is not None:
            raise self._error
        return self._path


def overlay_mesh(body: BodyModel, fit: BodyFit, cell: float = OVERLAY_CELL) -> tuple[np.ndarray, np.ndarray]:
    """The decimated mesh the overlay draws: :func:`~simpose.viz.overlay.cluster_mesh` of the
    track's body in its rest pose (where no parts that move apart touch).

    Returns:
        keep: (V',) indices of the drawn vertices; faces: (F', 3) int32 into ``keep``.
    """
    import torch

    with torch.no_grad():
        rest = body.rest_vertices(torch.as_tensor(fit.shape_params, dtype=body.dtype).reshape(1, -1))[0].numpy()
    return cluster_mesh(rest, body.faces.numpy(), cell)


def _overlay(out_dir: Path, source, frame_index, arrays, body, fit, config, picks: set, thumbs: list) -> Path:
    """Write overlay.mp4; appends (frame, image) of the rows in ``picks`` to ``thumbs``."""
    valid = arrays["valid"][:, 0]
    joint_set = str(arrays["joint_set"])
    valid_rows = np.flatnonzero(valid)
    keep, faces = overlay_mesh(body, fit)
    renderer = OverlayRenderer(tuple(source.size), arrays["K"], faces, max_side=config.max_side)
    verts_cache: dict[int, np.ndarray] = {}
    try:
        with VideoWriter(out_dir / "overlay.mp4", float(arrays["fps"])) as writer:
            for i, index, image in _result_frames(source, frame_index, config):
                verts = None
                if valid[i]:
                    verts_cache, verts = _mesh_at(verts_cache, i, valid_rows, body, fit, keep)
                out = renderer.render(image, verts, arrays["joints2d"][i, 0], arrays["confidence"][i, 0], joint_set)
                writer.write(out)
                if i in picks:
                    thumbs.append((int(index), out))
    finally:
        renderer.close()
    return writer.path


def _mesh_at(cache: dict[int, np.ndarray], i: int, rows: np.ndarray, body: BodyModel, fit: BodyFit, keep: np.ndarray):
    """The overlay mesh (vertices ``keep``) of result row ``i`` from ``cache``; on a miss, one
    batched forward of the next ``MESH_BATCH`` rows of ``rows`` (the person's valid rows) refills it.
    Returns the cache and (V', 3) vertices."""
    if i not in cache:
        nxt = rows[rows >= i][:MESH_BATCH]
        cache = dict(zip(nxt.tolist(), body_vertices(body, fit, nxt)[:, keep]))
    return cache, cache[i]


def _result_frames(source, frame_index: np.ndarray, config):
    """Yield ``(row, frame number, image)`` for the video frames the result has a row for
    (decoded ahead in a thread; a progress bar with ``config.progress``)."""
    row = {int(f): i for i, f in enumerate(frame_index)}
    frames = prefetch(source.frames(start=int(frame_index[0]), end=int(frame_index[-1]) + 1))
    if config.progress:
        from rich.progress import track

        frames = track(frames, total=len(frame_index), description="overlay", transient=True)
    for index, image in frames:
        i = row.get(int(index))
        if i is not None:
            yield i, index, image


def _labels(arrays: dict) -> list[str] | None:
    """Per person column its overlay label (``id <track id>``); None for one person (drawn as a
    main-person run: no label, the usual colours)."""
    P = arrays["joints3d"].shape[1]
    if P == 1:
        return None
    ids = arrays["track_ids"] if "track_ids" in arrays else np.arange(P)
    return [f"id {int(i)}" for i in ids]


def _overlay_people(out_dir: Path, source, frame_index, arrays, body, fits, labels, config, picks: set, thumbs: list) -> Path:
    """Write overlay.mp4 of several people (:meth:`OverlayRenderer.render_people`); appends
    (frame, image) of the rows in ``picks`` to ``thumbs``."""
    P = arrays["valid"].shape[1]
    valid = arrays["valid"]
    joint_set = str(arrays["joint_set"])
    meshes = [overlay_mesh(body, fit) for fit in fits]  # per person (keep, faces): its own shape
    renderer = OverlayRenderer(tuple(source.size), arrays["K"], meshes[0][1], max_side=config.max_side)
    caches: list[dict[int, np.ndarray]] = [{} for _ in range(P)]
    rows = [np.flatnonzero(valid[:, p]) for p in range(P)]
    try:
        with VideoWriter(out_dir / "overlay.mp4", float(arrays["fps"])) as writer:
            for i, index, image in _result_frames(source, frame_index, config):
                verts: list[np.ndarray | None] = [None] * P
                for p in range(P):
                    if valid[i, p]:
                        caches[p], verts[p] = _mesh_at(caches[p], i, rows[p], body, fits[p], meshes[p][0])
                out = renderer.render_people(
                    image, verts, [m[1] for m in meshes], arrays["joints2d"][i], arrays["confidence"][i], joint_set, labels
                )
                writer.write(out)
                if i in picks:
                    thumbs.append((int(index), out))
    finally:
        renderer.close()
    return writer.path
