"""The 2D stage of ``simpose run``: MediaPipe keypoints over a frame range, cached, stoppable, resumable.

Unlike :func:`simpose.cues.pipeline.extract_cues` (whole videos, masks and flow), this reads a
frame range ``[start, end)``, computes only what the run needs (keypoints, MediaPipe's world
landmarks) and can stop early: a ``stop`` event (set by the first Ctrl-C or a SIGTERM, see
:func:`graceful_interrupt`) ends the frame stream after the current frame, and the frames done
so far come back as a normal, shorter result (``complete`` False).

Results go to the cue cache (:mod:`simpose.cues.cache`: keyed on the file, the settings, the
range and library versions). A partial result (stopped, or a video that ends before the frame
count its container declares) is stored as such, and the next run with the same key resumes
after its last frame. Every entry is checked against the video before it is used (its content
fingerprint, its frame indices against the range, shapes, finite values); one that does not
match is recomputed, with a warning.
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

from simpose.cues.cache import cache_key, cache_path, content_fingerprint, load_arrays, range_entry_problem, save_arrays
from simpose.cues.errors import CueError
from simpose.cues.keypoints import KeypointConfig, Keypoints2D, detect_keypoints, import_mediapipe
from simpose.cues.video import VideoSource, prefetch

__all__ = ["Detections", "detect", "graceful_interrupt"]

log = logging.getLogger(__name__)
_FORMAT = 2  # 2: entries carry "complete" (partial ones are resumable) and "content"
_KEYS = ("keypoints", "confidence", "valid", "world", "frame_index", "complete", "content")


@dataclasses.dataclass(frozen=True, eq=False)
class Detections:
    """2D keypoints of a frame range.

    Attributes:
        keypoints: :class:`~simpose.cues.keypoints.Keypoints2D` (``blazepose33``, MediaPipe's
            edge-origin pixels), T frames.
        frame_index: (T,) int64 index of each frame in the video.
        complete: False if the stage was stopped before ``end`` or the video ended before
            the frame count it declares.
        cached: whether the result came from the cache (entirely).
        cache_entry: the cue cache file that holds these keypoints (None without a cache).
    """

    keypoints: Keypoints2D
    frame_index: np.ndarray
    complete: bool
    cached: bool = False
    cache_entry: Path | None = None


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
        stop: when set, the stage ends after the current frame (a partial result, cached as
            such: the next call resumes after it).
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
    expected = None  # frames the range holds, where the container counts them
    if source.n_frames_exact:
        last = source.n_frames if end is None else min(end, source.n_frames)
        expected = max(0, last - start)
        if end is not None and end > source.n_frames and start < source.n_frames:
            log.warning("--end %d is past the end of %s (%d frames): clamped to %d", end, source.path, source.n_frames, source.n_frames)
    entry, content, done = None, None, None
    if cache_dir is not None:
        settings = {"stage": "run-keypoints", "format": _FORMAT, "keypoints": dataclasses.asdict(config), "start": start, "end": end}
        entry = cache_path(cache_dir, source, cache_key(source, settings))
        content = content_fingerprint(source)
        arrays = load_arrays(entry)
        problem = None if arrays is None else _entry_problem(arrays, source, start, expected, content)
        if problem:
            log.warning("cue cache entry %s does not match %s (%s): recomputing it", entry, source.path, problem)
        elif arrays is not None and bool(arrays["complete"]):
            log.info("keypoints of %s from cache %s", source.path, entry)
            return Detections(_keypoints(arrays, source), arrays["frame_index"], complete=True, cached=True, cache_entry=entry)
        elif arrays is not None:
            done = arrays
            log.warning("resuming the 2D keypoints of %s after frame %d (cue cache %s)", source.path, int(done["frame_index"][-1]), entry)

    first = start if done is None else int(done["frame_index"][-1]) + 1
    indices: list[int] = []
    stopped = []

    def frames() -> Iterator[np.ndarray]:
        # decoded in a thread beside MediaPipe (a second core decodes the next frames)
        with contextlib.closing(prefetch(source.frames(start=first, end=end))) as decoded:
            stream = decoded
            total = max(0, (source.n_frames if end is None else min(end, source.n_frames)) - first)
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
        new, _ = detect_keypoints(frames(), config)
    except KeyboardInterrupt:
        log.warning("2D stage aborted: the frames of this call are not kept (one Ctrl-C or SIGTERM stops it and keeps them)")
        raise
    except CueError as e:
        if indices or (done is None and stopped):
            raise
        if done is None:
            raise CueError(f"{source.path}: no frames in the range [{start}, {end if end is not None else 'end'})") from e
        new = None  # resumed, and nothing more to read
    parts = ([] if done is None else [_keypoints(done, source)]) + ([] if new is None else [new])
    kp = _concat(parts)
    frame_index = np.concatenate(([] if done is None else [done["frame_index"].astype(np.int64)]) + [np.asarray(indices, np.int64)])
    complete = not stopped
    if complete and expected is not None and len(frame_index) < expected:
        complete = False  # the container promised more frames than it holds: say so, never pass it off as complete
        log.warning(
            "%s ends after frame %d, but its container declares %d frames: frames %d-%d are missing (truncated file?)",
            source.path, start + len(frame_index) - 1, source.n_frames, start + len(frame_index), start + expected - 1,
        )  # fmt: skip
    out = Detections(kp, frame_index, complete=complete, cache_entry=entry)
    if entry is not None:  # partial results too: the next run resumes after their last frame
        save_arrays(entry, {"keypoints": kp.keypoints, "confidence": kp.confidence, "valid": kp.valid, "world": kp.world,
                            "frame_index": frame_index, "complete": np.array(complete), "content": np.array(content)})  # fmt: skip
    return out


def _keypoints(arrays: dict, source: VideoSource) -> Keypoints2D:
    return Keypoints2D(arrays["keypoints"], arrays["confidence"], arrays["valid"], tuple(source.size), "blazepose33", arrays["world"])


def _concat(parts: list[Keypoints2D]) -> Keypoints2D:
    if len(parts) == 1:
        return parts[0]
    cat = lambda name: np.concatenate([getattr(k, name) for k in parts])  # noqa: E731
    return Keypoints2D(cat("keypoints"), cat("confidence"), cat("valid"), parts[0].image_size, parts[0].joint_set, cat("world"))


def _entry_problem(arrays: dict, source: VideoSource, start: int, expected: int | None, content: str) -> str | None:
    """Why a cue cache entry cannot be this video's keypoints of frames ``[start, start + expected)``
    (a complete entry) or of a prefix of them (a partial one); None if it can."""
    problem = range_entry_problem(arrays, _KEYS, content, start)
    if problem:
        return problem
    fi = arrays["frame_index"]
    if bool(arrays["complete"]) and expected is not None and len(fi) != expected:
        return f"{len(fi)} frames where the range holds {expected}"
    if expected is not None and len(fi) > expected:
        return f"{len(fi)} frames, more than the range's {expected}"
    try:
        kp = _keypoints(arrays, source)
    except ValueError as e:
        return f"wrong shapes: {e}"
    if kp.num_frames != len(fi) or kp.num_people != 1:
        return f"keypoints for {kp.num_frames} frames and {kp.num_people} people, {len(fi)} frame indices"
    v = kp.valid
    if not (np.isfinite(kp.keypoints[v]).all() and np.isfinite(kp.world[v]).all() and np.isfinite(kp.confidence).all()):
        return "non-finite keypoints in frames marked valid"
    return None


@contextlib.contextmanager
def graceful_interrupt(stop: threading.Event):
    """Within the block, the first Ctrl-C (SIGINT) or SIGTERM sets ``stop`` instead of raising;
    a second one raises ``KeyboardInterrupt``.

    SIGTERM (what a job scheduler or ``docker stop`` sends) is treated like a Ctrl-C so that
    the frames done are kept, not lost. Only in the main thread (signal handlers cannot be set
    elsewhere); a no-op otherwise.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        name = "interrupted" if signum == signal.SIGINT else "terminated (SIGTERM)"
        log.warning("%s: stopping after this frame and keeping the frames done (Ctrl-C again to abort)", name)
        stop.set()

    # a signal the process was told to ignore (a shell's background job ignores SIGINT) stays ignored
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(sig) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)
