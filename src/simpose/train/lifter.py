"""Train the temporal 2D-to-3D lifter on synthetic humans only.

    python -m simpose.train.lifter --out DIR [--steps N] [--seed K] [--cache DIR] [--resume] [--config FILE] [--detector-cache DIR]

Without ``--config`` it runs :data:`SHIPPED_RECIPE`, the two runs that make the shipped weights
(:func:`train_stages`); ``--config`` runs one :class:`TrainConfig`.

The joint cache (:func:`simpose.train.lifter_data.build_joint_cache`) is built first where it is
missing or incomplete (``DIR/joint_cache`` unless ``--cache``); then Adam minimises the MPJPE of
the centre-frame head plus ``causal_weight`` times the MPJPE of the causal (last-frame) head, on
windows drawn on the fly (random camera, projection, detector noise). Every
``checkpoint_every`` steps ``DIR/checkpoint.pt`` is replaced atomically; ``--resume`` continues
from it (the data stream is re-seeded from ``(seed, step)`` so a resumed run draws the same
batches as an uninterrupted one would from that step). The resolved config is saved as
``DIR/config.json``; the final weights as ``DIR/lifter.pt`` with their card ``DIR/lifter.json``
(the files that ship in ``simpose/models/weights/``).

Under ``torchrun --nproc_per_node N -m simpose.train.lifter ...`` the N processes share every
batch and make the one-process run up to float summation order (:mod:`simpose.train.distributed`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from simpose._files import atomic_open
from simpose.models.lifter_input import OUTPUT_SETS, SCALE_FRAMES, output_slices
from simpose.models.lifter_net import TemporalLifterNet
from simpose.models.noise import NoiseConfig
from simpose.train.lifter_data import (
    Batch,
    CacheConfig,
    CameraConfig,
    SamplerConfig,
    WindowSampler,
    build_joint_cache,
    cache_sets,
    load_joint_cache,
)

logger = logging.getLogger(__name__)

__all__ = ["TrainConfig", "SHIPPED_RECIPE", "train", "train_stages", "mpjpe_loss", "save_weights", "main"]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (saved as ``config.json`` next to the checkpoints).

    Attributes:
        steps: optimiser steps. seed: the data stream and the initial weights.
        lr: peak Adam learning rate (linear warm-up over ``warmup`` steps, cosine decay to
            ``lr * final_lr_fraction`` at step ``schedule_steps``, None: ``steps``).
        schedule_steps: length of the cosine (None: ``steps``).
        anneal_steps: over the last this many steps the rate falls linearly from the cosine's
            value to the floor (0: none). With ``schedule_steps`` this ends a run before its
            cosine does, yet annealed, while every earlier step keeps the cosine's rate (so a run
            whose length had to be cut to the time available stays reproducible).
        causal_weight: weight of the causal head's loss.
        bone_weight: weight of a bone-length consistency term (0: off).
        channels, filter_widths, dropout: the network (:class:`TemporalLifterNet`).
        checkpoint_every: steps between checkpoints. log_every: steps between log lines.
        workers: background processes drawing batches (0: in the training process).
        hold_out: joint-cache part-name prefixes kept out of training (``load_joint_cache``'s
            ``exclude``); the validation windows are drawn from them instead, so the validation
            measures motion the network never saw (empty: train on everything and validate on
            the training motions, as the shipped weights do).
        init: a weights file (:func:`save_weights`' ``lifter.pt``) whose network starts the run
            (fine-tuning; its net config must equal this one's, except that an ``h36m17`` lifter
            may start a ``blazepose33`` one: :func:`map_input_layer`); None: random initial weights.
        detector_cache: a detector cache folder (:mod:`simpose.synth.detcache`) whose windows
            (:class:`~simpose.train.lifter_detcache.DetectorWindowSampler`) make up
            ``detector_fraction`` of every batch; the rest comes from the joint cache. Only for a
            ``blazepose33`` input set (the detector's own keypoints).
        detector_fraction: share of detector-cache windows per batch (1: the joint cache is not used).
        detector: the detector version the cache must come from (``detector_version``, e.g.
            ``mediapipe-0.10.14/blazepose33/complexity1/tracking/smooth``; a cache from another
            is an error); None: the cache's own. The card records it (``input.detector``).
        detector_hold_out: detector-cache clips whose index is a multiple of this are held out
            (the validation windows come from them; 0: none held out).
        cache: the joint cache's config. sampler, camera, noise: how windows are drawn.
    """

    steps: int = 9000
    seed: int = 0
    lr: float = 1e-3
    warmup: int = 200
    final_lr_fraction: float = 0.02
    schedule_steps: int | None = None
    anneal_steps: int = 800
    causal_weight: float = 0.5
    bone_weight: float = 0.0
    channels: int = 512
    filter_widths: tuple[int, ...] = (3, 3, 3)
    dropout: float = 0.1
    checkpoint_every: int = 200
    log_every: int = 25
    workers: int = 1
    hold_out: tuple[str, ...] = ()
    init: str | None = None
    detector_cache: str | None = None
    detector_fraction: float = 0.0
    detector: str | None = None
    detector_hold_out: int = 10
    cache: CacheConfig = CacheConfig()
    sampler: SamplerConfig = SamplerConfig()
    camera: CameraConfig = CameraConfig()
    noise: NoiseConfig = NoiseConfig()

    def net_config(self) -> dict:
        n_out = sum(s.stop - s.start for s in output_slices().values())
        from simpose.body.joints import get_joint_set

        return dict(
            in_joints=len(get_joint_set(self.sampler.input_set)),
            out_joints=n_out,
            filter_widths=tuple(self.filter_widths),
            channels=self.channels,
            dropout=self.dropout,
            heads=2,
        )


