"""How much the motion ablation's networks memorise: their error on their own training clips.

    python benchmarks/motion_train_gap.py --crops /work/runs/motion/cache --work /work/runs/motion/ablation800 [--clips 20]

For each trained row of ``benchmarks/motion_ablation.py``: MPJPE / PA-MPJPE (mm, h36m17) on the
first ``--clips`` training clips (index not a multiple of 10), to set beside the held-out column.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path



def main() -> None:
    from simpose.models.motion import MotionModel
    from simpose.train.lifter_detcache import split_clips
    from simpose.train.motion import HOLD_OUT_EVERY

    sys.path.insert(0, str(Path(__file__).parent))
    from motion_ablation import ROWS, held_out_synthetic

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=20)
    args = parser.parse_args()
    train, _ = split_clips(sorted(args.crops.glob("crops_*.npz")), HOLD_OUT_EVERY)
    idx = [int(f.stem.split("_")[1]) for f in train][: args.clips]
    print(f"| inputs | training clips {idx[0]}-{idx[-1]} MPJPE (mm) | PA-MPJPE (mm) |\n|---|---:|---:|")
    for name in ROWS:
        weights = args.work / name / "motion.pt"
        if weights.is_file():
            r = held_out_synthetic(MotionModel.from_weights(weights), args.crops, idx)
            print(f"| {name} | {r['mpjpe_mm']:.1f} | {r['pa_mpjpe_mm']:.1f} |")


if __name__ == "__main__":
    main()
