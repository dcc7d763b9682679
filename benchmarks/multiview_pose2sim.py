"""simpose vs MediaPipe's own 3D on real video, against a reference triangulated from 4 calibrated views.

    python benchmarks/multiview_pose2sim.py [--data ../shared/real/pose2sim] [--out /tmp/multiview_pose2sim] [--ablation] [--adapt params]

The same as ``simpose eval multiview DATA --out OUT`` (:func:`simpose.eval.multiview.evaluate_multiview`,
default settings): MediaPipe's 2D in every view, left/right swaps undone, the views synchronised,
robust triangulation; then each view alone through the 3D path of ``simpose run`` (its calibrated
K) and MediaPipe's world landmarks from the same detections, scored over the 12 limb joints.
Writes ``OUT/results.json``, ``results.md``, ``reference.png`` and prints the table. With
``--ablation`` the reference is also built without each of its robust steps (one row each:
mean PA-MPJPE of both methods and the reference's reprojection error, ``OUT/ablation.md``), to show
what each step changes.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

import numpy as np

from simpose.data.paths import shared_dir
from simpose.eval.multiview import EstimatorEstimate, MultiviewConfig, evaluate_multiview
from simpose.track.estimator import ADAPT_MODES
from simpose.track.run import default_cache_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=(shared_dir() or Path("../shared")) / "real" / "pose2sim")
    parser.add_argument("--out", type=Path, default=Path("/tmp/multiview_pose2sim"))
    parser.add_argument("--ablation", action="store_true", help="also build the reference without each robust step")
    parser.add_argument("--adapt", choices=ADAPT_MODES, default="off",
                        help="the Estimator's test-time adaptation (EstimatorConfig.adapt; the rows per cue: benchmarks/adapt_real.py)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    config = MultiviewConfig(cache_dir=str(default_cache_dir()))
    estimate = EstimatorEstimate(config.cache_dir, adapt=args.adapt)
    results, paths = evaluate_multiview(args.data, args.out, config=config, estimate=estimate, progress=True)
    print(paths[1].read_text())
    print("wrote " + ", ".join(str(p) for p in paths))
    if not args.ablation:
        return
    variants = {
        "default (robust, swaps undone, synchronised)": config,
        "no swap check": dataclasses.replace(config, fix_swaps=False),
        "not synchronised": dataclasses.replace(config, sync=False),
        "no temporal outlier check": dataclasses.replace(config, max_jump_m=0.0),
        "plain DLT (all views, none of the above)": dataclasses.replace(
            config, threshold_px=1e9, fix_swaps=False, max_offset=0, max_jump_m=0.0
        ),
    }
    lines = ["| reference | frames scored | median reprojection (px) | PA-MPJPE simpose | PA-MPJPE MediaPipe |", "|---|---:|---:|---:|---:|"]
    for name, cfg in variants.items():
        r = results if cfg == config else evaluate_multiview(args.data, args.out / "ablation", config=dataclasses.replace(cfg, plot_frames=0), estimate=estimate)[0]
        reproj = np.median(list(r["reference"]["median_reprojection_px"].values()))
        lines.append(f"| {name} | {r['n_frames']} | {reproj:.1f} | {r['mean']['simpose']['pa_mpjpe_mm']:.1f} | {r['mean']['mediapipe_world']['pa_mpjpe_mm']:.1f} |")
    table = "\n".join(lines) + "\n"
    (args.out / "ablation.md").write_text(table)
    print(table)

if __name__ == "__main__":
    main()
