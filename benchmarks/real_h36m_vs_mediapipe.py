"""simpose vs MediaPipe's own 3D on the real Human3.6M frames with 3D ground truth (../shared/real/h36m).

    python benchmarks/real_h36m_vs_mediapipe.py [--data ../shared/real/h36m] [--out /tmp/h36m_frames] [--no-refine]

Each frame runs ALONE through the run pipeline (``simpose.track.run.run_video`` on the single
image, MediaPipe in static-image mode, the camera's true focal length), and both methods see
the SAME MediaPipe detection: simpose lifts its 2D keypoints, MediaPipe's number is its own
"world landmarks" (metric, hip-centred 3D). Metric: PA-MPJPE (Procrustes: rotation,
translation and scale aligned per frame) over the 12 limb joints that both define the same way
(shoulders, elbows, wrists, hips, knees, ankles), in mm. Human3.6M's hips sit wider than the
anatomical hip centres both methods model; that costs both the same kind of error.
A third column lifts the ground-truth 2D with the same lifter: what the 3D stage gives with a
perfect detector (it separates detector error from lifter error). Four frames: a sanity check,
not a benchmark with error bars.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

import numpy as np

from simpose.body.joints import convert, get_joint_set
from simpose.cues.keypoints import KeypointConfig
from simpose.cues.video import open_video
from simpose.data.h36m import load_h36m_frames
from simpose.data.paths import shared_dir
from simpose.eval.metrics import pa_mpjpe
from simpose.models.lifter import Lifter
from simpose.cues.detect import detect
from simpose.track.run import RunConfig, run_video

LIMBS = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
         "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = (shared_dir() or Path("../shared")) / "real" / "h36m"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--out", type=Path, default=Path("/tmp/h36m_frames"))
    parser.add_argument("--no-refine", action="store_true", help="run without the test-time refinement (simpose run --no-refine)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    h36m = get_joint_set("h36m17")
    limbs = h36m.indices(LIMBS)
    kp_config = KeypointConfig(static_image_mode=True)  # full model (the heavy one is not in the wheel)
    rows = []
    lifter = Lifter.from_pretrained()
    for k, sample in enumerate(load_h36m_frames(args.data)):
        focal = float(sample.camera.K[..., 0, 0] + sample.camera.K[..., 1, 1]) / 2
        cfg = RunConfig(focal=focal, keypoints=kp_config, cache_dir=str(args.out / "cache"), views=False, json=False, refine=not args.no_refine)
        gt = sample.people[0].joints3d[limbs]
        try:
            result = run_video(sample.image_path, args.out / f"frame{k}", cfg)
        except Exception as e:  # noqa: BLE001 - report a failed frame, keep going
            rows.append((sample.image_id, np.nan, np.nan, np.nan, f"failed: {e}"))
            continue
        ours = result.arrays["joints3d"][0, 0].astype(np.float64)[limbs]
        det = detect(open_video(sample.image_path), dataclasses.replace(kp_config), cache_dir=cfg.cache_dir)
        world = convert(det.keypoints.world[0, 0].astype(np.float64), "blazepose33", "h36m17")[limbs]
        # reference: the same lifter on the ground-truth 2D (what a perfect detector would give)
        gt2d = sample.people[0].joints2d[None]
        lifted = lifter.predict(gt2d, "h36m17", None, camera=sample.camera)[0].astype(np.float64)[limbs]
        rows.append((sample.image_id, float(pa_mpjpe(ours[None], gt[None])[0]), float(pa_mpjpe(world[None], gt[None])[0]),
                     float(pa_mpjpe(lifted[None], gt[None])[0]), ""))  # fmt: skip

    print("| frame | simpose run (mm) | MediaPipe world landmarks (mm) | simpose lifter on GT 2D (reference, mm) |")
    print("|---|---:|---:|---:|")
    for name, a, b, c, note in rows:
        print(f"| {name} | {a:.1f} | {b:.1f} | {c:.1f} |{(' ' + note) if note else ''}")
    a, b, c = (np.array([r[i] for r in rows]) for i in (1, 2, 3))
    print(f"| **mean over {np.isfinite(a).sum()} frames** | **{np.nanmean(a):.1f}** | **{np.nanmean(b):.1f}** | {np.nanmean(c):.1f} |")
    print("12 limb joints (shoulders, elbows, wrists, hips, knees, ankles); Procrustes-aligned per frame; "
          "both from the same MediaPipe detection (static image mode, full model).")  # fmt: skip


if __name__ == "__main__":
    main()
