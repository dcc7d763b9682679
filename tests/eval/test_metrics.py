"""Tests for simpose.eval.metrics against closed forms, invariances and independent references.

References used here, none sharing code with the module: scipy's ``orthogonal_procrustes`` and
``spatial.procrustes``, scipy ``Rotation`` for angles, explicit Python loops for counts.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import orthogonal_procrustes
from scipy.spatial import procrustes as scipy_procrustes
from scipy.spatial.transform import Rotation

from simpose.eval.metrics import (
    accel_error,
    auc3d,
    mpjae,
    mpjpe,
    n_mpjpe,
    pa_mpjae,
    pa_mpjpe,
    pck2d,
    pck3d,
    procrustes_align,
    procrustes_transform,
    pve,
    summarize,
)

# Tolerances in one place: (rtol, atol) per input dtype; atol in the metric's output unit (mm, deg, %).
TOL = {np.float64: dict(rtol=1e-9, atol=1e-8), np.float32: dict(rtol=1e-5, atol=1e-3)}
TOL64 = TOL[np.float64]
J = 17
SEEDS = st.integers(0, 2**32 - 1)
FAST = settings(max_examples=40, deadline=None)


def _poses(rng: np.random.Generator, batch: tuple[int, ...] = (6,), n: int = J) -> np.ndarray:
    """Random skeleton-sized point sets, metres (about 1 m across, 3 m in front of a camera)."""
    return rng.normal(scale=0.3, size=(*batch, n, 3)) + np.array([0.0, 0.0, 3.0])


def _noisy(rng: np.random.Generator, gt: np.ndarray, sigma: float = 0.03) -> np.ndarray:
    return gt + rng.normal(scale=sigma, size=gt.shape)


def _similarity(rng: np.random.Generator, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """x -> s R x + t with a random proper rotation, s in [0.5, 2], |t| ~ 1 m."""
    rot = Rotation.random(random_state=rng.integers(2**32)).as_matrix()
    s, t = rng.uniform(0.5, 2.0), rng.normal(size=3)
    return s * x @ rot.T + t, rot, s, t


def _reference_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-pose similarity alignment from scipy.linalg.orthogonal_procrustes (allows reflections)."""
    out = np.empty_like(pred)
    for i in range(pred.shape[0]):
        a = pred[i] - pred[i].mean(0)
        b = gt[i] - gt[i].mean(0)
        rot, sum_sv = orthogonal_procrustes(a, b)  # argmin |a rot - b|_F, sum_sv = trace of singular values
        out[i] = (sum_sv / np.sum(a**2)) * a @ rot + gt[i].mean(0)
    return out


def _rms_mm(per_joint_mm: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(per_joint_mm**2, axis=-1))


# --------------------------------------------------------------------------- MPJPE


def test_mpjpe_constant_offset_is_its_length() -> None:
    gt = _poses(np.random.default_rng(0))
    d = np.array([0.03, -0.04, 0.12])  # |d| = 0.13 m
    np.testing.assert_allclose(mpjpe(gt + d, gt), np.full(6, 130.0), **TOL64)
    np.testing.assert_allclose(mpjpe(gt + d, gt, per_joint=True), np.full((6, J), 130.0), **TOL64)


def test_mpjpe_root_relative_removes_translation_only() -> None:
    rng = np.random.default_rng(1)
    gt = _poses(rng)
    pred = _noisy(rng, gt)
    shifted = pred + rng.normal(size=(6, 1, 3))  # a different translation per pose
    np.testing.assert_allclose(mpjpe(shifted, gt, root=0), mpjpe(pred, gt, root=0), **TOL64)
    np.testing.assert_allclose(mpjpe(shifted, gt, root=0, per_joint=True)[:, 0], 0.0, atol=1e-9)
    # A brute-force loop reference.
    ref = [
        np.mean([np.linalg.norm((pred[b, j] - pred[b, 3]) - (gt[b, j] - gt[b, 3])) for j in range(J)]) for b in range(6)
    ]
    np.testing.assert_allclose(mpjpe(pred, gt, root=3), np.array(ref) * 1000, **TOL64)


