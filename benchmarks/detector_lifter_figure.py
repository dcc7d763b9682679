"""Before / after picture of the detector lifter on a real video: one overlay frame and one 3D frame each.

    python benchmarks/detector_lifter_figure.py [--video ../shared/real/pose2sim/cam01.mp4] [--frame 50] \\
        [--out docs/images/detector_lifter_before_after.png]

Runs ``simpose run`` twice on the video (``--no-detector-lifter``: MediaPipe's landmarks mapped
to h36m17 for the h36m17 lifter, the path before; and the default, the detector lifter) and puts
frame ``--frame`` of each run's ``overlay.mp4`` and ``skeleton3d.mp4`` side by side.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from simpose.data.paths import shared_dir


def _frame(video: Path, index: int) -> np.ndarray:
    import av

    with av.open(str(video)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == index:
                return f.to_ndarray(format="rgb24")
    raise ValueError(f"{video}: no frame {index}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=(shared_dir() or Path("../shared")) / "real" / "pose2sim" / "cam01.mp4")
    parser.add_argument("--frame", type=int, default=50)
    parser.add_argument("--focal", type=float, default=None, help="focal length in pixels (default: the pose2sim calibration's)")
    parser.add_argument("--out", type=Path, default=Path("docs/images/detector_lifter_before_after.png"))
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    focal = args.focal
    if focal is None:
        from simpose.data.multiview_calib import read_calibration

        calib = read_calibration(args.video.parent / "calib.json")
        focal = float(calib[args.video.stem].K[0, 0])
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags in (("before: landmarks mapped to h36m17, h36m17 lifter", ["--no-detector-lifter"]), ("after: the detector lifter", [])):
            out = Path(tmp) / ("before" if flags else "after")
            cmd = [sys.executable, "-m", "simpose.cli", "run", str(args.video), "--out", str(out), "--focal", str(focal), *flags]
            subprocess.run(cmd, check=True, capture_output=True)
            runs[name] = (_frame(out / "overlay.mp4", args.frame), _frame(out / "skeleton3d.mp4", args.frame))
        fig, axes = plt.subplots(2, 2, figsize=(12, 10), gridspec_kw={"width_ratios": [1, 1]})
        for row, (name, (overlay, view)) in enumerate(runs.items()):
            axes[row, 0].imshow(overlay)
            axes[row, 1].imshow(view)
            axes[row, 0].set_title(f"{name}: overlay, frame {args.frame}", fontsize=10)
            axes[row, 1].set_title("3D view", fontsize=10)
            for ax in axes[row]:
                ax.axis("off")
        fig.suptitle(f"{args.video.name}: simpose run before and after the detector lifter")
        fig.tight_layout()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
