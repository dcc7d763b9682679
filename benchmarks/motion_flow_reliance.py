"""How much a trained flow + keypoints motion network leans on its flow: its scores with the flow taken away at test.

    python benchmarks/motion_flow_reliance.py --crops /work/runs/motion/cache \\
        --weights /work/runs/motion/ablation_all/flow_keypoints/motion.pt /work/runs/h22/ablation/flow_person_keypoints/motion.pt

Each network is scored as ``benchmarks/motion_ablation.py`` scores it (held-out synthetic clips,
PA-MPJPE; the real 4-view video, mean PA-MPJPE over the views), but every frame's flow input is
"no flow" (zeros, the "exists" map at 0: what a video's first frame gets). A network whose score
barely moves takes little from the flow; one whose real score improves gets error, not
information, from the real video's flow.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from simpose.data.paths import shared_dir
from simpose.models.motion import MotionModel


@dataclasses.dataclass
class NoFlowModel(MotionModel):
    """A :class:`MotionModel` that sees no flow on any frame."""

    def predict(self, inputs: dict) -> dict:
        return super().predict({**inputs, "flow": inputs["flow"] * 0})


def main() -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from motion_ablation import held_out_synthetic, real_multiview

    from simpose.train.lifter_detcache import split_clips
    from simpose.train.motion import HOLD_OUT_EVERY

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=Path, required=True)
    parser.add_argument("--weights", type=Path, nargs="+", required=True)
    parser.add_argument("--data", type=Path, default=(shared_dir() or Path("../shared")) / "real" / "pose2sim")
    parser.add_argument("--work", type=Path, default=Path("/tmp/motion_flow_reliance"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    _, held = split_clips(sorted(args.crops.glob("crops_*.npz")), HOLD_OUT_EVERY)
    held_idx = [int(f.stem.split("_")[1]) for f in held]
    tracks: dict = {}
    rows = []
    for w in args.weights:
        m = MotionModel.from_weights(w)
        if "flow" not in m.inputs:
            parser.error(f"{w} reads no flow")
        blind = NoFlowModel(m.net, m.card)
        syn = held_out_synthetic(blind, args.crops, held_idx)
        real = real_multiview(blind, args.data, args.work / w.parent.name, tracks)
        rows.append((f"{w.parent.parent.name}/{w.parent.name}", syn["pa_mpjpe_mm"], real["pa_mpjpe_mm"], real["per_view_pa_mpjpe_mm"]))
    print("| network | held-out synthetic PA-MPJPE, no flow (mm) | real 4-view PA-MPJPE, no flow (mm) | real per view |\n|---|---:|---:|---|")
    for name, s, r, v in rows:
        print(f"| {name} | {s:.1f} | {r:.1f} | {' / '.join(f'{x:.1f}' for x in v.values())} |")


if __name__ == "__main__":
    main()
