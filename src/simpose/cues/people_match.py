"""Comparing people's skeletons: similarity, non-max suppression, mask overlap, matching, tiles.

Pure functions behind :mod:`simpose.cues.people` (and :mod:`simpose.track.associate`, which
reuses :func:`match`). Skeletons are BlazePose landmark sets in frame pixels.
"""

from __future__ import annotations

import numpy as np

from simpose.cues.blazepose import PoseCandidate, Roi, project_landmarks, to_roi

__all__ = ["skeleton_similarity", "skeleton_nms", "on_mask", "mask_overlaps", "duplicates", "match", "tile_rois"]


def skeleton_similarity(kps_a: np.ndarray, vis_a: np.ndarray, kps_b: np.ndarray, vis_b: np.ndarray, kappa: float = 0.1, min_visibility: float = 0.5) -> np.ndarray:
    """OKS-like similarity between two sets of skeletons.

    ``sum_j w_j exp(-d_j^2 / (2 s^2 kappa^2)) / sum_j w_j`` over landmarks visible in both
    (``w_j = 1`` where both visibilities >= ``min_visibility``), with ``s^2`` the mean of the two
    skeletons' box areas (of their visible landmarks). Symmetric; 1 for identical skeletons; 0
    where no landmark is visible in both. Unlike box IoU it separates two people who overlap
    in the image, since their joints lie apart.

    Args:
        kps_a: (A, J, 2) pixels; vis_a: (A, J) in [0, 1]; kps_b: (B, J, 2); vis_b: (B, J).
    Returns:
        (A, B) float64 in [0, 1].
    """
    kps_a, kps_b = np.asarray(kps_a, np.float64), np.asarray(kps_b, np.float64)
    va, vb = np.asarray(vis_a) >= min_visibility, np.asarray(vis_b) >= min_visibility
    va &= np.isfinite(kps_a).all(-1)
    vb &= np.isfinite(kps_b).all(-1)
    area_a, area_b = _area(kps_a, va), _area(kps_b, vb)
    s2 = (area_a[:, None] + area_b[None, :]) / 2  # (A, B)
    d2 = ((np.nan_to_num(kps_a)[:, None] - np.nan_to_num(kps_b)[None]) ** 2).sum(-1)  # (A, B, J)
    w = (va[:, None] & vb[None]).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.exp(-d2 / (2 * np.maximum(s2, 1e-9)[..., None] * kappa**2))
        n = w.sum(-1)
        return np.where(n > 0, (e * w).sum(-1) / np.maximum(n, 1), 0.0)


