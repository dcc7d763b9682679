"""The motion network's rows that need no motion on the 4 real Human3.6M frames (issue 22's third column).

    python benchmarks/motion_h36m_frames.py --weights /work/runs/motion/ablation_all/keypoints/motion.pt [W2.pt ...] \\
        [--data ../shared/real/h36m] [--cache /tmp/h36m_frames/cache]

Each frame alone, as benchmarks/real_h36m_vs_mediapipe.py runs it: MediaPipe BlazePose in
static-image mode on the image (the same detection that benchmark's columns see), its main person,
the motion model's crop (:func:`simpose.cues.crops.motion_crops` of the single frame) and network
inputs (:func:`simpose.models.motion.frame_inputs`: no flow, "exists" 0), the window padded by
repeating the frame (:meth:`~simpose.models.motion_net.MotionNet.forward_sequence`). Only
networks that read no flow are meaningful here (RGB, keypoints); a flow network is refused.
PA-MPJPE (mm) over the 12 limb joints against the frames' 3D ground truth.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from simpose.data.paths import shared_dir

LIMBS = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
         "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")  # fmt: skip


def frame_error(model, image: np.ndarray, det, gt: np.ndarray, limbs: list[int]) -> float:
    """PA-MPJPE (mm, limbs) of the motion model on one image with its detection (main person)."""
    from simpose.cues.crops import CropConfig, motion_crops
    from simpose.eval.metrics import pa_mpjpe
    from simpose.models.motion import frame_inputs
    from simpose.track.inputs import main_person

    p = main_person(det.keypoints)
    valid = det.keypoints.valid[:1, p].astype(bool)
    if not valid[0]:
        return float("nan")
    kp = det.keypoints.keypoints[:1, p].astype(np.float64) - 0.5  # pixel centres at integers, as simpose run
    conf = det.keypoints.confidence[:1, p]
    crops = motion_crops(image[None], kp, valid, CropConfig.from_dict(model.card["crop"]))
    pred = model.predict(frame_inputs(crops.rgb, crops.flow, crops.keypoints, conf))["h36m17"][0]
    return float(pa_mpjpe(pred[None][:, limbs], gt[None][:, limbs])[0])


def main() -> None:
    from simpose.body.joints import get_joint_set
    from simpose.cues.detect import detect
    from simpose.cues.keypoints import KeypointConfig
    from simpose.cues.video import open_video
    from simpose.data.h36m import load_h36m_frames
    from simpose.models.motion import MotionModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, nargs="+", required=True)
    parser.add_argument("--data", type=Path, default=(shared_dir() or Path("../shared")) / "real" / "h36m")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/h36m_frames/cache"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    models = [MotionModel.from_weights(w) for w in args.weights]
    for w, m in zip(args.weights, models):
        if "flow" in m.inputs:
            parser.error(f"{w} reads flow: a single frame has none")
    limbs = get_joint_set("h36m17").indices(LIMBS)
    samples = load_h36m_frames(args.data)
    rows = []
    for s in samples:
        source = open_video(s.image_path)
        det = detect(source, KeypointConfig(static_image_mode=True), cache_dir=str(args.cache))
        image = next(iter(source.frames(0, 1)))[1]
        rows.append([frame_error(m, image, det, s.people[0].joints3d.astype(np.float64), limbs) for m in models])
    err = np.array(rows)
    names = [f"{m.card['model']} ({w.parent.parent.name}/{w.parent.name})" for w, m in zip(args.weights, models)]
    print("| frame | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for s, r in zip(samples, err):
        print(f"| {s.image_id} | " + " | ".join(f"{v:.1f}" for v in r) + " |")
    print("| **mean** | " + " | ".join(f"**{v:.1f}**" for v in np.nanmean(err, 0)) + " |")


if __name__ == "__main__":
    main()
