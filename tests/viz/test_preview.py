"""simpose motion preview: a real clip renders a visible body; bad input fails clearly."""

import av
from typer.testing import CliRunner

from simpose.cli import app

runner = CliRunner()


def test_preview_of_a_cmu_clip_shows_a_body(tmp_path, shared):
    out = tmp_path / "p.gif"
    clip = shared / "mocap/cmu/mb/09/09_07.bvh"
    result = runner.invoke(app, ["motion", "preview", str(clip), "--out", str(out), "--seconds", "0.2", "--size", "96", "--fps", "20"])
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 4
    # skin-coloured pixels (red > blue by a margin) exist: the body is in view
    f = frames[0].astype(int)
    assert ((f[..., 0] - f[..., 2]) > 40).sum() > 30


def test_preview_bad_inputs(tmp_path):
    result = runner.invoke(app, ["motion", "preview", str(tmp_path / "missing.bvh"), "--out", str(tmp_path / "x.mp4")])
    assert result.exit_code != 0 and "no such BVH file" in result.output
    bad = tmp_path / "bad.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition Zposition\n")
    result = runner.invoke(app, ["motion", "preview", str(bad), "--out", str(tmp_path / "x.mp4")])
    assert result.exit_code != 0 and "bad.bvh" in result.output
    result = runner.invoke(app, ["motion", "preview", "procedural:nope", "--out", str(tmp_path / "x.mp4")])
    assert result.exit_code != 0 and "unknown procedural family" in result.output
    result = runner.invoke(app, ["motion", "preview", "procedural:nope", "--out", str(tmp_path / "x.avi")])
    assert result.exit_code != 0 and ".mp4 or .gif" in result.output