# The shipped weights: 9000 steps on the body model's own proportions, then 3000 steps more with
# every body at the cache's median proportions (SamplerConfig.median_proportions). The second run
# is a fine-tune because that is how the fix was found and measured (card: the attribution
# control). From scratch with median_proportions: 9000 steps were a little worse on synthetic
# windows (57.1 vs 56.4 mm); 12000 steps, as many as here, a little better (55.6 mm) and within
# 1 mm on Human3.6M (GT 2D 80.4 / 56.4 vs 79.2 / 56.6, refined 69.8 / 47.8 vs 68.9 / 48.1). One
# run would do, but these weights stay: switching gains nothing and every row would need
# measuring again (about 3 h).
SHIPPED_RECIPE: tuple[TrainConfig, ...] = (
    TrainConfig(),
    TrainConfig(steps=3000, lr=3e-4, warmup=100, anneal_steps=300, sampler=SamplerConfig(median_proportions=True)),
)


def _from_dict(cls, data: dict):
    """A (nested) frozen config dataclass from a plain dict; lists become tuples."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            raise ValueError(f"unknown {cls.__name__} field {key!r}")
        default = getattr(cls(), key) if key in fields else None
        if dataclasses.is_dataclass(default):
            value = _from_dict(type(default), value)
        elif isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        kwargs[key] = value
    return cls(**kwargs)


def mpjpe_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean joint error; pred, target: (..., J, 3) metres -> scalar metres."""
    return (pred - target).norm(dim=-1).mean()


def _bone_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    from simpose.body.joints import get_joint_set

    losses = []
    for name, sl in output_slices().items():
        js = get_joint_set(name)
        child = torch.tensor([j for j, p in enumerate(js.parents) if p >= 0])
        parent = torch.tensor([p for p in js.parents if p >= 0])
        p, t = pred[..., sl, :], target[..., sl, :]
        lp = (p[..., child, :] - p[..., parent, :]).norm(dim=-1)
        lt = (t[..., child, :] - t[..., parent, :]).norm(dim=-1)
        losses.append((lp - lt).abs().mean())
    return torch.stack(losses).mean()


def _save_atomic(obj, path: Path) -> None:
    with atomic_open(path) as f:
        torch.save(obj, f)


