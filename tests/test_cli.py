"""The simpose command: info works, stages not yet built say so and fail."""

from typer.testing import CliRunner

from simpose.cli import app

runner = CliRunner()


def test_info_lists_body_model_and_joint_sets():
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    for word in ("body model", "h36m17", "coco17", "renderer (EGL)", "mediapipe"):
        assert word in result.output


def test_unbuilt_stages_fail_clearly():
    for stage in ("adapt",):  # run exists now: tests/track
        result = runner.invoke(app, [stage, "--out", "x"])
        assert result.exit_code != 0
        assert "not available yet" in result.output


def test_synth_refuses_bad_sizes(tmp_path):
    result = runner.invoke(app, ["synth", "--out", str(tmp_path / "d"), "--size", "0", "--clips", "1"])
    assert result.exit_code != 0 and "size" in result.output
