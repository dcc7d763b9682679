"""The 2D stage of ``simpose run``: MediaPipe keypoints over a frame range, cached, stoppable.

Unlike :func:`simpose.cues.pipeline.extract_cues` (whole videos, masks and flow), this reads a
frame range ``[start, end)``, computes only what the run needs (keypoints, MediaPipe's world
landmarks) and can stop early: a ``stop`` event (set by the first Ctrl-C, see
:func:`graceful_interrupt`) ends the frame stream after the current frame, and the frames done
so far come back as a normal, shorter result. Complete results are cached in the cue cache
(:mod:`simpose.cues.cache`: keyed on the file, the settings, the range and library versions);
partial ones never are.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from simpose.cues.cache import cache_key, cache_path, load_arrays, save_arrays
from simpose.cues.errors import CueError
from simpose.cues.keypoints import KeypointConfig, Keypoints2D, detect_keypoints, import_mediapipe
from simpose.cues.video import VideoSource

__all__ = ["Detections", "detect", "graceful_interrupt"]

log = logging.getLogger(__name__)
_FORMAT = 1


@dataclasses.dataclass(frozen=True, eq=False)
class Detections:
    """2D keypoints of a frame range.

    Attributes:
        keypoints: :class:`~simpose.cues.keypoints.Keypoints2D` (``blazepose33``, MediaPipe's
            edge-origin pixels), T frames.
        frame_index: (T,) int64 index of each frame in the video.
        complete: False if the stage was stopped before ``end``.
        cached: whether the result came from the cache.
    """

    keypoints: Keypoints2D
    frame_index: np.ndarray
    complete: bool
    cached: bool = False


def detect(
    source: VideoSource,
    config: KeypointConfig,
    start: int = 0,
    end: int | None = None,
    cache_dir: str | Path | None = None,
    stop: threading.Event | None = None,
    progress: bool = False,
) -> Detections:
    """Keypoints of frames ``start <= i < end`` of a video.

    Args:
        source: an opened video (:func:`simpose.cues.video.open_video`).
        config: MediaPipe settings (``segmentation`` is ignored: the run needs no masks).
        start, end: the frame range (end None: to the end of the video).
        cache_dir: cue cache folder, or None.
        stop: when set, the stage ends after the current frame (a partial, uncached result).
        progress: show a rich progress bar.
    Returns:
        :class:`Detections`.
    Raises:
        CueError: mediapipe missing, or the range holds no frame.
        VideoError: a frame cannot be decoded.
    """
    config = dataclasses.replace(config, segmentation=False)
    import_mediapipe()  # fail first, with how to install it, before any work
    stop = stop or threading.Event()
    entry = None
    if cache_dir is not None:
        settings = {"stage": "run-keypoints", "format": _FORMAT, "keypoints": dataclasses.asdict(config), "start": start, "end": end}
        entry = cache_path(cache_dir, source, cache_key(source, settings))
        arrays = load_arrays(entry)
        if arrays is not None and {"keypoints", "confidence", "valid", "world", "frame_index"} <= arrays.keys():
            log.info("keypoints of %s from cache %s", source.path, entry)
            kp = Keypoints2D(
                arrays["keypoints"], arrays["confidence"], arrays["valid"], tuple(source.size), "blazepose33", arrays["world"]
            )
            return Detections(kp, arrays["frame_index"], complete=True, cached=True)

    indices: list[int] = []
    stopped = []

    def frames() -> Iterator[np.ndarray]:
        stream = source.frames(start=start, end=end)
        total = max(0, (source.n_frames if end is None else min(end, source.n_frames)) - start)
        if progress:
            from rich.progress import track

            stream = track(stream, total=total, description=f"2D keypoints {Path(source.path).name}", transient=True)
        for index, image in stream:
            if stop.is_set():
                stopped.append(index)
                return
            indices.append(index)
            yield image

    try:
        keypoints, _ = detect_keypoints(frames(), config)
    except CueError as e:
        if not indices and not stopped:
            raise CueError(f"{source.path}: no frames in the range [{start}, {end if end is not None else 'end'})") from e
        raise
    out = Detections(keypoints, np.asarray(indices, np.int64), complete=not stopped)
    if entry is not None and out.complete:
        kp = out.keypoints
        save_arrays(entry, {"keypoints": kp.keypoints, "confidence": kp.confidence, "valid": kp.valid,
                            "world": kp.world, "frame_index": out.frame_index})  # fmt: skip
    return out


@contextlib.contextmanager
def graceful_interrupt(stop: threading.Event):
    """Within the block, the first Ctrl-C (SIGINT) sets ``stop`` instead of raising; a second raises.

    Only in the main thread (signal handlers cannot be set elsewhere); a no-op otherwise.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        log.warning("interrupted: stopping after this frame and keeping the frames done (Ctrl-C again to abort)")
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
