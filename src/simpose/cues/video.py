"""Reading frames from video files (PyAV) and from folders of images, as H x W x 3 uint8 RGB.

``open_video(path)`` returns a :class:`VideoSource` whatever the input: a video file (any
container/codec FFmpeg decodes, any frame rate), a folder of ``.jpg``/``.png`` images (one
frame per image, in natural sort order: ``frame_2`` before ``frame_10``), or a single image
(a one-frame video). Frames come out upright: a video's display rotation (the display matrix
that phones write; the legacy ``rotate`` tag as a fallback) and an image's EXIF orientation are
applied, and ``size`` is the size after rotation.

Every failure to read is a :class:`~simpose.cues.errors.VideoError` (a ``ValueError``) that
names the file and says what is wrong. Opening a video decodes its first frame, so a corrupt
or empty file fails at ``open_video``, not half-way through a job.
"""

from __future__ import annotations

import abc
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from simpose.cues.errors import VideoError

__all__ = ["VideoSource", "VideoFile", "ImageSequence", "KeptFrames", "KEEP_BYTES", "open_video", "rotate_frame", "prefetch", "IMAGE_SUFFIXES", "VIDEO_SUFFIXES"]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# the names a folder's videos go by (multi-view folders, simpose run over a folder of videos)
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm")
DEFAULT_FPS = 30.0
# KeptFrames holds at most this many bytes of frames (a 1280x720 frame is 2.8 MB: 390 frames)
KEEP_BYTES = 1 << 30
# FFmpeg "decodes" text files as ANSI-art video (the tty demuxer); these codecs are never a video
_TEXT_ART_CODECS = ("ansi", "bintext", "xbin", "idf")
# EXIF orientations (tag 0x0112) that swap width and height.
_EXIF_TRANSPOSED = (5, 6, 7, 8)


def rotate_frame(image: np.ndarray, degrees_ccw: float) -> np.ndarray:
    """Rotate an image counter-clockwise by a multiple of 90 degrees (a view, no copy).

    Args:
        image: (H, W, ...) array.
        degrees_ccw: counter-clockwise angle as displayed (PyAV's ``VideoFrame.rotation``
            convention); rounded to the nearest multiple of 90.
    Returns:
        (H, W, ...) for 0 or 180 degrees, (W, H, ...) for 90 or 270.
    """
    k = int(round(degrees_ccw / 90.0)) % 4
    return np.rot90(image, k=k) if k else image


