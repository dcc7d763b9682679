"""Resample motion to another frame rate: linear for positions, slerp for rotations.

Pure functions on arrays, independent of where the motion came from (BVH, AMASS, a
tracker). Time runs along the first axis. The output frame ``k`` lies at
``k / target_fps`` seconds; the output covers ``[0, (T - 1) / src_fps]`` and never
extrapolates past the last input frame.

Dimension letters: T frames in, T' frames out, J joints.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = [
    "resample_frame_positions",
    "resample_linear",
    "resample_rotmats",
    "resample_motion",
    "slerp_quats",
]

# Below this angle (cos of the half-angle above 1 - eps) slerp falls back to nlerp.
_SLERP_EPS = 1e-12


def _check_fps(fps: float, name: str) -> float:
    fps = float(fps)
    if not math.isfinite(fps) or fps <= 0:
        raise ValueError(f"{name} must be a finite positive number, got {fps!r}")
    return fps


def resample_frame_positions(n_frames: int, src_fps: float, target_fps: float) -> np.ndarray:
    """Fractional source-frame indices of each output frame.

    Args:
        n_frames: T, the number of input frames.
        src_fps: input frame rate, frames per second.
        target_fps: output frame rate, frames per second.

    Returns:
        (T',) float64 indices in ``[0, T - 1]``: output frame ``k`` samples the input at
        ``k * src_fps / target_fps``. ``T' = floor((T - 1) * target_fps / src_fps) + 1``
        (0 when T is 0). Equal rates give ``arange(T)`` exactly.
    """
    src_fps = _check_fps(src_fps, "src_fps")
    target_fps = _check_fps(target_fps, "target_fps")
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    if n_frames == 0:
        return np.zeros(0, dtype=np.float64)
    ratio = src_fps / target_fps
    # The small slack keeps the last frame when (T-1)/ratio is an integer up to rounding.
    n_out = int(math.floor((n_frames - 1) / ratio + 1e-9)) + 1
    return np.minimum(np.arange(n_out, dtype=np.float64) * ratio, float(n_frames - 1))


def _split_positions(positions: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer frame ``i`` in ``[0, T-1]`` and weight ``alpha`` in ``[0, 1)`` per position."""
    idx = np.clip(np.floor(positions).astype(np.int64), 0, max(n_frames - 1, 0))
    return idx, positions - idx


def resample_linear(values: np.ndarray, src_fps: float, target_fps: float) -> np.ndarray:
    """Linearly interpolate any per-frame quantity (positions, translations).

    Args:
        values: (T, ...) float array, e.g. root positions (T, 3) in any length unit.
        src_fps: input frame rate, frames per second.
        target_fps: output frame rate, frames per second.

    Returns:
        (T', ...) float64 values at the output frame times. Output frames that fall on an
        input frame are copied exactly.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim < 1:
        raise ValueError("values must have a leading time axis")
    pos = resample_frame_positions(values.shape[0], src_fps, target_fps)
    idx, alpha = _split_positions(pos, values.shape[0])
    nxt = np.minimum(idx + 1, max(values.shape[0] - 1, 0))
    a = alpha.reshape((-1,) + (1,) * (values.ndim - 1))
    out = values[idx] + a * (values[nxt] - values[idx])
    exact = alpha == 0.0
    out[exact] = values[idx[exact]]
    return out


def slerp_quats(q0: np.ndarray, q1: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Spherical linear interpolation along the shortest arc.

    Args:
        q0: (..., 4) unit quaternions (any fixed component order, e.g. xyzw).
        q1: (..., 4) unit quaternions, same order and shape as ``q0``.
        alpha: (...) interpolation weights, broadcastable to ``q0.shape[:-1]``;
            0 gives ``q0``, 1 gives ``q1`` (up to sign).

    Returns:
        (..., 4) float64 unit quaternions. ``q1`` is flipped to the hemisphere of ``q0``
        first, so the path is the shorter rotation.
    """
    q0 = np.asarray(q0, dtype=np.float64)
    q1 = np.asarray(q1, dtype=np.float64)
    alpha = np.asarray(alpha, dtype=np.float64)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0.0, -q1, q1)
    dot = np.clip(np.abs(dot), 0.0, 1.0)
    theta = np.arccos(dot)
    sin_theta = np.sin(theta)
    small = sin_theta < _SLERP_EPS
    safe = np.where(small, 1.0, sin_theta)
    w0 = np.where(small, 1.0 - alpha, np.sin((1.0 - alpha) * theta) / safe)
    w1 = np.where(small, alpha, np.sin(alpha * theta) / safe)
    out = w0 * q0 + w1 * q1
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def resample_rotmats(rotmats: np.ndarray, src_fps: float, target_fps: float) -> np.ndarray:
    """Resample rotations by quaternion slerp between neighbouring input frames.

    Args:
        rotmats: (T, ..., 3, 3) rotation matrices, e.g. local joint rotations (T, J, 3, 3).
        src_fps: input frame rate, frames per second.
        target_fps: output frame rate, frames per second.

    Returns:
        (T', ..., 3, 3) float64 rotation matrices. Output frames that fall on an input
        frame are copied exactly (no quaternion round trip).
    """
    rotmats = np.asarray(rotmats, dtype=np.float64)
    if rotmats.ndim < 3 or rotmats.shape[-2:] != (3, 3):
        raise ValueError(f"rotmats must be (T, ..., 3, 3), got {rotmats.shape}")
    n_frames = rotmats.shape[0]
    pos = resample_frame_positions(n_frames, src_fps, target_fps)
    idx, alpha = _split_positions(pos, n_frames)
    out = rotmats[idx].copy()
    frac = np.nonzero(alpha > 0.0)[0]
    if frac.size:
        inner = rotmats.shape[1:-2]
        i0, i1 = idx[frac], idx[frac] + 1  # alpha > 0 implies idx <= T - 2
        to_quat = lambda m: Rotation.from_matrix(m.reshape(-1, 3, 3)).as_quat()  # noqa: E731
        q0 = to_quat(rotmats[i0]).reshape((frac.size,) + inner + (4,))
        q1 = to_quat(rotmats[i1]).reshape((frac.size,) + inner + (4,))
        a = alpha[frac].reshape((-1,) + (1,) * len(inner))
        q = slerp_quats(q0, q1, np.broadcast_to(a, q0.shape[:-1]))
        out[frac] = Rotation.from_quat(q.reshape(-1, 4)).as_matrix().reshape(
            (frac.size,) + inner + (3, 3)
        )
    return out