class _MixedSampler:
    """Batches of joint-cache windows and detector-cache windows, a fixed number of each."""

    def __init__(self, joints: WindowSampler | None, detector, n_detector: int) -> None:
        self.joints, self.detector, self.n_detector = joints, detector, n_detector

    def sample(self, rng: np.random.Generator) -> Batch:
        parts = [] if self.joints is None else [self.joints.sample(rng)]
        if self.n_detector:
            x, y = self.detector.sample(rng, self.n_detector)
            parts.append(Batch(x, y))
        return Batch(np.concatenate([b.features for b in parts]), np.concatenate([b.targets for b in parts]))


def map_input_layer(state: dict, input_set: str, size_ratio: float) -> dict:
    """An ``h36m17`` lifter's weights made to read ``input_set`` (``blazepose33``) 2D: a start for fine-tuning.

    The network's first layer reads x, y, confidence per h36m17 joint. BlazePose's landmarks map
    onto the h36m17 points by the synthetic-trained affine map of
    :mod:`simpose.models.keypoint_map` (rows sum to 1), so the centred h36m17 coordinates are
    linear in the centred landmarks (``D = W - W[pelvis]``) and the first layer composes with it:
    ``w_new[:, b] = size_ratio * sum_h w[:, h] D[h, b]`` for x and y, and the confidences through
    the map's ``|W|`` rows normalised. ``size_ratio``: the landmarks' 2D size over the h36m17
    points' (each set is divided by its own, :func:`~simpose.models.lifter_input.frame_sizes`).
    The new network starts where the old one with the map was; training then learns the rest.
    """
    from simpose.body.joints import get_joint_set
    from simpose.models.keypoint_map import load_map

    if input_set != "blazepose33":
        raise ValueError(f"map_input_layer maps h36m17 weights to blazepose33, not {input_set!r}")
    W = load_map()  # (17, 33)
    D = W - W[get_joint_set("h36m17").index("pelvis")][None]
    A = np.abs(W) / np.abs(W).sum(1, keepdims=True)
    w = state["expand.weight"].double()  # (C, 3 * 17, k)
    C, _, k = w.shape
    w = w.view(C, 17, 3, k)
    new = torch.zeros(C, W.shape[1], 3, k, dtype=torch.float64)
    Dt, At = torch.from_numpy(D), torch.from_numpy(A)
    new[:, :, :2] = size_ratio * torch.einsum("chdk,hb->cbdk", w[:, :, :2], Dt)
    new[:, :, 2] = torch.einsum("chk,hb->cbk", w[:, :, 2], At)
    return {**state, "expand.weight": new.reshape(C, 3 * W.shape[1], k).float()}


def _size_ratio(h: np.ndarray, b: np.ndarray, input_set: str) -> float:
    """The median ratio of ``input_set``'s 2D size to h36m17's: (N, 17, 2) and (N, J, 2) points of the same bodies."""
    from simpose.models.lifter_input import centre_weights, frame_sizes

    sh = frame_sizes(h - np.einsum("sjd,j->sd", h, centre_weights("h36m17"))[:, None], np.ones(h.shape[:2]), "h36m17")
    sb = frame_sizes(b - np.einsum("sjd,j->sd", b, centre_weights(input_set))[:, None], np.ones(b.shape[:2]), input_set)
    return float(np.median(sb / sh))


class _Stream(torch.utils.data.IterableDataset):
    def __init__(self, sampler: WindowSampler, seed: int, start_step: int) -> None:
        self.sampler, self.seed, self.start_step = sampler, seed, start_step

    def __iter__(self):
        torch.set_num_threads(1)
        rng = np.random.default_rng([self.seed, self.start_step])
        while True:
            b = self.sampler.sample(rng)
            yield torch.from_numpy(b.features), torch.from_numpy(b.targets)


def _batches(sampler: WindowSampler, seed: int, start_step: int, workers: int):
    stream = _Stream(sampler, seed, start_step)
    if workers <= 0:
        return iter(stream)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=1, prefetch_factor=4, persistent_workers=False)
    return iter(loader)


