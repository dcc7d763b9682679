"""Move a fitted body onto the 2D: pose and translation per frame, shape fixed per track.

The closed-form fit (:mod:`simpose.body.fit`) poses the body after 3D joints; what ends up in
the image is then only as good as those joints' reprojection. This stage is where the 2D gets
its say, and it acts on the body, never on single joints: every joint the product exports is
regressed from the posed body (:class:`simpose.body.rig.JointRig`), so the skeleton keeps the
body's bone lengths in every frame and the mesh and the joints agree by construction.

Per track (T valid frames, J joints of the rig's set), over the pose rotation vectors, the
global orientation and the translation of every frame, it minimises

    sum_tj c_tj |proj(J_tj) - x_tj|^2 d_t^2 / reprojection_m^2   on the detected rays (d_t: body depth)
  + sum_tj ((J_tj - Y_tj) . u_tj)^2 / depth_m^2                   the 3D it was given sets the depth
  + sum_tj |J_tj - Y_tj|^2 / target_m^2                           (u: the unit ray through Y), and,
                                                                  weakly, the rest of its position
  + sum_t |theta_t - theta0_t|^2 / pose_rad^2                      near the closed-form pose
  + sum_tj |J_t+1,j - 2 J_tj + J_t-1,j|^2 / accel^2                 smooth motion (consecutive frames)

where x_tj are the detections smoothed over time (``AlignConfig.smooth_2d_s``: the body follows
where the detector says the joint is, not its frame-to-frame jitter, which a skeleton of fixed
bone lengths can only follow by jittering in depth) and, optionally, the 2D term is Huber's
(``robust_m``), by Levenberg-Marquardt on each frame's 63 parameters (the rig's Jacobian in closed form,
:meth:`~simpose.body.rig.JointRig.jacobian`), the acceleration term taken against the
neighbouring frames' joints of the previous iteration: a few milliseconds for hundreds of frames.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported in align_body: AlignConfig is on `simpose run`'s import path (simpose.geometry says why)
    import torch

    from simpose.body.fit import BodyFit
    from simpose.body.rig import JointRig

__all__ = ["AlignConfig", "align_body", "smooth_track"]


@dataclasses.dataclass(frozen=True)
class AlignConfig:
    """Settings of :func:`align_body` (standard deviations; see the module docstring).

    The 2D term's strength trades closeness to the detections against jitter: a bone of fixed
    length that must meet two noisy rays moves along them, so following the detector's
    frame-to-frame noise shows up as depth jitter. The values were compared on synthetic
    sequences with the detector-noise model (:mod:`simpose.models.noise`; MPJPE and acceleration
    error) and on the real videos of ``benchmarks/skeleton_consistency.py`` (reprojection and
    acceleration only, no 3D truth); the pose prior only keeps twists the joints cannot show
    near the closed-form fit, so it is weak. The acceleration term is taken against the
    neighbours' joints of the previous iteration, so it needs ~20 iterations to settle.
    ``benchmarks/align_tradeoff.py`` (synthetic, 8 sequences, 2000 frames): against the smoothed
    2D (0.04 s) at 5 mm, MPJPE 61.5 mm, acceleration error 3.6 mm/frame^2 and 4.4 px from the
    true 2D, where the raw detections at 5 mm gave 65.4 mm, 27.2 and 6.1 px (the detections
    themselves are 8.1 px from the true 2D).

    Attributes:
        reprojection_m: the 2D term's std, metres at the body's depth (0: no 2D term).
        depth_m: the 3D target's std along the camera ray through it (depth), metres.
        target_m: the 3D target's std in every direction, metres (weak: the image position is
            the 2D's to set, as the depth is the 3D's).
        pose_rad: how far a rotation may move from the closed-form fit, radians.
        accel_m: std of a joint's acceleration per frame squared at 50 frames/s (scaled by
            ``(50 / fps)^2`` at other rates).
        iterations: Levenberg-Marquardt iterations.
        smooth_2d_s: the 2D target is the detections smoothed over time (Gaussian, this sigma in
            seconds, confidence-weighted, within runs of consecutive valid frames; 0: the raw
            detections). A detector's frame-to-frame noise is what a body of fixed bone lengths
            cannot follow without depth jitter; against the smoothed 2D the 2D term can be
            stronger for the same jitter.
        robust_m: Huber threshold of the 2D residual, metres at the body's depth (0: plain
            least squares): residuals beyond it (swapped or lost keypoints) pull linearly, not
            quadratically (iteratively reweighted).
    """

    reprojection_m: float = 0.005
    depth_m: float = 0.02
    target_m: float = 0.1
    pose_rad: float = 2.0
    accel_m: float = 0.02
    iterations: int = 20
    smooth_2d_s: float = 0.04
    robust_m: float = 0.0


def smooth_track(x: np.ndarray, weight: np.ndarray, valid: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted Gaussian smoothing over time within runs of consecutive valid frames.

    Args:
        x: (T, J, D) values (NaN: missing). weight: (T, J) weights >= 0 (NaN: 0).
        valid: (T,) frames that count; a run of consecutive valid frames is smoothed on its own.
        sigma: kernel std in frames (<= 0: no smoothing).
    Returns:
        (T, J, D) the weighted mean (NaN where no weight falls) and (T, J) the kernel-averaged
        weight (0 on invalid frames).
    """
    x = np.asarray(x, np.float64)
    w = np.where(np.isfinite(x).all(-1) & valid[:, None], np.nan_to_num(np.asarray(weight, np.float64)), 0.0)
    if sigma <= 0:
        return np.where(w[..., None] > 0, x, np.nan), w
    run = np.cumsum(np.r_[True, ~valid[:-1] | ~valid[1:]])  # a new id after every break
    T = len(x)
    xw = np.nan_to_num(x) * w[..., None]
    num, den, ksum = np.zeros_like(xw), np.zeros_like(w), np.zeros((T, 1))
    for d in range(-int(np.ceil(3 * sigma)), int(np.ceil(3 * sigma)) + 1):
        k = np.exp(-0.5 * (d / sigma) ** 2)
        lo, hi = max(0, -d), min(T, T - d)  # t in [lo, hi): t + d in range
        if hi <= lo:  # a kernel wider than the track (a negative bound would wrap around)
            continue
        same = (run[lo:hi] == run[lo + d : hi + d]) & valid[lo + d : hi + d]
        num[lo:hi] += k * same[:, None, None] * xw[lo + d : hi + d]
        den[lo:hi] += k * same[:, None] * w[lo + d : hi + d]
        ksum[lo:hi] += k * same[:, None]
    mean = np.where(den[..., None] > 0, num / np.maximum(den, 1e-12)[..., None], np.nan)
    return mean, np.where(valid[:, None], den / np.maximum(ksum, 1e-12), 0.0)


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
    import torch

    frames = np.flatnonzero(fit.valid)
    if len(frames) == 0 or config.iterations <= 0:
        return fit
    dt = torch.float64
    T = len(frames)
    theta0 = torch.as_tensor(np.concatenate([fit.pose_rotvecs[frames].reshape(T, -1), fit.global_rotvecs[frames]], -1), dtype=dt)
    params = torch.cat([theta0, torch.as_tensor(fit.trans[frames], dtype=dt)], -1)  # (T, 63)
    J = rig.weights.shape[1]
    use_2d = xy is not None and config.reprojection_m > 0
    if use_2d:
        xy_all = np.asarray(xy, np.float64)
        conf_all = np.ones(xy_all.shape[:2]) if confidence is None else np.clip(np.nan_to_num(np.asarray(confidence, np.float64)), 0.0, 1.0)
        xy_all, conf_all = smooth_track(xy_all, conf_all, np.asarray(fit.valid, bool), config.smooth_2d_s * fps)
        xy_f, conf = xy_all[frames], conf_all[frames]
        seen = np.isfinite(xy_f).all(-1) & (conf > 0)
        depth = np.maximum(fit.trans[frames, 2], 0.1)[:, None]  # image units -> metres at the body
        s2d = torch.as_tensor(np.sqrt(np.where(seen, np.clip(conf, 0.0, 1.0), 0.0)) * depth / config.reprojection_m)  # (T, J)
        target2d = torch.as_tensor(np.where(seen[..., None], xy_f, 0.0))
    use_3d = target3d is not None
    if use_3d:
        Y = np.asarray(target3d, np.float64)[frames]
        s3d = torch.as_tensor(np.isfinite(Y).all(-1) / config.target_m)  # (T, J)
        s_depth = torch.as_tensor(np.isfinite(Y).all(-1) / config.depth_m)
        Yt = torch.as_tensor(np.nan_to_num(Y))
        ray = Yt / torch.linalg.norm(Yt, dim=-1, keepdim=True).clamp_min(1e-6)  # (T, J, 3)
    # the acceleration term, frame by frame against the neighbours' current joints (a Jacobi sweep
    # per iteration): |X_t+1 - 2 X_t + X_t-1| = 2 |X_t - mid_t|
    inner = np.zeros(T, bool)
    if T > 2:
        inner[1:-1] = (frames[2:] - frames[1:-1] == 1) & (frames[1:-1] - frames[:-2] == 1)
    inner = torch.as_tensor(inner)
    s_acc = 2.0 / (config.accel_m * (50.0 / fps) ** 2)
    s2d_sq = s2d**2 if use_2d else None
    robust = use_2d and config.robust_m > 0

    def reweighted(X: torch.Tensor) -> torch.Tensor:
        """(T, J) the 2D weights with Huber's IRLS factor min(1, robust_m / |residual|) at X."""
        r = torch.linalg.norm(X[..., :2] / X[..., 2:].clamp_min(0.1) - target2d, dim=-1) * torch.as_tensor(depth)
        return s2d**2 * torch.clamp(config.robust_m / r.clamp_min(1e-12), max=1.0)
    s3d_sq = s3d**2 if use_3d else None
    sd_sq = s_depth**2 if use_3d else None
    w_acc_sq = (inner.to(dt) * s_acc**2)[:, None]  # (T, 1)
    prior_w = 1.0 / config.pose_rad**2

    def cost_of(p: torch.Tensor, X: torch.Tensor, mid: torch.Tensor) -> torch.Tensor:
        """(T,) each frame's cost (module docstring; the acceleration against ``mid``)."""
        c = prior_w * ((p[:, :60] - theta0) ** 2).sum(1) + (w_acc_sq * ((X - mid) ** 2).sum(-1)).sum(1)
        if use_2d:
            c = c + (s2d_sq * ((X[..., :2] / X[..., 2:].clamp_min(0.1) - target2d) ** 2).sum(-1)).sum(1)
        if use_3d:
            c = c + (s3d_sq * ((X - Yt) ** 2).sum(-1) + sd_sq * ((X - Yt) * ray).sum(-1) ** 2).sum(1)
        return c

    def normal_equations(p: torch.Tensor, mid: torch.Tensor):
        """Gauss-Newton H (T, 63, 63) and gradient g (T, 63) of each frame's cost (halved), and X."""
        X, dX = rig.jacobian(p[:, :57].reshape(T, 19, 3), p[:, 57:60], p[:, 60:])  # (T, J, 3), (T, J, 3, 63)
        eye3 = torch.eye(3, dtype=dt)
        M = (w_acc_sq[..., None, None] * eye3).expand(T, J, 3, 3).clone()  # per joint: the cost's curvature in X
        b = w_acc_sq[..., None] * (X - mid)  # and its gradient (halved)
        if use_3d:
            uu = ray[..., :, None] * ray[..., None, :]  # (T, J, 3, 3)
            M = M + s3d_sq[..., None, None] * eye3 + sd_sq[..., None, None] * uu
            b = b + s3d_sq[..., None] * (X - Yt) + sd_sq[..., None] * (uu @ (X - Yt)[..., None])[..., 0]
        if use_2d:
            z = X[..., 2:].clamp_min(0.1)
            proj = X[..., :2] / z
            P = torch.cat([torch.eye(2, dtype=dt).expand(T, J, 2, 2) / z[..., None], -proj[..., None] / z[..., None]], -1)  # (T, J, 2, 3)
            M = M + s2d_sq[..., None, None] * (P.transpose(-1, -2) @ P)
            b = b + s2d_sq[..., None] * (P.transpose(-1, -2) @ (proj - target2d)[..., None])[..., 0]
        D = dX.reshape(T, 3 * J, 63)
        H = D.transpose(1, 2) @ (M @ dX).reshape(T, 3 * J, 63)
        g = (D.transpose(1, 2) @ b.reshape(T, 3 * J, 1))[..., 0]
        H[:, :60, :60] += prior_w * torch.eye(60, dtype=dt)
        g[:, :60] += prior_w * (p[:, :60] - theta0)
        return H, g, X

    def midpoints(X: torch.Tensor) -> torch.Tensor:
        mid = X.clone()
        mid[1:-1] = (X[2:] + X[:-2]) / 2
        return mid

    def joints(p: torch.Tensor) -> torch.Tensor:
        return rig(p[:, :57].reshape(T, 19, 3), p[:, 57:60], p[:, 60:])

    # Levenberg-Marquardt, one damping per frame (frames couple only through the midpoints)
    lam = torch.full((T, 1), 1e-3, dtype=dt)
    with torch.no_grad():
        X = joints(params)
        for _ in range(config.iterations):
            mid = midpoints(X)
            if robust:
                s2d_sq = reweighted(X)
            H, g, X = normal_equations(params, mid)
            cost = cost_of(params, X, mid)
            damped = H.clone()  # H + diag(lam * diag(H) + 1e-9), added in place (no (T, 63, 63) diagonal matrix)
            damped.diagonal(dim1=1, dim2=2).add_(lam * torch.diagonal(H, dim1=1, dim2=2) + 1e-9)
            step = -torch.linalg.solve(damped, g[..., None])[..., 0]
            trial = params + step
            X_new = joints(trial)
            better = cost_of(trial, X_new, mid) < cost
            params = torch.where(better[:, None], trial, params)
            X = torch.where(better[:, None, None], X_new, X)
            lam = torch.where(better[:, None], lam * 0.3, lam * 10.0).clamp(1e-7, 1e7)
    params = params.numpy()
    pose, glob, tr = (np.full_like(a, np.nan) for a in (fit.pose_rotvecs, fit.global_rotvecs, fit.trans))
    pose[frames] = params[:, :57].reshape(T, 19, 3)
    glob[frames] = params[:, 57:60]
    tr[frames] = params[:, 60:]
    return dataclasses.replace(fit, pose_rotvecs=pose, global_rotvecs=glob, trans=tr)