def test_batch_shapes_and_single_pose() -> None:
    rng = np.random.default_rng(2)
    gt = _poses(rng, (2, 3))
    pred = _noisy(rng, gt)
    for f in (mpjpe, n_mpjpe, pa_mpjpe, pck3d, auc3d):
        assert f(pred, gt).shape == (2, 3)
        np.testing.assert_allclose(f(pred[1, 2], gt[1, 2]), f(pred, gt)[1, 2], **TOL64)
        assert np.ndim(f(pred[0, 0], gt[0, 0])) == 0
    assert pa_mpjpe(pred, gt, per_joint=True).shape == (2, 3, J)


# --------------------------------------------------------------------------- Procrustes


def test_pa_mpjpe_recovers_a_known_similarity() -> None:
    rng = np.random.default_rng(3)
    gt = _poses(rng, (1,))[0]
    pred, rot, s, t = _similarity(rng, gt)
    assert pa_mpjpe(pred, gt) < 1e-9
    tr = procrustes_transform(pred, gt)  # the inverse of (rot, s, t)
    np.testing.assert_allclose(tr.rotmat, rot.T, atol=1e-12)
    np.testing.assert_allclose(tr.scale, 1.0 / s, rtol=1e-12)
    np.testing.assert_allclose(tr.trans, -rot.T @ t / s, atol=1e-12)
    np.testing.assert_allclose(procrustes_align(pred, gt), gt, atol=1e-12)


@FAST
@given(seed=SEEDS)
def test_pa_mpjpe_similarity_invariance(seed: int) -> None:
    rng = np.random.default_rng(seed)
    gt = _poses(rng, (3,))
    pred = _noisy(rng, gt, sigma=rng.uniform(0.001, 0.3))
    moved, _, s, _ = _similarity(rng, pred)
    np.testing.assert_allclose(pa_mpjpe(moved, gt), pa_mpjpe(pred, gt), rtol=1e-8, atol=1e-8)
    # Transforming the ground truth instead scales the error by s (the result is in gt's units).
    gt_moved, _, s, _ = _similarity(rng, gt)
    np.testing.assert_allclose(pa_mpjpe(pred, gt_moved), s * pa_mpjpe(pred, gt), rtol=1e-8, atol=1e-8)


@FAST
@given(seed=SEEDS)
def test_procrustes_agrees_with_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    gt = _poses(rng, (4,))
    pred = _noisy(rng, gt, sigma=0.05)  # near gt, so the best orthogonal map is a rotation
    aligned = procrustes_align(pred, gt)
    np.testing.assert_allclose(aligned, _reference_align(pred, gt), atol=1e-10)
    assert np.all(np.linalg.det(procrustes_transform(pred, gt).rotmat) > 0)
    # scipy.spatial.procrustes: disparity = residual sum of squares / |gt centred|^2.
    for i in range(4):
        _, _, disparity = scipy_procrustes(gt[i], pred[i])
        rss = np.sum((aligned[i] - gt[i]) ** 2)
        np.testing.assert_allclose(rss / np.sum((gt[i] - gt[i].mean(0)) ** 2), disparity, rtol=1e-8)


def test_procrustes_never_reflects() -> None:
    rng = np.random.default_rng(4)
    gt = _poses(rng, (5,))
    mirrored = gt * np.array([-1.0, 1.0, 1.0])  # a mirror image is not a similarity
    tr = procrustes_transform(mirrored, gt)
    np.testing.assert_allclose(np.linalg.det(tr.rotmat), 1.0, atol=1e-12)
    assert np.all(pa_mpjpe(mirrored, gt) > 10.0)
    # An alignment allowed to reflect (scipy) undoes the mirror exactly.
    np.testing.assert_allclose(_reference_align(mirrored, gt), gt, atol=1e-10)