class VideoSource(abc.ABC):
    """A sequence of frames with a frame rate.

    Attributes:
        path: the video file, image folder or image.
        fps: frames per second.
        n_frames: number of frames; exact for image folders and for videos whose container
            counts them, else estimated from the duration (``n_frames_exact`` says which).
        size: (width, height) in pixels of the frames as yielded (after rotation).
    """

    path: Path
    fps: float
    n_frames: int
    n_frames_exact: bool
    size: tuple[int, int]

    @abc.abstractmethod
    def frames(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame_index, image)`` for frames ``start <= index < end``.

        Args:
            start: first frame index (0-based).
            end: one past the last index; None reads to the end.
        Yields:
            frame index and the frame, (H, W, 3) uint8 RGB, upright, ``(W, H) == size``.
        Raises:
            VideoError: if a frame cannot be decoded.
        """

    def __repr__(self) -> str:
        approx = "" if self.n_frames_exact else "~"
        return f"{type(self).__name__}({str(self.path)!r}, {self.size[0]}x{self.size[1]}, {approx}{self.n_frames} frames, {self.fps:g} fps)"


class VideoFile(VideoSource):
    """A video file decoded with PyAV. Each call to :meth:`frames` opens the file anew."""

    def __init__(self, path: str | os.PathLike, fps: float | None = None) -> None:
        """Open ``path`` and decode its first frame to check it.

        Args:
            path: a video file.
            fps: overrides the container's frame rate (for files whose rate is wrong).
        Raises:
            VideoError: missing, unreadable or corrupt file, no video stream, no decodable frame.
        """
        import av

        self.path = Path(path)
        try:
            with av.open(str(self.path)) as container:
                if not container.streams.video:
                    raise VideoError(f"{self.path}: has no video stream (found {len(container.streams)} other streams)")
                stream = container.streams.video[0]
                if stream.codec_context.name in _TEXT_ART_CODECS:
                    raise VideoError(f"{self.path}: cannot read as a video: FFmpeg reads it as text ({stream.codec_context.name!r})")
                first = next(container.decode(stream), None)
                if first is None:
                    raise VideoError(f"{self.path}: no decodable frames (zero-length or truncated video)")
                self.rotation = _rotation_degrees(first, stream)
                rate = stream.average_rate or stream.guessed_rate or stream.base_rate
                declared = int(stream.frames or 0)
                duration_s = _duration_seconds(stream, container)
                w, h = first.width, first.height
        except VideoError:
            raise
        except (av.error.FFmpegError, OSError, EOFError) as e:
            raise VideoError(f"{self.path}: cannot read as a video (is it a video file? FFmpeg says: {e})") from e

        if fps is not None:
            if fps <= 0:
                raise VideoError(f"fps must be positive, got {fps}")
            self.fps = float(fps)
        elif rate is not None and float(rate) > 0:
            self.fps = float(rate)
        else:
            log.warning("%s: no frame rate in the container; assuming %g fps", self.path, DEFAULT_FPS)
            self.fps = DEFAULT_FPS
        if declared > 0:
            self.n_frames, self.n_frames_exact = declared, True
        else:
            self.n_frames = max(1, int(round(duration_s * self.fps))) if duration_s else 1
            self.n_frames_exact = False
        self.size = (h, w) if int(round(self.rotation / 90.0)) % 2 else (w, h)

    def frames(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """See :meth:`VideoSource.frames`. Frames before ``start`` are decoded and dropped."""
        import av

        index = -1
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for index, frame in enumerate(container.decode(stream)):
                    if end is not None and index >= end:
                        break
                    if index < start:
                        continue
                    image = rotate_frame(frame.to_ndarray(format="rgb24"), self.rotation)
                    yield index, np.ascontiguousarray(image)
        except (av.error.FFmpegError, OSError, EOFError) as e:
            raise VideoError(f"{self.path}: cannot decode frame {index + 1} (corrupt video? FFmpeg says: {e})") from e


class ImageSequence(VideoSource):
    """Images (one per frame) of one size, at a frame rate given by the caller."""

    def __init__(self, files: list[Path], fps: float = DEFAULT_FPS, path: str | os.PathLike | None = None) -> None:
        """Check that every image is readable and that all have the same size.

        Args:
            files: image files in frame order.
            fps: frames per second (images carry none).
            path: what to report as the source (the folder); defaults to the first file.
        Raises:
            VideoError: no files, an unreadable image, or an image whose size differs from the
                first one's (the message names the file and both sizes).
        """
        if not files:
            raise VideoError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)})")
        if fps <= 0:
            raise VideoError(f"fps must be positive, got {fps}")
        self.files = list(files)
        self.path = Path(path) if path is not None else self.files[0]
        self.fps = float(fps)
        self.n_frames, self.n_frames_exact = len(self.files), True
        self.size = _image_size(self.files[0])
        for f in self.files[1:]:
            size = _image_size(f)
            if size != self.size:
                raise VideoError(
                    f"{f}: image size {size[0]}x{size[1]} differs from {self.size[0]}x{self.size[1]} "
                    f"of {self.files[0].name}; all images of a sequence must have the same size"
                )

    def frames(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """See :meth:`VideoSource.frames`."""
        from PIL import Image, ImageOps

        for index in range(max(start, 0), len(self.files) if end is None else min(end, len(self.files))):
            f = self.files[index]
            try:
                with Image.open(f) as im:
                    image = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
            except OSError as e:
                raise VideoError(f"{f}: cannot read image ({e})") from e
            if image.shape[1::-1] != self.size:
                raise VideoError(f"{f}: image size changed to {image.shape[1]}x{image.shape[0]} while reading")
            yield index, image


class KeptFrames(VideoSource):
    """A video whose frames are decoded once for two passes (a run's 2D stage, then its views).

    The frames a pass yields are kept, up to ``max_bytes`` in all; a later pass over frames all
    kept is served from memory, any other decodes ``source`` again. Past ``max_bytes`` every
    kept frame is dropped and nothing more is kept (the views then decode again, as without
    it). Frames are shared, not copied: whoever reads them must not modify them.

    Args:
        source: the opened video.
        max_bytes: the most bytes of frames held.
    """

    def __init__(self, source: VideoSource, max_bytes: int = KEEP_BYTES) -> None:
        self.source = source
        self.path, self.fps, self.size = source.path, source.fps, source.size
        self.n_frames, self.n_frames_exact = source.n_frames, source.n_frames_exact
        self.max_bytes = max_bytes
        self.kept: dict[int, np.ndarray] = {}
        self.end: int | None = None  # one past the last frame, once a pass has reached it
        self._bytes = 0
        self._full = False  # over max_bytes once: keeps nothing more

    def frames(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """See :meth:`VideoSource.frames`."""
        stop = end if self.end is None else (self.end if end is None else min(end, self.end))
        if stop is not None and all(i in self.kept for i in range(start, stop)):
            for i in range(start, stop):
                yield i, self.kept[i]
            return
        last = start - 1
        for index, image in self.source.frames(start, end):
            if not self._full and index not in self.kept:
                self._bytes += image.nbytes
                if self._bytes > self.max_bytes:
                    self.kept.clear()
                    self._full = True
                else:
                    self.kept[index] = image
            last = index
            yield index, image
        if end is None or last + 1 < end:  # the video ended here
            self.end = last + 1


def open_video(path: str | os.PathLike, fps: float | None = None) -> VideoSource:
    """Open a video file, a folder of images or a single image.

    Args:
        path: a video file (anything FFmpeg decodes), a folder of ``.jpg``/``.jpeg``/``.png``
            images (natural sort order; other files ignored) or one image.
        fps: frame rate of image folders/images (default 30); for video files, overrides the
            container's rate if given.
    Returns:
        a :class:`VideoSource`.
    Raises:
        VideoError: nonexistent path, unreadable/corrupt/empty video, not a video, a folder
            without images, images of mixed sizes.
    """
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted((f for f in path.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
        if not files:
            raise VideoError(f"{path}: folder has no images ({', '.join(IMAGE_SUFFIXES)})")
        return ImageSequence(files, fps=DEFAULT_FPS if fps is None else fps, path=path)
    if not path.is_file():
        raise VideoError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSequence([path], fps=DEFAULT_FPS if fps is None else fps)
    return VideoFile(path, fps=fps)


# ----------------------------------------------------------------- helpers
def _rotation_degrees(frame, stream) -> float:
    """Counter-clockwise display rotation of a decoded frame, in degrees.

    FFmpeg >= 7 attaches the container's display matrix to each frame (``frame.rotation``);
    older builds exported a ``rotate`` tag instead, which counts clockwise.
    """
    rotation = float(getattr(frame, "rotation", 0) or 0)
    if rotation == 0:
        tag = (stream.metadata or {}).get("rotate")
        if tag:
            try:
                rotation = -float(tag)
            except ValueError:
                log.warning("ignoring unreadable rotate tag %r", tag)
    if rotation % 90:
        log.warning("display rotation %g is not a multiple of 90 degrees; rounding", rotation)
    return rotation


def _duration_seconds(stream, container) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None


def _image_size(f: Path) -> tuple[int, int]:
    """(width, height) of an image after its EXIF orientation, read from the header only."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(f) as im:
            w, h = im.size
            orientation = im.getexif().get(0x0112, 1)
    except (OSError, UnidentifiedImageError) as e:
        raise VideoError(f"{f}: cannot read image ({e})") from e
    return (h, w) if orientation in _EXIF_TRANSPOSED else (w, h)


def _natural_key(f: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", f.name)]


def prefetch(items: Iterator, size: int = 4) -> Iterator:
    """``items`` drawn by a thread of its own, up to ``size`` ahead (a video decodes while its
    frames are processed: PyAV and the RGB conversion release the GIL); its errors are raised
    here, in order. Closing the generator stops it."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.2)
                        break
                    except queue.Full:
                        pass
                if stop.is_set():
                    return
            q.put((done, None))
        except BaseException as e:  # noqa: BLE001  (raised in the consumer)
            q.put((done, e))

    thread = threading.Thread(target=work, name="decode", daemon=True)
    thread.start()
    try:
        while True:
            item, error = q.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)