class _WindowsForward(torch.nn.Module):
    """The network's training path (``forward_windows``) as ``forward``, the call DDP wraps."""

    def __init__(self, net: TemporalLifterNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net.forward_windows(features)


def _rank_seed(seed: int, step: int, rank: int) -> int:
    """The dropout seed of ``rank`` > 0 from ``step`` on: its own masks (rank 0 keeps the one-process seed)."""
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(1)[0])


def _lr(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    floor = cfg.final_lr_fraction
    length = cfg.schedule_steps or cfg.steps

    def cosine(s: int) -> float:
        frac = (s - cfg.warmup) / max(1, length - cfg.warmup)
        return cfg.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))

    start = cfg.steps - cfg.anneal_steps
    if cfg.anneal_steps > 0 and step >= start:  # linear from the cosine's value down to the floor
        a = (step - start) / cfg.anneal_steps
        return (1 - a) * cosine(start) + a * cfg.lr * floor
    return cosine(step)


def save_weights(net: TemporalLifterNet, cfg: TrainConfig, path: Path, card: dict) -> None:
    """Write ``path`` (``{"net_config", "state_dict"}``, loadable with ``weights_only=True``) and its JSON card."""
    path = Path(path)
    blob = {"net_config": {**cfg.net_config(), "filter_widths": list(cfg.filter_widths)}, "state_dict": net.state_dict()}
    _save_atomic(blob, path)
    path.with_suffix(".json").write_text(json.dumps(card, indent=1))


