"""simpose eval clips: numbers against a hand-made error, clear errors for bad input."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from simpose.cli import app
from simpose.eval.runner import EvalError, evaluate_clips


def _write(path, joints3d, joint_set="h36m17", valid=None):
    valid = np.ones(joints3d.shape[:2], bool) if valid is None else valid
    np.savez(path, joints3d=joints3d, joint_set=joint_set, valid=valid)
    return path


@pytest.fixture
def gt(tmp_path):
    rng = np.random.default_rng(0)
    g = rng.normal(size=(10, 1, 17, 3))
    return g, _write(tmp_path / "gt.npz", g)


def test_known_offset_gives_known_errors(tmp_path, gt):
    g, gpath = gt
    shifted = g.copy()
    shifted[..., 1:, :] += np.array([0.0, 0.03, 0.04])  # 50 mm on every joint but the pelvis
    ppath = _write(tmp_path / "pred.npz", shifted)
    results, paths = evaluate_clips(ppath, gpath, tmp_path / "out")
    assert results["mpjpe_mm"] == pytest.approx(50.0 * 16 / 17)
    assert results["n_failed"] == 0 and results["n_poses"] == 10
    assert json.loads((tmp_path / "out/results.json").read_text())["mpjpe_mm"] == pytest.approx(results["mpjpe_mm"])


def test_nan_predictions_are_failures_not_dropped_silently(tmp_path, gt):
    g, gpath = gt
    p = g.copy()
    p[3, 0, 5] = np.nan
    results, _ = evaluate_clips(_write(tmp_path / "p.npz", p), gpath, tmp_path / "o")
    assert results["n_failed"] == 1 and results["mpjpe_mm"] == pytest.approx(0.0)


def test_mismatches_are_clear_errors(tmp_path, gt):
    g, gpath = gt
    with pytest.raises(EvalError, match="counts differ"):
        evaluate_clips(_write(tmp_path / "a.npz", g[:5]), gpath, tmp_path / "o")
    with pytest.raises(EvalError, match="joint sets"):
        coco = _write(tmp_path / "b.npz", np.zeros((10, 1, 17, 3)), joint_set="coco17")
        smpl = _write(tmp_path / "g2.npz", np.zeros((10, 1, 24, 3)), joint_set="smpl24")
        evaluate_clips(coco, smpl, tmp_path / "o")  # COCO has no spine joints for SMPL
    (tmp_path / "bad.npz").write_text("not an npz")
    result = CliRunner().invoke(app, ["eval", "clips", "--pred", str(tmp_path / "bad.npz"), "--gt", str(gpath), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "not a readable" in result.output


def test_h36m_ablations_are_settings_of_the_one_estimator():
    from simpose.eval.runner import ablation_settings, describe_settings

    assert ablation_settings() == {}  # the product's own settings
    assert "product" in describe_settings({})
    assert ablation_settings(lifter_only=True) == {"refine": False, "body": False, "align_2d": False}
    assert ablation_settings(refine=False) == {"refine": False}
    with pytest.raises(EvalError, match="refined track"):
        ablation_settings(refine=False, self_train=True)


def test_h36m_model_free_floor_takes_no_estimator_settings(tmp_path):
    from simpose.eval.runner import load_model

    with pytest.raises(EvalError, match="takes no estimator settings"):
        load_model("mean-pose", self_train=True)
    with pytest.raises(EvalError, match="unknown model"):
        load_model("nope")
