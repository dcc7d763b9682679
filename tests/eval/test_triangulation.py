"""Triangulation against an analytic rig: exact recovery, outlier views, swapped views, time offsets."""

from __future__ import annotations

import numpy as np
import pytest

from simpose.eval.triangulation import (
    apply_swaps,
    detect_swaps,
    estimate_offsets,
    project,
    shift_views,
    temporal_outliers,
    triangulate_dlt,
    triangulate_robust,
)

# groups of (left, right) joint pairs of the synthetic 6-joint "body"
GROUPS = [[(0, 1), (2, 3)], [(4, 5)]]


def look_at(eye: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World-to-camera R, t of an OpenCV camera at ``eye`` looking at ``target`` (world z up)."""
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return R, -R @ eye


@pytest.fixture(scope="module")
def rig() -> np.ndarray:
    """(4, 3, 4) projections of 4 cameras 4 m around the origin, 1.5 m high, f = 1500 px."""
    K = np.array([[1500.0, 0, 540], [0, 1500.0, 960], [0, 0, 1]])
    Ps = []
    for angle in (0.0, 1.4, 3.0, 4.5):
        eye = np.array([4 * np.cos(angle), 4 * np.sin(angle), 1.5])
        R, t = look_at(eye, np.array([0.0, 0.0, 1.0]))
        Ps.append(K @ np.c_[R, t])
    return np.stack(Ps)


def body_motion(T: int = 40) -> np.ndarray:
    """(T, 6, 3) metres: three left/right pairs 0.2-0.5 m apart, swaying smoothly; the body's
    left-right axis at 40 degrees to the rig's, so that no camera sees left and right on one ray."""
    base = np.array([[0.2, 0, 1.4], [-0.2, 0, 1.4], [0.25, 0.1, 1.0], [-0.25, 0.1, 1.0], [0.1, 0, 0.5], [-0.1, 0, 0.5]])
    c, s = np.cos(0.7), np.sin(0.7)
    base = base @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T
    t = np.arange(T)[:, None, None] / 60.0
    return base + 0.3 * np.sin(2 * np.pi * 0.7 * t + np.arange(6)[None, :, None] * 0.3) * np.array([1.0, 0.5, 0.2])


def test_dlt_recovers_exact_points(rig):
    X = body_motion()
    x = project(X, rig)  # (T, J, V, 2)
    np.testing.assert_allclose(triangulate_dlt(x, rig), X, atol=1e-9)


def test_weight_zero_leaves_a_view_out(rig):
    X = body_motion(5)
    x = project(X, rig)
    x[..., 2, :] += 300.0  # view 2 is wrong; with weight 0 it must not matter at all
    w = np.ones(x.shape[:-1])
    w[..., 2] = 0.0
    np.testing.assert_allclose(triangulate_dlt(x, rig, w), triangulate_dlt(x[..., [0, 1, 3], :], rig[[0, 1, 3]]), atol=1e-9)
    np.testing.assert_allclose(triangulate_dlt(x, rig, w), X, atol=1e-9)
    one_view = np.zeros_like(w)
    one_view[..., 0] = 1.0
    assert np.isnan(triangulate_dlt(x, rig, one_view)).all()


def test_robust_triangulation_drops_the_outlier_view(rig):
    rng = np.random.default_rng(0)
    X = body_motion()
    x = project(X, rig) + rng.normal(scale=2.0, size=(40, 6, 4, 2))  # 2 px detector noise
    bad = rng.integers(0, 4, size=(40, 6))  # one wrong view per point
    x[np.arange(40)[:, None], np.arange(6)[None], bad] += rng.choice([-1, 1], size=(40, 6, 2)) * rng.uniform(80, 300, size=(40, 6, 2))
    plain = np.linalg.norm(triangulate_dlt(x, rig) - X, axis=-1)
    tri = triangulate_robust(x, rig, threshold_px=30.0)
    robust = np.linalg.norm(tri.points3d - X, axis=-1)
    expected = np.ones((40, 6, 4), bool)
    expected[np.arange(40)[:, None], np.arange(6)[None], bad] = False
    np.testing.assert_array_equal(tri.inliers, expected)
    # the same as DLT from the true inliers, which 2 px of noise at 4 m (f = 1500 px) moves by mm
    np.testing.assert_allclose(tri.points3d, triangulate_dlt(x, rig, expected.astype(float)), atol=1e-9)
    assert np.median(plain) > 0.03 > 0.01 > np.median(robust)
    assert robust.max() < 0.03


def test_two_views_give_their_point_or_nan(rig):
    X = body_motion(3)
    x = project(X, rig)[..., :2, :]
    np.testing.assert_allclose(triangulate_robust(x, rig[:2], threshold_px=20.0).points3d, X, atol=1e-9)
    x[..., 1, 1] += 200.0  # view 1 moved off the epipolar line (both cameras level): the rays miss by far
    tri = triangulate_robust(x, rig[:2], threshold_px=20.0)
    assert np.isnan(tri.points3d).all() and not tri.inliers.any()


def test_swapped_view_is_found_and_undone(rig):
    X = body_motion()
    x = project(X, rig).swapaxes(1, 2).copy()  # (T, V, J, 2)
    truth = np.zeros((40, 4, 2), bool)
    truth[5:12, 1, 0] = True  # view 1: arms swapped in frames 5-11
    truth[20:25, 3, :] = True  # view 3: the whole body swapped in frames 20-24
    swapped = apply_swaps(x, truth, GROUPS)
    assert not np.allclose(swapped, x)
    found = detect_swaps(swapped, rig, GROUPS, threshold_px=30.0)
    np.testing.assert_array_equal(found, truth)
    np.testing.assert_array_equal(apply_swaps(swapped, found, GROUPS), x)  # swapping twice is the identity


def test_time_offset_of_a_late_view(rig):
    X = body_motion(80)
    x = project(X, rig).swapaxes(1, 2)  # (T, V, J, 2)
    late = x.copy()
    late[:, 2] = shift_views(x, np.array([0, 0, -3, 0]))[:, 2]  # view 2 shows frame t at t + 3
    offsets, costs = estimate_offsets(late, rig, max_offset=5, threshold_px=30.0)
    np.testing.assert_array_equal(offsets, [0, 0, 3, 0])
    assert costs[2, 5 + 3] < 1e-6 < costs[2, 5]  # exact at +3 (noise-free), not at 0
    # applied, the views are in step again
    np.testing.assert_allclose(shift_views(late, offsets)[:-3], x[:-3], atol=1e-12)


def test_no_offset_when_the_cost_curve_is_flat(rig):
    rng = np.random.default_rng(1)
    still = np.repeat(body_motion(1), 2000, axis=0)  # a still body: every offset fits equally
    x = project(still, rig).swapaxes(1, 2) + rng.normal(scale=1.0, size=(2000, 4, 6, 2))
    offsets, _ = estimate_offsets(x, rig, max_offset=3)
    np.testing.assert_array_equal(offsets, 0)


def test_temporal_outliers_flag_a_jump():
    X = body_motion(20)
    X[7, 3] += [0.0, 0.3, 0.0]
    flags = temporal_outliers(X, threshold_m=0.1)
    expected = np.zeros((20, 6), bool)
    expected[7, 3] = True
    np.testing.assert_array_equal(flags, expected)
