"""Test-time refinement of a lifted sequence: one skeleton per person, on its 2D rays.

The lifter sees a window of 2D and guesses each frame's 3D from it; nothing makes its guesses
of one person agree with each other. Two facts about a video do, and need no training data:

- a person's bones keep their length for the whole video (and the left and right bone of a
  pair have the same length), and
- each joint lies on the camera ray through its 2D keypoint.

With the 2D fixed, a bone of known length fixes the depth difference of its two joints up to
its sign (the classic observation of Taylor, CVIU 2000); the lifter's 3D chooses the sign and
holds the overall scale. So this stage solves, per sequence, for camera-frame joints ``X``
(T, J, 3) and one length per bone (left/right shared), minimising

    sum_tj w_tj |proj(X_tj) - x_tj|^2 d_t^2 / s_j^2         2D: on the rays (d_t: body depth)
  + sum_tb (|X_ta - X_tp| - L_b)^2 / bone_m^2               one skeleton for the sequence
  + sum_tj |(X_tj - X_t,root) - Y_tj|^2 / prior_m^2         stay near the lifter's pose Y
  + sum_tj |X_t+1,j - 2 X_tj + X_t-1,j|^2 / accel^2          smooth motion (consecutive frames)

by Adam from the lifter's pose placed at its closed-form translation
(:func:`simpose.geometry.solve_translation`). The 2D weight adapts to how noisy the 2D
is: ``s_j^2 = reprojection_m^2 + jitter_j^2``, with ``jitter_j`` the RMS of joint j's 2D track
about its own temporal smoothing (:func:`jitter_scale`, metres at the body's depth): about zero
for exact 2D, the detector's jitter otherwise. All settings were chosen on synthetic sequences
(held-out procedural motion and new bodies with changed proportions, exact and noisy 2D);
none on real data.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from simpose.body.joints import get_joint_set
from simpose.geometry import gaussian_smooth, solve_translation

if TYPE_CHECKING:  # imported where used: RefineConfig is on `simpose run`'s import path
    import torch

__all__ = ["RefineConfig", "bone_pairs", "jitter_scale", "refine_sequence"]


@dataclasses.dataclass(frozen=True)
class RefineConfig:
    """Settings of the refinement (standard deviations in metres; see the module docstring).

    Attributes:
        reprojection_m: floor of the 2D term's std (metres at the body's depth).
        bone_m: how much a bone's length may vary over the sequence.
        prior_m: how far a root-relative joint may move from the lifter's.
        accel_m: std of a joint's acceleration per frame squared at 50 frames/s (scaled by
            ``(50 / fps)^2`` at other rates).
        jitter_window_s: sigma (seconds) of the temporal smoothing that :func:`jitter_scale`
            measures the 2D's jitter against.
        iterations: Adam steps. lr: Adam's step size (metres).
    """

    reprojection_m: float = 0.005
    bone_m: float = 0.01
    prior_m: float = 0.08
    accel_m: float = 0.01
    jitter_window_s: float = 0.04
    iterations: int = 200
    lr: float = 0.01


def bone_pairs(joint_set: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bones of a joint set's tree and which of them share a length.

    Returns:
        child (N,), parent (N,) joint indices, and length (N,) the index of each bone's length
        variable: a left bone and its mirrored right bone share one.
    """
    js = get_joint_set(joint_set)
    child = np.array([j for j, p in enumerate(js.parents) if p >= 0])
    parent = np.array([js.parents[j] for j in child])
    flip = js.flip_permutation
    length, ids = [], {}
    for c, p in zip(child, parent):
        key = frozenset([(int(c), int(p)), (int(flip[c]), int(flip[p]))])
        length.append(ids.setdefault(key, len(ids)))
    return child, parent, np.asarray(length)


def jitter_scale(xy: np.ndarray, depth: np.ndarray, fps: float, window_s: float = 0.04) -> np.ndarray:
    """How much each joint's 2D jitters: RMS of its track about a Gaussian smoothing of it.

    Args:
        xy: (T, J, 2) normalised image coordinates (NaN: missing, counted as no jitter).
        depth: (T,) metres, the body's distance (turns image units into metres at the body).
        fps: frame rate. window_s: the smoothing's sigma, seconds.
    Returns:
        (J,) metres. For white noise of std sigma per axis it is about
        ``sigma sqrt(2 (1 - 2 k_0 + sum k^2))`` (k: the normalised kernel); for smooth motion ~0.
    """
    T, J = xy.shape[:2]
    ok = np.isfinite(xy).all(-1)
    x = np.where(ok[..., None], xy, 0.0).reshape(T, -1)
    residual = (x - gaussian_smooth(x, window_s * fps)).reshape(T, J, 2) * np.asarray(depth)[:, None, None]
    # A missing keypoint's zeros would look like a jump: only frames whose window is complete count.
    complete = ok.copy()
    r = int(np.ceil(3 * window_s * fps))
    for shift in range(1, r + 1):
        complete[shift:] &= ok[:-shift]
        complete[:-shift] &= ok[shift:]
    sq = np.where(complete, (residual**2).sum(-1), 0.0)
    return np.sqrt(sq.sum(0) / np.maximum(complete.sum(0), 1))


