"""Video writing: frames come back from the file, nothing half-written is left behind."""

import av
import numpy as np
import pytest

from simpose.viz.video import VideoWriter, write_video


def _frames(n=6, h=48, w=64):
    ramp = np.linspace(0, 255, w, dtype=np.float64)
    return [np.clip(np.stack([ramp + 20 * i, np.full(w, 128.0), 255 - ramp], -1)[None].repeat(h, 0), 0, 255).astype(np.uint8) for i in range(n)]


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_roundtrip(tmp_path, suffix):
    frames = _frames()
    path = write_video(tmp_path / f"v{suffix}", frames, fps=12)
    with av.open(str(path)) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == len(frames)
    err = np.abs(decoded[2].astype(float) - frames[2].astype(float)).mean()
    assert err < 12  # lossy codecs / gif palettes, but the picture is the same
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_interrupted_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "v.mp4", fps=10) as w:
            w.write(_frames(1)[0])
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="unsupported"):
        VideoWriter(tmp_path / "v.avi", fps=10)


def test_encoder_errors_reach_the_caller_and_leave_nothing(tmp_path, monkeypatch):
    """Frames are encoded in a thread: an error there fails a later write or the close, in the
    caller, and no file is left; a frame of another size fails at once."""
    frames = _frames(20)
    with pytest.raises(ValueError, match="after frames of 64x48"):
        with VideoWriter(tmp_path / "v.mp4", fps=10) as w:
            w.write(frames[0])
            w.write(_frames(1, h=16, w=16)[0])
    calls = []
    plain = av.VideoFrame.from_ndarray

    def failing(array, format):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return plain(array, format=format)

    monkeypatch.setattr(av.VideoFrame, "from_ndarray", failing)
    with pytest.raises(RuntimeError, match="encoding failed: disk full"):
        with VideoWriter(tmp_path / "v.mp4", fps=10) as w:
            for f in frames:
                w.write(f)
    assert list(tmp_path.iterdir()) == []


def test_threaded_writer_gives_the_bytes_of_a_plain_loop(tmp_path):
    """Two writes of the same frames give the same file (the encoder thread keeps the order)."""
    frames = _frames(12)  # distinct frames (the ramp saturates beyond)
    a = write_video(tmp_path / "a.mp4", frames, fps=12).read_bytes()
    b = write_video(tmp_path / "b.mp4", frames, fps=12).read_bytes()
    assert a == b
    with av.open(str(tmp_path / "a.mp4")) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    order = [int(np.argmin([np.abs(d.astype(int) - f.astype(int)).mean() for f in frames])) for d in decoded]
    assert order == list(range(12))
