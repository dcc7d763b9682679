"""Test-time fine-tuning of the lifter on a track's own cues (the "weights" variant, the paper's way).

The self-supervised motion-capture paper adapts the network, not the body: its losses on the
video are back-propagated into the network's weights, so every frame's pose stays a pose the
network can produce (its synthetic pretraining acts as the prior) while the cues pull it. Here
the whole path from the weights to the losses is differentiable:

    lifter copy (the track's 2D windows)                       Lifter.differentiable
    -> root-relative native joints (T, Ja, 3)
    -> the closed-form pose fit, the track's shape kept         simpose.body.fit.fit_pose_rotmats
    -> pose and orientation rotation vectors
    -> the posed joints and sampled mesh points (the shape's rig), + a per-frame translation
    -> the losses of the "params" variant (keypoints, silhouette, flow, priors)   CueTerms

The translation is not the network's (it predicts root-relative 3D): each valid frame's
translation is a parameter optimised jointly, starting from the Estimator's placement (the
body the adaptation starts from). Adam moves the network's weights at ``net_lr`` and the
translations at ``lr``, the first ``warmup`` steps the translations only. Those two step sizes
were chosen on synthetic clips of seed 99 (``benchmarks/adapt_synthetic.py --estimator --seed 99
--clips 2 --set net_lr=...``; docs/results/adapt_synthetic): larger network steps (1e-4 and up)
turn the poses away from the start faster than the cues can steer them. BatchNorm keeps its training statistics and dropout is off (``eval()``),
as in :mod:`simpose.adapt.selftrain`. The result is the last step's body: the adapted
network's output on the track, placed by the optimised translations.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import TYPE_CHECKING

import numpy as np

from simpose.adapt.optimise import MIN_FRAMES, CueTerms, OptimiseConfig, OptimiseResult, history_row, put_frames

if TYPE_CHECKING:
    from simpose.body.fit import BodyFit
    from simpose.body.model import BodyModel
    from simpose.models.lifter import Lifter

__all__ = ["adapt_network"]

logger = logging.getLogger(__name__)


def adapt_network(
    body: BodyModel,
    lifter: Lifter,
    lifter_2d: tuple[np.ndarray, np.ndarray, str],
    fps: float,
    fit: BodyFit,
    K: np.ndarray,
    image_size: tuple[int, int],
    keypoints2d: np.ndarray | None,
    keypoint_confidence: np.ndarray | None,
    joint_set: str,
    masks: list | None = None,
    flows: list | None = None,
    config: OptimiseConfig = OptimiseConfig(),
    camera=None,
) -> tuple[OptimiseResult, Lifter]:
    """Fine-tune a copy of ``lifter`` on one track's cues through the body fit; the track's body from it.

    Args:
        body: the body model.
        lifter: the network that lifted the track (not modified).
        lifter_2d: ``(x (T, J_in, 2) pixels, confidence (T, J_in), joint_set)``: the 2D the lifter
            takes, every frame finite (:func:`simpose.track.inputs.lifter_inputs` fills the gaps).
        fps: the track's frame rate.
        fit: the start (the Estimator's body, camera frame): its shape is kept, its translation
            starts the per-frame translations, its pose is the pose prior's centre.
        K, image_size, keypoints2d, keypoint_confidence, joint_set, masks, flows, config: as
            :func:`simpose.adapt.optimise.optimise_body` (``config.net_lr``: the network's step size).
        camera: the lifter's camera (K or a :class:`~simpose.camera.Camera`); None: ``K``.
    Returns:
        (:class:`OptimiseResult` with the adapted body, the adapted lifter). A track with fewer
        than ``MIN_FRAMES`` valid frames: ``fit`` unchanged, ``adapted=False``, ``lifter`` itself.
    """
    import roma
    import torch

    from simpose.body.fit import BodyFit, fit_pose_rotmats, reference_joints
    from simpose.models.lifter import Lifter

    t0 = time.perf_counter()
    frames = np.flatnonzero(fit.valid)
    if len(frames) < MIN_FRAMES:
        logger.info("track of %d valid frames: too short to adapt (needs %d); kept as fitted", len(frames), MIN_FRAMES)
        return OptimiseResult(fit, np.zeros((0, 6)), 0.0, False), lifter
    loss = CueTerms(body, fit, K, image_size, keypoints2d, keypoint_confidence, joint_set, masks, flows, config)
    adapted = Lifter(copy.deepcopy(lifter.net), lifter.card, lifter.flip, lifter.contract)
    adapted.net.eval()  # BatchNorm keeps its training statistics; no dropout
    x, c, set_in = lifter_2d
    lift = adapted.differentiable(x, set_in, c, K if camera is None else camera, "anny", fps)
    dt = body.dtype
    ref = torch.as_tensor(reference_joints(body, fit.shape_params), dtype=dt)
    idx = torch.as_tensor(frames)
    trans = torch.as_tensor(fit.trans[frames], dtype=dt).clone().requires_grad_()
    opt = torch.optim.Adam([{"params": list(adapted.net.parameters()), "lr": config.net_lr}, {"params": [trans], "lr": config.lr}])

    def body_params():
        G_root, local = fit_pose_rotmats(body, lift()[idx].to(dt), ref)
        return roma.rotmat_to_rotvec(local), roma.rotmat_to_rotvec(G_root)

    history = np.zeros((config.iterations, 6))
    for it in range(config.iterations):
        pose, glob = body_params()
        terms = loss(it, pose, glob, trans, loss.shape_logit0)
        opt.zero_grad()
        sum(terms.values()).backward()
        if it < config.warmup:  # place the body before the network moves: a wrong depth otherwise bends the poses
            for p in adapted.net.parameters():
                p.grad = None
        opt.step()
        history[it] = history_row(terms)
    with torch.no_grad():
        pose, glob = body_params()
    new_fit = BodyFit(
        pose_rotvecs=put_frames(fit.pose_rotvecs, frames, pose),
        global_rotvecs=put_frames(fit.global_rotvecs, frames, glob),
        trans=put_frames(fit.trans, frames, trans),
        shape_params=np.array(fit.shape_params, np.float64),
        valid=fit.valid.copy(),
    )
    return OptimiseResult(new_fit, history, time.perf_counter() - t0, True), adapted
