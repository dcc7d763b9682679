"""Writing frames to video files (.mp4 with H.264 through PyAV, .gif through Pillow), atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from simpose._files import replace_atomically

__all__ = ["VideoWriter", "write_video"]


class VideoWriter:
    """Streams H x W x 3 uint8 RGB frames to ``path`` (.mp4 or .gif).

    The file appears only when the writer is closed without error (written to a temporary file
    in the same folder, then renamed), so an interrupted job never leaves a truncated video
    under the final name.
    """

    def __init__(self, path: str | os.PathLike, fps: float) -> None:
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

    def write(self, frame: np.ndarray) -> None:
        """frame: (H, W, 3) uint8 RGB."""
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frames must be (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
        if self.suffix == ".gif":
            self._frames.append(frame)
            return
        import av
        from fractions import Fraction

        if self._container is None:
            h, w = frame.shape[:2]
            self._container = av.open(str(self._tmp), mode="w")
            self._stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1000))
            self._stream.width, self._stream.height = w - w % 2, h - h % 2  # yuv420p needs even sizes
            self._stream.pix_fmt = "yuv420p"
            # veryfast: half the encoding time of x264's default preset for files of about the
            # same size at this quality (measured on 640x480 overlays); encoding was the largest
            # share of a run's view stage.
            self._stream.options = {"crf": "20", "preset": "veryfast"}
        h, w = self._stream.height, self._stream.width
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:h, :w]), format="rgb24")
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)

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
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
        replace_atomically(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        if self._container is not None:
            self._container.close()
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
