"""Triangulating 2D keypoints seen by calibrated, synchronised cameras: pure numpy functions.

Shapes: V views, J joints, T frames, ``...`` any leading batch dims. Points are pixels, 3D points
world metres, ``projections`` the (V, 3, 4) matrices ``K [R | t]``. A weight of 0 leaves a view
out (missing detections: NaN points with weight 0).

- :func:`triangulate_dlt`: weighted linear (DLT) triangulation.
- :func:`triangulate_robust`: per point, the views that agree: every pair of views proposes a
  point, the one that most views reproject within ``threshold_px`` wins, and the point is
  triangulated again from those inlier views only.
- :func:`detect_swaps` / :func:`apply_swaps`: per view and frame, whether a group of left/right
  joints is swapped (a detector that mistakes a body's front for its back), judged against the
  point triangulated from the other views.
- :func:`estimate_offsets`: per view, the frame offset that best matches the other views.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings

import numpy as np

__all__ = [
    "project", "reprojection_errors", "triangulate_dlt", "Triangulation", "triangulate_robust",
    "detect_swaps", "apply_swaps", "shift_views", "estimate_offsets", "temporal_outliers",
]  # fmt: skip


def project(points3d: np.ndarray, projections: np.ndarray) -> np.ndarray:
    """World points (..., 3) -> pixels (..., V, 2) in each of the V views (``projections`` (V, 3, 4))."""
    X = np.concatenate([points3d, np.ones(points3d.shape[:-1] + (1,))], axis=-1)
    x = np.einsum("vij,...j->...vi", projections, X)
    return x[..., :2] / x[..., 2:3]


def reprojection_errors(points3d: np.ndarray, points2d: np.ndarray, projections: np.ndarray) -> np.ndarray:
    """Pixel distance (..., V) between the projections of ``points3d`` (..., 3) and ``points2d`` (..., V, 2)."""
    return np.linalg.norm(project(points3d, projections) - points2d, axis=-1)


def triangulate_dlt(points2d: np.ndarray, projections: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted linear triangulation (DLT, Hartley & Zisserman 12.2).

    Each view adds the rows ``w (u P_3 - P_1)``, ``w (v P_3 - P_2)``, normalised to unit length
    first (so that a weight means the same in every view, whatever its depth and focal length);
    the point is the right singular vector of the smallest singular value.

    Args:
        points2d: (..., V, 2) pixels; NaN where missing.
        projections: (V, 3, 4).
        weights: (..., V) >= 0 (None: 1 where the point is finite).
    Returns:
        (..., 3) world points; NaN where fewer than 2 views have weight > 0.
    """
    points2d = np.asarray(points2d, np.float64)
    finite = np.isfinite(points2d).all(-1)
    w = finite.astype(np.float64) if weights is None else np.where(finite, np.asarray(weights, np.float64), 0.0)
    uv = np.where(finite[..., None], points2d, 0.0)
    P = np.broadcast_to(projections, uv.shape[:-1] + (3, 4))
    rows = np.stack([uv[..., 0:1] * P[..., 2, :] - P[..., 0, :], uv[..., 1:2] * P[..., 2, :] - P[..., 1, :]], axis=-2)
    rows = rows / np.linalg.norm(rows, axis=-1, keepdims=True)  # (..., V, 2, 4)
    A = (rows * w[..., None, None]).reshape(uv.shape[:-2] + (-1, 4))
    _, _, vt = np.linalg.svd(A)
    X = vt[..., -1, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = X[..., :3] / X[..., 3:4]
    out[(w > 0).sum(-1) < 2] = np.nan
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class Triangulation:
    """Result of :func:`triangulate_robust`.

    Attributes:
        points3d: (..., 3) world metres; NaN where fewer than 2 views agree.
        inliers: (..., V) bool, the views the point was triangulated from.
        errors: (..., V) reprojection error of the point in every view, pixels (NaN where the
            view has no detection).
    """

    points3d: np.ndarray
    inliers: np.ndarray
    errors: np.ndarray


def triangulate_robust(
    points2d: np.ndarray, projections: np.ndarray, weights: np.ndarray | None = None, threshold_px: float = 40.0
) -> Triangulation:
    """Triangulation that drops, per point, the views that disagree with the others.

    Every pair of usable views (weight > 0) proposes a point; the proposal whose reprojection
    lies within ``threshold_px`` in the most views (ties: the smaller sum of errors, each capped
    at the threshold) wins, and the point is triangulated again, weighted, from those views.
    With 2 views this is plain DLT when they agree and NaN when they do not.

    Args:
        points2d: (..., V, 2) pixels, NaN where missing.
        projections: (V, 3, 4).
        weights: (..., V) >= 0 (None: 1 where finite).
        threshold_px: a view whose reprojection error exceeds this is an outlier.
    Returns:
        :class:`Triangulation`.
    """
    points2d = np.asarray(points2d, np.float64)
    V = points2d.shape[-2]
    finite = np.isfinite(points2d).all(-1)
    w = finite.astype(np.float64) if weights is None else np.where(finite, np.asarray(weights, np.float64), 0.0)
    usable = w > 0
    best_count = np.zeros(points2d.shape[:-2], np.int64)
    best_cost = np.full(points2d.shape[:-2], np.inf)
    best_inliers = np.zeros(points2d.shape[:-1], bool)
    for a, b in itertools.combinations(range(V), 2):
        pair_w = np.zeros_like(w)
        pair_w[..., [a, b]] = w[..., [a, b]]
        X = triangulate_dlt(points2d, projections, pair_w)
        err = reprojection_errors(X, points2d, projections)
        inl = usable & (err < threshold_px)
        inl[~(usable[..., a] & usable[..., b])] = False
        count = inl.sum(-1)
        cost = np.where(usable, np.minimum(np.nan_to_num(err, nan=threshold_px), threshold_px), 0.0).sum(-1)
        better = (count > best_count) | ((count == best_count) & (count >= 2) & (cost < best_cost))
        best_count = np.where(better, count, best_count)
        best_cost = np.where(better, cost, best_cost)
        best_inliers = np.where(better[..., None], inl, best_inliers)
    X = triangulate_dlt(points2d, projections, np.where(best_inliers, w, 0.0))
    errors = np.where(finite, reprojection_errors(X, points2d, projections), np.nan)
    return Triangulation(X, best_inliers & (best_count >= 2)[..., None], errors)


def apply_swaps(points2d: np.ndarray, swapped: np.ndarray, groups: list[list[tuple[int, int]]]) -> np.ndarray:
    """Exchange the left/right joints of the flagged groups.

    Args:
        points2d: (T, V, J, C) per-joint values (pixels, or (T, V, J, 1) weights).
        swapped: (T, V, G) bool.
        groups: G lists of (left, right) joint index pairs.
    Returns:
        (T, V, J, C) a copy with the joints of each flagged group exchanged.
    """
    out = np.array(points2d, copy=True)
    for g, pairs in enumerate(groups):
        left, right = [p[0] for p in pairs], [p[1] for p in pairs]
        t, v = (i[:, None] for i in np.nonzero(swapped[..., g]))
        held = out[t, v, left].copy()
        out[t, v, left] = out[t, v, right]
        out[t, v, right] = held
    return out


def detect_swaps(
    points2d: np.ndarray,
    projections: np.ndarray,
    groups: list[list[tuple[int, int]]],
    weights: np.ndarray | None = None,
    threshold_px: float = 40.0,
    ratio: float = 0.5,
) -> np.ndarray:
    """Per view, frame and group: are the group's left and right joints swapped?

    For each view, the points are triangulated (robustly) from the OTHER views and projected
    into it; a group is a candidate where exchanging its left and right detections lowers the
    sum of the group's reprojection errors (each capped at ``3 * threshold_px``) to below ``ratio``
    times that of the detections as they are, and to within ``threshold_px`` per joint on average.
    One swapped view also spoils the others' judgement (it is among their "other views"), so
    per frame and group only the candidate with the largest gain is taken, the swap undone, and
    the views judged again, until no candidate is left.

    Args:
        points2d: (T, V, J, 2) pixels, NaN where missing.
        projections: (V, 3, 4); V >= 3 (two other views are needed to judge one).
        groups: G lists of (left, right) joint index pairs swapped together.
        weights: (T, V, J) >= 0 (None: 1 where finite).
        threshold_px: the robust triangulation's outlier threshold.
        ratio: how much lower the swapped error must be.
    Returns:
        (T, V, G) bool.
    """
    T, V, J, _ = points2d.shape
    finite = np.isfinite(points2d).all(-1)
    w = finite.astype(np.float64) if weights is None else np.where(finite, weights, 0.0)
    swapped = np.zeros((T, V, len(groups)), bool)
    current, cw = points2d, w
    for _ in range(V):
        gains = _swap_gains(current, cw, projections, groups, threshold_px, ratio)  # (T, V, G)
        best = gains.argmax(1)  # (T, G)
        take = np.zeros_like(swapped)
        t, g = np.nonzero(np.take_along_axis(gains, best[:, None], 1)[:, 0] > 0)
        take[t, best[t, g], g] = True
        if not take.any():
            break
        swapped ^= take
        current = apply_swaps(current, take, groups)
        cw = apply_swaps(cw[..., None], take, groups)[..., 0]
    return swapped


def _swap_gains(points2d, w, projections, groups, threshold_px: float, ratio: float) -> np.ndarray:
    """(T, V, G) ``1 - swapped error / error as is`` where a swap qualifies (see :func:`detect_swaps`), else 0."""
    T, V, J, _ = points2d.shape
    cap = 3.0 * threshold_px
    gains = np.zeros((T, V, len(groups)))
    for v in range(V):
        others = np.arange(V) != v
        tri = triangulate_robust(points2d[:, others].swapaxes(1, 2), projections[others], w[:, others].swapaxes(1, 2), threshold_px)
        proj = project(tri.points3d, projections[v : v + 1])[..., 0, :]  # (T, J, 2)
        for g, pairs in enumerate(groups):
            left, right = [p[0] for p in pairs], [p[1] for p in pairs]
            idx, sw = left + right, right + left
            ok = (w[:, v][:, idx] > 0) & (w[:, v][:, sw] > 0)
            ok &= np.isfinite(proj[:, idx]).all(-1) & np.isfinite(proj[:, sw]).all(-1)
            e_as = np.minimum(np.linalg.norm(proj[:, idx] - points2d[:, v][:, idx], axis=-1), cap)
            e_sw = np.minimum(np.linalg.norm(proj[:, idx] - points2d[:, v][:, sw], axis=-1), cap)
            n = ok.sum(-1)
            c_as = np.where(ok, e_as, 0.0).sum(-1)
            c_sw = np.where(ok, e_sw, 0.0).sum(-1)
            qualifies = (n >= 2) & (c_sw < ratio * c_as) & (c_sw < threshold_px * np.maximum(n, 1))
            gains[:, v, g] = np.where(qualifies, 1.0 - c_sw / np.maximum(c_as, 1e-9), 0.0)
    return gains


def shift_views(values: np.ndarray, offsets: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """Per-view frame shift: ``out[t, v] = values[t + offsets[v], v]`` (``fill`` outside the range).

    Args:
        values: (T, V, ...) per-frame, per-view values.
        offsets: (V,) integer frame offsets.
    Returns:
        (T, V, ...) shifted copy.
    """
    T = values.shape[0]
    out = np.full(values.shape, fill, dtype=np.result_type(values.dtype, np.asarray(fill).dtype))
    for v, d in enumerate(np.asarray(offsets, int)):
        src = np.arange(T) + d
        ok = (src >= 0) & (src < T)
        out[ok, v] = values[src[ok], v]
    return out


def estimate_offsets(
    points2d: np.ndarray,
    projections: np.ndarray,
    weights: np.ndarray | None = None,
    max_offset: int = 5,
    threshold_px: float = 40.0,
    reference: int = 0,
    min_gain: float = 0.05,
) -> tuple[np.ndarray, np.ndarray]:
    """Per view, the integer frame offset that best matches the others (view ``reference``: 0).

    For each view, the points are triangulated robustly from the other views (at their current
    offsets) and the view's detections ``d`` frames later are compared with their projections:
    the cost of ``d`` is the median reprojection error over frames and joints. An offset counts
    only where it lowers the cost of 0 by at least ``min_gain`` (a share): a flat cost curve shows
    no clear offset, and its minimum is noise. Views are settled one at a time, the clearest
    first (the largest gain), each against the others as settled so far: one late view would
    otherwise pull the others' costs towards itself. Offsets are finally made relative to
    ``reference``.

    Args:
        points2d: (T, V, J, 2) pixels, NaN where missing.
        projections: (V, 3, 4); V >= 3.
        weights: (T, V, J) >= 0 (None: 1 where finite).
        max_offset: offsets -max..max frames are tried.
        threshold_px: the robust triangulation's outlier threshold.
        reference: the view whose time the others are given in.
        min_gain: the least relative gain over offset 0 that counts.
    Returns:
        offsets (V,) int (view v's frame ``t + offsets[v]`` shows reference frame t), and
        costs (V, 2 * max_offset + 1) pixels, the median error of each offset (each view's
        last evaluation).
    """
    T, V, J, _ = points2d.shape
    finite = np.isfinite(points2d).all(-1)
    w = finite.astype(np.float64) if weights is None else np.where(finite, weights, 0.0)
    offsets = np.zeros(V, int)
    costs = np.full((V, 2 * max_offset + 1), np.nan)
    shifts = np.arange(-max_offset, max_offset + 1)
    settled = np.zeros(V, bool)
    while not settled.all():
        best_gain, best_view = min_gain, None
        for v in np.flatnonzero(~settled):
            costs[v] = _offset_costs(points2d, w, projections, offsets, v, shifts, threshold_px)
            k = int(np.argmin(costs[v]))
            gain = 1.0 - costs[v, k] / costs[v, max_offset] if costs[v, max_offset] > 0 else 0.0
            if shifts[k] != 0 and gain >= best_gain:
                best_gain, best_view = gain, v
        if best_view is None:
            break
        offsets[best_view] = shifts[int(np.argmin(costs[best_view]))]
        settled[best_view] = True
    return offsets - offsets[reference], costs


def _offset_costs(points2d, w, projections, offsets, v: int, shifts: np.ndarray, threshold_px: float) -> np.ndarray:
    """(len(shifts),) median reprojection error of view ``v`` shifted by each of ``shifts``
    against the points triangulated from the other views at ``offsets``."""
    V = points2d.shape[1]
    others = np.arange(V) != v
    pts = shift_views(points2d[:, others], offsets[others])
    ww = shift_views(w[:, others], offsets[others], fill=0.0)
    tri = triangulate_robust(pts.swapaxes(1, 2), projections[others], ww.swapaxes(1, 2), threshold_px)
    proj = project(tri.points3d, projections[v : v + 1])[..., 0, :]  # (T, J, 2)
    out = np.full(len(shifts), np.inf)
    for k, d in enumerate(shifts):
        obs = shift_views(points2d[:, v : v + 1], np.array([d]))[:, 0]
        ok = shift_views(w[:, v : v + 1], np.array([d]), fill=0.0)[:, 0] > 0
        err = np.linalg.norm(proj - obs, axis=-1)[ok]
        if np.isfinite(err).any():
            out[k] = np.nanmedian(err)
    return out


def temporal_outliers(points3d: np.ndarray, window: int = 5, threshold_m: float = 0.1) -> np.ndarray:
    """Points that jump away from their neighbours in time: two views that agree on a wrong point.

    Args:
        points3d: (T, J, 3) metres, NaN where missing.
        window: frames of the running median (odd), centred on each frame.
        threshold_m: a point farther than this from the median of its window is an outlier.
    Returns:
        (T, J) bool.
    """
    T = points3d.shape[0]
    h = window // 2
    padded = np.concatenate([np.full((h,) + points3d.shape[1:], np.nan), points3d, np.full((h,) + points3d.shape[1:], np.nan)])
    windows = np.stack([padded[k : k + T] for k in range(window)])  # (window, T, J, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows at missing points
        median = np.nanmedian(windows, axis=0)
    return np.linalg.norm(points3d - median, axis=-1) > threshold_m
