"""Absolute position: the camera-frame translation of a root-relative 3D pose from its 2D keypoints.

For a joint with root-relative position ``X = (X, Y, Z)`` (metres, camera axes) and normalised
image coordinates ``(x, y) = K^-1 (u, v, 1)``, the pinhole model with the root at ``t`` says
``x (Z + t_z) = X + t_x`` and ``y (Z + t_z) = Y + t_y``: two equations LINEAR in ``t`` per
joint. Stacking them over the joints, weighted by the detector's confidences, gives a 3 x 3
weighted least-squares problem per frame (:func:`solve_translation`), solved in closed form,
batched over frames, then re-weighted twice (Huber weights) so that a joint the lifter got
wrong counts less. With exact 2D and 3D it recovers ``t`` exactly; the residual it minimises
is the reprojection error scaled by each joint's depth, which for a body (depth spread << its
distance) is the reprojection error up to a near-constant factor.

Depth is the noisy part (a few pixels of 2D noise move ``t_z`` by centimetres), so
:func:`smooth_translation` then applies a Gaussian filter over time, within runs of valid
frames only (invalid frames stay NaN; nothing is bridged across them).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from simpose.camera import image_to_normalised

__all__ = [
    "PositionConfig", "solve_translation", "smooth_translation", "naive_translation", "normalised_coords", "align_to_rays",
]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class PositionConfig:
    """Settings of the absolute-position stage.

    Attributes:
        smooth_xy_s: Gaussian sigma over time for t_x, t_y, seconds (0: none). Well determined
            by the 2D, so only lightly smoothed.
        smooth_z_s: Gaussian sigma for t_z (depth, the noisy component), seconds.
        min_confidence: joints below this confidence get weight 0.
        min_joints: frames with fewer usable joints get NaN (the system needs >= 2 joints).
        robust_iterations: re-weighting passes after the first solve (0: plain least squares).
            A joint the lifter got wrong pulls the plain solution towards it; each pass scales
            a joint's weight by ``min(1, robust_scale_m / residual)`` (Huber weights), so such
            joints count less.
        robust_scale_m: residual (metres at the joint's depth) above which a joint is down-weighted.
    """

    smooth_xy_s: float = 0.04
    smooth_z_s: float = 0.15
    min_confidence: float = 0.05
    min_joints: int = 4
    robust_iterations: int = 2
    robust_scale_m: float = 0.05


def normalised_coords(joints2d: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pixels (..., J, 2) -> normalised image coordinates ``(u - c) / f`` (..., J, 2), for a K
    without lens distortion (:func:`simpose.camera.image_to_normalised`)."""
    return image_to_normalised(joints2d, np.asarray(K, np.float64))


def solve_translation(
    joints3d_rel: np.ndarray,
    joints2d: np.ndarray,
    confidence: np.ndarray | None,
    K: np.ndarray,
    config: PositionConfig = PositionConfig(),
) -> np.ndarray:
    """Per-frame camera-frame translation, closed-form weighted linear least squares.

    Args:
        joints3d_rel: (T, J, 3) metres, camera axes, relative to any fixed point of the body
            (the returned ``t`` is that point's camera position).
        joints2d: (T, J, 2) pixels of the same joints (NaN: missing), K's pixel convention.
        confidence: (T, J) weights in [0, 1], or None (all 1).
        K: (3, 3) intrinsics in pixels.
        config: ``min_confidence`` and ``min_joints``.
    Returns:
        (T, 3) float64 metres, camera frame; NaN where a frame has too few usable joints or
        its system is degenerate.
    """
    X = np.asarray(joints3d_rel, np.float64)
    xy = normalised_coords(joints2d, K)
    T, J = X.shape[:2]
    w = np.ones((T, J)) if confidence is None else np.asarray(confidence, np.float64).copy()
    usable = np.isfinite(xy).all(-1) & np.isfinite(X).all(-1) & (w >= config.min_confidence)
    w = np.where(usable, w, 0.0)
    xy = np.where(usable[..., None], xy, 0.0)
    X = np.where(usable[..., None], X, 0.0)
    x, y = xy[..., 0], xy[..., 1]
    # rows (t_x, t_y, t_z) . a = b:  [1, 0, -x] t = x Z - X ;  [0, 1, -y] t = y Z - Y
    one, zero = np.ones_like(x), np.zeros_like(x)
    A = np.stack([np.stack([one, zero, -x], -1), np.stack([zero, one, -y], -1)], axis=2)  # (T, J, 2, 3)
    b = np.stack([x * X[..., 2] - X[..., 0], y * X[..., 2] - X[..., 1]], axis=-1)  # (T, J, 2)
    A = A.reshape(T, 2 * J, 3)
    b = b.reshape(T, 2 * J)
    ok = usable.sum(1) >= max(config.min_joints, 2)
    out = _weighted_solve(A, b, np.repeat(w, 2, axis=1), ok)
    for _ in range(config.robust_iterations):
        r = np.einsum("tni,ti->tn", A, np.nan_to_num(out)) - b  # (T, 2J) residuals, metres
        r = np.linalg.norm(r.reshape(T, J, 2), axis=-1)  # per joint
        huber = np.minimum(1.0, config.robust_scale_m / np.maximum(r, 1e-12))
        out = _weighted_solve(A, b, np.repeat(w * huber, 2, axis=1), ok)
    return out


def _weighted_solve(A: np.ndarray, b: np.ndarray, w: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """(T, 3) argmin_t sum_n w_n (A_n t - b_n)^2 per frame; NaN where not ``ok`` or degenerate."""
    AtA = np.einsum("tn,tni,tnj->tij", w, A, A)
    Atb = np.einsum("tn,tni,tn->ti", w, A, b)
    out = np.full((len(A), 3), np.nan)
    ok = ok & (np.abs(np.linalg.det(AtA)) > 1e-12)
    if ok.any():
        out[ok] = np.linalg.solve(AtA[ok], Atb[ok][..., None])[..., 0]
    return out


def smooth_translation(trans: np.ndarray, fps: float, config: PositionConfig = PositionConfig()) -> np.ndarray:
    """Gaussian smoothing over time within runs of finite frames.

    Args:
        trans: (T, 3) metres; NaN rows are invalid frames (kept NaN, never filled).
        fps: frames per second (sigmas are in seconds).
        config: ``smooth_xy_s`` and ``smooth_z_s``.
    Returns:
        (T, 3) smoothed; each run of consecutive valid frames is filtered on its own, the
        kernel renormalised at the run's ends (no shrinking towards zero at the edges).
    """
    trans = np.asarray(trans, np.float64)
    out = trans.copy()
    valid = np.isfinite(trans).all(-1)
    for s, e in _runs(valid):
        for axes, sigma_s in (((0, 1), config.smooth_xy_s), ((2,), config.smooth_z_s)):
            out[s:e, list(axes)] = _gaussian(trans[s:e, list(axes)], sigma_s * fps)
    return out


def align_to_rays(joints3d_cam: np.ndarray, joints2d: np.ndarray, weights: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Move each joint sideways onto its detected 2D ray, keeping its depth: image position from the
    detector, depth from the lifter.

    ``X' = X + w (z x_n - X)`` with ``x_n = K^-1 (u, v, 1)``: at ``w = 1`` the joint projects
    exactly onto its keypoint at unchanged depth ``z``; ``w = 0`` (or a missing keypoint)
    leaves it as it is. The lifter's 3D reprojects a few percent of the person's height away
    from the keypoints (its own error); this removes that error in the image plane, where the
    detector is the better witness, and leaves depth, which only the lifter knows.

    Args:
        joints3d_cam: (T, J, 3) metres, camera frame.
        joints2d: (T, J, 2) pixels of the same joints (NaN: missing).
        weights: (T, J) in [0, 1], e.g. the detector's confidence.
        K: (3, 3) intrinsics.
    Returns:
        (T, J, 3) float64; z unchanged.
    """
    X = np.asarray(joints3d_cam, np.float64)
    xy = normalised_coords(joints2d, K)
    w = np.clip(np.asarray(weights, np.float64), 0.0, 1.0)
    w = np.where(np.isfinite(xy).all(-1) & np.isfinite(X).all(-1), w, 0.0)
    target = np.nan_to_num(xy) * X[..., 2:3]
    out = X.copy()
    out[..., :2] += w[..., None] * (target - X[..., :2])
    return out


def naive_translation(joints3d_rel: np.ndarray, joints2d: np.ndarray, K: np.ndarray) -> np.ndarray:
    """The usual shortcut, for comparison: depth from the ratio of 3D to 2D size, x/y from the root.

    ``t_z = f * size3d / size2d`` (RMS spread of the joints about their mean), then the root
    pixel back-projected at that depth. Ignores perspective within the body.

    Args: as :func:`solve_translation` (joint 0 of ``joints2d`` is taken as the root's pixel).
    Returns:
        (T, 3) metres.
    """
    X = np.asarray(joints3d_rel, np.float64)
    xy = normalised_coords(joints2d, K)
    size3d = np.sqrt(np.nanmean(np.sum((X[..., :2] - np.nanmean(X[..., :2], 1, keepdims=True)) ** 2, -1), 1))
    size2d = np.sqrt(np.nanmean(np.sum((xy - np.nanmean(xy, 1, keepdims=True)) ** 2, -1), 1))
    tz = size3d / size2d
    return np.stack([xy[:, 0, 0] * tz, xy[:, 0, 1] * tz, tz], -1)


def _runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a (T,) bool array."""
    edges = np.diff(np.concatenate([[0], valid.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    """(N, C) Gaussian filter along axis 0 with the kernel renormalised at the ends."""
    if sigma <= 1e-6 or len(x) < 2:
        return x.copy()
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    n = len(x)
    num = np.stack([np.convolve(x[:, c], k, mode="full")[r : r + n] for c in range(x.shape[1])], -1)
    den = np.convolve(np.ones(n), k, mode="full")[r : r + n]
    return num / den[:, None]
