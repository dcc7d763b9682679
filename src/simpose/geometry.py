"""Geometry every stage shares: pure functions on arrays, imported downward only.

- cameras: :func:`look_at` (a camera looking at a point);
- rigid and similarity alignment: :func:`kabsch` (weighted rotation fit, on tensors), :func:`similarity_fit`
  (Umeyama: rotation, scale and translation of one point set onto another);
- rotations via roma on numpy arrays: :func:`rotvec_to_rotmat`, :func:`rotmat_to_rotvec`;
- meshes: :func:`vertex_normals`;
- frame-rate resampling: :func:`frame_positions` (one function, with an explicit rule for the
  last frame), :func:`interpolate_frames`, :func:`track_at`;
- translation from rays: :func:`normalised_coords`, :func:`solve_translation`, and the Gaussian
  smoothing in time that goes with it (:func:`gaussian_smooth`, :func:`runs`).

Units: metres for 3D, pixels for image points, radians for rotation vectors, frames per second
for rates. Nothing here imports a stage of the package (only :mod:`simpose.camera`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import torch

    from simpose.camera import Camera

# torch, roma and simpose.camera are imported in the functions that use them: the numpy
# functions here (translation from rays, smoothing, resampling) are on the import path of
# `simpose run`, which starts its 2D stage while torch loads in a thread (simpose.track.run).

__all__ = [
    "look_at",
    "kabsch",
    "similarity_fit",
    "rotvec_to_rotmat",
    "rotmat_to_rotvec",
    "rodrigues",
    "vertex_normals",
    "frame_positions",
    "interpolate_frames",
    "track_at",
    "normalised_coords",
    "solve_translation",
    "gaussian_smooth",
    "runs",
]


# ------------------------------------------------------------------------------------- camera


def look_at(eye: np.ndarray, target: np.ndarray, focal: float, size: tuple[int, int]) -> Camera:
    """A camera at ``eye`` looking at ``target`` (world frame, y down), OpenCV axes, no roll.

    Args:
        eye, target: (3,) world points, metres. focal: pixels. size: (width, height) pixels.
    Returns:
        A float64 :class:`~simpose.camera.Camera`.
    """
    z = target - eye
    z = z / np.linalg.norm(z)
    x = np.cross(np.array([0.0, 1.0, 0.0]), z)
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    import torch

    from simpose.camera import Camera

    cam = Camera.from_intrinsics(focal, size, dtype=torch.float64)
    return cam.with_extrinsics(torch.as_tensor(R), torch.as_tensor(-R @ eye))


# ---------------------------------------------------------------------------------- alignment


def kabsch(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Weighted Kabsch: (T, 3, 3) proper rotations R minimising ``sum_k w_k |R a_k - b_k|^2``.

    On tensors and differentiable (through the SVD: the targets' directions must not be
    degenerate, e.g. all on one line, for the gradient to exist).

    Args:
        a: (K, 3) source directions (shared by every frame). b: (T, K, 3) targets. w: (K,) weights.
    Returns:
        (T, 3, 3) rotations in b's dtype (det +1: a reflection is never returned).
    """
    import torch

    H = torch.einsum("k,ki,tkj->tij", w.to(b.dtype), a.to(b.dtype), b)  # sum w a b^T
    U, _, Vt = torch.linalg.svd(H)
    V, Ut = Vt.transpose(-1, -2), U.transpose(-1, -2)
    d = torch.sign(torch.linalg.det(V @ Ut)).detach()  # the reflection fix: a constant, not a variable
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    return V @ D @ Ut


