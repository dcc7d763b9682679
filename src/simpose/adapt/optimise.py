"""Direct optimisation of a track's body parameters against its 2D cues (the "params" variant).

The baseline the self-supervised motion-capture paper argues against (it fine-tunes the
network instead): starting from a fitted body (:class:`simpose.body.fit.BodyFit`, camera
frame), Adam moves every frame's pose rotation vectors, global orientation and translation,
and the track's one shape, through the body model, to lower the weighted sum of the
losses of :mod:`simpose.adapt.losses`: keypoint reprojection, silhouette Chamfer, flow,
and the priors (joint smoothness, pose near the start and inside the limits). One shape per
track makes shape and bone-length constancy hold by construction.

Mesh points for the silhouette and flow terms are a fixed, evenly strided subset of the
vertices (``n_points``); their visibility is a z-buffer test of all vertices
(:func:`~simpose.adapt.losses.splat_visibility`), refreshed every ``visibility_every`` steps
(a selection, not differentiable). A term whose weight is 0 or whose cue is missing in
every frame costs nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
import torch

from simpose.adapt import losses as L
from simpose.body.fit import BodyFit
from simpose.body.model import POSE_LIMITS_RAD, BodyModel

__all__ = ["OptimiseConfig", "OptimiseResult", "optimise_body", "MIN_FRAMES"]

logger = logging.getLogger(__name__)

MIN_FRAMES = 2  # fewer valid frames: nothing to adapt (the flow and smoothness terms need pairs)


@dataclasses.dataclass(frozen=True)
class OptimiseConfig:
    """Weights and settings of :func:`optimise_body` (scales in pixels unless said).

    Attributes:
        w_keypoints, w_silhouette, w_motion: data-term weights (0 = off).
        w_smooth: joint acceleration prior; smooth_m: acceleration (m / frame^2) that costs 1.
        w_pose: pose prior (near the start, inside limits); pose_sigma: radians.
        keypoint_px, silhouette_px, flow_px: robust scales of the data terms.
        n_points: mesh points for silhouette and flow. mask_area, mask_boundary: mask samples.
        iterations: Adam steps. lr: radians / metres per step (shape logits: 3x).
        warmup: first steps that move only the global orientation and translation (the
            translation at 3x lr): the start's depth is the least certain part of a monocular fit.
        visibility_every: steps between visibility refreshes.
        cell_px, depth_tol_m: :func:`~simpose.adapt.losses.splat_visibility` settings.
        optimise_shape: also move the track's shape.
    """

    w_keypoints: float = 1.0
    w_silhouette: float = 1.0
    w_motion: float = 0.2
    w_smooth: float = 0.1
    smooth_m: float = 0.01
    w_pose: float = 0.1
    pose_sigma: float = 0.3
    keypoint_px: float = 4.0
    silhouette_px: float = 3.0
    flow_px: float = 2.0
    n_points: int = 600
    mask_area: int = 200
    mask_boundary: int = 150
    iterations: int = 80
    warmup: int = 20
    lr: float = 0.02
    visibility_every: int = 10
    cell_px: float = 2.0
    depth_tol_m: float = 0.08
    optimise_shape: bool = True

    def __post_init__(self) -> None:
        for name in ("w_keypoints", "w_silhouette", "w_motion", "w_smooth", "w_pose"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.iterations < 0 or self.n_points < 1 or self.visibility_every < 1:
            raise ValueError("iterations >= 0, n_points >= 1 and visibility_every >= 1 are required")


@dataclasses.dataclass(frozen=True)
class OptimiseResult:
    """Output of :func:`optimise_body`.

    Attributes:
        fit: the optimised body (invalid frames unchanged, NaN).
        history: (iterations, 6) per step: total, keypoints, silhouette, motion, smooth, pose.
        seconds: wall time of the optimisation.
        adapted: False when the track was too short (``fit`` is then the input).
    """

    fit: BodyFit
    history: np.ndarray
    seconds: float
    adapted: bool


def _pad_masks(masks, frames: np.ndarray, cfg: OptimiseConfig, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(T', M, 2) padded mask samples and (T', M) weights of the chosen frames; None masks -> zero weight."""
    samples = [
        np.zeros((0, 2), np.float32) if masks is None or masks[t] is None else L.mask_samples(masks[t], cfg.mask_area, cfg.mask_boundary)
        for t in frames
    ]
    M = max(1, max(len(s) for s in samples))
    pts = np.zeros((len(frames), M, 2), np.float64)
    w = np.zeros((len(frames), M), np.float64)
    for i, s in enumerate(samples):
        pts[i, : len(s)], w[i, : len(s)] = s, 1.0
    return torch.as_tensor(pts, dtype=dtype), torch.as_tensor(w, dtype=dtype)


