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

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch, the losses and the body are imported where used: OptimiseConfig is on `simpose run`'s import path (simpose.geometry says why)
    import torch

    from simpose.body.fit import BodyFit
    from simpose.body.model import BodyModel

__all__ = ["OptimiseConfig", "OptimiseResult", "CueTerms", "optimise_body", "MIN_FRAMES"]

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
        match_every: steps between searches of the silhouette term's nearest partners (kept in
            between, as in ICP; the search is most of that term's cost).
        cell_px, depth_tol_m: :func:`~simpose.adapt.losses.splat_visibility` settings.
        optimise_shape: also move the track's shape (the full body model every step, ~10x
            slower); False keeps the start's shape and skins only the sampled points through a
            :class:`~simpose.body.rig.JointRig` of that shape.
        reference_height_px: the pixel scales (and ``cell_px``) are for a person this tall; a
            track's are multiplied by its start body's median projected height over this.
            None: the scales are absolute pixels.
        flow_cells: the flow is cut to the person and kept at most this many cells a side.
        net_lr: the "weights" variant's Adam step size on the network's weights
            (:func:`simpose.adapt.network.adapt_network`; ``lr`` then moves only the translations).
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
    iterations: int = 40
    warmup: int = 5
    lr: float = 0.02
    visibility_every: int = 10
    match_every: int = 5
    cell_px: float = 2.0
    depth_tol_m: float = 0.08
    optimise_shape: bool = False
    reference_height_px: float | None = 130.0
    flow_cells: int = 128
    net_lr: float = 3e-5

    def __post_init__(self) -> None:
        for name in ("w_keypoints", "w_silhouette", "w_motion", "w_smooth", "w_pose"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.iterations < 0 or self.n_points < 1 or self.visibility_every < 1 or self.match_every < 1:
            raise ValueError("iterations >= 0, n_points >= 1, visibility_every >= 1 and match_every >= 1 are required")


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
    import torch
    from simpose.adapt import losses as L

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


class CueTerms:
    """The loss of one track's adaptation as a function of its body parameters: the data terms
    (keypoints, silhouette, flow) and the priors of :func:`optimise_body`, with every cue prepared
    once (the shared part of the "params" and "weights" variants).

    Call it at step ``it`` with the body of the track's valid frames (``frames``): pose (T', 19, 3),
    glob (T', 3), trans (T', 3) and the shape logits (1, 6); it returns {term: weighted scalar}
    (keys ``kp``, ``sil``, ``flow``, ``smooth``, ``pose``; a term without its cue is absent).
    Visibility and the silhouette's partners are refreshed at the steps the config says (a
    selection, not differentiable).
    """

    def __init__(
        self, body: BodyModel, fit: BodyFit, K: np.ndarray, image_size: tuple[int, int], keypoints2d: np.ndarray | None,
        keypoint_confidence: np.ndarray | None, joint_set: str, masks, flows, config: OptimiseConfig,
    ) -> None:  # fmt: skip
        """Args as :func:`optimise_body` (``fit``: the start, with at least one valid frame).
        Raises:
            ValueError: cues of the wrong length or size."""
        import torch
        from simpose.adapt import losses as L
        from simpose.body.joints import get_joint_set
        from simpose.body.model import POSE_LIMITS_RAD

        T = len(fit.valid)
        W, H = image_size
        self.frames = frames = np.flatnonzero(fit.valid)
        if masks is not None and len(masks) != T:
            raise ValueError(f"masks must have {T} entries, got {len(masks)}")
        if flows is not None and len(flows) != T - 1:
            raise ValueError(f"flows must have {T - 1} entries, got {len(flows)}")
        if keypoints2d is not None:
            J = len(get_joint_set(joint_set))
            if np.shape(keypoints2d) != (T, J, 2):
                raise ValueError(f"keypoints2d must be ({T}, {J}, 2) for {joint_set!r}, got {np.shape(keypoints2d)}")
        bad = [np.shape(x) for x in (masks if masks is not None else []) if x is not None and np.shape(x) != (H, W)]
        if bad:
            raise ValueError(f"masks must be {(H, W)} (image_size {W}x{H}), got {bad[0]}")
        self.config, self.image_size = config, (W, H)
        dt = self.dtype = body.dtype
        self.Kt = torch.as_tensor(np.broadcast_to(np.asarray(K, np.float64), (T, 3, 3))[frames].copy(), dtype=dt)
        self.pose0 = torch.as_tensor(fit.pose_rotvecs[frames], dtype=dt)
        self.limits = torch.as_tensor(POSE_LIMITS_RAD, dtype=dt)
        self.sub = torch.as_tensor(np.linspace(0, body.num_vertices - 1, min(config.n_points, body.num_vertices)).round().astype(np.int64))
        self.posed, self.all_vertices = _posers(body, fit.shape_params, joint_set, self.sub, config.optimise_shape)
        s0 = torch.as_tensor(fit.shape_params, dtype=dt).clamp(1e-3, 1 - 1e-3)[None]
        self.shape_logit0 = torch.logit(s0)

        # the robust scales are given for a person reference_height_px tall: on a larger image the
        # same misfit is more pixels, and the data terms keep their balance with the priors
        with torch.no_grad():
            start = [torch.as_tensor(a[frames], dtype=dt) for a in (fit.pose_rotvecs, fit.global_rotvecs, fit.trans)]
            start_uv = L.project(self.all_vertices(*start, self.shape_logit0), self.Kt)  # (T', V, 2)
        height = float(torch.median(start_uv[..., 1].amax(1) - start_uv[..., 1].amin(1)))
        self.px = px = 1.0 if config.reference_height_px is None else max(height, 1.0) / config.reference_height_px
        # visibility cells about the spacing of the projected vertices (a few pixels per cell on any image)
        self.cell = config.cell_px * max(px, 1.0)

        self.use_kp = config.w_keypoints > 0 and keypoints2d is not None
        if self.use_kp:
            self.kp = torch.as_tensor(np.asarray(keypoints2d, np.float64)[frames], dtype=dt)
            conf = np.isfinite(keypoints2d).all(-1).astype(np.float64) if keypoint_confidence is None else np.asarray(keypoint_confidence, np.float64)
            self.kconf = torch.as_tensor(conf[frames], dtype=dt)
        self.use_sil = config.w_silhouette > 0 and masks is not None and any(m is not None for m in masks)
        if self.use_sil:
            self.mpts, self.mw = _pad_masks(masks, frames, config, dt)
        self.use_flow = False
        if config.w_motion > 0 and flows is not None:
            pairs, self.flow_t, self.origin, self.stride = _crop_flows(flows, frames, start_uv, (W, H), config.flow_cells)
            self.use_flow = len(pairs) > 0
            self.pair_i = torch.as_tensor(pairs)
        self.triples = torch.as_tensor(frames[2:] - frames[:-2] == 2)  # a gap in the track breaks the acceleration
        self.vis = self.matches = None

    def __call__(self, it: int, pose: torch.Tensor, glob: torch.Tensor, trans: torch.Tensor, shape_logit: torch.Tensor) -> dict:
        import torch
        from simpose.adapt import losses as L

        cfg, px = self.config, self.px
        if it % cfg.visibility_every == 0 and (self.use_sil or self.use_flow):
            with torch.no_grad():
                verts = self.all_vertices(pose, glob, trans, shape_logit)
                self.vis = L.splat_visibility(verts, self.Kt, self.image_size, self.cell, cfg.depth_tol_m)[:, self.sub].to(self.dtype)
                del verts
        joints_kp, joints_native, points = self.posed(pose, glob, trans, shape_logit)
        terms = {}
        if self.use_kp:
            terms["kp"] = cfg.w_keypoints * L.keypoint_loss(L.project(joints_kp, self.Kt), self.kp, self.kconf, cfg.keypoint_px * px)
        if self.use_sil or self.use_flow:
            p2 = L.project(points, self.Kt)
        if self.use_sil:
            if it % cfg.match_every == 0 or it % cfg.visibility_every == 0 or self.matches is None:
                self.matches = L.silhouette_matches(p2, self.vis, self.mpts, self.mw)
            terms["sil"] = cfg.w_silhouette * L.silhouette_chamfer_loss(p2, self.vis, self.mpts, self.mw, cfg.silhouette_px * px, self.matches)
        if self.use_flow:
            i = self.pair_i
            terms["flow"] = cfg.w_motion * L.flow_loss(p2[i], p2[i + 1], self.flow_t, self.vis[i], cfg.flow_px * px, self.origin, self.stride)
        terms["smooth"] = cfg.w_smooth * L.smoothness_loss(joints_native, cfg.smooth_m, self.triples)
        terms["pose"] = cfg.w_pose * L.pose_prior_loss(pose, self.pose0, self.limits, cfg.pose_sigma)
        return terms


HISTORY_TERMS = ("kp", "sil", "flow", "smooth", "pose")  # OptimiseResult.history's columns after the total


def history_row(terms: dict) -> list[float]:
    """One row of :attr:`OptimiseResult.history` from :class:`CueTerms`' output."""
    total = sum(terms.values())
    return [float(total.detach())] + [float(terms[k].detach()) if k in terms else 0.0 for k in HISTORY_TERMS]


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
    import torch
    from simpose.body.fit import BodyFit

    t0 = time.perf_counter()
    frames = np.flatnonzero(fit.valid)
    if len(frames) < MIN_FRAMES:
        logger.info("track of %d valid frames: too short to adapt (needs %d); kept as fitted", len(frames), MIN_FRAMES)
        return OptimiseResult(fit, np.zeros((0, 6)), 0.0, False)
    loss = CueTerms(body, fit, K, image_size, keypoints2d, keypoint_confidence, joint_set, masks, flows, config)
    dt = body.dtype
    pose = loss.pose0.clone().requires_grad_()
    glob = torch.as_tensor(fit.global_rotvecs[frames], dtype=dt).clone().requires_grad_()
    trans = torch.as_tensor(fit.trans[frames], dtype=dt).clone().requires_grad_()
    shape_logit = loss.shape_logit0.clone().requires_grad_(config.optimise_shape)
    groups = [{"params": [pose], "lr": config.lr}, {"params": [glob], "lr": config.lr}, {"params": [trans], "lr": 3 * config.lr}]
    if config.optimise_shape:
        groups.append({"params": [shape_logit], "lr": 3 * config.lr})
    opt = torch.optim.Adam(groups)
    history = np.zeros((config.iterations, 6))
    for it in range(config.iterations):
        terms = loss(it, pose, glob, trans, shape_logit)
        opt.zero_grad()
        sum(terms.values()).backward()
        if it < config.warmup:  # place the body before posing it: a wrong depth otherwise bends the pose and shape
            pose.grad = None
            shape_logit.grad = None
        opt.step()
        history[it] = history_row(terms)
    seconds = time.perf_counter() - t0

    new_fit = BodyFit(
        pose_rotvecs=put_frames(fit.pose_rotvecs, frames, pose),
        global_rotvecs=put_frames(fit.global_rotvecs, frames, glob),
        trans=put_frames(fit.trans, frames, trans),
        shape_params=torch.sigmoid(shape_logit)[0].detach().numpy().astype(np.float64),
        valid=fit.valid.copy(),
    )
    return OptimiseResult(new_fit, history, seconds, True)


def put_frames(src: np.ndarray, frames: np.ndarray, new: torch.Tensor) -> np.ndarray:
    """A float64 copy of ``src`` (T, ...) with rows ``frames`` replaced by ``new`` (T', ...)."""
    out = np.array(src, np.float64, copy=True)
    out[frames] = new.detach().numpy()
    return out


def _posers(body: BodyModel, shape_params: np.ndarray, joint_set: str, sub: torch.Tensor, optimise_shape: bool):
    """The two functions of (pose (T', 19, 3), glob (T', 3), trans (T', 3), shape_logit (1, 6)) the loop calls.

    ``posed`` -> the joints of ``joint_set`` (T', J, 3), the native joints (T', Ja, 3) and the
    sampled mesh points ``sub`` (T', N, 3), differentiable; ``all_vertices`` -> (T', V, 3), for
    visibility only. With the shape fixed both are :class:`~simpose.body.rig.JointRig` blends of
    the 20 rig bones (the points of ``sub`` and the regressors' vertices are all that is skinned,
    a few per cent of the full forward); with ``optimise_shape`` the body model's full forward.
    """
    import torch
    from simpose.body.fit import NATIVE
    from simpose.body.joints import get_joint_set
    from simpose.body.rig import JointRig

    if optimise_shape:

        def posed(pose, glob, trans, shape_logit):
            out = body(pose, torch.sigmoid(shape_logit), glob, trans)
            return body.regress(joint_set, out.vertices, out.bone_heads), out.joints, out.vertices[:, sub]

        def all_vertices(pose, glob, trans, shape_logit):
            return body(pose, torch.sigmoid(shape_logit), glob, trans).vertices

        return posed, all_vertices
    rig = JointRig.stacked([JointRig.build(body, shape_params, joint_set), JointRig.build(body, shape_params, NATIVE), JointRig.for_vertices(body, shape_params, sub)])
    cut = np.cumsum([len(get_joint_set(joint_set)), len(get_joint_set(NATIVE))])
    every = JointRig.for_vertices(body, shape_params, np.arange(body.num_vertices))

    def posed(pose, glob, trans, shape_logit):
        out = rig(pose, glob, trans)
        return out[:, : cut[0]], out[:, cut[0] : cut[1]], out[:, cut[1] :]

    def all_vertices(pose, glob, trans, shape_logit):
        return every(pose, glob, trans)

    return posed, all_vertices


def _crop_flows(flows, frames: np.ndarray, start_uv: torch.Tensor, image_size, cells: int):
    """The flow of each pair of consecutive kept frames that has one, cut to the person (the start
    body's projected box, padded) and subsampled to at most ``cells`` per side, so that a long
    track at full resolution stays small in memory. Reads each entry of ``flows`` once.

    Returns:
        pairs: indices i into ``frames`` of the pairs (i, i + 1); flow (P, h, w, 3) float32 image
        pixels and a finite flag (:func:`~simpose.adapt.losses.prepare_flow`; none outside a
        pair's crop); origin (P, 2) pixels; stride (P,) pixels per cell
        (:func:`~simpose.adapt.losses.flow_loss`).
    Raises:
        ValueError: a flow that is not (H, W, 2).
    """
    import torch
    from simpose.adapt import losses as L

    W, H = image_size
    pairs, crops, origins, strides = [], [], [], []
    for i in range(len(frames) - 1):
        if frames[i + 1] != frames[i] + 1:
            continue
        f = flows[frames[i]]
        if f is None:
            continue
        if np.shape(f) != (H, W, 2):
            raise ValueError(f"flows must be {(H, W, 2)} (image_size {W}x{H}), got {np.shape(f)}")
        uv = start_uv[i : i + 2].reshape(-1, 2).numpy()
        lo, hi = uv.min(0), uv.max(0)
        pad = 0.15 * (hi - lo).max()
        x0, y0 = (int(np.clip(np.floor(v - pad), 0, s - 1)) for v, s in zip(lo, (W, H)))
        x1, y1 = (int(np.clip(np.ceil(v + pad), 0, s - 1)) + 1 for v, s in zip(hi, (W, H)))
        step = max(1, int(np.ceil(max(x1 - x0, y1 - y0) / cells)))
        crops.append(np.array(np.asarray(f, np.float32)[y0:y1:step, x0:x1:step]))
        origins.append((x0, y0))
        strides.append(step)
        pairs.append(i)
    if not pairs:
        return [], None, None, None
    h, w = max(c.shape[0] for c in crops), max(c.shape[1] for c in crops)
    out = np.full((len(crops), h, w, 2), np.nan, np.float32)
    for k, c in enumerate(crops):
        out[k, : c.shape[0], : c.shape[1]] = c
    return pairs, L.prepare_flow(torch.as_tensor(out)), torch.as_tensor(np.array(origins, np.float64)), torch.as_tensor(np.array(strides, np.float64))