def test_procrustes_collapsed_prediction_goes_to_the_gt_centroid() -> None:
    gt = _poses(np.random.default_rng(5), (2,))
    pred = np.ones_like(gt)
    centroid = np.broadcast_to(gt.mean(-2, keepdims=True), gt.shape)
    np.testing.assert_allclose(procrustes_align(pred, gt), centroid, atol=1e-12)
    expected = np.linalg.norm(gt - gt.mean(-2, keepdims=True), axis=-1).mean(-1) * 1000
    np.testing.assert_allclose(pa_mpjpe(pred, gt), expected, **TOL64)


# --------------------------------------------------------------------------- N-MPJPE


def test_n_mpjpe_removes_scale_about_the_root() -> None:
    rng = np.random.default_rng(6)
    gt = _poses(rng)
    pred = 0.7 * (gt - gt[:, :1]) + rng.normal(size=(6, 1, 3))  # rescaled about the root, moved
    np.testing.assert_allclose(n_mpjpe(pred, gt, root=0), 0.0, atol=1e-9)
    assert np.all(mpjpe(pred, gt, root=0) > 10.0)


@FAST
@given(seed=SEEDS)
def test_rms_error_decreases_with_each_alignment(seed: int) -> None:
    """root-relative >= scale-aligned >= Procrustes, in RMS over joints (the least-squares criterion)."""
    rng = np.random.default_rng(seed)
    gt = _poses(rng, (4,))
    pred = _noisy(rng, gt, sigma=rng.uniform(0.01, 0.5)) * rng.uniform(0.5, 2.0)
    rms_root = _rms_mm(mpjpe(pred, gt, root=0, per_joint=True))
    rms_n = _rms_mm(n_mpjpe(pred, gt, root=0, per_joint=True))
    rms_pa = _rms_mm(pa_mpjpe(pred, gt, per_joint=True))
    assert np.all(rms_n <= rms_root + 1e-9)
    assert np.all(rms_pa <= rms_n + 1e-9)


def test_n_mpjpe_of_a_collapsed_prediction() -> None:
    gt = _poses(np.random.default_rng(17), (2,))
    expected = np.linalg.norm(gt - gt[:, :1], axis=-1).mean(-1) * 1000  # every scale is optimal
    np.testing.assert_allclose(n_mpjpe(np.zeros_like(gt), gt, root=0), expected, **TOL64)


def test_n_mpjpe_can_exceed_mpjpe() -> None:
    """The optimal scale minimises squared error, not the mean distance: a documented caveat."""
    gt = np.array([[2.0, 0, 0], [-2.0, 0, 0], [2.0, 0, 0]])
    pred = np.array([[-2.0, 0, 0], [-2.0, 0, 0], [2.0, 0, 0]])  # s = 4 / 12
    np.testing.assert_allclose(mpjpe(pred, gt), 4000 / 3, **TOL64)
    np.testing.assert_allclose(n_mpjpe(pred, gt), 16000 / 9, **TOL64)


# --------------------------------------------------------------------------- PCK / AUC


def test_pck3d_equals_brute_force_and_is_monotone() -> None:
    rng = np.random.default_rng(7)
    gt = _poses(rng, (5,))
    pred = _noisy(rng, gt, sigma=0.08)
    for threshold in (0.05, 0.1, 0.15):
        ref = [
            100 / J * sum(np.linalg.norm((pred[b, j] - pred[b, 0]) - (gt[b, j] - gt[b, 0])) < threshold for j in range(J))
            for b in range(5)
        ]
        np.testing.assert_allclose(pck3d(pred, gt, threshold, root=0), ref, **TOL64)
    curve = np.stack([pck3d(pred, gt, t) for t in np.linspace(0, 0.4, 41)])
    assert np.all(np.diff(curve, axis=0) >= 0)
    assert np.all(curve[0] == 0) and np.all(curve[-1] == 100)
    np.testing.assert_allclose(pck3d(pred, gt, per_joint=True).mean(-1), pck3d(pred, gt), **TOL64)


