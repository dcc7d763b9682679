"""Absolute position: exact recovery of a known translation; with noise, better than the naive baseline."""

from __future__ import annotations

import numpy as np

from simpose.track.position import PositionConfig, naive_translation, smooth_translation, solve_translation

K = np.array([[1000.0, 0.0, 319.5], [0.0, 1000.0, 239.5], [0.0, 0.0, 1.0]])


def _scene(T: int = 60, seed: int = 0):
    """A 17-joint body-sized point set (root first) walking towards the camera, projected with K."""
    rng = np.random.default_rng(seed)
    rel = rng.normal(0, [0.2, 0.45, 0.12], (T, 17, 3))
    rel -= rel[:, :1]
    s = np.linspace(0, 1, T)
    trans = np.stack([0.5 * np.sin(2 * np.pi * s), 0.1 * s, 6.0 - 2.5 * s], -1)
    cam = rel + trans[:, None]
    uv = (cam @ K.T)[..., :2] / cam[..., 2:]
    return rel, uv, trans


def test_exact_translation_from_exact_projections():
    rel, uv, trans = _scene()
    t = solve_translation(rel, uv, None, K)
    np.testing.assert_allclose(t, trans, atol=1e-9)


def test_confidence_zero_ignores_a_wrong_joint():
    rel, uv, trans = _scene()
    uv = uv.copy()
    uv[:, 3] += 80.0  # a wildly wrong detection ...
    conf = np.ones(uv.shape[:2])
    conf[:, 3] = 0.0  # ... that the detector flagged
    np.testing.assert_allclose(solve_translation(rel, uv, conf, K), trans, atol=1e-9)


def test_noise_least_squares_and_smoothing_beat_the_naive_baseline():
    rel, uv, trans = _scene(T=120)
    rng = np.random.default_rng(1)
    noisy_uv = uv + rng.normal(0, 3.0, uv.shape)  # 3 px detector noise
    noisy_rel = rel + rng.normal(0, 0.02, rel.shape)  # 2 cm lifter noise
    naive = naive_translation(noisy_rel, noisy_uv, K)
    per_frame = solve_translation(noisy_rel, noisy_uv, None, K)
    smooth = smooth_translation(per_frame, fps=30.0)
    err = lambda t: np.linalg.norm(t - trans, axis=-1).mean()  # noqa: E731
    assert err(per_frame) < 0.7 * err(naive)
    assert err(smooth) < 0.7 * err(per_frame)
    assert err(smooth) < 0.1  # metres, at 4-6 m distance


def test_too_few_joints_and_invalid_frames_are_nan_and_stay_nan():
    rel, uv, trans = _scene(T=10)
    uv = uv.copy()
    uv[4] = np.nan
    conf = np.ones(uv.shape[:2])
    conf[7, 2:] = 0.0  # two joints left: below min_joints
    t = solve_translation(rel, uv, conf, K, PositionConfig(min_joints=4))
    assert np.isnan(t[4]).all() and np.isnan(t[7]).all()
    assert np.isfinite(np.delete(t, [4, 7], 0)).all()
    s = smooth_translation(t, fps=10.0)
    assert np.isnan(s[4]).all() and np.isnan(s[7]).all()
    # a run of one frame is left as it is; longer runs are smoothed within themselves
    np.testing.assert_allclose(s[[5, 6]].mean(0), t[[5, 6]].mean(0), atol=1e-9)


def test_robust_weights_resist_a_wrong_3d_joint():
    rel, uv, trans = _scene(T=30)
    bad = rel.copy()
    bad[:, 13] += [0.35, -0.25, 0.2]  # the lifter misplaced a wrist by ~50 cm
    plain = solve_translation(bad, uv, None, K, PositionConfig(robust_iterations=0))
    robust = solve_translation(bad, uv, None, K)
    err = lambda t: np.linalg.norm(t - trans, axis=-1).mean()  # noqa: E731
    assert err(robust) < 0.5 * err(plain)
    np.testing.assert_allclose(solve_translation(rel, uv, None, K), trans, atol=1e-9)  # exact data stays exact