def _validation(sampler: WindowSampler, seed: int, n: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    rng = np.random.default_rng([seed, 999_999])
    out = []
    for _ in range(n):
        b = sampler.sample(rng)
        out.append((torch.from_numpy(b.features), torch.from_numpy(b.targets)))
    return out


def _detector_validation(sampler, seed: int, batch_size: int, n: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    rng = np.random.default_rng([seed, 999_998])
    return [tuple(torch.from_numpy(a) for a in sampler.sample(rng, batch_size)) for _ in range(n)]


def _metrics(net, val, val_det) -> dict[str, float]:
    """Validation on joint-cache windows (``val_*``) and held-out detector-cache windows (``detector_val_*``)."""
    out = _evaluate(net, val) if val is not None else {}
    if val_det is not None:
        out.update({f"detector_{k}": v for k, v in _evaluate(net, val_det).items()})
    return out


@torch.no_grad()
def _evaluate(net: TemporalLifterNet, batches) -> dict[str, float]:
    net.eval()
    sl = output_slices()[OUTPUT_SETS[0]]
    errs = {"val_mpjpe_mm": [], "val_causal_mpjpe_mm": []}
    for x, y in batches:
        p = net.forward_windows(x)
        errs["val_mpjpe_mm"].append(float(mpjpe_loss(p[:, 0, sl], y[:, 0, sl])) * 1000)
        errs["val_causal_mpjpe_mm"].append(float(mpjpe_loss(p[:, 1, sl], y[:, 1, sl])) * 1000)
    net.train()
    return {k: float(np.mean(v)) for k, v in errs.items()}


def train(
    out: str | Path,
    cfg: TrainConfig = TrainConfig(),
    cache_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    command: str | None = None,
    stop_after: int | None = None,
    card_extra: dict | None = None,
) -> Path | None:
    """Build the cache if needed, train, write checkpoints and the final weights.

    Args:
        out: run folder (checkpoints, config.json, log.jsonl, lifter.pt, lifter.json).
        cfg: the run's config. cache_dir: joint cache folder (default ``out/joint_cache``).
        resume: continue from ``out/checkpoint.pt``.
        progress: show a rich progress bar.
        command: the command line that started the run (recorded in the card).
        stop_after: stop after this many steps of this call, at a checkpoint, as an interruption
            would (the run continues with ``resume=True``); None: run to ``cfg.steps``.
        card_extra: more top-level entries for the weights' card (:func:`train_stages`' earlier stages).
    Returns:
        The final weights' path, or None when stopped early.
    """
    from simpose.train import distributed

    ranks = distributed.setup()  # under torchrun: this process's share of the run (module docstring)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(cache_dir) if cache_dir is not None else out / "joint_cache"
    distributed.check_batch(cfg.sampler.batch_size, ranks)
    if ranks.main:
        (out / "config.json").write_text(json.dumps({**dataclasses.asdict(cfg), "cache_dir": str(cache_dir)}, indent=1))
    progress = progress and ranks.main
    t0 = time.time()
    input_set = cfg.sampler.input_set
    sampler_cfg = dataclasses.replace(cfg.sampler, receptive_field=math.prod(cfg.filter_widths))
    B = sampler_cfg.batch_size
    n_det = int(round(cfg.detector_fraction * B)) if cfg.detector_cache else 0
    if cfg.detector_fraction > 0 and not cfg.detector_cache:
        raise ValueError("detector_fraction > 0 needs a detector_cache")
    if cfg.detector_cache and input_set != "blazepose33":
        raise ValueError(f"the detector cache holds BlazePose-33 keypoints: train it with sampler.input_set 'blazepose33', not {input_set!r}")
    cache = sampler = val_sampler = None
    cache_s = 0.0
    if n_det < B:  # the joint cache's windows
        if ranks.main:  # the others wait for it, then read it
            build_joint_cache(cache_dir, cfg.cache, progress=progress)
        distributed.barrier(ranks)
        cache_s = time.time() - t0
        sets = cache_sets(cfg.cache)
        cache = load_joint_cache(cache_dir, exclude=cfg.hold_out, sets=sets)
        logger.info("joint cache: %d frames, %d segments (%.0f s)", len(cache.joints), len(cache.segments), cache_s)
    if n_det < B:
        sampler = WindowSampler(cache, dataclasses.replace(sampler_cfg, batch_size=B - n_det), cfg.camera, cfg.noise)
        val_sampler = WindowSampler(cache, sampler_cfg, cfg.camera, cfg.noise)
        if cfg.hold_out:
            held_out = load_joint_cache(cache_dir, only=cfg.hold_out, sets=sets)
            val_sampler = WindowSampler(held_out, sampler_cfg, cfg.camera, cfg.noise)
            logger.info("held out for validation: %d frames, %d segments", len(held_out.joints), len(held_out.segments))
    det_sampler = det_val = None
    det_info = {}
    if cfg.detector_cache:
        from simpose.synth.detcache import DetectorCache
        from simpose.train.lifter_detcache import DetectorWindowSampler, load_detector_frames, split_clips

        det = DetectorCache(cfg.detector_cache, detector=cfg.detector)  # another detector's cache: DetectorCacheError
        train_files, held_files = split_clips(det.files, cfg.detector_hold_out)
        kw = dict(receptive_field=sampler_cfg.receptive_field, rate=cfg.cache.fps, speed=sampler_cfg.speed,
                  mirror_prob=sampler_cfg.mirror_prob, scale_frames=sampler_cfg.scale_frames, pelvis_view=sampler_cfg.pelvis_view)  # fmt: skip
        train_frames = load_detector_frames(det.folder, train_files)
        det_sampler = DetectorWindowSampler(train_frames, **kw)
        if held_files:
            det_val = DetectorWindowSampler(load_detector_frames(det.folder, held_files), **kw)
        det_info = {
            "folder": str(cfg.detector_cache), "detector": det.manifest.get("detector_version"),
            "training_clips": len(train_files), "training_frames": int(train_frames.num_frames),
            "training_frames_with_person": int((train_frames.person >= 0).sum()), "held_out_clips": len(held_files),
        }  # fmt: skip
        logger.info("detector cache: %s", det_info)
    batch_sampler = _MixedSampler(sampler, det_sampler, n_det)

    torch.manual_seed(cfg.seed)
    net = TemporalLifterNet(**cfg.net_config())
    if cfg.init is not None:
        blob = torch.load(cfg.init, map_location="cpu", weights_only=True)
        want = {**cfg.net_config(), "filter_widths": list(cfg.filter_widths)}
        state = blob["state_dict"]
        if blob["net_config"] != want and {**blob["net_config"], "in_joints": want["in_joints"]} == want and blob["net_config"]["in_joints"] == 17:
            if cache is not None:  # front views of the joint cache's bodies
                first = cache.joints[cache.segments[:, 0]][..., :2]
                pair = first[:, cache.set_slice("h36m17")], first[:, cache.set_slice(input_set)]
            else:  # the detector cache's true 2D of the people found
                from simpose.synth.detcache import read_detector_clip

                clips = [read_detector_clip(f) for f in train_files[:50]]
                pair = tuple(np.concatenate([c.found_person(s)[0] for c in clips]) for s in ("h36m17", input_set))
                seen = np.isfinite(pair[0]).all((1, 2)) & np.isfinite(pair[1]).all((1, 2))
                pair = pair[0][seen], pair[1][seen]
            ratio = _size_ratio(*pair, input_set)
            logger.info("init %s: h36m17 input layer mapped to %s (2D size ratio %.3f)", cfg.init, input_set, ratio)
            state = map_input_layer(state, input_set, ratio)
        elif blob["net_config"] != want:  # save_weights stores filter_widths as a list, as here
            raise ValueError(f"init {cfg.init}: net config {blob['net_config']} differs from this run's {want}")
        net.load_state_dict(state)
    forward = net.forward_windows
    if ranks.distributed:
        from torch.nn.parallel import DistributedDataParallel

        distributed.use_global_batch_norms(net)
        # DDP wraps forward(); the windows path is forward_windows. broadcast_buffers off: the
        # batch-norm statistics are global, so every rank's buffers are the same already.
        forward = DistributedDataParallel(_WindowsForward(net), broadcast_buffers=False)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    step, elapsed = 0, 0.0
    ckpt = out / "checkpoint.pt"
    if resume and ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, elapsed = int(state["step"]), float(state.get("elapsed_s", 0.0))
        logger.info("resumed from %s at step %d", ckpt, step)
    val = _validation(val_sampler, cfg.seed) if val_sampler is not None and ranks.main else None
    val_det = _detector_validation(det_val, cfg.seed, B) if det_val is not None and ranks.main else None
    net.train()
    log = (out / "log.jsonl").open("a") if ranks.main else None
    batches = None
    slices = output_slices()

    def checkpoint(s: int, t: float) -> None:
        if ranks.main:
            _save_atomic({"model": net.state_dict(), "optimizer": opt.state_dict(), "step": s, "elapsed_s": t}, ckpt)

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [TextColumn("lifter"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn()]
    t_start = time.time() - elapsed
    running = []
    first_step = step
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("train", total=cfg.steps, completed=step, info="")
        while step < cfg.steps:
            if batches is None or step % cfg.checkpoint_every == 0:
                # Re-seed the data stream and dropout at every checkpoint step: a resumed run
                # continues exactly as the uninterrupted one would.
                batches = _batches(batch_sampler, cfg.seed, step, cfg.workers)
                torch.manual_seed(cfg.seed * 1_000_003 + step if ranks.rank == 0 else _rank_seed(cfg.seed, step, ranks.rank))
            x, y = next(batches)
            if ranks.distributed:  # the global batch, this rank's share
                x, y = distributed.shard(x, ranks), distributed.shard(y, ranks)
            for g in opt.param_groups:
                g["lr"] = _lr(cfg, step)
            pred = forward(x)
            loss = mpjpe_loss(pred[:, 0], y[:, 0]) + cfg.causal_weight * mpjpe_loss(pred[:, 1], y[:, 1])
            if cfg.bone_weight > 0:
                loss = loss + cfg.bone_weight * _bone_loss(pred[:, 0], y[:, 0])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            running.append(float(mpjpe_loss(pred[:, 0, slices[OUTPUT_SETS[0]]].detach(), y[:, 0, slices[OUTPUT_SETS[0]]])) * 1000)
            if step % cfg.log_every == 0 or step == cfg.steps:
                train_mm = distributed.mean_over_ranks(float(np.mean(running)), ranks)
                entry = {"step": step, "train_mpjpe_mm": train_mm, "lr": _lr(cfg, step - 1), "elapsed_s": time.time() - t_start}
                running = []
                if ranks.main:
                    if step % (cfg.log_every * 4) == 0 or step == cfg.steps:
                        entry.update(_metrics(net, val, val_det))
                    log.write(json.dumps(entry) + "\n")
                    log.flush()
                bar.update(task, info=f"train {entry['train_mpjpe_mm']:.1f} mm")
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                checkpoint(step, time.time() - t_start)
                if stop_after is not None and step - first_step >= stop_after and step < cfg.steps:
                    if log is not None:
                        log.close()
                    distributed.barrier(ranks)  # the checkpoint is on disk for every rank
                    logger.info("stopped at step %d (resume with --resume)", step)
                    return None
            bar.update(task, completed=step)
    train_s = time.time() - t_start
    net.eval()
    path = out / "lifter.pt"
    if not ranks.main:
        distributed.barrier(ranks)  # rank 0 writes the weights
        return path
    log.close()
    metrics = _metrics(net, val, val_det)
    card = {
        "model": "simpose-lifter",
        "input": {
            "joint_set": cfg.sampler.input_set,
            "features": "per joint: x, y, confidence",
            "normalisation": "(u - c) / f with K when given (pixels as they are otherwise); minus the frame's centre (its pelvis, or the middle of its hips); "
            "divided by the clip's 2D size = median of the confidence-weighted RMS joint distance to the pelvis over "
            f"the {SCALE_FRAMES} frames centred on each frame (causal mode: the last {SCALE_FRAMES}; training: spans of "
            f"{cfg.sampler.scale_span[0]}-{cfg.sampler.scale_span[1]} frames); joints with confidence 0 zeroed",
            "fps": cfg.cache.fps,
            "scale_frames": SCALE_FRAMES,
            **({"detector": det_info["detector"]} if det_info else {}),
        },
        "output": {"joint_sets": list(OUTPUT_SETS), "units": "metres, camera axes, root-relative", "heads": ["centre frame", "last frame (causal)"]},
        "receptive_field": math.prod(cfg.filter_widths),
        "net_config": {**cfg.net_config(), "filter_widths": list(cfg.filter_widths)},
        "parameters": sum(p.numel() for p in net.parameters()),
        "training_command": command,
        "data_recipe": {
            "real_data": "none (synthetic only)",
            "motion": f"CMU mocap (cgspeed mb BVH, retargeted, {cfg.cache.fps:g} fps, <= {cfg.cache.max_clip_frames} frames per clip) "
            f"+ {cfg.cache.n_procedural} procedural clips (simpose.motion.procedural)"
            + (f" + {cfg.cache.n_grafted} grafted clips (procedural legs, a mocap window's neck, head and arms)" if cfg.cache.n_grafted else "")
            + (f"; fine-tuned from {cfg.init}" if cfg.init else ""),
            "cache_frames": int(len(cache.joints)) if cache is not None else 0,
            **({"detector_cache": {**det_info, "fraction_of_each_batch": n_det / B}} if det_info else {}),
            "config": dataclasses.asdict(cfg),
        },
        "time_s": {"joint_cache": round(cache_s, 1), "training": round(train_s, 1)},
        **({"distributed": {"processes": ranks.world_size, "windows_per_process": B // ranks.world_size}} if ranks.distributed else {}),
        "metrics": {"synthetic_validation" + ("_held_out_motion" if cfg.hold_out else ""): metrics},
        **(card_extra or {}),
    }
    save_weights(net, cfg, path, card)
    logger.info("wrote %s (%s)", path, metrics)
    distributed.barrier(ranks)
    return path


def train_stages(
    out: str | Path,
    stages: tuple[TrainConfig, ...] = SHIPPED_RECIPE,
    cache_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    command: str | None = None,
) -> Path:
    """Run :func:`train` once per stage, each later stage starting from the previous one's weights.

    Stage k < last trains in ``out/stage{k}``, the last in ``out`` (so ``out/lifter.pt`` is the
    result, as for one run); every stage after the first gets ``init`` = the previous stage's
    ``lifter.pt`` (a stage's own ``init`` is overridden). With ``resume`` an earlier stage that
    finished with the same config is kept, and the first unfinished one continues from its
    checkpoint. The last card lists the earlier stages (config, time, validation) under
    ``earlier_stages``. Returns the final weights' path.
    """
    out = Path(out)
    cache_dir = Path(cache_dir) if cache_dir is not None else out / "joint_cache"
    init, earlier = None, []
    for k, cfg in enumerate(stages):
        last = k == len(stages) - 1
        folder = out if last else out / f"stage{k}"
        if init is not None:
            cfg = dataclasses.replace(cfg, init=str(init))
        path, card_path = folder / "lifter.pt", folder / "lifter.json"
        wanted = json.loads(json.dumps(dataclasses.asdict(cfg)))
        if not last and resume and path.exists() and card_path.exists() and json.loads(card_path.read_text())["data_recipe"]["config"] == wanted:
            logger.info("stage %d already finished: %s", k, path)
        else:
            extra = {"earlier_stages": earlier} if last else None
            path = train(folder, cfg, cache_dir=cache_dir, resume=resume, progress=progress, command=command, card_extra=extra)
        if not last:
            card = json.loads(card_path.read_text())
            earlier.append({"config": card["data_recipe"]["config"], "time_s": card["time_s"], "metrics": card["metrics"]})
        init = path
    return path


def main(argv: list[str] | None = None) -> None:
    """The command line (``python -m simpose.train.lifter --help``)."""
    parser = argparse.ArgumentParser(prog="python -m simpose.train.lifter", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="run folder")
    parser.add_argument("--steps", type=int, help="optimiser steps")
    parser.add_argument("--seed", type=int, help="seed of the data stream and the weights")
    parser.add_argument("--cache", type=Path, help="joint cache folder (default OUT/joint_cache)")
    parser.add_argument("--config", type=Path, help="JSON file with TrainConfig fields for one run (flags override it); default: the shipped recipe's runs")
    parser.add_argument("--detector-cache", type=Path, help="detector cache folder (TrainConfig.detector_cache) of a --config run")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    from simpose.train import distributed

    try:
        _run(parser, args, argv)
    except ValueError as e:  # a bad config or cache, a batch that does not split over the processes
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    finally:
        distributed.teardown()


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str] | None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    command = " ".join(["python -m simpose.train.lifter"] + (sys.argv[1:] if argv is None else list(argv)))
    seed = {"seed": args.seed} if args.seed is not None else {}
    if args.config is None:
        if args.detector_cache is not None:
            parser.error("--detector-cache trains a blazepose33 lifter: give its run with --config (configs/lifter_blazepose33_*.json)")
        if args.steps is not None:
            parser.error("--steps sets one run's length: give it with --config (the shipped recipe is two runs)")
        stages = tuple(dataclasses.replace(cfg, **seed) for cfg in SHIPPED_RECIPE)
        train_stages(args.out, stages, cache_dir=args.cache, resume=args.resume, progress=not args.no_progress, command=command)
        return
    cfg = _from_dict(TrainConfig, json.loads(args.config.read_text()))
    cfg = dataclasses.replace(cfg, **seed, **({"steps": args.steps} if args.steps is not None else {}))
    if args.detector_cache is not None:
        cfg = dataclasses.replace(cfg, detector_cache=str(args.detector_cache))
    train(args.out, cfg, cache_dir=args.cache, resume=args.resume, progress=not args.no_progress, command=command)


if __name__ == "__main__":
    main()