def refine_sequence(
    joints3d_rel: np.ndarray,
    xy: np.ndarray,
    confidence: np.ndarray | None,
    fps: float,
    joint_set: str = "h36m17",
    config: RefineConfig = RefineConfig(),
    trans: np.ndarray | None = None,
) -> np.ndarray:
    """Refine one person's lifted sequence (module docstring).

    Args:
        joints3d_rel: (T, J, 3) the lifter's root-relative joints, metres, camera axes (NaN
            frames: not refined, stay NaN).
        xy: (T, J, 2) the same joints' normalised image coordinates ``K^-1 (u, v, 1)``, lens
            distortion undone (NaN: missing).
        confidence: (T, J) 2D weights in [0, 1], or None (all 1).
        fps: frame rate (the acceleration and jitter terms are per second).
        joint_set: the joints' set (its tree gives the bones).
        config: the weights and the optimiser.
        trans: (T, 3) starting translation of the root (None: solved in closed form, frames
            with too few usable keypoints interpolated from their neighbours).
    Returns:
        (T, J, 3) float64 camera-frame metres; NaN on frames without a finite lifted pose or
        translation.
    """
    Y0 = np.asarray(joints3d_rel, np.float64)
    xy = np.asarray(xy, np.float64)
    T, J = Y0.shape[:2]
    if xy.shape != (T, J, 2):
        raise ValueError(f"xy {xy.shape} does not match joints3d_rel {Y0.shape}")
    conf = np.ones((T, J)) if confidence is None else np.asarray(confidence, np.float64)
    if trans is None:
        trans = _fill(solve_translation(np.nan_to_num(Y0), xy, conf, np.eye(3)), np.isfinite(Y0).all((1, 2)))
    trans = np.asarray(trans, np.float64)
    valid = np.isfinite(Y0).all((1, 2)) & np.isfinite(trans).all(-1)
    out = np.full((T, J, 3), np.nan)
    if not valid.any():
        return out
    frames = np.flatnonzero(valid)
    Y0, xy, conf, t0 = Y0[frames], xy[frames], conf[frames], trans[frames]
    seen = np.isfinite(xy).all(-1) & np.isfinite(conf)
    s = np.sqrt(config.reprojection_m**2 + jitter_scale(np.where(seen[..., None], xy, np.nan), t0[:, 2], fps, config.jitter_window_s) ** 2)

    import torch  # here, not at import: RefineConfig is on `simpose run`'s import path (simpose.geometry says why)

    root = get_joint_set(joint_set).root
    child, parent, length = bone_pairs(joint_set)
    child, parent, length = (torch.as_tensor(a) for a in (child, parent, length))
    prior = torch.as_tensor(Y0 - Y0[:, root : root + 1])
    target = torch.as_tensor(np.where(seen[..., None], xy, 0.0))
    weight = torch.as_tensor(np.where(seen, np.clip(conf, 0.0, 1.0), 0.0) / s**2)
    depth = torch.as_tensor(t0[:, 2])[:, None, None]
    # Acceleration only across three consecutive frames of the original video.
    triple = torch.as_tensor(frames[2:] - frames[:-2] == 2) if len(frames) > 2 else torch.zeros(0, dtype=torch.bool)
    accel_sd = config.accel_m * (50.0 / fps) ** 2

    X = torch.as_tensor(Y0 + t0[:, None]).clone()
    n_len = int(length.max()) + 1
    bones0 = torch.linalg.norm(prior[:, child] - prior[:, parent], dim=-1).median(0).values
    L = torch.zeros(n_len, dtype=X.dtype).index_add_(0, length, bones0) / torch.bincount(length, minlength=n_len)
    terms = _Terms(target, weight, depth, prior, root, child, parent, length, triple, config.bone_m, config.prior_m, accel_sd, float(len(frames) * J))
    # Adam (torch.optim.Adam's defaults and update, written out) on the gradient in closed form:
    # autograd's graph cost three times the arithmetic here
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    moments = [(torch.zeros_like(X), torch.zeros_like(X)), (torch.zeros_like(L), torch.zeros_like(L))]
    for step in range(1, config.iterations + 1):
        for param, grad, (m, v) in zip((X, L), _gradient(X, L, terms), moments):
            m.lerp_(grad, 1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (v.sqrt() / (1 - beta2**step) ** 0.5).add_(eps)
            param.addcdiv_(m, denom, value=-config.lr / (1 - beta1**step))
    out[frames] = X.numpy()
    return out


@dataclasses.dataclass(frozen=True)
class _Terms:
    """The fixed parts of :func:`refine_sequence`'s cost for F frames, J joints, E bones (tensors).

    target: (F, J, 2) normalised 2D; weight: (F, J) 2D weights (1 / s^2, 0: unseen); depth:
    (F, 1, 1) body depth; prior: (F, J, 3) the lifter's root-relative pose; root: its index;
    child, parent, length: (E,) each bone's joints and its length's index; triple: (F - 2,)
    frames t + 1 whose neighbours are consecutive; bone_m, prior_m, accel_sd: the stds; n: F * J
    (the cost is a mean).
    """

    target: torch.Tensor
    weight: torch.Tensor
    depth: torch.Tensor
    prior: torch.Tensor
    root: int
    child: torch.Tensor
    parent: torch.Tensor
    length: torch.Tensor
    triple: torch.Tensor
    bone_m: float
    prior_m: float
    accel_sd: float
    n: float


def _energy(X: torch.Tensor, L: torch.Tensor, c: _Terms) -> torch.Tensor:
    """The cost of the module docstring, over n: X (F, J, 3) camera-frame joints, L (n_len,) bone lengths."""
    import torch

    proj = X[..., :2] / X[..., 2:].clamp_min(0.1)
    e_2d = (c.weight * ((proj - c.target) * c.depth).pow(2).sum(-1)).sum()
    bones = torch.linalg.norm(X[:, c.child] - X[:, c.parent], dim=-1)
    e_bone = (bones - L[c.length]).pow(2).sum() / c.bone_m**2
    e_prior = ((X - X[:, c.root : c.root + 1]) - c.prior).pow(2).sum() / c.prior_m**2
    accel = X[2:] - 2 * X[1:-1] + X[:-2]
    e_accel = accel[c.triple].pow(2).sum() / c.accel_sd**2
    return (e_2d + e_bone + e_prior + e_accel) / c.n


def _gradient(X: torch.Tensor, L: torch.Tensor, c: _Terms) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradient of :func:`_energy` in closed form: (F, J, 3) and (n_len,)."""
    import torch

    z = X[..., 2:].clamp_min(0.1)
    proj = X[..., :2] / z
    g_proj = (2 * c.weight)[..., None] * c.depth**2 * (proj - c.target)  # d e_2d / d proj
    gX = torch.cat([g_proj / z, -(g_proj * proj).sum(-1, keepdim=True) / z * (X[..., 2:] >= 0.1)], -1)
    diff = X[:, c.child] - X[:, c.parent]
    bones = torch.linalg.norm(diff, dim=-1)
    g_len = 2 * (bones - L[c.length]) / c.bone_m**2  # (F, E)
    g_bone = (g_len / bones)[..., None] * diff
    gX.index_add_(1, c.child, g_bone)
    gX.index_add_(1, c.parent, -g_bone)
    gL = torch.zeros_like(L).index_add_(0, c.length, -g_len.sum(0))
    g_prior = 2 * ((X - X[:, c.root : c.root + 1]) - c.prior) / c.prior_m**2
    gX += g_prior
    gX[:, c.root] -= g_prior.sum(1)
    g_acc = 2 * (X[2:] - 2 * X[1:-1] + X[:-2]) * c.triple[:, None, None] / c.accel_sd**2
    gX[2:] += g_acc
    gX[1:-1] -= 2 * g_acc
    gX[:-2] += g_acc
    return gX / c.n, gL / c.n


def _fill(trans: np.ndarray, lifted: np.ndarray) -> np.ndarray:
    """(T, 3) translations with unsolved (NaN) rows of lifted frames interpolated linearly from
    the solved ones (held constant past the ends); all NaN when none is solved."""
    ok = np.isfinite(trans).all(-1)
    if not ok.any():
        return trans
    t = np.arange(len(trans))
    out = np.stack([np.interp(t, t[ok], trans[ok, c]) for c in range(3)], -1)
    return np.where(lifted[:, None], out, np.nan)
