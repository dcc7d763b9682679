"""``simpose run`` on bad input: a clear message and a non-zero exit, never a traceback."""

from __future__ import annotations

import builtins
import struct

import numpy as np
import pytest
from typer.testing import CliRunner

from simpose.cli import app
from simpose.viz.video import write_video

runner = CliRunner()


def _run(*args: str):
    result = runner.invoke(app, ["run", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_corrupt_video(tmp_path):
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    r = _run(bad, "--out", tmp_path / "o", "--no-cache")
    assert r.exit_code != 0 and "corrupt.mp4" in r.output and "cannot read" in r.output


def test_zero_length_video(tmp_path):
    import av

    full = tmp_path / "full.mp4"
    with av.open(str(full), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for _ in range(3):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((24, 32, 3), np.uint8), format="rgb24")))
        container.mux(stream.encode())
    data = full.read_bytes()
    offset = 0
    while struct.unpack(">I4s", data[offset : offset + 8])[1] != b"mdat":  # cut the file before its frames
        offset += struct.unpack(">I", data[offset : offset + 4])[0]
    (tmp_path / "zero.mp4").write_bytes(data[:offset])
    r = _run(tmp_path / "zero.mp4", "--out", tmp_path / "o", "--no-cache")
    assert r.exit_code != 0 and "no decodable frames" in r.output


def test_empty_file_and_missing_path(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    r = _run(tmp_path / "empty.mp4", "--out", tmp_path / "o")
    assert r.exit_code != 0 and "empty file" in r.output
    r = _run(tmp_path / "nope.mp4", "--out", tmp_path / "o")
    assert r.exit_code != 0 and "no such file" in r.output


def test_image_folder_with_mixed_sizes(tmp_path):
    from PIL import Image

    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(folder / "0001.png")
    Image.fromarray(np.zeros((30, 32, 3), np.uint8)).save(folder / "0002.png")
    r = _run(folder, "--out", tmp_path / "o", "--no-cache")
    assert r.exit_code != 0 and "differs" in r.output and "0002.png" in r.output


def test_no_person_found(mediapipe, empty_scene, tmp_path):
    r = _run(empty_scene, "--out", tmp_path / "o", "--no-cache", "--fov", "60")
    assert r.exit_code != 0 and "no person found" in r.output
    assert not (tmp_path / "o" / "poses.npz").exists()


def test_mediapipe_not_installed(tiny_clip, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_mediapipe(name, *args, **kwargs):
        if name == "mediapipe" or name.startswith("mediapipe."):
            raise ImportError("No module named 'mediapipe'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mediapipe)
    r = _run(tiny_clip, "--out", tmp_path / "o", "--no-cache")
    assert r.exit_code != 0 and "mediapipe" in r.output and "pip install" in r.output


def test_bad_options(tiny_clip, tmp_path):
    r = _run(tiny_clip, "--out", tmp_path / "o", "--start", "5", "--end", "2")
    assert r.exit_code != 0 and "--start" in r.output
    r = _run(tiny_clip, "--out", tmp_path / "o", "--focal", "-3")
    assert r.exit_code != 0


def test_range_past_the_end(mediapipe, tiny_clip, tmp_path):
    r = _run(tiny_clip, "--out", tmp_path / "o", "--start", "50", "--no-cache")
    assert r.exit_code != 0 and "no frames in the range" in r.output


@pytest.fixture
def tiny_clip(tmp_path):
    return write_video(tmp_path / "tiny.mp4", [np.full((24, 32, 3), 40 * i, np.uint8) for i in range(3)], fps=10)


def test_ctrl_c_while_rendering_keeps_the_poses(mediapipe, tmp_path, monkeypatch, shared):
    from simpose.track import views

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(views, "write_views", interrupted)
    clip = shared / "real" / "videos" / "street_demo.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} is missing")
    r = _run(clip, "--out", tmp_path / "o", "--no-cache", "--end", "2")
    assert r.exit_code == 3 and "interrupted" in r.output
    assert (tmp_path / "o" / "poses.npz").is_file() and (tmp_path / "o" / "motion.bvh").is_file()
    assert not (tmp_path / "o" / "overlay.mp4").exists()  # no half-written views