def optimise_body(
    body: BodyModel,
    fit: BodyFit,
    K: np.ndarray,
    image_size: tuple[int, int],
    keypoints2d: np.ndarray | None,
    keypoint_confidence: np.ndarray | None,
    joint_set: str,
    masks: list | np.ndarray | None = None,
    flows: list | np.ndarray | None = None,
    config: OptimiseConfig = OptimiseConfig(),
) -> OptimiseResult:
    """Optimise a fitted track's body against keypoints, masks and flow.

    Args:
        body: the body model. fit: the start, camera frame (T frames).
        K: (3, 3) or (T, 3, 3) intrinsics, pixels. image_size: (W, H).
        keypoints2d: (T, J, 2) pixels of ``joint_set`` (NaN = missing) or None.
        keypoint_confidence: (T, J) in [0, 1] or None (1 where keypoints are finite).
        masks: T entries, each (H, W) bool or None (no mask that frame), or None for none.
        flows: T - 1 entries, each (H, W, 2) forward flow t -> t+1 in pixels or None, or None.
        config: :class:`OptimiseConfig`.
    Returns:
        :class:`OptimiseResult`; a track with fewer than ``MIN_FRAMES`` valid frames is returned
        unchanged with ``adapted=False`` (and a log line).
    """
    t0 = time.perf_counter()
    T = len(fit.valid)
    W, H = image_size
    frames = np.flatnonzero(fit.valid)
    if len(frames) < MIN_FRAMES:
        logger.info("track of %d valid frames: too short to adapt (needs %d); kept as fitted", len(frames), MIN_FRAMES)
        return OptimiseResult(fit, np.zeros((0, 6)), 0.0, False)
    if masks is not None and len(masks) != T:
        raise ValueError(f"masks must have {T} entries, got {len(masks)}")
    if flows is not None and len(flows) != T - 1:
        raise ValueError(f"flows must have {T - 1} entries, got {len(flows)}")
    if keypoints2d is not None:
        from simpose.body.joints import get_joint_set

        J = len(get_joint_set(joint_set))
        if np.shape(keypoints2d) != (T, J, 2):
            raise ValueError(f"keypoints2d must be ({T}, {J}, 2) for {joint_set!r}, got {np.shape(keypoints2d)}")
    for name, seq, shape in (("masks", masks, (H, W)), ("flows", flows, (H, W, 2))):
        bad = [np.shape(x) for x in (seq if seq is not None else []) if x is not None and np.shape(x) != shape]
        if bad:
            raise ValueError(f"{name} must be {shape} (image_size {W}x{H}), got {bad[0]}")
    dt = body.dtype
    Kt = torch.as_tensor(np.broadcast_to(np.asarray(K, np.float64), (T, 3, 3))[frames].copy(), dtype=dt)

    pose0 = torch.as_tensor(fit.pose_rotvecs[frames], dtype=dt)
    pose = pose0.clone().requires_grad_()
    glob = torch.as_tensor(fit.global_rotvecs[frames], dtype=dt).clone().requires_grad_()
    trans = torch.as_tensor(fit.trans[frames], dtype=dt).clone().requires_grad_()
    s0 = torch.as_tensor(fit.shape_params, dtype=dt).clamp(1e-3, 1 - 1e-3)[None]
    shape_logit = torch.logit(s0).clone().requires_grad_(config.optimise_shape)
    groups = [{"params": [pose], "lr": config.lr}, {"params": [glob], "lr": config.lr}, {"params": [trans], "lr": 3 * config.lr}]
    if config.optimise_shape:
        groups.append({"params": [shape_logit], "lr": 3 * config.lr})
    opt = torch.optim.Adam(groups)
    limits = torch.as_tensor(POSE_LIMITS_RAD, dtype=dt)

    use_kp = config.w_keypoints > 0 and keypoints2d is not None
    if use_kp:
        kp = torch.as_tensor(np.asarray(keypoints2d, np.float64)[frames], dtype=dt)
        conf = np.isfinite(keypoints2d).all(-1).astype(np.float64) if keypoint_confidence is None else np.asarray(keypoint_confidence, np.float64)
        kconf = torch.as_tensor(conf[frames], dtype=dt)
    use_sil = config.w_silhouette > 0 and masks is not None and any(m is not None for m in masks)
    if use_sil:
        mpts, mw = _pad_masks(masks, frames, config, dt)
    # flow pairs: consecutive valid frames with a flow between them
    pairs = [i for i in range(len(frames) - 1) if frames[i + 1] == frames[i] + 1 and flows is not None and flows[frames[i]] is not None]
    use_flow = config.w_motion > 0 and len(pairs) > 0
    if use_flow:
        flow_t = torch.as_tensor(np.stack([np.asarray(flows[frames[i]], np.float64) for i in pairs]), dtype=dt)
        pair_i = torch.as_tensor(pairs)
    sub = torch.as_tensor(np.linspace(0, body.num_vertices - 1, min(config.n_points, body.num_vertices)).round().astype(np.int64))

    triples = torch.as_tensor(frames[2:] - frames[:-2] == 2)  # a gap in the track breaks the acceleration
    history = np.zeros((config.iterations, 6))
    vis = None
    for it in range(config.iterations):
        out = body(pose, torch.sigmoid(shape_logit), glob, trans)
        if it % config.visibility_every == 0 and (use_sil or use_flow):
            vis = L.splat_visibility(out.vertices.detach(), Kt, (W, H), config.cell_px, config.depth_tol_m)[:, sub].to(dt)
        terms = {}
        if use_kp:
            j2 = L.project(body.regress(joint_set, out.vertices, out.bone_heads), Kt)
            terms["kp"] = config.w_keypoints * L.keypoint_loss(j2, kp, kconf, config.keypoint_px)
        if use_sil or use_flow:
            p2 = L.project(out.vertices[:, sub], Kt)
        if use_sil:
            terms["sil"] = config.w_silhouette * L.silhouette_chamfer_loss(p2, vis, mpts, mw, config.silhouette_px)
        if use_flow:
            terms["flow"] = config.w_motion * L.flow_loss(p2[pair_i], p2[pair_i + 1], flow_t, vis[pair_i], config.flow_px)
        terms["smooth"] = config.w_smooth * L.smoothness_loss(out.joints, config.smooth_m, triples)
        terms["pose"] = config.w_pose * L.pose_prior_loss(pose, pose0, limits, config.pose_sigma)
        total = sum(terms.values())
        opt.zero_grad()
        total.backward()
        if it < config.warmup:  # place the body before posing it: a wrong depth otherwise bends the pose and shape
            pose.grad = None
            shape_logit.grad = None
        opt.step()
        history[it] = [float(total.detach())] + [float(terms[k].detach()) if k in terms else 0.0 for k in ("kp", "sil", "flow", "smooth", "pose")]
    seconds = time.perf_counter() - t0

    def put(src: np.ndarray, new: torch.Tensor) -> np.ndarray:
        out = np.array(src, np.float64, copy=True)
        out[frames] = new.detach().numpy()
        return out

    new_fit = BodyFit(
        pose_rotvecs=put(fit.pose_rotvecs, pose),
        global_rotvecs=put(fit.global_rotvecs, glob),
        trans=put(fit.trans, trans),
        shape_params=torch.sigmoid(shape_logit)[0].detach().numpy().astype(np.float64),
        valid=fit.valid.copy(),
    )
    return OptimiseResult(new_fit, history, seconds, True)