def similarity_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares similarity ``y ~ s R x + t`` per pose (Umeyama 1991, TPAMI 13(4)).

    Kabsch's SVD solution with the reflection fix ``diag(1, 1, sign det(U V^T))`` plus the optimal
    scale; a set collapsed to one point gets ``s = 0`` and maps to ``y``'s centroid.

    Args:
        x: (..., N, 3) finite source points, metres. y: (..., N, 3) finite targets, metres.
    Returns:
        rotmat (..., 3, 3) with det +1, scale (...), trans (..., 3) metres; float64.
    """
    mu_p, mu_g = x.mean(axis=-2), y.mean(axis=-2)
    xc, yc = x - mu_p[..., None, :], y - mu_g[..., None, :]
    cov = np.swapaxes(yc, -1, -2) @ xc  # (..., 3, 3) sum_j y_j x_j^T
    u, d, vt = np.linalg.svd(cov)
    sign = np.where(np.linalg.det(u @ vt) < 0, -1.0, 1.0)
    u[..., :, -1] *= sign[..., None]
    d[..., -1] *= sign
    rotmat = u @ vt
    var_p = np.sum(xc**2, axis=(-1, -2))
    num = d.sum(axis=-1)
    # var 0: every scale is optimal, take 0; NaN variance stays NaN
    scale = np.where(var_p > 0, num / np.where(var_p > 0, var_p, 1.0), np.where(np.isnan(var_p), np.nan, 0.0))
    trans = mu_g - scale[..., None] * (rotmat @ mu_p[..., None])[..., 0]
    return rotmat, scale, trans


# ---------------------------------------------------------------------------------- rotations


def rotvec_to_rotmat(r: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors, radians -> (..., 3, 3) rotation matrices (roma), in the input's
    float dtype (cast to float64 first for float64 results)."""
    import roma
    import torch

    return roma.rotvec_to_rotmat(torch.as_tensor(np.asarray(r))).numpy()


