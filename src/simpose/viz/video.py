"""Writing frames to video files (.mp4 with H.264 through PyAV, .gif through Pillow), atomically."""

from __future__ import annotations

import os
import queue
import tempfile
import threading
from pathlib import Path

import numpy as np

from simpose._files import replace_atomically

__all__ = ["VideoWriter", "write_video", "X264_OPTIONS"]

# ultrafast: about 30% less CPU than superfast for a 1280x720 overlay frame, at the same PSNR
# against the raw frames and about twice the file size (x264's presets from veryfast down trade
# size for speed at a constant crf; measured by `python benchmarks/run_speed.py --view-parts`).
# Encoding was the largest share of a run's view stage after rasterizing.
# mbtree=0: with x264's macroblock-tree rate control, identical frames gave different files
# (pixels up to 93 levels apart) from one `simpose run` process to the next (3 of 3 runs of a
# 40-frame clip); without it every run gives the same bytes, for files within 0.2% of the size.
X264_OPTIONS = {"crf": "20", "preset": "ultrafast", "x264-params": "mbtree=0"}


class VideoWriter:
    """Streams H x W x 3 uint8 RGB frames to ``path`` (.mp4 or .gif).

    The file appears only when the writer is closed without error (written to a temporary file
    in the same folder, then renamed), so an interrupted job never leaves a truncated video
    under the final name.

    An .mp4 is converted and encoded in a thread of its own (PyAV releases the GIL while x264
    works), so drawing the next frames overlaps encoding these: ``write`` only queues the
    frame (keep it unmodified afterwards), errors of the encoder come back from the next
    ``write`` or from ``close``. The bytes written are those of a plain loop (one encoder, the
    frames in order).

    Args:
        path: output ``.mp4`` or ``.gif``.
        fps: frames per second.
        queue_size: frames queued for the encoder thread at most (``write`` waits beyond).
    """

    def __init__(self, path: str | os.PathLike, fps: float, queue_size: int = 8) -> None:
        self.path = Path(path)
        self.suffix = self.path.suffix.lower()
        if self.suffix not in (".mp4", ".gif"):
            raise ValueError(f"{self.path}: unsupported video type {self.suffix!r}; use .mp4 or .gif")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = float(fps)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=self.suffix, dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        self._frames: list[np.ndarray] = []  # gif only
        self._container = None
        self._stream = None
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def write(self, frame: np.ndarray) -> None:
        """frame: (H, W, 3) uint8 RGB (queued, not copied: do not modify it afterwards)."""
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frames must be (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
        if self.suffix == ".gif":
            self._frames.append(frame)
            return
        self._raise_encoder_error()
        if self._thread is None:
            self._open(frame.shape[0], frame.shape[1])
            self._size = frame.shape[:2]
            self._thread = threading.Thread(target=self._encode_loop, name=f"encode {self.path.name}", daemon=True)
            self._thread.start()
        elif frame.shape[:2] != self._size:
            raise ValueError(f"{self.path}: frame of {frame.shape[1]}x{frame.shape[0]} after frames of {self._size[1]}x{self._size[0]}")
        while True:  # a bounded wait, so that a failed encoder cannot block the caller forever
            try:
                self._queue.put(frame, timeout=0.5)
                return
            except queue.Full:
                self._raise_encoder_error()

    def _raise_encoder_error(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"{self.path}: encoding failed: {self._error}") from self._error

    def _encode_loop(self) -> None:
        """The encoder thread: frames from the queue until None; stops at the first error."""
        import av

        while True:
            frame = self._queue.get()
            if frame is None:
                return
            if self._error is not None:
                continue  # drain, so that write() and close() never block
            try:
                h, w = self._stream.height, self._stream.width
                video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:h, :w]), format="rgb24")
                for packet in self._stream.encode(video_frame):
                    self._container.mux(packet)
            except BaseException as e:  # noqa: BLE001  (handed to the caller's thread)
                self._error = e

    def _stop_thread(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _open(self, h: int, w: int) -> None:
        """Open the container and the H.264 stream for frames of h x w."""
        import av
        from fractions import Fraction

        self._container = av.open(str(self._tmp), mode="w")
        self._stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1000))
        self._stream.width, self._stream.height = w - w % 2, h - h % 2  # yuv420p needs even sizes
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = dict(X264_OPTIONS)

    def close(self) -> Path:
        if self.suffix == ".gif":
            if not self._frames:
                raise ValueError(f"{self.path}: no frames to write")
            from PIL import Image

            images = [Image.fromarray(f) for f in self._frames]
            images[0].save(self._tmp, save_all=True, append_images=images[1:], duration=int(round(1000 / self.fps)), loop=0)
        else:
            if self._container is None:
                raise ValueError(f"{self.path}: no frames to write")
            self._stop_thread()
            try:
                self._raise_encoder_error()
                for packet in self._stream.encode():
                    self._container.mux(packet)
            except BaseException:
                self.abort()
                raise
            self._container.close()
        replace_atomically(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        self._stop_thread()
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001  (a failed stream may not close cleanly; the file goes anyway)
                pass
            self._container = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(path: str | os.PathLike, frames, fps: float) -> Path:
    """Write an iterable of (H, W, 3) uint8 frames to ``path``; returns the path."""
    with VideoWriter(path, fps) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.path
