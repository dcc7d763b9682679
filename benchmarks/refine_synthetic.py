"""Synthetic validation of the test-time refinement (``simpose.adapt.refine``): the data its settings were chosen on.

    python benchmarks/refine_synthetic.py [--cache /tmp/refine_val] [--bone-scale 0.25] [--median-proportions] [--set iterations=300 --set prior_m=0.12 ...]
        [--self-train [--st rounds=2 --st steps=20 ...]] [--weights PT] [--max-sequences N] [--max-frames 500] [--no-build]

No real data. Whole sequences, not windows: 60 procedural clips drawn with a seed the training
cache never uses (``CacheConfig(seed=1)``: new motions and bodies) and CMU subjects 9 and 16 on
new bodies (built into ``--cache`` on the first run, ~2 min). Each sequence gets one camera
(``CameraConfig``'s ranges, fixed over the sequence, as a real video's), one set of bone-group
proportions (up to 25% longer or shorter, as training's) and a person size from the size
prior (``--median-proportions``: every body first gets the cache's median proportions, as the
shipped lifter's last training stage draws them, ``SamplerConfig.median_proportions``); exact 2D
and 2D through the detector-noise model. The lifter's root-relative h36m17
output is scored before and after the refinement (P1: MPJPE, P2: PA-MPJPE, mm, every frame).
Every prediction is ``simpose.Estimator.estimate_keypoints`` (the lifter alone, then with the
refinement; the body is not scored: ``body=False``). ``--set`` overrides ``RefineConfig`` fields (the sweep that chose the defaults: the note of
issue 5). ``--self-train`` also scores the pseudo-label adaptation of
:mod:`simpose.adapt.selftrain` (``--st`` overrides ``SelfTrainConfig``). ``--cache --no-build`` may
also be any joint cache (``simpose.train.lifter_data``), e.g. of motion families a ``--weights``
lifter was trained without, to see the stages where the lifter is out of its domain.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from simpose.adapt.refine import RefineConfig
from simpose.adapt.selftrain import SelfTrainConfig
from simpose.eval.metrics import pa_mpjpe
from simpose.models.noise import NoiseConfig, apply_detector_noise
from simpose.track.estimator import Estimator
from simpose.train.lifter_data import (
    BONE_GROUPS, CacheConfig, CameraConfig, bone_tree, build_joint_cache, draw_cameras, load_joint_cache, median_proportion_factors,
    scale_bones, skeleton_size,
)  # fmt: skip

VAL = CacheConfig(seed=1, n_procedural=60, workers=1)
CMU_SUBJECTS = ("cmu_09_", "cmu_16_")


def build(folder: Path) -> None:
    """The validation parts (skipped when present)."""
    build_joint_cache(folder, VAL, only=("proc_",) + CMU_SUBJECTS)


def sequences(
    folder: Path, noisy: bool, seed: int, bone_scale: float = 0.25, size_sigma: float = 0.06, max_frames: int = 500, median_proportions: bool = False
) -> list[dict]:
    """One camera, proportions and size per cache segment: pixels (``uv``, through the detector-noise
    model if ``noisy``; ``true``: exact), confidences, K, camera-frame 3D ``X`` and root-relative ``gt``."""
    cache = load_joint_cache(folder)
    tree, rng, cam = bone_tree(), np.random.default_rng(seed), CameraConfig()
    median = float(np.median(skeleton_size(cache.joints[cache.segments[:, 0], :17])))
    to_median = median_proportion_factors(cache, tree) if median_proportions else np.ones((len(cache.segments), len(BONE_GROUPS)))
    out = []
    for (s, e), base in zip(cache.segments, to_median):
        J = cache.joints[s : min(e, s + max_frames)].astype(np.float64)
        J = scale_bones(J[None], base * np.exp(bone_scale * rng.uniform(-1, 1, (1, len(BONE_GROUPS)))), tree)[0]
        mid = J[len(J) // 2, :1]
        J = mid + median * np.exp(size_sigma * rng.normal()) / skeleton_size(J[len(J) // 2, :17]) * (J - mid)
        X = J[:, :17]
        p0 = X[:, 0].mean(0)
        eye, R = (a[0] for a in draw_cameras(rng, cam, p0[None]))  # one camera for the sequence, as training draws them
        Xc = (X - eye) @ R.T
        if Xc[..., 2].min() < 0.5:
            continue
        W, H = cam.image_sizes[rng.integers(len(cam.image_sizes))]
        f = max(W, H) / 2 / np.tan(np.radians(rng.uniform(*cam.fov_deg)) / 2)
        K = np.array([[f, 0, (W - 1) / 2], [0, f, (H - 1) / 2], [0, 0, 1.0]])
        true = Xc[..., :2] / Xc[..., 2:] * f + K[:2, 2]
        uv, conf = true, None
        if noisy:
            uv, conf = apply_detector_noise(true, "h36m17", rng, NoiseConfig(), image_size=(W, H))
        out.append({"uv": uv, "conf": conf, "true": true, "K": K, "X": Xc, "gt": Xc - Xc[:, :1]})
    return out


def score(preds: list[np.ndarray], data: list[dict]) -> tuple[float, float]:
    p1 = np.concatenate([np.linalg.norm((p - p[:, :1]) - d["gt"], axis=-1).mean(-1) for p, d in zip(preds, data)]).mean() * 1000
    p2 = np.concatenate([pa_mpjpe(p, d["gt"]) for p, d in zip(preds, data)]).mean()
    return float(p1), float(p2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/refine_val"))
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--bone-scale", type=float, default=0.25, help="half-width of the log bone-group factors (training: 0.25; more: proportions training never saw)")
    parser.add_argument("--median-proportions", action="store_true", help="every body at the cache's median proportions first (SamplerConfig.median_proportions)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="RefineConfig override (repeatable)")
    parser.add_argument("--self-train", action="store_true", help="also score the pseudo-label adaptation (simpose.adapt.selftrain)")
    parser.add_argument("--st", action="append", default=[], metavar="FIELD=VALUE", help="SelfTrainConfig override (repeatable)")
    parser.add_argument("--no-build", action="store_true", help="--cache is a ready joint cache: add no validation parts to it")
    parser.add_argument("--max-frames", type=int, default=500, help="longest sequence (frames) cut from one cache segment")
    parser.add_argument("--max-sequences", type=int, default=None, help="score every k-th sequence so that at most this many remain")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if not args.no_build:
        build(args.cache)
    config = dataclasses.replace(RefineConfig(), **_overrides(RefineConfig, args.set))
    st_config = dataclasses.replace(SelfTrainConfig(), **_overrides(SelfTrainConfig, args.st))
    # one estimator, three settings: the lifter alone, the refinement, the self-training (no body:
    # this scores the refinement's joints)
    base = Estimator.from_pretrained(args.weights, refine=False, body=False, align_2d=False)

    def with_settings(**kw):
        return Estimator(base.lifter, base.body, dataclasses.replace(base.config, **kw), base.weights)

    refiner = with_settings(refine=True, refine_config=config)
    trainer = with_settings(refine=True, refine_config=config, self_train=True, self_train_config=st_config)

    def run(est, d):
        return est.estimate_keypoints(d["uv"], d["conf"], "h36m17", d["K"], 50.0).joints3d[:, 0].astype(np.float64)

    print(f"RefineConfig: {config}")
    extra = ""
    if args.self_train:
        print(f"SelfTrainConfig: {st_config}")
        extra = " self-trained P1 | self-trained P2 | self-train s |"
    print("| 2D | sequences | frames | lifter P1 | lifter P2 | refined P1 | refined P2 | refined s |" + extra)
    print("|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * (3 * args.self_train))
    for noisy in (False, True):
        data = sequences(args.cache, noisy, seed=5 + noisy, bone_scale=args.bone_scale, max_frames=args.max_frames, median_proportions=args.median_proportions)
        if args.max_sequences and len(data) > args.max_sequences:
            data = data[:: -(-len(data) // args.max_sequences)]
        lifted = [run(base, d) for d in data]
        tick = time.perf_counter()
        refined = [run(refiner, d) for d in data]
        sec = time.perf_counter() - tick
        a, b = score(lifted, data), score(refined, data)
        name = "noise model" if noisy else "exact"
        row = f"| {name} | {len(data)} | {sum(len(d['gt']) for d in data)} | {a[0]:.1f} | {a[1]:.1f} | {b[0]:.1f} | {b[1]:.1f} | {sec:.0f} |"
        if args.self_train:
            tick = time.perf_counter()
            adapted = [run(trainer, d) for d in data]
            c = score(adapted, data)
            row += f" {c[0]:.1f} | {c[1]:.1f} | {time.perf_counter() - tick:.0f} |"
        print(row, flush=True)


def _overrides(cls, items: list[str]) -> dict:
    """``FIELD=VALUE`` strings -> {field: value} typed as the dataclass's field (``none``: None)."""
    fields = {f.name: f.type for f in dataclasses.fields(cls)}
    out = {}
    for key, value in (a.split("=", 1) for a in items):
        if key not in fields:
            raise SystemExit(f"{cls.__name__} has no field {key!r}; fields: {', '.join(fields)}")
        out[key] = None if value == "none" else (int(value) if fields[key] == "int" else float(value))
    return out


if __name__ == "__main__":
    main()