def rotmat_to_rotvec(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) rotation vectors, radians (roma), in the input's
    float dtype."""
    import roma
    import torch

    return roma.rotmat_to_rotvec(torch.as_tensor(np.asarray(R))).numpy()


def rodrigues(r: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors, radians -> (..., 3, 3) float64 rotation matrices, Rodrigues' formula in
    numpy (the procedural motions' own, kept for their exact numbers; :func:`rotvec_to_rotmat` is roma's)."""
    r = np.asarray(r, dtype=np.float64)
    theta = np.linalg.norm(r, axis=-1)[..., None, None]
    k = r / np.maximum(theta[..., 0], 1e-300)
    K = np.zeros(r.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    K[..., 1, 0], K[..., 2, 0], K[..., 2, 1] = k[..., 2], -k[..., 1], k[..., 0]
    return np.eye(3) + np.sin(theta) * K + (1.0 - np.cos(theta)) * (K @ K)


# -------------------------------------------------------------------------------------- meshes


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals (orientation follows the faces' winding).

    Args:
        vertices: (V, 3) float positions.
        faces: (F, 3) int vertex indices.
    Returns:
        (V, 3) float32 unit normals; zero for vertices on no (non-degenerate) face.
    """
    v = np.asarray(vertices, np.float32)
    corners = np.ascontiguousarray(np.asarray(faces).T)  # (3, F); np.take beats fancy indexing
    v0, v1, v2 = (np.take(v, c, axis=0) for c in corners)
    face_n = np.cross(v1 - v0, v2 - v0)  # length = twice the area: area weighting
    n = np.empty((len(v), 3))
    for k in range(3):
        n[:, k] = sum(np.bincount(c, weights=face_n[:, k], minlength=len(v)) for c in corners)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.divide(n, length, out=np.zeros_like(n), where=length > 0).astype(np.float32)


# ------------------------------------------------------------------------ frame-rate resampling

def frame_positions(
    n_frames: int,
    src_fps: float,
    target_fps: float,
    end: Literal["floor", "cover"] = "floor",
    max_upsampling: float | None = None,
) -> np.ndarray:
    """Fractional source-frame indices of the frames of a sequence resampled to another rate.

    Output frame ``k`` lies at ``k / target_fps`` seconds, i.e. samples the input at
    ``k * src_fps / target_fps``; equal rates give ``arange(T)`` exactly. The rule for the last
    frame is explicit, because two uses need different ones:

    - ``"floor"`` (motion resampling: never past the input): ``T' = floor((T - 1) * target /
      src) + 1``; the output may end up to one output frame before the input's last frame.
    - ``"cover"`` (the lifter: every input frame lies between two output frames, so the 3D can be
      taken back at every input frame): ``T' = ceil((T - 1) * target / src) + 1``, the last
      position clamped onto the last input frame.

    Args:
        n_frames: T >= 0 input frames. src_fps, target_fps: finite positive frames per second.
        end: the last-frame rule above.
        max_upsampling: if given, ``target / src`` above it is an error (bounds memory).
    Returns:
        (T',) float64 positions in ``[0, T - 1]`` (empty for T = 0).
    Raises:
        ValueError: a rate that is not finite and positive, a negative T, an unknown ``end``, or
            ``target / src > max_upsampling`` (the message says "too low").
    """
    src_fps, target_fps = float(src_fps), float(target_fps)
    if not (math.isfinite(src_fps) and src_fps > 0 and math.isfinite(target_fps) and target_fps > 0):
        raise ValueError(f"frame rates must be finite and positive, got src_fps={src_fps!r}, target_fps={target_fps!r}")
    if max_upsampling is not None and target_fps / src_fps > max_upsampling:
        raise ValueError(
            f"fps={src_fps!r} is too low to resample to {target_fps!r} "
            f"(at most {max_upsampling:g} frames per frame: fps >= {target_fps / max_upsampling:g})"
        )
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    if end == "floor":
        if n_frames == 0:
            return np.zeros(0, dtype=np.float64)
        ratio = src_fps / target_fps
        # The small slack keeps the last frame when (T-1)/ratio is an integer up to rounding.
        n_out = int(math.floor((n_frames - 1) / ratio + 1e-9)) + 1
        return np.minimum(np.arange(n_out, dtype=np.float64) * ratio, float(n_frames - 1))
    if end == "cover":
        if n_frames <= 1:
            return np.zeros(n_frames)
        n_out = int(math.ceil((n_frames - 1) * target_fps / src_fps - 1e-9)) + 1
        return np.minimum(np.arange(n_out) * (src_fps / target_fps), n_frames - 1.0)
    raise ValueError(f"end must be 'floor' or 'cover', got {end!r}")


def _split(positions: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fractional frame positions (T',) -> the frame at or before each, the one after (both in
    ``[0, n_frames)``) and the weight of the second in [0, 1]; a position within 1e-9 of a whole
    frame is that frame (weight 0)."""
    i0 = np.clip(np.floor(positions + 1e-9).astype(np.int64), 0, n_frames - 1)
    return i0, np.minimum(i0 + 1, n_frames - 1), np.clip(positions - i0, 0.0, 1.0)


def interpolate_frames(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Linear interpolation in time.

    Args:
        values: (T, ...) per-frame values. positions: (T',) fractional frame indices in [0, T-1].
    Returns:
        (T', ...); exact copies at whole positions (within 1e-9), so a NaN neighbour does not
        leak into them; NaN elsewhere spreads to the frames next to it.
    """
    i0, i1, a = _split(positions, len(values))
    whole = a < 1e-9
    a = a.reshape((-1,) + (1,) * (values.ndim - 1))
    out = values[i0] + a * (values[i1] - values[i0])
    out[whole] = values[i0[whole]]
    return out


def track_at(xy: np.ndarray, confidence: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 2D track at fractional frame positions.

    Args:
        xy: (T, J, 2) pixels or normalised coordinates (NaN: missing). confidence: (T, J).
        positions: (T',) fractional frame indices.
    Returns:
        (T', J, 2) float64 and (T', J): a point between two frames is as confident as the less
        confident of the two, and has confidence 0 where either is missing.
    """
    xy2 = interpolate_frames(np.asarray(xy, np.float64), positions)
    conf = np.asarray(confidence, np.float64)
    i0, i1, a = _split(positions, len(conf))
    c = np.where((a < 1e-9)[:, None], conf[i0], np.minimum(conf[i0], conf[i1]))
    return xy2, np.where(np.isfinite(xy2).all(-1), c, 0.0)


# ------------------------------------------------------------------------ translation from rays


def normalised_coords(joints2d: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pixels (..., J, 2) -> normalised image coordinates ``(u - c) / f`` (..., J, 2), for a K
    (3, 3) without lens distortion (:func:`simpose.camera.image_to_normalised`)."""
    from simpose.camera import image_to_normalised

    return image_to_normalised(joints2d, np.asarray(K, np.float64))


def solve_translation(
    joints3d_rel: np.ndarray,
    joints2d: np.ndarray,
    confidence: np.ndarray | None,
    K: np.ndarray,
    *,
    min_confidence: float = 0.05,
    min_joints: int = 4,
    robust_iterations: int = 2,
    robust_scale_m: float = 0.05,
) -> np.ndarray:
    """Per-frame camera-frame translation putting 3D joints on their 2D rays.

    For a joint at ``X`` relative to the body point and normalised coordinates ``(x, y)``, the
    pinhole model says ``x (Z + t_z) = X + t_x`` and ``y (Z + t_z) = Y + t_y``: linear in ``t``.
    Stacked over the joints, weighted by confidence, it is a 3 x 3 weighted least-squares problem
    per frame, solved in closed form, then re-weighted ``robust_iterations`` times with Huber
    weights ``min(1, robust_scale_m / residual)`` so that a wrong joint counts less.

    Args:
        joints3d_rel: (T, J, 3) metres, camera axes, relative to any fixed point of the body
            (the returned ``t`` is that point's camera position).
        joints2d: (T, J, 2) pixels of the same joints (NaN: missing), K's pixel convention.
        confidence: (T, J) weights in [0, 1], or None (all 1).
        K: (3, 3) intrinsics in pixels.
        min_confidence: joints below it get weight 0. min_joints: frames with fewer usable
            joints get NaN (at least 2 are needed). robust_scale_m: metres at the joint's depth.
    Returns:
        (T, 3) float64 metres, camera frame; NaN where a frame has too few usable joints or its
        system is degenerate.
    """
    X = np.asarray(joints3d_rel, np.float64)
    xy = normalised_coords(joints2d, K)
    T, J = X.shape[:2]
    w = np.ones((T, J)) if confidence is None else np.asarray(confidence, np.float64).copy()
    usable = np.isfinite(xy).all(-1) & np.isfinite(X).all(-1) & (w >= min_confidence)
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
    ok = usable.sum(1) >= max(min_joints, 2)
    out = _weighted_solve(A, b, np.repeat(w, 2, axis=1), ok)
    for _ in range(robust_iterations):
        r = np.einsum("tni,ti->tn", A, np.nan_to_num(out)) - b  # (T, 2J) residuals, metres
        r = np.linalg.norm(r.reshape(T, J, 2), axis=-1)  # per joint
        huber = np.minimum(1.0, robust_scale_m / np.maximum(r, 1e-12))
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


def runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a (T,) bool array."""
    edges = np.diff(np.concatenate([[0], valid.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """(N, C) Gaussian filter along axis 0 (sigma in samples), the kernel renormalised at the
    ends (no shrinking towards zero there); sigma <= 1e-6 or N < 2 returns a copy."""
    if sigma <= 1e-6 or len(x) < 2:
        return x.copy()
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    n = len(x)
    num = np.stack([np.convolve(x[:, c], k, mode="full")[r : r + n] for c in range(x.shape[1])], -1)
    den = np.convolve(np.ones(n), k, mode="full")[r : r + n]
    return num / den[:, None]
