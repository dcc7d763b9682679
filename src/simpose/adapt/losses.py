"""Differentiable self-supervision losses of a posed mesh against a video's 2D cues.

Pure functions on batched torch tensors (B frames of one person). Every data term is a robust
(pseudo-Huber) penalty of a pixel residual divided by a scale in pixels, so the terms are
unitless and comparable: ``rho(r) = 2 (sqrt(1 + |r|^2 / s^2) - 1)``, about ``|r|^2 / s^2``
for small residuals and ``2 |r| / s`` for outliers (a wrong mask pixel or flow vector pulls
with a bounded force). A frame without the cue (no mask, no flow, no confident keypoint)
contributes nothing and is not counted in the mean, so a clip whose cue is missing in some
frames is scored on the others and a clip without it gives 0 with no gradient.

Cues (the self-supervised motion-capture paper's three): 2D keypoints with confidences;
the person mask (a Chamfer distance between projected visible mesh points and mask pixels,
both directions); optical flow (each visible vertex's projected displacement from frame t
to t+1 against the flow at its pixel in frame t). Visibility is a z-buffer test of the mesh
points (:func:`splat_visibility`: a point splat, the mesh's own vertices are dense enough at
a few pixels per cell). Priors: temporal smoothness, constancy over a track, pose near an
initial pose inside the joint limits.

Glossary: B frames, J joints, N mesh points, M mask samples, H/W pixels. Pixels are
(u, v) = (column, row) with integer values at pixel centres.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "robust",
    "project",
    "keypoint_loss",
    "mask_samples",
    "silhouette_matches",
    "silhouette_chamfer_loss",
    "prepare_flow",
    "flow_loss",
    "splat_visibility",
    "smoothness_loss",
    "constancy_loss",
    "pose_prior_loss",
]


def robust(sq: torch.Tensor, scale: float) -> torch.Tensor:
    """Pseudo-Huber of squared residuals: ``2 (sqrt(1 + sq / scale^2) - 1)``, unitless.

    Args:
        sq: (...) squared residuals, pixels^2 (or the square of ``scale``'s unit).
        scale: the residual at which the penalty turns from quadratic to linear.
    Returns:
        (...) same shape.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return 2.0 * (torch.sqrt(1.0 + sq / scale**2) - 1.0)


def project(points_cam: torch.Tensor, K: torch.Tensor, min_depth: float = 1e-3) -> torch.Tensor:
    """Pinhole projection.

    Args:
        points_cam: (B, N, 3) camera frame, metres (z forward).
        K: (B, 3, 3) or (3, 3) intrinsics, pixels.
        min_depth: depths are clamped to this (metres) so a point behind the camera stays finite.
    Returns:
        (B, N, 2) pixels.
    """
    K = K.expand(points_cam.shape[0], 3, 3) if K.dim() == 2 else K
    z = points_cam[..., 2:3].clamp(min=min_depth)
    xy = points_cam[..., :2] / z
    u = K[:, None, 0, 0:1] * xy[..., 0:1] + K[:, None, 0, 1:2] * xy[..., 1:2] + K[:, None, 0, 2:3]
    v = K[:, None, 1, 1:2] * xy[..., 1:2] + K[:, None, 1, 2:3]
    return torch.cat([u, v], dim=-1)


def _weighted_frame_mean(per_item: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, N) values and weights -> (B,) weighted means (0 where a frame has no weight) and (B,) active flags."""
    wsum = weight.sum(-1)
    active = wsum > 0
    return (per_item * weight).sum(-1) / wsum.clamp(min=1e-12), active


def _mean_over_active(per_frame: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    n = active.sum()
    if n == 0:
        return per_frame.sum() * 0.0  # keeps the graph: a zero gradient, not None
    return (per_frame * active).sum() / n


def keypoint_loss(
    joints2d: torch.Tensor, target2d: torch.Tensor, confidence: torch.Tensor, scale: float = 5.0
) -> torch.Tensor:
    """Confidence-weighted robust reprojection of joints onto detected 2D keypoints.

    Args:
        joints2d: (B, J, 2) projected model joints, pixels.
        target2d: (B, J, 2) detected keypoints, pixels (NaN where undetected).
        confidence: (B, J) in [0, 1]; 0 (or a NaN target) drops the keypoint.
        scale: pixels (:func:`robust`).
    Returns:
        () mean over frames with a confident keypoint of the confidence-weighted mean penalty.
    """
    if joints2d.shape != target2d.shape or confidence.shape != joints2d.shape[:-1]:
        raise ValueError(f"joints2d {tuple(joints2d.shape)}, target2d {tuple(target2d.shape)}, confidence {tuple(confidence.shape)} disagree")
    ok = torch.isfinite(target2d).all(-1) & torch.isfinite(confidence)
    w = torch.where(ok, confidence, torch.zeros_like(confidence)).clamp(min=0)
    tgt = torch.where(ok[..., None], target2d, joints2d.detach())
    per, active = _weighted_frame_mean(robust(((joints2d - tgt) ** 2).sum(-1), scale), w)
    return _mean_over_active(per, active)


def mask_samples(mask: np.ndarray, n_area: int = 300, n_boundary: int = 200) -> np.ndarray:
    """Pixels of a person mask, subsampled so a Chamfer term stays cheap.

    Interior pixels on a regular grid (a stride giving about ``n_area`` of them) plus about
    ``n_boundary`` pixels of the outline (mask pixels with a 4-neighbour outside), evenly
    strided: the outline carries the limbs' extent, the grid the area. Deterministic.

    Args:
        mask: (H, W) bool / 0-1.
    Returns:
        (M, 2) float32 (u, v) pixel centres; M = 0 for an empty mask.
    """
    m = np.asarray(mask) > 0
    if m.ndim != 2:
        raise ValueError(f"mask must be (H, W), got {m.shape}")
    rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
    if len(rows) == 0:
        return np.zeros((0, 2), np.float32)
    # the work is done on the mask's bounding box (a person is a small part of a 1080p frame);
    # the grid keeps the whole image's phase, so the samples do not depend on the crop
    r0, c0 = rows[0], cols[0]
    m = m[r0 : rows[-1] + 1, c0 : cols[-1] + 1]
    area = int(m.sum())
    pad = np.pad(m, 1)
    inner = pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:]
    boundary = np.argwhere(m & ~inner)
    stride = max(1, int(np.sqrt(area / max(n_area, 1))))
    grid = np.zeros_like(m)
    grid[(stride // 2 - r0) % stride :: stride, (stride // 2 - c0) % stride :: stride] = True
    interior = np.argwhere(m & grid)
    b = boundary[:: max(1, len(boundary) // max(n_boundary, 1))] if n_boundary > 0 else boundary[:0]
    rc = np.concatenate([interior, b]) + np.array([r0, c0])
    return rc[:, ::-1].astype(np.float32)  # (row, col) -> (u, v)


@torch.no_grad()
def silhouette_matches(
    points2d: torch.Tensor, point_weight: torch.Tensor, mask_points: torch.Tensor, mask_weight: torch.Tensor, chunk: int = 32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest partners of :func:`silhouette_chamfer_loss`: each point's nearest mask sample, each
    mask sample's nearest visible point (a (B, N, M) distance matrix, ``chunk`` frames at a time).

    Args: as :func:`silhouette_chamfer_loss`.
    Returns:
        nearest_mask (B, N) and nearest_point (B, M) indices (meaningless where a weight is 0).
    """
    # hidden points and padding moved far apart (opposite corners) so that one float32
    # distance matrix serves both directions; a frame with none of either is inactive anyway
    far = torch.tensor(1e4, dtype=torch.float32)
    a = torch.where(point_weight[..., None] > 0, points2d.detach().float(), far)
    b = torch.where(mask_weight[..., None] > 0, mask_points.detach().float(), -far)
    nearest_mask, nearest_point = [], []
    for s in range(0, a.shape[0], chunk):
        ac, bc = a[s : s + chunk], b[s : s + chunk]
        d2 = (ac**2).sum(-1)[:, :, None] + (bc**2).sum(-1)[:, None, :] - 2 * ac @ bc.transpose(1, 2)  # (b, N, M)
        nearest_mask.append(d2.argmin(dim=2))
        nearest_point.append(d2.argmin(dim=1))
    return torch.cat(nearest_mask), torch.cat(nearest_point)


def silhouette_chamfer_loss(
    points2d: torch.Tensor,
    point_weight: torch.Tensor,
    mask_points: torch.Tensor,
    mask_weight: torch.Tensor,
    scale: float = 4.0,
    matches: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Two-way robust Chamfer distance between projected visible mesh points and mask pixels.

    Mesh -> mask: every visible point should land on the mask (near some mask sample);
    mask -> mesh: every mask sample should be covered (near some visible point). Each
    direction is the weighted mean of ``robust(min squared distance)``; the term of a frame
    is their sum. Only frames with both some visible point and some mask sample count.

    Args:
        points2d: (B, N, 2) projected mesh points, pixels.
        point_weight: (B, N) >= 0 (visibility, 0 = hidden or off).
        mask_points: (B, M, 2) mask samples (:func:`mask_samples`, padded), pixels.
        mask_weight: (B, M) >= 0 (0 = padding / frame without a mask).
        scale: pixels (:func:`robust`); about the mask samples' spacing.
        matches: the partners (:func:`silhouette_matches`) to use, e.g. found a few optimiser
            steps before (an ICP step: the search is most of the cost); None: found now.
    Returns:
        () mean over active frames.
    """
    if points2d.shape[:-1] != point_weight.shape or mask_points.shape[:-1] != mask_weight.shape:
        raise ValueError("points2d/point_weight or mask_points/mask_weight shapes disagree")
    # nearest partners found without autograd, then the squared distances of the matched pairs
    # recomputed with it: the same value and gradient as a differentiable min, without an
    # (B, N, M, 2) graph
    nearest_mask, nearest_point = matches if matches is not None else silhouette_matches(points2d, point_weight, mask_points, mask_weight)
    take = lambda x, i: torch.gather(x, 1, i[..., None].expand(*i.shape, 2))  # noqa: E731
    to_mask = ((points2d - take(mask_points, nearest_mask)) ** 2).sum(-1)  # (B, N)
    to_mesh = ((mask_points - take(points2d, nearest_point)) ** 2).sum(-1)  # (B, M)
    a, act_a = _weighted_frame_mean(robust(to_mask, scale), point_weight * (mask_weight.sum(-1, keepdim=True) > 0))
    b, act_b = _weighted_frame_mean(robust(to_mesh, scale), mask_weight * (point_weight.sum(-1, keepdim=True) > 0))
    return _mean_over_active(a + b, act_a & act_b)


def _sample(image: torch.Tensor, points2d: torch.Tensor) -> torch.Tensor:
    """(B, H, W, C) image, (B, N, 2) pixel (u, v) of the image -> (B, N, C) bilinear samples (border-clamped)."""
    B, H, W, C = image.shape
    gx = 2.0 * points2d[..., 0] / max(W - 1, 1) - 1.0
    gy = 2.0 * points2d[..., 1] / max(H - 1, 1) - 1.0
    grid = torch.stack([gx, gy], dim=-1)[:, :, None, :]  # (B, N, 1, 2)
    out = F.grid_sample(image.permute(0, 3, 1, 2), grid.to(image.dtype), mode="bilinear", padding_mode="border", align_corners=True)
    return out[..., 0].permute(0, 2, 1)


def prepare_flow(flow: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 2) flow with NaN where there is none -> (B, H, W, 3): (u, v) zero there, and a
    third channel 1 where the flow is finite; :func:`flow_loss` takes either (preparing once saves
    the work in every optimiser step)."""
    finite = torch.isfinite(flow).all(-1, keepdim=True)
    return torch.cat([torch.where(finite, flow, torch.zeros_like(flow)), finite.to(flow.dtype)], -1)


def flow_loss(
    points2d_t: torch.Tensor,
    points2d_t1: torch.Tensor,
    flow: torch.Tensor,
    weight: torch.Tensor,
    scale: float = 1.0,
    grid_origin: torch.Tensor | None = None,
    grid_stride: torch.Tensor | None = None,
) -> torch.Tensor:
    """Robust difference between mesh points' projected motion t -> t+1 and the optical flow.

    The flow is sampled (bilinearly) at each point's frame-t pixel. The sampling position is
    detached: the flow field's spatial gradient is noise at the scale of a pixel and would
    drag points along flow edges rather than make their motion agree.

    Args:
        points2d_t: (B, N, 2) projected points in frame t, pixels (B = pairs of frames).
        points2d_t1: (B, N, 2) the same points in frame t+1, pixels.
        flow: (B, H, W, 2) forward flow t -> t+1, pixels (u, v); NaN = no flow there (or
            the (B, H, W, 3) of :func:`prepare_flow`).
        weight: (B, N) >= 0: visibility at t (0 = hidden, off, or the pair has no flow).
        scale: pixels (:func:`robust`).
        grid_origin, grid_stride: (B, 2) and (B,): the flow is a crop of the image's, its cell
            (i, j) at pixel ``origin + stride * (j, i)`` (its values still image pixels); points
            outside the crop then do not count. None: the flow covers the image.
    Returns:
        () mean over pairs with some weight.
    """
    if points2d_t.shape != points2d_t1.shape or points2d_t.shape[:-1] != weight.shape or flow.shape[0] != points2d_t.shape[0]:
        raise ValueError("points2d_t, points2d_t1, weight and flow disagree in shape")
    at = points2d_t.detach()
    inside = torch.ones_like(weight, dtype=torch.bool)
    if grid_origin is not None:
        at = (at - grid_origin[:, None].to(at.dtype)) / grid_stride[:, None, None].to(at.dtype)
        h, w_ = flow.shape[1:3]
        inside = (at[..., 0] >= 0) & (at[..., 0] <= w_ - 1) & (at[..., 1] >= 0) & (at[..., 1] <= h - 1)
    sampled = _sample(flow if flow.shape[-1] == 3 else prepare_flow(flow), at)
    ok = sampled[..., 2] > 0.999  # all 4 neighbours finite
    w = weight * ok * inside
    res = ((points2d_t1 - points2d_t) - sampled[..., :2].to(points2d_t.dtype)) ** 2
    per, active = _weighted_frame_mean(robust(res.sum(-1), scale), w)
    return _mean_over_active(per, active)


@torch.no_grad()
def splat_visibility(
    points_cam: torch.Tensor, K: torch.Tensor, image_size: tuple[int, int], cell: float = 2.0, tol: float = 0.08
) -> torch.Tensor:
    """Z-buffer visibility of mesh points by splatting them into a coarse depth buffer.

    Each point writes its depth to the cell (``cell`` x ``cell`` pixels) it projects into; the
    buffer keeps the nearest. A point is visible when it is in front of the camera, inside the
    image, and at most ``tol`` behind its cell's nearest depth. With all of a body mesh's
    vertices (a few per cell at a few metres), the front surface covers the cells, so points
    of the back or of a limb behind the torso fail the test. Not differentiable (a selection).

    Args:
        points_cam: (B, N, 3) camera frame, metres.
        K: (B, 3, 3) or (3, 3) intrinsics.
        image_size: (W, H) pixels.
        cell: cell size, pixels; about the spacing of the projected points.
        tol: metres; covers the depth spread of a slanted surface inside one cell.
    Returns:
        (B, N) bool.
    """
    W, H = image_size
    B, N, _ = points_cam.shape
    uv = project(points_cam, K)
    z = points_cam[..., 2]
    inside = (z > 1e-3) & (uv[..., 0] > -0.5) & (uv[..., 0] < W - 0.5) & (uv[..., 1] > -0.5) & (uv[..., 1] < H - 0.5)
    cw, ch = int(np.ceil(W / cell)), int(np.ceil(H / cell))
    cu = ((uv[..., 0] + 0.5) / cell).floor().clamp(0, cw - 1).long()
    cv = ((uv[..., 1] + 0.5) / cell).floor().clamp(0, ch - 1).long()
    idx = torch.arange(B, device=z.device)[:, None] * (cw * ch) + cv * cw + cu
    zin = torch.where(inside, z, torch.full_like(z, float("inf")))
    buf = torch.full((B * cw * ch,), float("inf"), dtype=z.dtype, device=z.device)
    buf = buf.scatter_reduce(0, idx.reshape(-1), zin.reshape(-1), reduce="amin")
    return inside & (z <= buf[idx] + tol)


def smoothness_loss(x: torch.Tensor, scale: float, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared second difference over time, over ``scale^2``.

    Args:
        x: (T, ...) a trajectory (joints in metres, translations, ...).
        scale: in x's unit: the acceleration per frame^2 that costs 1.
        weight: (T - 2,) weight of each second difference (0 where frames t..t+2 are not
            consecutive); None = all 1.
    Returns:
        () (0 for T < 3).
    """
    if x.shape[0] < 3:
        return x.sum() * 0.0
    acc = x[2:] - 2 * x[1:-1] + x[:-2]
    sq = (acc.reshape(acc.shape[0], -1) ** 2).mean(-1) / scale**2
    if weight is None:
        return sq.mean()
    w = weight.to(sq.dtype)
    return (sq * w).sum() / w.sum().clamp(min=1e-12)


def constancy_loss(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Mean squared deviation from the track mean (shape parameters or bone lengths), over ``scale^2``.

    Args:
        x: (T, D) per-frame values of a quantity that is constant for one person.
        scale: in x's unit.
    Returns:
        ()
    """
    return ((x - x.mean(0, keepdim=True)) ** 2).mean() / scale**2


def pose_prior_loss(
    pose_rotvecs: torch.Tensor, init_rotvecs: torch.Tensor, limits: torch.Tensor, sigma: float = 0.3
) -> torch.Tensor:
    """Plausibility: stay near an initial pose (the network's / the fit's) and inside joint limits.

    ``mean(|pose - init|^2) / sigma^2 + mean(hinge^2) / 0.05^2`` where the hinge is how far a
    rotation-vector component lies outside the limits widened to include the initial pose: a
    start already outside (the limits are approximate, motion capture exceeds them) is not
    pulled in, only moving further out costs.

    Args:
        pose_rotvecs: (T, 19, 3) radians. init_rotvecs: (T, 19, 3) radians.
        limits: (19, 3, 2) [min, max] radians (``simpose.body.model.POSE_LIMITS_RAD``).
        sigma: radians.
    Returns:
        ()
    """
    near = ((pose_rotvecs - init_rotvecs) ** 2).sum(-1).mean() / sigma**2
    lo, hi = torch.minimum(limits[..., 0], init_rotvecs), torch.maximum(limits[..., 1], init_rotvecs)
    over = F.relu(lo - pose_rotvecs) + F.relu(pose_rotvecs - hi)
    return near + (over**2).sum(-1).mean() / 0.05**2
