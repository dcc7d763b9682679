"""align_body: a body moved (pose and translation) onto 2D it was projected from."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from simpose.body.align import AlignConfig, align_body, smooth_track
from simpose.body.fit import BodyFit
from simpose.body.rig import JointRig


def test_a_perturbed_body_returns_onto_its_rays(body):
    shape = np.full(6, 0.5)
    rig = JointRig.build(body, shape, "h36m17")
    rng = np.random.default_rng(0)
    T = 12
    t = np.arange(T) / 50.0
    pose = np.zeros((T, 19, 3))
    pose[:, 9:13, 0] = 0.4 * np.sin(2 * np.pi * t)[:, None]  # the right arm swings
    glob = np.tile([0.0, 0.4, 0.0], (T, 1))
    trans = np.stack([0.1 * t, np.zeros(T), np.full(T, 3.5)], -1)
    with torch.no_grad():
        X = rig(*(torch.as_tensor(a) for a in (pose, glob, trans))).numpy()
    xy = X[..., :2] / X[..., 2:]  # normalised image coordinates
    start = BodyFit(pose + rng.normal(0, 0.05, pose.shape), glob + rng.normal(0, 0.05, glob.shape), trans + rng.normal(0, 0.03, trans.shape), shape, np.ones(T, bool))

    def reproj(fit):
        with torch.no_grad():
            Y = rig(*(torch.as_tensor(a) for a in (fit.pose_rotvecs, fit.global_rotvecs, fit.trans))).numpy()
        return np.linalg.norm(Y[..., :2] / Y[..., 2:] - xy, axis=-1).mean() * 1000.0  # pixels at f = 1000

    before = reproj(start)
    cfg = AlignConfig(accel_m=1.0, iterations=30, smooth_2d_s=0.0)  # exact 2D: let it be followed
    after = reproj(align_body(rig, start, xy, None, 50.0, target3d=X, config=cfg))
    assert before > 5.0 and after < 0.05 * before, (before, after)
    # invalid frames stay NaN and untouched
    gap = dataclasses.replace(start, valid=np.r_[np.ones(6, bool), np.zeros(6, bool)])
    out = align_body(rig, gap, xy, None, 50.0, config=cfg)
    assert np.isfinite(out.pose_rotvecs[:6]).all() and np.isnan(out.pose_rotvecs[6:]).all() and np.isnan(out.trans[6:]).all()


def _swinging_body(body, T=40):
    """A rig and a true motion (pose, glob, trans) with its joints X (T, 17, 3) and 2D xy."""
    rig = JointRig.build(body, np.full(6, 0.5), "h36m17")
    t = np.arange(T) / 50.0
    pose = np.zeros((T, 19, 3))
    pose[:, 9:13, 0] = 0.4 * np.sin(2 * np.pi * t)[:, None]
    glob = np.tile([0.0, 0.4, 0.0], (T, 1))
    trans = np.stack([0.1 * t, np.zeros(T), np.full(T, 3.5)], -1)
    with torch.no_grad():
        X = rig(*(torch.as_tensor(a) for a in (pose, glob, trans))).numpy()
    return rig, (pose, glob, trans), X, X[..., :2] / X[..., 2:]


def _reproj_px(rig, fit, xy, mask=None):
    with torch.no_grad():
        Y = rig(*(torch.as_tensor(a) for a in (fit.pose_rotvecs, fit.global_rotvecs, fit.trans))).numpy()
    d = np.linalg.norm(Y[..., :2] / Y[..., 2:] - xy, axis=-1) * 1000.0  # pixels at f = 1000
    return float(d[mask].mean() if mask is not None else d.mean())


def test_smooth_track_keeps_lines_and_runs_apart():
    T = 30
    valid = np.ones(T, bool)
    valid[14] = False  # two runs: 0-13 and 15-29
    x = np.zeros((T, 2, 1))
    x[:14, 0, 0] = 2.0 * np.arange(14)  # a line: a symmetric kernel keeps it away from the run's ends
    x[15:, 0, 0] = 100.0  # a constant in the second run must not leak into the first
    x[:, 1, 0] = np.where(np.arange(T) % 2 == 0, 1.0, -1.0)  # +-1 alternating: averages out
    w = np.ones((T, 2))
    out, wout = smooth_track(x, w, valid, sigma=1.0)
    np.testing.assert_allclose(out[3:11, 0, 0], x[3:11, 0, 0], atol=1e-9)
    np.testing.assert_allclose(out[15:, 0, 0], 100.0)
    assert out[13, 0, 0] < 26.0 + 1e-9 and np.isnan(out[14]).all() and wout[14].sum() == 0
    # alternating +-1 through a Gaussian of sigma 1: |sum_d k(d) (-1)^d| / sum_d k(d)
    d = np.arange(-3, 4)
    k = np.exp(-0.5 * d**2)
    np.testing.assert_allclose(np.abs(out[18:27, 1, 0]), abs((k * (-1.0) ** d).sum()) / k.sum(), rtol=1e-9)
    same, _ = smooth_track(x, w, valid, sigma=0.0)
    np.testing.assert_array_equal(same[valid], x[valid])


def test_smoothed_2d_target_lands_nearer_the_true_2d(body):
    rig, (pose, glob, trans), X, xy = _swinging_body(body)
    rng = np.random.default_rng(1)
    noisy = xy + rng.normal(0, 0.006, xy.shape)  # 6 px white noise at f = 1000
    start = BodyFit(pose, glob, trans, np.full(6, 0.5), np.ones(len(X), bool))
    plain = align_body(rig, start, noisy, None, 50.0, target3d=X, config=AlignConfig(reprojection_m=0.002, smooth_2d_s=0.0))
    smooth = align_body(rig, start, noisy, None, 50.0, target3d=X, config=AlignConfig(reprojection_m=0.002, smooth_2d_s=0.04))
    noise_px = np.linalg.norm(noisy - xy, axis=-1).mean() * 1000.0
    a, b = _reproj_px(rig, plain, xy), _reproj_px(rig, smooth, xy)
    assert b < 0.8 * a and b < 0.5 * noise_px, (a, b, noise_px)


def test_huber_2d_loss_resists_a_thrown_keypoint(body):
    rig, (pose, glob, trans), X, xy = _swinging_body(body)
    bad = xy.copy()
    bad[10:20, 16] += 0.3  # the right wrist thrown 300 px away for 10 frames
    start = BodyFit(pose, glob, trans, np.full(6, 0.5), np.ones(len(X), bool))
    others = np.ones(xy.shape[:2], bool)
    others[:, 16] = False
    cfg = AlignConfig(reprojection_m=0.003, smooth_2d_s=0.0)
    plain = _reproj_px(rig, align_body(rig, start, bad, None, 50.0, target3d=X, config=cfg), xy, others)
    robust = _reproj_px(rig, align_body(rig, start, bad, None, 50.0, target3d=X, config=dataclasses.replace(cfg, robust_m=0.01)), xy, others)
    assert robust < 0.5 * plain, (plain, robust)


def test_smoothing_a_track_shorter_than_its_kernel():
    """One or two frames under a kernel of several frames: each frame is its own (weighted) mean."""
    from simpose.body.align import smooth_track

    for T in (1, 2, 3):
        x = np.arange(T * 2 * 2, dtype=float).reshape(T, 2, 2)
        mean, w = smooth_track(x, np.ones((T, 2)), np.ones(T, bool), sigma=2.0)
        assert mean.shape == x.shape and np.isfinite(mean).all()
        np.testing.assert_allclose(mean.mean(0), x.mean(0))  # a symmetric kernel keeps the mean of a short run
        if T == 1:
            np.testing.assert_allclose(mean, x)
