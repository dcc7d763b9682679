"""simpose.Estimator.estimate_keypoints on 2D made by the body model itself: one skeleton, on the 2D, clear errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from simpose.track.estimator import Estimator
from simpose.track.sequence import EstimatorError, PoseSequence

FPS = 50.0
K = np.array([[1000.0, 0.0, 639.5], [0.0, 1000.0, 359.5], [0.0, 0.0, 1.0]])
LIMBS = [("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("right_hip", "right_knee"), ("right_knee", "right_ankle")]


@pytest.fixture(scope="module")
def estimator():
    return Estimator.from_pretrained()


@pytest.fixture(scope="module")
def walk(body):
    """(T, 17, 2) pixels of a body swinging its arms and legs 4 m in front of the camera, and its (T, 17, 3)."""
    from simpose.body.model import POSE_BONES

    from simpose.motion.procedural import swinging_limbs

    T = 60
    t = np.arange(T) / FPS
    pose = swinging_limbs(T, FPS)
    pose[:, POSE_BONES.index("lowerleg01.L"), 0] = 0.4 * (1 + np.sin(2 * np.pi * t))
    glob = np.zeros((T, 3))
    glob[:, 1] = 0.3  # turned a little
    trans = np.stack([0.2 * t, np.full(T, 0.1), 4.0 + 0.1 * t], -1)
    with torch.no_grad():
        X = body.forward_joints(
            "h36m17", torch.as_tensor(pose), torch.full((1, 6), 0.5, dtype=torch.float64), torch.as_tensor(glob), torch.as_tensor(trans)
        ).numpy()
    uv = X @ K.T
    return uv[..., :2] / uv[..., 2:], X


def _limb_cv(seq: PoseSequence) -> float:
    names = list(seq.joint_names)
    X = seq.joints3d[:, 0].astype(np.float64)
    L = np.stack([np.linalg.norm(X[:, names.index(a)] - X[:, names.index(b)], axis=-1) for a, b in LIMBS], -1)
    return float((L.std(0) / L.mean(0)).max())


def _reprojection_px(seq: PoseSequence, uv: np.ndarray) -> float:
    X = seq.joints3d[:, 0].astype(np.float64) @ seq.K.T
    return float(np.linalg.norm(X[..., :2] / X[..., 2:] - uv, axis=-1).mean())


def test_one_skeleton_on_the_2d(estimator, walk, body):
    uv, X_true = walk
    seq = estimator.estimate_keypoints(uv, None, "h36m17", K, FPS)
    assert seq.joints3d.shape == (60, 1, 17, 3) and seq.valid.all() and seq.joint_set == "h36m17"
    # the exported joints ARE the written body's (anny's own forward as the reference)
    from simpose.body.fit import body_joints

    np.testing.assert_allclose(seq.joints3d[:, 0], body_joints(body, seq.body_fit(0), "h36m17"), atol=1.5e-3)
    assert _limb_cv(seq) < 0.01  # one body: the limbs keep their length (the lifter alone: several %)
    assert np.isfinite(seq.body_shape[:, 0]).all() and np.ptp(seq.body_shape[:, 0], axis=0).max() == 0  # one shape per track
    # through the body, onto the 2D: closer than the body fitted to the 3D alone
    est_3d_only = Estimator(estimator.lifter, estimator.body, estimator.config.__class__(align_2d=False))
    off_2d = _reprojection_px(est_3d_only.estimate_keypoints(uv, None, "h36m17", K, FPS), uv)
    on_2d = _reprojection_px(seq, uv)
    assert on_2d < 0.5 * off_2d and on_2d < 3.0, (on_2d, off_2d)
    # and it lands on the person: depth within the lifter's scale error of the truth
    assert np.abs(seq.joints3d[:, 0, 0, 2] - X_true[:, 0, 2]).mean() < 0.5


def test_people_are_separate_tracks_and_results_round_trip(estimator, walk, tmp_path):
    uv, _ = walk
    one = estimator.estimate_keypoints(uv, None, "h36m17", K, FPS)
    two = estimator.estimate_keypoints(np.stack([uv, uv + [200.0, 0.0]], 1), None, "h36m17", K, FPS)
    assert two.joints3d.shape == (60, 2, 17, 3)
    np.testing.assert_allclose(two.joints3d[:, 0], one.joints3d[:, 0], atol=1e-6)
    assert np.abs(two.joints3d[:, 1, :, 0] - two.joints3d[:, 0, :, 0]).mean() > 0.3  # 200 px to the right at 4 m: ~0.8 m
    paths = two.save(tmp_path)
    assert {p.name for p in paths} == {"poses.npz", "poses.json"}
    back = PoseSequence.load(tmp_path)
    for k, v in two.to_arrays().items():
        np.testing.assert_array_equal(back.to_arrays()[k], v)


def test_other_joint_sets_and_missing_frames(estimator, walk, body):
    """COCO-17 2D (renamed onto h36m17 where joints correspond); NaN frames stay invalid."""
    uv, _ = walk
    from simpose.body.joints import convert

    coco = convert(uv, "h36m17", "coco17", strict=False)
    coco[10:13] = np.nan
    seq = estimator.estimate_keypoints(coco, None, "coco17", K, FPS)
    assert not seq.valid[10:13, 0].any() and seq.valid[:10, 0].all() and seq.valid[13:, 0].all()
    assert np.isnan(seq.joints3d[10:13]).all() and np.isfinite(seq.joints3d[seq.valid]).all()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"joints2d": np.zeros((5, 16, 2))}, "joints2d must be"),
        ({"joints2d": np.zeros((5, 17, 3))}, "joints2d must be"),
        ({"joints2d": np.full((5, 17, 2), np.nan)}, "no frame with"),
        ({"confidence": np.zeros((5, 17))}, "no frame with"),
        ({"confidence": np.ones((5, 16))}, "confidence must be"),
        ({"joint_set": "nope"}, "unknown joint set"),
        ({"K": np.eye(4)}, "K must be"),
        ({"K": np.zeros((3, 3))}, "K must be"),
        ({"fps": 0.0}, "fps must be positive"),
    ],
)
def test_bad_input_is_a_clear_error(estimator, change, message):
    kw = {"joints2d": np.full((5, 17, 2), 300.0) + np.arange(17)[:, None] * 10, "confidence": None, "joint_set": "h36m17", "K": K, "fps": 30.0}
    kw.update(change)
    with pytest.raises(EstimatorError, match=message):
        estimator.estimate_keypoints(**kw)
    assert issubclass(EstimatorError, ValueError)


def test_unknown_setting_is_a_clear_error():
    with pytest.raises(EstimatorError, match="unknown estimator settings"):
        Estimator.from_pretrained(refien=False)


def test_import_simpose_stays_light():
    code = "import sys, simpose; assert 'torch' not in sys.modules and 'numpy' not in sys.modules; print(simpose.Estimator.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Estimator"


def test_simpose_adapt_reestimates_a_run_as_estimate_keypoints_does(estimator, walk, tmp_path):
    """``simpose adapt RUN --out NEW --no-refine`` equals estimate_keypoints(refine=False) on the run's own 2D."""
    import json

    from typer.testing import CliRunner

    from simpose.cli import app
    from simpose.motion.bvh_read import read_bvh

    uv, _ = walk
    rng = np.random.default_rng(0)
    noisy = uv + rng.normal(0, 2.0, uv.shape)
    conf = rng.uniform(0.5, 1.0, uv.shape[:2])
    noisy[10:13], conf[10:13] = np.nan, 0.0  # a gap: the person lost for three frames
    run = estimator.estimate_keypoints(noisy, conf, "h36m17", K, FPS, image_size=(1280, 720), frame_index=np.arange(60) + 100)
    run.save(tmp_path / "run")
    result = CliRunner().invoke(app, ["adapt", str(tmp_path / "run"), "--out", str(tmp_path / "new"), "--no-refine"])
    assert result.exit_code == 0, result.output
    new = PoseSequence.load(tmp_path / "new")
    direct = Estimator.from_pretrained(refine=False).estimate_keypoints(
        run.joints2d, run.confidence, run.joint_set, run.K, run.fps, run.image_size, run.frame_index
    )
    for key, a in direct.to_arrays().items():
        np.testing.assert_array_equal(new.to_arrays()[key], a, err_msg=key)
    assert not np.array_equal(new.joints3d, run.joints3d, equal_nan=True)  # the refinement is off: another estimate
    assert read_bvh(tmp_path / "new" / "motion.bvh").n_frames == 60

    assert json.loads((tmp_path / "new" / "run_config.json").read_text())["estimator"]["refine"] is False
    same = CliRunner().invoke(app, ["adapt", str(tmp_path / "run"), "--out", str(tmp_path / "run")])
    assert same.exit_code == 2 and "overlaps" in same.output