def resample_motion(
    local_rotmats: np.ndarray,
    root_positions: np.ndarray,
    src_fps: float,
    target_fps: float,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Resample a skeletal motion to ``target_fps``.

    Args:
        local_rotmats: (T, J, 3, 3) joint rotations relative to the parent.
        root_positions: (T, 3) root translation, any length unit.
        src_fps: input frame rate, frames per second.
        target_fps: output frame rate, frames per second.

    Returns:
        ``(local_rotmats, root_positions, frame_time)``: (T', J, 3, 3) slerped rotations,
        (T', 3) linearly interpolated positions (same unit) and the new frame time
        ``1 / target_fps`` in seconds.
    """
    local_rotmats = np.asarray(local_rotmats, dtype=np.float64)
    root_positions = np.asarray(root_positions, dtype=np.float64)
    if local_rotmats.ndim != 4 or local_rotmats.shape[-2:] != (3, 3):
        raise ValueError(f"local_rotmats must be (T, J, 3, 3), got {local_rotmats.shape}")
    if root_positions.shape != (local_rotmats.shape[0], 3):
        raise ValueError(
            f"root_positions must be (T, 3) with T={local_rotmats.shape[0]}, "
            f"got {root_positions.shape}"
        )
    rot = resample_rotmats(local_rotmats, src_fps, target_fps)
    trans = resample_linear(root_positions, src_fps, target_fps)
    return rot, trans, 1.0 / _check_fps(target_fps, "target_fps")
