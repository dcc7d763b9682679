"""Fixtures of the cue tests: tiny videos written on the fly, bad files, a real person clip."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from simpose.viz.video import write_video


def quadrant_frames(n: int = 5, w: int = 32, h: int = 24) -> list[np.ndarray]:
    """(H, W, 3) uint8 frames with a distinct flat colour per quadrant (survives H.264 and
    shows any rotation or flip) and a brightness that changes per frame."""
    frames = []
    for i in range(n):
        f = np.empty((h, w, 3), np.uint8)
        f[: h // 2, : w // 2] = (230, 30, 30)  # top-left red
        f[: h // 2, w // 2 :] = (30, 230, 30)  # top-right green
        f[h // 2 :, : w // 2] = (30, 30, 230)  # bottom-left blue
        f[h // 2 :, w // 2 :] = (40 * i, 40 * i, 40 * i)  # bottom-right grey, per frame
        frames.append(f)
    return frames


@pytest.fixture(name="quadrant_frames")
def quadrant_frames_fixture():
    """:func:`quadrant_frames`, for tests (conftest modules are not imported by name)."""
    return quadrant_frames


@pytest.fixture
def tiny_video(tmp_path) -> Path:
    """A 32x24, 5-frame, 12.5 fps H.264 video of :func:`quadrant_frames`."""
    return write_video(tmp_path / "tiny.mp4", quadrant_frames(), fps=12.5)


@pytest.fixture
def write_rotated(tmp_path):
    """Factory: (frames, degrees_ccw) -> an .mp4 whose display matrix says rotate by that much."""
    import av

    if not hasattr(av.video.stream.VideoStream, "set_display_rotation"):
        pytest.skip(f"PyAV {av.__version__} cannot write a display rotation (needs VideoStream.set_display_rotation)")

    def write(frames: list[np.ndarray], degrees: int) -> Path:
        path = tmp_path / f"rot{degrees}.mp4"
        h, w = frames[0].shape[:2]
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=Fraction(10))
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.set_display_rotation(degrees)
            for f in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
            container.mux(stream.encode())
        return path

    return write


@pytest.fixture
def zero_length_video(tmp_path) -> Path:
    """An .mp4 whose header declares a video stream but whose frame data are cut off: no
    decodable frame. (FFmpeg writes the header first with ``movflags=faststart``.)"""
    import av

    full = tmp_path / "full.mp4"
    with av.open(str(full), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for f in quadrant_frames():
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        container.mux(stream.encode())
    data = full.read_bytes()
    offset = 0
    while offset + 8 <= len(data):  # walk the top-level MP4 boxes up to the frame data
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"mdat":
            break
        offset += size
    assert data[offset + 4 : offset + 8] == b"mdat", "faststart mp4 without an mdat box"
    path = tmp_path / "zero_length.mp4"
    path.write_bytes(data[:offset])
    full.unlink()
    return path


@pytest.fixture
def corrupt_video(tmp_path) -> Path:
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    return path


@pytest.fixture(scope="session")
def cv2():
    return pytest.importorskip("cv2", reason="OpenCV not installed (optical flow): pip install 'simpose[mediapipe]'")


@pytest.fixture(scope="session")
def mediapipe():
    return pytest.importorskip("mediapipe", reason="mediapipe not installed: pip install 'simpose[mediapipe]'")


@pytest.fixture(scope="session")
def h36m_sample(shared):
    """The S1 Directions frame (RGB) with its 2D ground truth (h36m17 pixels) and box side."""
    from PIL import Image

    root = shared / "real" / "h36m"
    name = "S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg"
    gt = np.load(root / "test_h36m_body3d.npz")
    i = list(gt["imgname"]).index(name)
    image = np.asarray(Image.open(root / name).convert("RGB"))
    return image, gt["part"][i, :, :2], float(gt["scale"][i]) * 200.0


@pytest.fixture(scope="session")
def person_clip(shared, tmp_path_factory) -> Path:
    """The first 6 frames of the real single-person demo, downscaled to 270x480 (a fast clip)."""
    from PIL import Image

    from simpose.cues.video import open_video

    source = open_video(shared / "real" / "videos" / "single_person_demo.mp4")
    frames = [np.asarray(Image.fromarray(f).resize((270, 480), Image.BILINEAR)) for _, f in source.frames(end=6)]
    return write_video(tmp_path_factory.mktemp("clip") / "person.mp4", frames, fps=source.fps)


@pytest.fixture
def real_videos(shared):
    """Factory: file name -> path of a video in shared/real/videos (skips if missing)."""

    def get(name: str) -> Path:
        path = shared / "real" / "videos" / name
        if not path.is_file():
            pytest.skip(f"{path} is missing from the shared data")
        return path

    return get
