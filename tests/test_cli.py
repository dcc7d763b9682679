"""The simpose command: info works, bad input fails clearly."""

from typer.testing import CliRunner

from simpose.cli import app

runner = CliRunner()


def test_info_lists_body_model_and_joint_sets():
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    for word in ("body model", "h36m17", "coco17", "renderer (EGL)", "mediapipe"):
        assert word in result.output


def test_adapt_refuses_a_folder_without_poses(tmp_path):
    """(``simpose adapt`` itself: tests/track/test_estimator.py)"""
    result = runner.invoke(app, ["adapt", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "poses.npz" in result.output


def test_synth_refuses_bad_sizes(tmp_path):
    result = runner.invoke(app, ["synth", "--out", str(tmp_path / "d"), "--size", "0", "--clips", "1"])
    assert result.exit_code != 0 and "size" in result.output
