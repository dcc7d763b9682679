"""Synthetic validation of lifter weights: MPJPE / PA-MPJPE on windows drawn like the training data.

    python benchmarks/lifter_synthetic.py [--weights A.pt B.pt ...] [--cache /tmp/lifter_cache] [--batches 8] [--pelvis-view] [--held-out]
        [--median-proportions]

No real data. Windows come from the joint cache through :class:`WindowSampler` with a seed that
training never uses (training draws from ``(seed, step)`` and validates on ``(seed, 999999)``),
under three conditions: the current recipe's sampler (random proportions, sizes from the size
prior, 60% of the windows with detector noise), the same with every window noisy, and the body
model's own bodies (no proportion change, anny's own sizes). h36m17 joints, centre-frame head, mm.

By default the windows come from every motion of the cache, the training motions of the shipped
weights: that measures fit to the synthetic distribution. With ``--held-out`` they come only from
``HELD_OUT`` (two CMU subjects and every eighth procedural clip), which weights trained with
``TrainConfig(hold_out=HELD_OUT)`` never saw: generalisation to new motion. With
``--median-proportions`` every body first gets the cache's median proportions
(``SamplerConfig.median_proportions``, as the shipped recipe's last stage trains); without it the
body model's own proportions, on which such weights look a little worse by construction.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch

from simpose.eval.metrics import mpjpe, pa_mpjpe
from simpose.models.lifter import Lifter
from simpose.models.lifter_input import INPUT_SET, output_slices
from simpose.train.lifter import TrainConfig
from simpose.train.lifter_data import WindowSampler, load_joint_cache

SEED = 424_242  # not a training seed
HELD_OUT = ("cmu_09_", "cmu_16_") + tuple(f"proc_{i:04d}_" for i in range(0, 96, 8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, nargs="*", default=[None], help="lifter .pt files (default: the shipped weights)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/lifter_cache"))
    parser.add_argument("--batches", type=int, default=8, help="batches of 512 windows per condition")
    parser.add_argument("--pelvis-view", action="store_true", help="windows in the pelvis-view virtual camera (SamplerConfig.pelvis_view)")
    parser.add_argument("--held-out", action="store_true", help="only the HELD_OUT motions (for weights trained without them)")
    parser.add_argument("--median-proportions", action="store_true", help="every body at the cache's median proportions first (SamplerConfig.median_proportions)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    cache = load_joint_cache(args.cache, only=HELD_OUT if args.held_out else None)
    base = dataclasses.replace(TrainConfig().sampler, pelvis_view=args.pelvis_view, median_proportions=args.median_proportions)
    conditions = {
        "recipe": base,
        "all noisy": dataclasses.replace(base, clean_fraction=0.0),
        "model bodies": dataclasses.replace(base, bone_scale=0.0, size_sigma=None),
    }
    data = {}

    def windows(name: str, rf: int) -> list:
        """The condition's batches at a receptive field (the same draws for weights of one RF)."""
        if (name, rf) not in data:
            sampler = WindowSampler(cache, dataclasses.replace(conditions[name], receptive_field=rf), TrainConfig().camera, TrainConfig().noise)
            rng = np.random.default_rng(SEED)
            data[name, rf] = [sampler.sample(rng) for _ in range(args.batches)]
        return data[name, rf]

    sl = output_slices()[INPUT_SET]
    print("| weights | " + " | ".join(f"{c} P1 | {c} P2" for c in conditions) + " |")
    print("| --- |" + " ---: | ---: |" * len(conditions))
    for w in args.weights:
        lifter = Lifter.from_pretrained(w)
        cells = []
        for name in conditions:
            p1, p2 = [], []
            for b in windows(name, lifter.receptive_field):
                with torch.no_grad():
                    pred = lifter.net.forward_windows(torch.from_numpy(b.features))[:, 0, sl].numpy()
                gt = b.targets[:, 0, sl]
                p1.append(mpjpe(pred, gt, root=0))
                p2.append(pa_mpjpe(pred, gt))
            cells.append(f"{np.mean(np.concatenate(p1)):.1f} | {np.mean(np.concatenate(p2)):.1f}")
        print(f"| {w or 'shipped'} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
