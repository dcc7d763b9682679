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

from simpose.geometry import gaussian_smooth, normalised_coords, runs
from simpose.geometry import solve_translation as solve_rays

__all__ = ["PositionConfig", "solve_translation", "smooth_translation", "naive_translation"]


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


def solve_translation(
    joints3d_rel: np.ndarray,
    joints2d: np.ndarray,
    confidence: np.ndarray | None,
    K: np.ndarray,
    config: PositionConfig = PositionConfig(),
) -> np.ndarray:
    """:func:`simpose.geometry.solve_translation` with this stage's settings.

    Args: joints3d_rel (T, J, 3) metres; joints2d (T, J, 2) pixels; confidence (T, J) or None;
        K (3, 3) pixels; config: ``min_confidence``, ``min_joints``, ``robust_iterations``,
        ``robust_scale_m``.
    Returns:
        (T, 3) float64 metres, camera frame (NaN where no translation could be solved).
    """
    return solve_rays(
        joints3d_rel, joints2d, confidence, K, min_confidence=config.min_confidence, min_joints=config.min_joints,
        robust_iterations=config.robust_iterations, robust_scale_m=config.robust_scale_m,
    )


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
    for s, e in runs(valid):
        for axes, sigma_s in (((0, 1), config.smooth_xy_s), ((2,), config.smooth_z_s)):
            out[s:e, list(axes)] = gaussian_smooth(trans[s:e, list(axes)], sigma_s * fps)
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
