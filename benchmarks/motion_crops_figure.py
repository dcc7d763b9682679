"""The motion network's inputs side by side: RGB crops and colour-coded flow crops, synthetic and real.

    python benchmarks/motion_crops_figure.py --crops /work/runs/motion/cache [--clip 31] [--frame 24] \\
        [--video ../shared/real/pose2sim/cam01.mp4] [--out docs/images/motion_crops.png]

Top row: a training clip of the motion crop cache (RGB crop, DIS flow, the renderer's flow).
Bottom row: a real video through :func:`simpose.track.motion_video.motion_track` (BlazePose from
the cue cache, every 2nd frame of 60 fps, the same crop and DIS functions). Flow colours: hue =
direction, brightness = speed (saturating at 3 crop pixels per frame, at 30 fps).

Also prints how far DIS is from the renderer's flow on the cache's crops (end-point error in crop
pixels, median and mean over all crop pixels, and over the pixels where the true flow exceeds
0.5 px: the moving parts) and the RMS flow of the real crops.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from simpose.data.paths import shared_dir

MAX_FLOW = 3.0  # crop pixels per frame at full brightness


def flow_colours(flow: np.ndarray, max_flow: float = MAX_FLOW) -> np.ndarray:
    """(H, W, 2) flow -> (H, W, 3) uint8 RGB: hue from direction, value from speed."""
    import cv2

    mag, ang = cv2.cartToPolar(np.ascontiguousarray(flow[..., 0]), np.ascontiguousarray(flow[..., 1]))
    hsv = np.zeros((*flow.shape[:2], 3), np.uint8)
    hsv[..., 0] = (ang * 90 / np.pi).astype(np.uint8)
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(mag / max_flow * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def main() -> None:
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simpose.cues.crops import CropConfig
    from simpose.synth.motion_crops import MANIFEST, crops_path, read_motion_crops
    from simpose.track.motion_video import motion_track
    from simpose.track.run import default_cache_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=Path, required=True)
    parser.add_argument("--clip", type=int, default=31)
    parser.add_argument("--frame", type=int, default=24)
    parser.add_argument("--video", type=Path, default=(shared_dir() or Path("../shared")) / "real" / "pose2sim" / "cam01.mp4")
    parser.add_argument("--real-frame", type=int, default=25, help="frame of the video at the model's rate")
    parser.add_argument("--out", type=Path, default=Path("docs/images/motion_crops.png"))
    args = parser.parse_args()
    manifest = json.loads((args.crops / MANIFEST).read_text())
    syn = read_motion_crops(crops_path(args.crops, args.clip))
    track = motion_track(args.video, float(manifest["scene"]["fps"]), CropConfig.from_dict(manifest["crop"]), str(default_cache_dir()))
    errs, moving, speed = [], [], []
    for f in sorted(args.crops.glob("crops_*.npz")):
        c = read_motion_crops(f)
        e = np.linalg.norm(c["flow_dis"] - c["flow_gt"], axis=-1)
        g = np.linalg.norm(c["flow_gt"], axis=-1)
        errs.append(e.ravel())
        moving.append(e[g > 0.5])
        speed.append(g.ravel())
    errs, moving, speed = np.concatenate(errs), np.concatenate(moving), np.concatenate(speed)
    real = np.linalg.norm(track.crops.flow, axis=-1)
    print(f"DIS vs true flow on {len(list(args.crops.glob('crops_*.npz')))} synthetic clips (crop px): EPE median {np.median(errs):.2f}, mean {errs.mean():.2f}; "
          f"where the true flow > 0.5 px ({100 * len(moving) / len(errs):.0f}% of pixels): median {np.median(moving):.2f}, mean {moving.mean():.2f}; "
          f"RMS true flow {np.sqrt((speed ** 2).mean()):.2f}; RMS DIS flow of the real crops {np.sqrt((real ** 2).mean()):.2f}")
    t, r = args.frame, args.real_frame
    panels = [
        [(syn["rgb"][t], f"synthetic clip {args.clip}, frame {t}: RGB crop"), (flow_colours(syn["flow_dis"][t]), "DIS flow (as on real video)"),
         (flow_colours(syn["flow_gt"][t]), "renderer's exact flow")],
        [(track.crops.rgb[r], f"real {args.video.stem}, frame {r * track.stride}: RGB crop"), (flow_colours(track.crops.flow[r]), "DIS flow"), (None, "")],
    ]  # fmt: skip
    fig, axes = plt.subplots(2, 3, figsize=(7.5, 5.2))
    for row, ax_row in zip(panels, axes):
        for (img, title), ax in zip(row, ax_row):
            ax.axis("off")
            if img is not None:
                ax.imshow(img, interpolation="nearest")
                ax.set_title(title, fontsize=7)
    fig.suptitle(f"motion network inputs ({syn['rgb'].shape[1]} px crops; flow: hue = direction, brightness = speed, full at {MAX_FLOW:g} px/frame)", fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=130)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
