"""Training the motion network on the motion crop cache (``simpose train motion``).

Data: the clips that have both a detector-cache record (labels, the detector's keypoints) and a
motion crop record (:mod:`simpose.synth.motion_crops`); clip ``i`` is held out when ``i % 10 == 0``
(:func:`simpose.train.lifter_detcache.split_clips`, as the detector lifter). A training sample is a
window of ``window`` consecutive frames of one clip (ends repeated at the clip's edges) around a
centre frame where the detector found a person; the targets are that person's h36m17 and anny
joints relative to its h36m17 pelvis, camera axes. The flow the network sees in training is DIS on the renders
(``flow_source="dis"``, as at test time) or the renderer's exact flow (``"gt"``).

Steps are reproducible one by one: batch ``k`` is drawn from ``default_rng([seed, k])`` and the
torch generator is seeded with ``(seed, k)`` too, so a run resumed from a checkpoint reaches the
same weights as one that was never interrupted. Checkpoints (``checkpoint.pt``: weights,
optimiser, step, training seconds so far) are written atomically every ``save_every`` steps.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch

from simpose._files import atomic_open
from simpose.body.joints import get_joint_set
from simpose.cues.crops import keypoints_in_crop
from simpose.models.motion import frame_inputs
from simpose.models.motion_net import FLOW_NORMS, OUTPUT_SETS, MotionNet, MotionNetConfig, parse_inputs
from simpose.synth.detcache import det_path, read_detector_clip
from simpose.synth.motion_crops import MANIFEST, crops_path, read_motion_crops
from simpose.train.lifter_detcache import split_clips

__all__ = ["MotionTrainConfig", "MotionClips", "load_motion_clips", "sample_windows", "train_motion", "HOLD_OUT_EVERY"]

logger = logging.getLogger(__name__)

HOLD_OUT_EVERY = 10  # as the detector lifter (split_clips)


@dataclasses.dataclass(frozen=True)
class MotionTrainConfig:
    """Settings of a training run (saved with the checkpoint and in the card).

    Attributes:
        inputs: the network's inputs (:data:`simpose.models.motion_net.INPUTS`).
        flow_source: "dis" or "gt": which flow the training crops show.
        window: frames per window. steps, batch, lr, seed: the optimisation (Adam, cosine decay
            to 5% after ``warmup`` steps). save_every: checkpoint period in steps.
        flow_norm: the network's :attr:`~simpose.models.motion_net.MotionNetConfig.flow_norm`.
    """

    inputs: tuple[str, ...] = ("flow", "keypoints")
    flow_source: str = "dis"
    window: int = 9
    steps: int = 1000
    batch: int = 32
    lr: float = 1e-3
    warmup: int = 50
    seed: int = 0
    save_every: int = 100
    flow_norm: str = "raw"

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", parse_inputs(self.inputs))
        if self.flow_norm not in FLOW_NORMS:
            raise ValueError(f"flow_norm must be one of {', '.join(FLOW_NORMS)}, got {self.flow_norm!r}")
        if self.flow_source not in ("dis", "gt"):
            raise ValueError(f"flow_source must be 'dis' or 'gt', got {self.flow_source!r}")


@dataclasses.dataclass(frozen=True)
class MotionClips:
    """Clips end to end, as network inputs (N frames).

    Attributes:
        rgb: (N, 3, S, S) float16. flow: (N, 4, S, S) float16. keypoints: (N, 33, 3) float32 (:func:`frame_inputs`).
        targets: (N, J_out, 3) float32 metres relative to the h36m17 pelvis, the sets of
            ``OUTPUT_SETS`` side by side (NaN: nobody found).
        segments: (C, 2) start, stop. clip_index: (C,).
    """

    rgb: torch.Tensor
    flow: torch.Tensor
    keypoints: torch.Tensor
    targets: np.ndarray
    segments: np.ndarray
    clip_index: np.ndarray


def load_motion_clips(crops: str | Path, indices: list[int], flow_source: str = "dis") -> MotionClips:
    """Read clips ``indices`` of a motion crop cache (and their detector-cache labels)."""
    manifest = json.loads((Path(crops) / MANIFEST).read_text())
    pelvis = get_joint_set(OUTPUT_SETS[0]).index("pelvis")
    rgb, flow, kp, targets, segments, start = [], [], [], [], [], 0
    for i in indices:
        c = read_motion_crops(crops_path(crops, i))
        det = read_detector_clip(det_path(manifest["detcache"], i))
        x = frame_inputs(c["rgb"], c[f"flow_{flow_source}"], keypoints_in_crop(det.keypoints, c["boxes"]), np.where(det.valid[:, None], det.confidence, 0.0))
        rgb.append(x["rgb"].half())
        flow.append(x["flow"].half())
        kp.append(x["keypoints"])
        j3 = np.concatenate([det.found_person(s)[1] for s in OUTPUT_SETS], 1)  # (T, J_out, 3)
        targets.append(j3 - j3[:, pelvis : pelvis + 1])
        segments.append((start, start + len(j3)))
        start += len(j3)
    return MotionClips(torch.cat(rgb), torch.cat(flow), torch.cat(kp), np.concatenate(targets).astype(np.float32), np.asarray(segments, np.int64), np.asarray(indices))


def sample_windows(clips: MotionClips, window: int, rng: np.random.Generator, n: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """``n`` windows: inputs ``rgb``/``flow`` (n, W, 3, S, S) float32, ``keypoints`` (n, W, 33, 3);
    targets (n, J_out, 3) of the centre frames (frames with a person found)."""
    ok = np.flatnonzero(np.isfinite(clips.targets).all((1, 2)))
    t = ok[rng.integers(0, len(ok), n)]
    clip = np.searchsorted(clips.segments[:, 1], t, side="right")
    a, b = clips.segments[clip, 0], clips.segments[clip, 1]
    idx = np.clip(t[:, None] + np.arange(window)[None] - window // 2, a[:, None], b[:, None] - 1)  # (n, W)
    flat = torch.from_numpy(idx.reshape(-1))
    x = {"rgb": clips.rgb[flat].float(), "flow": clips.flow[flat].float(), "keypoints": clips.keypoints[flat]}
    x = {k: v.reshape(n, window, *v.shape[1:]) for k, v in x.items()}
    return x, torch.from_numpy(clips.targets[t])


def _lr(config: MotionTrainConfig, step: int) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    p = (step - config.warmup) / max(config.steps - config.warmup, 1)
    return config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(p, 1.0))))


def _card(config: MotionTrainConfig, net: MotionNet, crops_manifest: dict, train_clips: list[int], held_out: list[int], seconds: float, command: str) -> dict:
    return {
        "model": "simpose-motion-" + "+".join(config.inputs),
        "input": {
            "inputs": list(config.inputs),
            "keypoint_set": "blazepose33",
            "detector": crops_manifest["detector_version"],
            "flow": "OpenCV DIS at full resolution inside the padded person box (simpose.cues.flow), frame t-1 -> t, in crop pixels / 4"
            + ("; on the keypoint skeleton's region minus its median there, zero elsewhere (flow_norm person)" if config.flow_norm == "person" else ""),
            "training_flow": config.flow_source,
            "crop": "square around the detector keypoints (simpose.cues.crops), pixels / 255 - 0.5",
        },
        "crop": crops_manifest["crop"],
        "fps": float(crops_manifest["scene"]["fps"]),
        "window": config.window,
        "output": {"joint_sets": list(OUTPUT_SETS), "units": "metres, camera axes, relative to the h36m17 pelvis", "heads": ["centre frame"]},
        "net_config": {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(net.config).items()},
        "parameters": sum(p.numel() for p in net.parameters()),
        "train_config": {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()},
        "training_command": command,
        "data_recipe": {
            "real_data": "none (synthetic only)",
            "detector_cache": crops_manifest["detcache"],
            "training_clips": len(train_clips),
            "held_out_clips": held_out,
        },
        "training_seconds": round(seconds, 1),
    }


def train_motion(crops: str | Path, out: str | Path, config: MotionTrainConfig = MotionTrainConfig(), resume: bool = True, command: str = "", stop_after: int | None = None) -> Path:
    """Train (or resume) a motion network; returns the weights file ``out/motion.pt`` (card beside it).

    Args:
        crops: a motion crop cache. out: the run folder. config: settings.
        resume: continue from ``out/checkpoint.pt`` when there is one with the same config.
        command: the command line, for the card. stop_after: stop (after a checkpoint) at this
            step, as an interruption would (tests); None: train to ``config.steps``.
    Raises:
        ValueError: a checkpoint of another config in ``out``; no clips.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((Path(crops) / MANIFEST).read_text())
    files = sorted(Path(crops).glob("crops_*.npz"))
    if not files:
        raise ValueError(f"{crops}: no motion crops (build them with simpose synth --motion-crops)")
    train_files, held = split_clips(files, HOLD_OUT_EVERY)
    train_idx = [int(f.stem.split("_")[1]) for f in train_files]
    held_idx = [int(f.stem.split("_")[1]) for f in held]
    net_config = MotionNetConfig(inputs=config.inputs, crop=manifest["crop"]["size"], window=config.window, flow_norm=config.flow_norm)
    torch.manual_seed(config.seed)
    net = MotionNet(net_config)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    step, seconds = 0, 0.0
    ckpt = out / "checkpoint.pt"
    record = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}
    if resume and ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        old = {"flow_norm": "raw", **json.loads(state["config"])}  # checkpoints from before flow_norm are raw
        if old != record or json.loads(state["clips"]) != train_idx:
            raise ValueError(f"{ckpt}: a checkpoint of another config or clip set; use another --out")
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        step, seconds = int(state["step"]), float(state["seconds"])
        logger.info("resumed at step %d", step)
    (out / "config.json").write_text(json.dumps({"train": record, "crops": str(crops), "clips": len(train_idx)}, indent=2))
    data = load_motion_clips(crops, train_idx, config.flow_source)

    def save() -> None:
        with atomic_open(ckpt) as f:
            torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "step": step, "seconds": seconds,
                        "config": json.dumps(record), "clips": json.dumps(train_idx)}, f)  # fmt: skip

    end = config.steps if stop_after is None else min(stop_after, config.steps)
    net.train()
    while step < end:
        t0 = time.perf_counter()
        x, y = sample_windows(data, config.window, np.random.default_rng([config.seed, step]), config.batch)
        torch.manual_seed(config.seed * 1_000_003 + step)  # dropout of this step
        for g in opt.param_groups:
            g["lr"] = _lr(config, step)
        pred = net(**{k: (v if k in config.inputs else None) for k, v in x.items()})
        loss = (pred - y).norm(dim=-1).mean()  # MPJPE, metres
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        seconds += time.perf_counter() - t0
        if step % 50 == 0:
            logger.info("step %d/%d: loss %.1f mm, %.2f s/step", step, config.steps, 1000 * loss.detach().item(), seconds / step)
        if step % config.save_every == 0 or step == end:
            save()
    if step < config.steps:
        return ckpt
    weights = out / "motion.pt"
    with atomic_open(weights) as f:
        torch.save(net.state_dict(), f)
    card = _card(config, net, manifest, train_idx, held_idx, seconds, command)
    (out / "motion.json").write_text(json.dumps(card, indent=1))
    return weights
