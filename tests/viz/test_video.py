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
