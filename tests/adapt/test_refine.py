"""Test-time refinement: recovers a skeleton of constant bones from exact 2D and a lifter's depth errors."""

from __future__ import annotations

import numpy as np
import pytest

from simpose.adapt.refine import RefineConfig, _energy, _gradient, _Terms, bone_pairs, jitter_scale, refine_sequence
from simpose.body.joints import get_joint_set
from simpose.geometry import normalised_coords

K = np.array([[1000.0, 0.0, 319.5], [0.0, 1000.0, 239.5], [0.0, 0.0, 1.0]])
H36M = get_joint_set("h36m17")


def _rotate(v: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues: (T, 3) vectors about unit axis (3,) by (T,) angles."""
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    return v * c + np.cross(axis, v) * s + axis * (v @ axis)[:, None] * (1 - c)


def _skeleton(T: int = 150, fps: float = 50.0, seed: int = 0) -> np.ndarray:
    """(T, 17, 3) camera-frame h36m17 joints, every bone of constant length (left = right), swinging smoothly."""
    rng = np.random.default_rng(seed)
    lengths = rng.uniform(0.1, 0.45, 17)
    lengths = np.maximum(lengths, lengths[H36M.flip_permutation])  # a person's left and right bones match
    t = np.arange(T) / fps
    X = np.zeros((T, 17, 3))
    X[:, H36M.root] = np.stack([0.3 * np.sin(t), 0.0 * t, 4.0 + 0.5 * t], -1)
    for j in range(17):  # parents come before children in h36m17
        p = H36M.parents[j]
        if p < 0:
            continue
        offset = rng.normal(0, 1, 3)
        offset *= lengths[j] / np.linalg.norm(offset)
        axis = rng.normal(0, 1, 3)
        axis /= np.linalg.norm(axis)
        angle = rng.uniform(0.2, 0.8) * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t + rng.uniform(0, 6))
        X[:, j] = X[:, p] + _rotate(np.broadcast_to(offset, (T, 3)), axis, angle)
    return X


def _project(X: np.ndarray) -> np.ndarray:
    return normalised_coords((X @ K.T)[..., :2] / X[..., 2:], K)


def _lifter_like(X: np.ndarray, seed: int = 1) -> np.ndarray:
    """Root-relative joints with the lifter's typical error: depths wrong by ~5 cm, smoothly over time."""
    rng = np.random.default_rng(seed)
    T = len(X)
    rel = X - X[:, H36M.root : H36M.root + 1]
    k = np.exp(-0.5 * (np.arange(-15, 16) / 5.0) ** 2)
    noise = np.stack([np.convolve(rng.normal(0, 1, T + 30), k, "valid")[:T] for _ in range(17)], -1)
    noise *= 0.05 / noise.std()
    out = rel.copy()
    out[..., 2] += noise
    out -= out[:, H36M.root : H36M.root + 1]
    return out


def _err(A: np.ndarray, B: np.ndarray) -> float:
    r = H36M.root
    return float(np.linalg.norm((A - A[:, r : r + 1]) - (B - B[:, r : r + 1]), axis=-1).mean())


def test_bone_pairs_share_left_and_right():
    child, parent, length = bone_pairs("h36m17")
    assert len(child) == 16  # a tree over 17 joints
    assert length.max() + 1 == 16 - 6  # hip, thigh, shin, shoulder, upper arm, forearm pairs
    flip = H36M.flip_permutation
    for c, p, n in zip(child, parent, length):
        mirror = np.flatnonzero((child == flip[c]) & (parent == flip[p]))
        assert len(mirror) == 1 and length[mirror[0]] == n


def test_depth_errors_shrink_with_exact_2d():
    X = _skeleton()
    init = _lifter_like(X)
    before = _err(init, X)
    out = refine_sequence(init, _project(X), None, 50.0)
    assert 0.02 < before < 0.06
    assert _err(out, X) < 0.65 * before  # seeds 0-3: 0.50-0.58
    # on the rays: within the 2D term's std (5 mm at the body) of the keypoints, at >= 3.7 m
    assert np.abs(_project(out) - _project(X)).max() * 3.7 < RefineConfig().reprojection_m


def test_the_true_skeleton_is_kept():
    X = _skeleton()
    rel = X - X[:, H36M.root : H36M.root + 1]
    out = refine_sequence(rel, _project(X), None, 50.0)
    assert _err(out, X) < 0.003
    assert np.abs(out[:, H36M.root] - X[:, H36M.root]).max() < 0.02  # placed where it is


def test_invalid_frames_stay_nan_and_missing_keypoints_are_ignored():
    X = _skeleton(T=80)
    init = _lifter_like(X)
    init[10:15] = np.nan
    xy = _project(X)
    xy[30:60, H36M.index("left_wrist")] = np.nan
    xy[40, :] += 0.5  # a wild frame the detector did not trust...
    conf = np.ones((80, 17))
    conf[40] = 0.0  # ...at zero confidence
    out = refine_sequence(init, xy, conf, 50.0, config=RefineConfig(iterations=100))
    assert np.isnan(out[10:15]).all()
    ok = np.r_[0:10, 15:80]
    assert np.isfinite(out[ok]).all()
    assert _err(out[ok], X[ok]) < _err(init[ok], X[ok])


def test_jitter_scale_matches_white_noise_and_is_zero_on_smooth_tracks():
    rng = np.random.default_rng(0)
    T, fps, window = 4000, 50.0, 0.04
    smooth = np.repeat(np.linspace(-0.1, 0.1, T)[:, None, None], 3, 1).repeat(2, 2)
    depth = np.full(T, 5.0)
    assert jitter_scale(smooth, depth, fps, window).max() < 1e-4  # 0.1 mm: the ends of a ramp only
    sigma = 0.002
    noisy = smooth + rng.normal(0, sigma, smooth.shape)
    sd = window * fps
    k = np.exp(-0.5 * (np.arange(-int(np.ceil(3 * sd)), int(np.ceil(3 * sd)) + 1) / sd) ** 2)
    k /= k.sum()
    expected = sigma * 5.0 * np.sqrt(2 * (1 - 2 * k[len(k) // 2] + (k**2).sum()))  # two axes, metres at 5 m
    np.testing.assert_allclose(jitter_scale(noisy, depth, fps, window), expected, rtol=0.05)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="does not match"):
        refine_sequence(np.zeros((5, 17, 3)), np.zeros((5, 16, 2)), None, 50.0)


def _random_terms(F: int = 12, seed: int = 0):
    """Random refinement terms of h36m17 (a gap in the frames, one joint behind z = 0.1, one unseen)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    child, parent, length = (torch.as_tensor(a) for a in bone_pairs("h36m17"))
    X = torch.randn(F, 17, 3, generator=g, dtype=torch.float64) * 0.3 + torch.tensor([0.0, 0.0, 4.0], dtype=torch.float64)
    X[3, 5, 2] = 0.05  # clamped depth: no gradient through z there
    weight = torch.rand(F, 17, generator=g, dtype=torch.float64) * 1e4
    weight[2, 7] = 0.0
    triple = torch.ones(F - 2, dtype=torch.bool)
    triple[4] = False
    terms = _Terms(
        torch.randn(F, 17, 2, generator=g, dtype=torch.float64) * 0.1, weight, torch.rand(F, 1, 1, generator=g, dtype=torch.float64) + 3.0,
        torch.randn(F, 17, 3, generator=g, dtype=torch.float64) * 0.3, 0, child, parent, length, triple, 0.01, 0.1, 0.02, float(F * 17),
    )  # fmt: skip
    L = torch.rand(int(length.max()) + 1, generator=g, dtype=torch.float64) * 0.4 + 0.1
    return X, L, terms


def test_closed_form_gradient_is_autograds():
    """The refinement steps on a gradient written out by hand: it must be the energy's (autograd, float64)."""
    import torch

    for seed in range(3):
        X, L, terms = _random_terms(seed=seed)
        X.requires_grad_(True)
        L.requires_grad_(True)
        want = torch.autograd.grad(_energy(X, L, terms), (X, L))
        got = _gradient(X.detach(), L.detach(), terms)
        for w, g in zip(want, got):
            np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-10, atol=1e-12 * float(w.abs().max()))


def test_refinement_is_adam_on_the_energy():
    """refine_sequence equals torch.optim.Adam with autograd on the same energy (its previous form), within 1e-9 m."""
    import torch

    rng = np.random.default_rng(0)
    T = 30
    rel = rng.normal(0, 0.3, (T, 17, 3))
    rel -= rel[:, :1]
    trans = np.tile([0.1, -0.2, 4.0], (T, 1)) + rng.normal(0, 0.01, (T, 3))
    cam = rel + trans[:, None]
    xy = cam[..., :2] / cam[..., 2:] + rng.normal(0, 0.003, (T, 17, 2))
    conf = rng.uniform(0.3, 1.0, (T, 17))
    config = RefineConfig(iterations=50)
    got = refine_sequence(rel, xy, conf, 50.0, config=config, trans=trans)

    captured = {}
    real_gradient = _gradient

    def spy(X, L, terms):  # the run's own terms and starting point, then autograd + torch's Adam from there
        captured.setdefault("start", (X.clone(), L.clone(), terms))
        return real_gradient(X, L, terms)

    import simpose.adapt.refine as refine

    refine._gradient = spy
    try:
        refine_sequence(rel, xy, conf, 50.0, config=RefineConfig(iterations=1), trans=trans)
    finally:
        refine._gradient = real_gradient
    X, L, terms = captured["start"]
    X.requires_grad_(True)
    L.requires_grad_(True)
    opt = torch.optim.Adam([X, L], lr=config.lr)
    for _ in range(config.iterations):
        opt.zero_grad()
        _energy(X, L, terms).backward()
        opt.step()
    np.testing.assert_allclose(got, X.detach().numpy(), atol=1e-9)
