"""Pseudo-label adaptation of the lifter to one video: it learns from its own refined 3D.

The refinement (:mod:`simpose.adapt.refine`) makes a lifted track one skeleton on its 2D rays;
the lifter it started from learns nothing from that. Here it does: a copy of
the network is fine-tuned on the video's own 2D, with the refined 3D as its targets, and then
lifts the video again, and the refinement runs again from that better start. What the network
learns on the frames where the rays and the bone lengths pin the 3D down (a limb seen
foreshortened, a clear turn) it carries to the frames where they do not, and what it learns
about this video's camera, body and way of moving it applies to all of them. No ground truth
is used, only the video's 2D (test-time training by self-labelling, in the spirit of
Yarowsky's self-training and of the test-time adaptation of Sun et al., ICML 2020).

The fine-tuning keeps the network's BatchNorm statistics and drops dropout (the video's single
long batch would replace statistics learned from millions of windows), trains both the input
and its mirror (the lifter averages the two at test time, so both must move), and starts
every round from the previous round's network. The rounds themselves (lift, refine, fit the body,
fine-tune, lift again) are :class:`simpose.Estimator`'s (``self_train=True``).

The settings are a first choice, tuned on nothing: a small step size (a tenth of training's
peak), few steps, two rounds. On synthetic sequences (``benchmarks/refine_synthetic.py
--self-train``, with a lifter trained without the motion families it is scored on) the
adaptation neither helps nor hurts much, so they could not be chosen there; the numbers on
real data are in the README and the lifter's card, measured once with these settings.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch and the lifter are imported in fine_tune: SelfTrainConfig is on `simpose run`'s import path (simpose.geometry says why)
    from simpose.models.lifter import Lifter

__all__ = ["SelfTrainConfig", "fine_tune"]


@dataclasses.dataclass(frozen=True)
class SelfTrainConfig:
    """Settings of the adaptation.

    Attributes:
        rounds: lift -> refine -> fine-tune cycles before the final lift and refinement.
        steps: Adam steps per round, each over the whole video (or a ``max_frames`` crop).
        lr: Adam's step size.
        max_frames: longest stretch of video one step trains on (memory: the backward pass
            holds every layer's activations of every frame).
    """

    rounds: int = 2
    steps: int = 20
    lr: float = 1e-4
    max_frames: int = 4096


def fine_tune(
    lifter: Lifter,
    joints2d: np.ndarray,
    targets: dict[str, np.ndarray],
    confidence: np.ndarray | None = None,
    camera=None,
    joint_set: str = "h36m17",
    steps: int = 20,
    lr: float = 1e-4,
    max_frames: int = 4096,
    seed: int = 0,
    fps: float | None = None,
) -> Lifter:
    """A copy of ``lifter`` fine-tuned to give ``targets`` for this sequence's 2D.

    Args:
        lifter: the network to start from (not modified).
        joints2d: (T, J, 2) pixels in ``joint_set``, as :meth:`Lifter.predict` takes them.
        targets: {output set: (T, J_set, 3)} metres, camera axes (made root-relative here);
            frames with any non-finite target do not count.
        confidence: (T, J) or None. camera: as for :meth:`Lifter.predict`.
        steps, lr: Adam steps and step size. max_frames: longest crop one step trains on.
        seed: picks the crops of sequences longer than ``max_frames``.
        fps: the sequence's frame rate: at another rate than the lifter's it trains on the
            sequence (and its targets) resampled to that rate, as :meth:`Lifter.predict` lifts
            it; None: taken as at that rate.
    Returns:
        The adapted :class:`Lifter` (its own network; BatchNorm statistics unchanged).
    """
    import torch

    from simpose.models.lifter import Lifter
    from simpose.models.lifter_input import HEAD_CENTRE, mirror_input, mirror_output, output_roots, output_slices, resample_frames

    adapted = Lifter(copy.deepcopy(lifter.net), lifter.card, lifter.flip, lifter.contract)
    x, conf = adapted._inputs(joints2d, joint_set, confidence)
    T0 = len(x)
    if T0 == 0 or steps <= 0:
        return adapted
    x, conf, camera, resampled = adapted.at_training_rate(x, conf, camera, fps)
    T = len(x)
    padded, R = adapted.offline_input(x, conf, camera)
    padded = torch.from_numpy(padded)
    RF = adapted.receptive_field
    inputs = torch.stack([padded, mirror_input(padded.view(len(padded), -1, 3), adapted.input_set).view(len(padded), -1)])  # (2, T + RF - 1, 3 J)
    slices = output_slices()
    goal, mask = [], []
    for name, y in targets.items():
        y = np.asarray(y, np.float64)
        if y.shape != (T0, slices[name].stop - slices[name].start, 3):
            raise ValueError(f"targets[{name!r}] must be ({T0}, {slices[name].stop - slices[name].start}, 3), got {y.shape}")
        if resampled:
            y = resample_frames(y, fps, adapted.fps)
        if R is not None:  # into the virtual cameras the network predicts in
            y = np.einsum("tij,tkj->tki", R, y)
        goal.append((name, torch.from_numpy(np.nan_to_num(y).astype(np.float32))))
        mask.append(np.isfinite(y).all((1, 2)))
    use = torch.from_numpy(np.logical_and.reduce(mask))
    if not bool(use.any()):
        return adapted
    net = adapted.net
    net.eval()  # BatchNorm keeps its training statistics; no dropout
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    roots = output_roots()
    for _ in range(steps):
        start = int(rng.integers(0, T - max_frames + 1)) if T > max_frames else 0
        n = min(T, max_frames)
        out = net(inputs[:, start : start + n + RF - 1])[:, :, HEAD_CENTRE]  # (2, n, J_all, 3)
        out = torch.stack([out[0], mirror_output(out[1])])  # the mirror's output mirrored back
        keep = use[start : start + n]
        loss = out.new_zeros(())
        for name, y in goal:
            s, root = slices[name], roots[name]
            pred = out[:, keep, s] - out[:, keep, s][:, :, root : root + 1]
            tgt = y[start : start + n][keep]
            tgt = tgt - tgt[:, root : root + 1]
            loss = loss + torch.linalg.norm(pred - tgt, dim=-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return adapted
