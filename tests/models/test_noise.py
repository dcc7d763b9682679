"""The detector-noise model's statistics against its parameters."""

import dataclasses

import numpy as np
import pytest

from simpose.body.joints import get_joint_set
from simpose.models.noise import NoiseConfig, apply_detector_noise, joint_noise_scales, person_size

H36M = get_joint_set("h36m17")
QUIET = NoiseConfig(jitter_std=0.0, swap_prob=0.0, drop_prob=0.0, jitter_corr=0.0)


def _clip(T: int = 4000, size: float = 1.0, seed: int = 0) -> np.ndarray:
    """A static 2D skeleton (T, 17, 2) pixels, person_size proportional to ``size``."""
    rng = np.random.default_rng(seed)
    pose = rng.uniform(-100, 100, (len(H36M), 2)) * size + 500.0
    return np.broadcast_to(pose, (T, len(H36M), 2)).copy()


@pytest.mark.parametrize("size", [1.0, 3.0])
def test_jitter_std_scales_with_person_size(size):
    cfg = dataclasses.replace(QUIET, jitter_std=0.02)
    clean = _clip(size=size)
    noisy, _ = apply_detector_noise(clean, "h36m17", np.random.default_rng(1), cfg)
    std = (noisy - clean).std(axis=0).mean(-1)  # (J,) per-axis std
    expected = 0.02 * person_size(clean[0]) * joint_noise_scales("h36m17", cfg)
    np.testing.assert_allclose(std, expected, rtol=0.06)
    wrist, pelvis = H36M.index("left_wrist"), H36M.index("pelvis")
    assert std[wrist] / std[pelvis] == pytest.approx(cfg.extremity_scale, rel=0.1)


def test_temporal_correlation_keeps_the_marginal_std():
    cfg = dataclasses.replace(QUIET, jitter_std=0.02, jitter_corr=0.8)
    clean = _clip()
    noisy, _ = apply_detector_noise(clean[None].repeat(8, 0), "h36m17", np.random.default_rng(2), cfg)
    e = (noisy - clean)[..., 0]  # (8, T, J)
    expected = 0.02 * person_size(clean[0]) * joint_noise_scales("h36m17", cfg)
    np.testing.assert_allclose(e.std(axis=(0, 1)), expected, rtol=0.08)
    lag1 = (e[:, 1:] * e[:, :-1]).mean() / (e * e).mean()
    assert lag1 == pytest.approx(0.8, abs=0.03)


def test_swap_rate():
    cfg = dataclasses.replace(QUIET, swap_prob=0.1)
    clean = _clip(T=20000)
    noisy, _ = apply_detector_noise(clean, "h36m17", np.random.default_rng(3), cfg)
    lw, rw = H36M.index("left_wrist"), H36M.index("right_wrist")
    swapped = np.all(noisy[:, lw] == clean[:, rw], axis=-1) & np.all(noisy[:, rw] == clean[:, lw], axis=-1)
    n = len(clean)
    assert abs(swapped.mean() - 0.1) < 4 * np.sqrt(0.1 * 0.9 / n)
    pelvis = H36M.index("pelvis")  # no left/right partner: never moves
    np.testing.assert_array_equal(noisy[:, pelvis], clean[:, pelvis])


def test_dropped_joints_get_low_confidence():
    cfg = dataclasses.replace(QUIET, drop_prob=0.2)
    clean = _clip(T=5000)
    noisy, conf = apply_detector_noise(clean, "h36m17", np.random.default_rng(4), cfg)
    dropped = np.any(noisy != clean, axis=-1)
    assert abs(dropped.mean() - 0.2) < 4 * np.sqrt(0.2 * 0.8 / dropped.size)
    lo, hi = cfg.drop_confidence
    assert conf[dropped].min() >= lo and conf[dropped].max() <= hi
    assert conf[~dropped].min() >= cfg.confidence_floor  # exact joints: error 0
    err = np.linalg.norm(noisy - clean, axis=-1)[dropped] / person_size(clean[0])
    assert np.sqrt((err**2).mean() / 2) == pytest.approx(cfg.outlier_std, rel=0.05)


def test_confidence_falls_with_error():
    clean = _clip(T=3000)
    noisy, conf = apply_detector_noise(clean, "h36m17", np.random.default_rng(5), dataclasses.replace(NoiseConfig(), jitter_corr=0.0))
    err = np.linalg.norm(noisy - clean, axis=-1).ravel()
    c = conf.ravel()
    rank = lambda v: np.argsort(np.argsort(v))  # noqa: E731
    spearman = np.corrcoef(rank(err), rank(c))[0, 1]
    assert spearman < -0.5


def test_truncation_and_clean_strength():
    clean = _clip(T=10)
    clean[:, H36M.index("head")] = (-5.0, 20.0)  # left of the image
    clean[:, H36M.index("left_ankle")] = (20.0, 1000.0)  # at y = height: outside
    noisy, conf = apply_detector_noise(clean, "h36m17", np.random.default_rng(6), image_size=(1000, 1000), strength=0.0)
    np.testing.assert_array_equal(noisy, clean)
    outside = np.zeros(len(H36M), bool)
    outside[[H36M.index("head"), H36M.index("left_ankle")]] = True
    assert (conf[:, outside] == 0).all() and (conf[:, ~outside] == 1).all()


def test_same_seed_same_noise_and_per_sample_strength():
    clean = _clip(T=50)[None].repeat(3, 0)
    a = apply_detector_noise(clean, "h36m17", np.random.default_rng(7), strength=np.array([0.0, 1.0, 2.0]))
    b = apply_detector_noise(clean, "h36m17", np.random.default_rng(7), strength=np.array([0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[0][0], clean[0])
    assert np.abs(a[0][2] - clean[2]).mean() > np.abs(a[0][1] - clean[1]).mean() > 0
