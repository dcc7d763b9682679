"""Move a fitted body onto the 2D: pose and translation per frame, shape fixed per track.

The closed-form fit (:mod:`simpose.body.fit`) poses the body after 3D joints; what ends up in
the image is then only as good as those joints' reprojection. This stage is where the 2D gets
its say, and it acts on the body, never on single joints: every joint the product exports is
regressed from the posed body (:class:`simpose.body.rig.JointRig`), so the skeleton keeps the
body's bone lengths in every frame and the mesh and the joints agree by construction.

Per track (T valid frames, J joints of the rig's set), over the pose rotation vectors, the
global orientation and the translation of every frame, it minimises

    sum_tj c_tj |proj(J_tj) - x_tj|^2 d_t^2 / reprojection_m^2   on the detected rays (d_t: body depth)
  + sum_tj |J_tj - Y_tj|^2 / target_m^2                           near the 3D it was given (depth)
  + sum_t |theta_t - theta0_t|^2 / pose_rad^2                      near the closed-form pose
  + sum_tj |J_t+1,j - 2 J_tj + J_t-1,j|^2 / accel^2                 smooth motion (consecutive frames)

with L-BFGS (a few dozen evaluations of the rig: milliseconds for hundreds of frames).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from simpose.body.fit import BodyFit
from simpose.body.rig import JointRig

__all__ = ["AlignConfig", "align_body"]


@dataclasses.dataclass(frozen=True)
class AlignConfig:
    """Settings of :func:`align_body` (standard deviations; see the module docstring).

    Attributes:
        reprojection_m: the 2D term's std, metres at the body's depth (0: no 2D term).
        target_m: the 3D target term's std, metres.
        pose_rad: how far a rotation may move from the closed-form fit, radians.
        accel_m: std of a joint's acceleration per frame squared at 50 frames/s (scaled by
            ``(50 / fps)^2`` at other rates).
        iterations: L-BFGS iterations.
    """

    reprojection_m: float = 0.01
    target_m: float = 0.03
    pose_rad: float = 0.3
    accel_m: float = 0.01
    iterations: int = 40


def align_body(
    rig: JointRig,
    fit: BodyFit,
    xy: np.ndarray | None,
    confidence: np.ndarray | None,
    fps: float,
    target3d: np.ndarray | None = None,
    config: AlignConfig = AlignConfig(),
) -> BodyFit:
    """Optimise a body's per-frame pose and translation against 2D (and 3D) of the rig's joints.

    Args:
        rig: the joints of the track's body (built for ``fit.shape_params``).
        fit: the starting body (its invalid frames stay NaN).
        xy: (T, J, 2) normalised image coordinates ``K^-1 (u, v, 1)`` of the rig's joints (NaN:
            missing), or None (no 2D term).
        confidence: (T, J) 2D weights in [0, 1], or None (all 1).
        fps: frame rate.
        target3d: (T, J, 3) camera-frame metres the joints should stay near (None: no 3D term).
        config: weights and iterations.
    Returns:
        A new :class:`BodyFit` (same shape and validity).
    """
    frames = np.flatnonzero(fit.valid)
    if len(frames) == 0 or config.iterations <= 0:
        return fit
    dt = torch.float64
    pose0 = torch.as_tensor(fit.pose_rotvecs[frames], dtype=dt)
    glob0 = torch.as_tensor(fit.global_rotvecs[frames], dtype=dt)
    trans0 = torch.as_tensor(fit.trans[frames], dtype=dt)
    J = rig.weights.shape[1]
    terms = []
    if xy is not None and config.reprojection_m > 0:
        xy_f = np.asarray(xy, np.float64)[frames]
        conf = np.ones(xy_f.shape[:2]) if confidence is None else np.asarray(confidence, np.float64)[frames]
        seen = np.isfinite(xy_f).all(-1) & np.isfinite(conf)
        w2d = torch.as_tensor(np.where(seen, np.clip(conf, 0.0, 1.0), 0.0) / config.reprojection_m**2)
        target2d = torch.as_tensor(np.where(seen[..., None], xy_f, 0.0))
        depth = trans0[:, 2:3].clamp_min(0.1)  # (T, 1): image units -> metres at the body
        terms.append(lambda X: (w2d * ((X[..., :2] / X[..., 2:].clamp_min(0.1) - target2d) * depth[..., None]).pow(2).sum(-1)).sum())
    if target3d is not None:
        Y = np.asarray(target3d, np.float64)[frames]
        ok = torch.as_tensor(np.isfinite(Y).all(-1), dtype=dt)
        Yt = torch.as_tensor(np.nan_to_num(Y))
        terms.append(lambda X: (ok * (X - Yt).pow(2).sum(-1)).sum() / config.target_m**2)
    triple = torch.as_tensor(frames[2:] - frames[:-2] == 2) if len(frames) > 2 else torch.zeros(0, dtype=torch.bool)
    accel_sd = config.accel_m * (50.0 / fps) ** 2
    n = float(len(frames) * J)

    d_pose = torch.zeros_like(pose0, requires_grad=True)
    d_glob = torch.zeros_like(glob0, requires_grad=True)
    trans = trans0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([d_pose, d_glob, trans], lr=1.0, max_iter=config.iterations, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        X = rig(pose0 + d_pose, glob0 + d_glob, trans)
        loss = sum(term(X) for term in terms) if terms else torch.zeros((), dtype=dt)
        loss = loss + (d_pose.pow(2).sum() + d_glob.pow(2).sum()) / config.pose_rad**2
        if len(triple):
            acc = X[2:] - 2 * X[1:-1] + X[:-2]
            loss = loss + acc[triple].pow(2).sum() / accel_sd**2
        loss = loss / n
        loss.backward()
        return loss

    opt.step(closure)
    pose, glob, tr = (np.full_like(a, np.nan) for a in (fit.pose_rotvecs, fit.global_rotvecs, fit.trans))
    pose[frames] = (pose0 + d_pose).detach().numpy()
    glob[frames] = (glob0 + d_glob).detach().numpy()
    tr[frames] = trans.detach().numpy()
    return dataclasses.replace(fit, pose_rotvecs=pose, global_rotvecs=glob, trans=tr)