def test_pck3d_and_auc3d_use_a_strict_threshold() -> None:
    """MPI-INF-3DHP counts ``error < threshold``: an exact prediction scores 0 at 0 mm."""
    gt = np.zeros((1, 2, 3))
    pred = np.array([[[0.0, 0, 0], [0.125, 0, 0]]])  # 125 mm, exact in binary
    np.testing.assert_allclose(pck3d(pred, gt, threshold=0.125), [50.0], **TOL64)
    np.testing.assert_allclose(auc3d(gt, gt), [100 * 30 / 31], **TOL64)


def test_auc3d_of_a_constant_error() -> None:
    rng = np.random.default_rng(8)
    gt = _poses(rng, (3,))
    dirs = rng.normal(size=gt.shape)
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    pred = gt + 0.0625 * dirs  # every joint 62.5 mm off: hits at 65, 70, ..., 150 mm = 18 of 31
    np.testing.assert_allclose(auc3d(pred, gt), np.full(3, 100 * 18 / 31), **TOL64)
    np.testing.assert_allclose(auc3d(pred, gt, thresholds=[0.05, 0.07]), 50.0, **TOL64)
    noisy = _noisy(rng, gt, 0.06)
    mean_pck = np.mean([pck3d(noisy, gt, t) for t in np.linspace(0, 0.15, 31)], axis=0)
    np.testing.assert_allclose(auc3d(noisy, gt), mean_pck, **TOL64)


def test_pck2d_hand_count() -> None:
    gt = np.array([[[0.0, 0], [100, 0], [100, 50], [0, 50]]])  # bbox 100 x 50 -> size 100
    pred = gt + np.array([[[3.0, 4], [0, 9], [0, 11], [60, 80]]])  # distances 5, 9, 11, 100
    # threshold 0.1 * 100 = 10 px: hits 5, 9; misses 11, 100.
    np.testing.assert_allclose(pck2d(pred, gt, threshold=0.1), [50.0], **TOL64)
    # The 11 px joint invisible: 2 hits of 3 visible. The bbox then spans joints 0, 1, 3: still 100.
    vis = np.array([[True, True, False, True]])
    np.testing.assert_allclose(pck2d(pred, gt, vis, threshold=0.1), [200 / 3], **TOL64)
    np.testing.assert_allclose(pck2d(pred, gt, vis, threshold=0.1, per_joint=True), [[100, 100, np.nan, 0]], **TOL64)
    # PCKh with an explicit head size of 20 px: 0.5 * 20 = 10 px, boundary included (<=).
    np.testing.assert_allclose(pck2d(pred, gt, ref="head", ref_size=[22.0]), [75.0], **TOL64)
    np.testing.assert_allclose(pck2d(gt + [[[0, 10.0]]], gt, ref="head", ref_size=20.0), [100.0], **TOL64)
    with pytest.raises(ValueError, match="ref_size"):
        pck2d(pred, gt, ref="torso")


def test_pck2d_joint_weighted_dataset_aggregate() -> None:
    rng = np.random.default_rng(9)
    gt = rng.uniform(0, 200, size=(8, 12, 2))
    pred = gt + rng.normal(scale=15, size=gt.shape)
    vis = rng.random((8, 12)) < 0.6
    vis[0] = False  # no visible joint: NaN for that pose
    per_pose = pck2d(pred, gt, vis, threshold=0.1)
    assert np.isnan(per_pose[0]) and np.all(np.isfinite(per_pose[1:]))
    hits = 0
    for b in range(8):
        idx = np.flatnonzero(vis[b])
        if idx.size == 0:
            continue
        size = max(np.ptp(gt[b, idx, 0]), np.ptp(gt[b, idx, 1]))
        hits += sum(np.linalg.norm(pred[b, j] - gt[b, j]) <= 0.1 * size for j in idx)
    joint_weighted = np.nanmean(pck2d(pred, gt, vis, threshold=0.1, per_joint=True))
    np.testing.assert_allclose(joint_weighted, 100 * hits / vis.sum(), **TOL64)