def _area(kps: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """(N,) area of the box around each skeleton's visible landmarks (0 with fewer than 2)."""
    p = np.where(vis[..., None], kps, np.nan)
    out = np.zeros(kps.shape[0])
    ok = vis.sum(-1) >= 2
    if ok.any():
        span = np.nanmax(p[ok], 1) - np.nanmin(p[ok], 1)
        out[ok] = span[:, 0] * span[:, 1]
    return out


def skeleton_nms(
    kps: np.ndarray, vis: np.ndarray, scores: np.ndarray, threshold: float = 0.5, kappa: float = 0.1, min_visibility: float = 0.5,
    duplicate: np.ndarray | None = None,
) -> np.ndarray:
    """Greedy non-max suppression on skeletons: best score first, dropping every skeleton more
    similar than ``threshold`` (:func:`skeleton_similarity`) to one kept, or marked by
    ``duplicate`` as the same person as a kept one (:func:`duplicates`: a second skeleton drawn
    on the same person at another scale, or on one of their limbs, shares few joint positions
    but their pixels).

    Args:
        kps: (N, J, 2) pixels; vis: (N, J); scores: (N,).
        duplicate: (N, N) bool, entry (i, k): i is the same person as k; or None.
    Returns:
        (K,) int64 indices of the kept skeletons, by decreasing score.
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    if order.size == 0:
        return order.astype(np.int64)
    sim = skeleton_similarity(kps, vis, kps, vis, kappa, min_visibility)
    keep: list[int] = []
    if duplicate is not None:
        sim = np.where(np.asarray(duplicate, bool), np.inf, sim)
    for i in order:
        if all(sim[i, k] <= threshold for k in keep):
            keep.append(int(i))
    return np.asarray(keep, np.int64)


def on_mask(points: np.ndarray, mask: np.ndarray, roi: Roi, threshold: float = 0.5) -> np.ndarray:
    """Which points lie on a person's segmentation mask.

    Args:
        points: (N, 2) frame pixels.
        mask: (S, S) probability over ``roi`` (:attr:`PoseCandidate.mask`).
        roi: the ROI the mask covers.
    Returns:
        (N,) bool: inside the ROI and mask probability > ``threshold`` (nearest cell).
    """
    q = to_roi(points, roi) * mask.shape[0]
    ok = np.isfinite(q).all(-1) & (q >= 0).all(-1) & (q < mask.shape[0]).all(-1)
    out = np.zeros(len(points), bool)
    idx = q[ok].astype(int)
    out[ok] = mask[idx[:, 1], idx[:, 0]] > threshold
    return out


def mask_overlaps(candidates: list[PoseCandidate], grid: int = 64, threshold: float = 0.5) -> np.ndarray:
    """Pairwise overlap of the people's segmentation masks in the frame.

    Each pair's masks are sampled on a ``grid`` x ``grid`` lattice over the box around both
    ROIs; the overlap is the shared area over the smaller mask's area (so a skeleton drawn on
    one limb of a person overlaps that person fully).

    Args:
        candidates: N skeletons with masks.
    Returns:
        (N, N) float64 in [0, 1], 1 on the diagonal; 0 where a mask is missing or empty.
    """
    n = len(candidates)
    out = np.eye(n)
    for i in range(n):
        for k in range(i + 1, n):
            a, b = candidates[i], candidates[k]
            if a.mask is None or b.mask is None:
                continue
            corners = np.concatenate([_roi_corners(a.roi), _roi_corners(b.roi)])
            lo, hi = corners.min(0), corners.max(0)
            u = (np.arange(grid) + 0.5) / grid
            pts = lo + np.stack(np.meshgrid(u, u, indexing="xy"), -1).reshape(-1, 2) * (hi - lo)
            ma, mb = on_mask(pts, a.mask, a.roi, threshold), on_mask(pts, b.mask, b.roi, threshold)
            small = min(ma.sum(), mb.sum())
            out[i, k] = out[k, i] = (ma & mb).sum() / small if small > 0 else 0.0
    return out


def duplicates(candidates: list[PoseCandidate], overlap: float = 0.8, part_overlap: float = 0.6, part_size_ratio: float = 0.75) -> np.ndarray:
    """Which skeletons are another one's person again (see ``PeopleConfig.mask_overlap``).

    Args:
        candidates: N skeletons with masks.
    Returns:
        (N, N) bool, entry (i, k): i is k's person (mask overlap >= ``overlap``, or i's ROI
        smaller than ``part_size_ratio`` times k's and overlap >= ``part_overlap``); False on
        the diagonal.
    """
    ov = mask_overlaps(candidates)
    size = np.array([c.roi.size for c in candidates])
    out = (ov >= overlap) | ((ov >= part_overlap) & (size[:, None] < part_size_ratio * size[None, :]))
    np.fill_diagonal(out, False)
    return out


def _roi_corners(roi: Roi) -> np.ndarray:
    """(4, 2) pixel corners of a ROI."""
    return project_landmarks(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), roi)


def match(similarity: np.ndarray, min_similarity: float) -> list[tuple[int, int]]:
    """One-to-one assignment maximising the total similarity above the gate (Hungarian).

    Args:
        similarity: (A, B), higher is better (e.g. OKS, or a negated distance; -inf never matches).
        min_similarity: pairs at or below it are never matched.
    Returns:
        (a, b) pairs, sorted by a.
    """
    from scipy.optimize import linear_sum_assignment

    sim = np.asarray(similarity, np.float64)
    if sim.size == 0:
        return []
    # maximise the summed margin above the gate: gated pairs add nothing, so any sign of
    # similarity works (negated distances too)
    with np.errstate(invalid="ignore"):
        gain = np.where(sim > min_similarity, sim - min_similarity, 0.0)
    rows, cols = linear_sum_assignment(-gain)
    return [(int(a), int(b)) for a, b in zip(rows, cols) if sim[a, b] > min_similarity]


def tile_rois(width: int, height: int, fractions: tuple[float, ...], overlap: float) -> list[Roi]:
    """Square detector tiles covering the frame, for each tile size.

    Args:
        width, height: frame size in pixels.
        fractions: tile sides as fractions of min(width, height).
        overlap: fraction of a tile shared with its neighbour (at least; tiles are spread
            evenly between the frame's edges).
    Returns:
        ROIs (rotation 0), tile size by tile size, row-major.
    """
    out = []
    for f in fractions:
        side = f * min(width, height)
        step = side * (1 - overlap)

        def starts(extent: float) -> np.ndarray:
            n = int(np.ceil(max(extent - side, 0) / step - 1e-9)) + 1
            return np.linspace(0, max(extent - side, 0), n)

        for y in starts(height):
            for x in starts(width):
                out.append(Roi(np.array([x + side / 2, y + side / 2]), float(side), 0.0))
    return out
