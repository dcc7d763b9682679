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


# ------------------------------------------------------------------ issue 18: metrics that hide failure
def test_all_invalid_ground_truth_is_an_error_not_nan(tmp_path, gt):
    g, _ = gt
    gpath = _write(tmp_path / "g.npz", g, valid=np.zeros(g.shape[:2], bool))
    with pytest.raises(EvalError, match="no valid ground-truth pose"):
        evaluate_clips(_write(tmp_path / "p.npz", g), gpath, tmp_path / "o")


def test_results_json_is_strict_json_with_null(tmp_path, gt):
    g, gpath = gt
    p = g.copy()
    p[:, 0, 4] = np.nan  # one joint never predicted: its per-joint error is not a number
    results, _ = evaluate_clips(_write(tmp_path / "p.npz", p), gpath, tmp_path / "o")
    text = (tmp_path / "o" / "results.json").read_text()
    assert "NaN" not in text
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert data["per_joint_mpjpe_mm"]["left_hip"] is None and results["n_failed"] == 10


def test_millimetres_are_a_clear_error(tmp_path, gt):
    g, gpath = gt
    mm = _write(tmp_path / "mm.npz", g * 1000.0)  # was scored as metres: errors of ~440,000 mm
    with pytest.raises(EvalError, match="millimetres"):
        evaluate_clips(_write(tmp_path / "p.npz", g), mm, tmp_path / "o")
    with pytest.raises(EvalError, match="millimetres"):
        evaluate_clips(mm, gpath, tmp_path / "o")


def test_wrong_joint_count_is_a_clear_error(tmp_path, gt):
    g, gpath = gt
    twelve = _write(tmp_path / "g12.npz", g[:, :, :12])  # labelled h36m17: was a traceback
    with pytest.raises(EvalError, match="12 joints, but joint set 'h36m17' has 17"):
        evaluate_clips(_write(tmp_path / "p.npz", g), twelve, tmp_path / "o")
    r = CliRunner().invoke(app, ["eval", "clips", "--pred", str(gpath), "--gt", str(twelve), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "12 joints" in r.output


def test_h36m_with_undetected_2d_counts_every_pose_as_failed(tmp_path, monkeypatch):
    """All-NaN 2D detections scored 199 mm with 'failed (non-finite): 0'."""
    from simpose.data import h36m as h36m_data
    from simpose.eval.runner import run_h36m

    seqs = _fake_h36m_sequences()
    monkeypatch.setattr(h36m_data, "load_h36m", lambda root: seqs)
    det = {"S9": {s.take: [np.full((len(s.joints3d), 17, 2), np.nan, np.float32)] * 4 for s in seqs}}
    path = tmp_path / "nan_2d.npz"
    np.savez(path, positions_2d=np.array(det, dtype=object), metadata=np.array({"num_joints": 17}, dtype=object))
    result, paths = run_h36m(tmp_path / "out", model="mean-pose", data=tmp_path, keypoints2d=path, progress=False)
    n = sum(len(s.joints3d) for s in seqs)
    assert result.n_failed == n == result.n_poses
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["protocol1_mpjpe_mm"] is None and data["n_failed"] == n
    assert "n/a" in (tmp_path / "out" / "results.md").read_text()


def _fake_h36m_sequences():
    from types import SimpleNamespace

    from simpose.camera import Camera

    rng = np.random.default_rng(1)
    cam = Camera.from_fov(60.0, (1000, 1000))
    return [
        SimpleNamespace(subject="S9", take=take, action=take.split()[0], camera_index=0, camera=cam, fps=50.0,
                        joints3d=rng.normal(scale=0.3, size=(5, 1, 17, 3)) + [0, 0, 4], joints2d=rng.normal(size=(5, 1, 17, 2)) + 500)
        for take in ("Walking 1", "Eating 1")
    ]  # fmt: skip




def test_an_interrupted_h36m_evaluation_resumes_from_its_stored_predictions(tmp_path, monkeypatch):
    from simpose.data import h36m as h36m_data
    from simpose.eval.runner import run_h36m

    seqs = _fake_h36m_sequences()
    monkeypatch.setattr(h36m_data, "load_h36m", lambda root: seqs)
    first, _ = run_h36m(tmp_path / "out", model="mean-pose", data=tmp_path, progress=False)
    stored = sorted(p.name for p in (tmp_path / "out" / "predictions").glob("*.npy"))
    assert stored == ["S9_Eating_1_0.npy", "S9_Walking_1_0.npy"]
    # a stored prediction is used as it is: replaced by the ground truth, its sequence scores 0
    walking = seqs[0]
    np.save(tmp_path / "out" / "predictions" / "S9_Walking_1_0.npy", walking.joints3d[:, 0] - walking.joints3d[:, 0, :1])
    again, _ = run_h36m(tmp_path / "out", model="mean-pose", data=tmp_path, progress=False)
    assert again.per_action["Walking"]["mpjpe_mm"] == pytest.approx(0.0, abs=1e-9)
    assert again.per_action["Eating"] == first.per_action["Eating"]
    # other settings (here other inputs) never reuse them
    path = tmp_path / "gt2d.npz"
    det = {"S9": {s.take: [np.asarray(s.joints2d)[:, 0]] * 4 for s in seqs}}
    np.savez(path, positions_2d=np.array(det, dtype=object), metadata=np.array({"num_joints": 17}, dtype=object))
    other, _ = run_h36m(tmp_path / "out", model="mean-pose", data=tmp_path, keypoints2d=path, progress=False)
    assert other.per_action["Walking"] == first.per_action["Walking"]