# --------------------------------------------------------------------------- PVE


def test_pve_alignments() -> None:
    rng = np.random.default_rng(10)
    gt = _poses(rng, (2,), n=200)
    pred = _noisy(rng, gt, 0.01)
    np.testing.assert_allclose(pve(pred, gt), mpjpe(pred, gt), **TOL64)
    pred_root, gt_root = pred[:, 0] + [0.0, 0.5, 0.0], gt[:, 0]
    shifted = pve(pred + [0.0, 0.5, 0.0], gt, align="root", pred_root=pred_root, gt_root=gt_root)
    np.testing.assert_allclose(shifted, mpjpe(pred, gt, root=0), **TOL64)
    moved, *_ = _similarity(rng, pred)
    np.testing.assert_allclose(pve(moved, gt, align="procrustes"), pa_mpjpe(pred, gt), rtol=1e-8)
    with pytest.raises(ValueError, match="pred_root"):
        pve(pred, gt, align="root")


# --------------------------------------------------------------------------- angles


@pytest.mark.parametrize("theta_deg", [1e-5, 0.5, 37.0, 90.0, 179.9, 180.0])
def test_mpjae_of_a_known_rotation(theta_deg: float) -> None:
    rng = np.random.default_rng(11)
    gt = Rotation.random(5 * 4, random_state=11).as_matrix().reshape(5, 4, 3, 3)
    axis = rng.normal(size=3)
    delta = Rotation.from_rotvec(np.radians(theta_deg) * axis / np.linalg.norm(axis)).as_matrix()
    pred = delta @ gt  # world-frame perturbation
    np.testing.assert_allclose(mpjae(pred, gt), theta_deg, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(mpjae(gt @ delta, gt), theta_deg, rtol=1e-8, atol=1e-8)  # local-frame perturbation


def test_mpjae_agrees_with_scipy_on_random_rotations() -> None:
    pred = Rotation.random(60, random_state=1).as_matrix().reshape(3, 20, 3, 3)
    gt = Rotation.random(60, random_state=2).as_matrix().reshape(3, 20, 3, 3)
    relative = (pred @ np.swapaxes(gt, -1, -2)).reshape(-1, 3, 3)
    ref = np.degrees(Rotation.from_matrix(relative).magnitude()).reshape(3, 20)
    np.testing.assert_allclose(mpjae(pred, gt, per_joint=True), ref, atol=1e-8)


def test_pa_mpjae_removes_a_global_rotation() -> None:
    rng = np.random.default_rng(12)
    gt_joints = _poses(rng, (4,))
    gt_rot = Rotation.random(4 * 9, random_state=3).as_matrix().reshape(4, 9, 3, 3)
    pred_joints = _noisy(rng, gt_joints, 0.02)
    pred_rot = Rotation.from_rotvec(rng.normal(scale=0.1, size=(36, 3))).as_matrix().reshape(4, 9, 3, 3) @ gt_rot
    q = Rotation.random(random_state=4).as_matrix()  # rotate the whole prediction
    rotated_joints, rotated_rot = pred_joints @ q.T, q @ pred_rot
    base = pa_mpjae(pred_rot, gt_rot, pred_joints, gt_joints)
    np.testing.assert_allclose(pa_mpjae(rotated_rot, gt_rot, rotated_joints, gt_joints), base, atol=1e-8)
    assert np.all(mpjae(rotated_rot, gt_rot) > base + 5.0)
    # Exact joints: the Procrustes rotation is q^T and the aligned angles are the unrotated ones.
    exact = pa_mpjae(rotated_rot, gt_rot, gt_joints @ q.T, gt_joints)
    np.testing.assert_allclose(exact, mpjae(pred_rot, gt_rot), atol=1e-8)


# --------------------------------------------------------------------------- acceleration


def test_accel_error_constant_velocity_and_quadratic_motion() -> None:
    rng = np.random.default_rng(13)
    gt = rng.normal(size=(2, 10, J, 3))
    t = np.arange(10.0)[:, None, None]
    linear = gt + rng.normal(size=(2, 1, J, 3)) + rng.normal(size=(2, 1, J, 3)) * t
    np.testing.assert_allclose(accel_error(linear, gt), np.zeros((2, 8)), atol=1e-9)
    c = rng.normal(scale=0.01, size=(2, 1, J, 3))  # x += c t^2: second difference 2c per frame^2
    expected = np.linalg.norm(2 * c, axis=-1).mean(-1) * 1000  # (2, 1)
    np.testing.assert_allclose(accel_error(gt + c * t**2, gt), np.broadcast_to(expected, (2, 8)), **TOL64)
    with pytest.raises(ValueError, match="3 frames"):
        accel_error(gt[:, :2], gt[:, :2])


# --------------------------------------------------------------------------- NaN and shape policy


def test_nan_prediction_is_a_failure_not_dropped() -> None:
    rng = np.random.default_rng(14)
    gt = _poses(rng, (3,))
    pred = _noisy(rng, gt)
    pred[1, 5, 2] = np.nan
    for f in (mpjpe, n_mpjpe, pa_mpjpe):
        out = f(pred, gt)
        assert np.isnan(out[1]) and np.all(np.isfinite(out[[0, 2]])), f.__name__
    per_joint = mpjpe(pred, gt, per_joint=True)
    assert np.isnan(per_joint[1, 5]) and np.isfinite(per_joint[1, :5]).all()
    assert np.isnan(pa_mpjpe(pred, gt, per_joint=True)[1]).all()  # the alignment used every joint
    assert np.isnan(n_mpjpe(pred, gt, per_joint=True)[1]).all()
    assert np.isnan(mpjpe(pred, gt, root=5, per_joint=True)[1]).all()  # a failed root fails the pose
    pred[2, 0, 0] = np.inf  # inf is a failure too
    assert np.isnan(mpjpe(pred, gt)[2])
    # PCK: the failed joint is a miss.
    exact = gt.copy()
    exact[1, 5] = np.nan
    np.testing.assert_allclose(pck3d(exact, gt), [100, 100 * (J - 1) / J, 100], **TOL64)
    np.testing.assert_allclose(auc3d(exact, gt, thresholds=[0.01]), [100, 100 * (J - 1) / J, 100], **TOL64)
    np.testing.assert_allclose(pck3d(exact, gt, root=5), [100, 0, 100], **TOL64)
    pred2d = gt[..., :2].copy()
    pred2d[0, 0] = np.nan
    np.testing.assert_allclose(pck2d(pred2d, gt[..., :2], threshold=0.1), [100 * (J - 1) / J, 100, 100], **TOL64)


def test_nan_in_rotations_and_sequences() -> None:
    gt = Rotation.random(6, random_state=5).as_matrix().reshape(2, 3, 3, 3)
    pred = gt.copy()
    pred[0, 1, 0, 0] = np.nan
    np.testing.assert_equal(np.isnan(mpjae(pred, gt, per_joint=True)), [[False, True, False], [False, False, False]])
    assert np.isnan(mpjae(pred, gt)[0]) and mpjae(pred, gt)[1] < 1e-6
    seq = np.zeros((10, 2, 3))
    bad = seq.copy()
    bad[4, 1, 0] = np.nan  # frame 4 enters the second differences centred on frames 3, 4, 5
    np.testing.assert_equal(np.flatnonzero(np.isnan(accel_error(bad, seq))), [2, 3, 4])


def test_nan_ground_truth_raises() -> None:
    gt = _poses(np.random.default_rng(15), (2,))
    bad = gt.copy()
    bad[0, 3, 1] = np.nan
    for f in (mpjpe, n_mpjpe, pa_mpjpe, pck3d, auc3d, pve):
        with pytest.raises(ValueError, match="gt.*non-finite"):
            f(gt, bad)
    vis = np.ones((2, J), bool)
    with pytest.raises(ValueError, match="gt2d"):
        pck2d(gt[..., :2], bad[..., :2], vis)
    vis[0, 3] = False  # an invisible joint's gt may be anything
    assert np.all(np.isfinite(pck2d(gt[..., :2], bad[..., :2], vis)))


def test_shape_mismatch_names_both_shapes() -> None:
    a, b = np.zeros((2, J, 3)), np.zeros((2, J - 1, 3))
    for f in (mpjpe, pa_mpjpe, pck3d):
        with pytest.raises(ValueError, match=r"\(2, 17, 3\).*\(2, 16, 3\)"):
            f(a, b)
    with pytest.raises(ValueError, match=r"\(\.\.\., N, 3\)"):
        mpjpe(np.zeros((2, J, 2)), np.zeros((2, J, 2)))
    with pytest.raises(ValueError, match="root=17"):
        mpjpe(a, a, root=17)


def test_summarize_reports_and_raises(caplog: pytest.LogCaptureFixture) -> None:
    assert summarize(np.array([1.0, 2.0, 3.0])) == {"mean": 2.0, "n": 3, "n_nan": 0}
    with caplog.at_level(logging.WARNING, logger="simpose.eval.metrics"):
        out = summarize(np.array([[1.0, np.nan], [3.0, np.nan]]))
    assert out == {"mean": 2.0, "n": 4, "n_nan": 2}
    assert "2 of 4" in caplog.text
    with pytest.raises(ValueError, match="NaN"):
        summarize([1.0, np.nan], on_nan="raise")
    assert np.isnan(summarize(np.array([]))["mean"])


# --------------------------------------------------------------------------- torch inputs


def test_torch_inputs_match_numpy() -> None:
    rng = np.random.default_rng(16)
    gt = _poses(rng, (3,))
    pred = _noisy(rng, gt)
    ref = pa_mpjpe(pred, gt)
    got = pa_mpjpe(torch.tensor(pred, requires_grad=True), torch.tensor(gt))
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    np.testing.assert_allclose(got, ref, **TOL64)
    got32 = pa_mpjpe(torch.tensor(pred, dtype=torch.float32), torch.tensor(gt, dtype=torch.float32))
    np.testing.assert_allclose(got32, ref, **TOL[np.float32])
    np.testing.assert_allclose(mpjpe(torch.tensor(pred), gt, root=0), mpjpe(pred, gt, root=0), **TOL64)


def test_oks_against_the_coco_formula():
    from simpose.eval.metrics import COCO_OKS_SIGMAS, oks

    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 200, (2, 17, 2))
    vis = np.ones((2, 17), bool)
    vis[1, :5] = False  # unlabelled joints do not count
    area = np.array([900.0, 2500.0])
    shift = np.array([3.0, 4.0])  # 5 px on every joint
    pred = gt + shift
    pred[1, 0] = np.nan  # an unlabelled joint's prediction may be anything
    expected = [
        np.mean(np.exp(-25.0 / (2 * a * (2 * COCO_OKS_SIGMAS[v]) ** 2))) for a, v in zip(area, vis)
    ]  # pycocotools: e = d^2 / vars / (area + eps) / 2, vars = (2 sigma)^2
    np.testing.assert_allclose(oks(pred, gt, vis, area), expected, rtol=1e-12)
    np.testing.assert_allclose(oks(gt, gt, vis, area), [1.0, 1.0])
    failed = gt.copy()
    failed[0, 7] = np.nan  # a labelled joint not predicted scores 0 for that joint
    assert oks(failed, gt, vis, area)[0] == pytest.approx(16 / 17)
    assert np.isnan(oks(gt[:1], gt[:1], np.zeros((1, 17), bool), area[:1]))[0]
    with pytest.raises(ValueError, match="area"):
        oks(gt, gt, vis, np.array([0.0, 1.0]))
