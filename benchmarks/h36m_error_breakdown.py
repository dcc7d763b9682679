"""Where the lifter's Human3.6M protocol #1 error comes from: scale, rotation, the rest.

    python benchmarks/h36m_error_breakdown.py [--weights PATH] [--lifter-only | --no-body] [--every K]

Ground-truth 2D and the sequence's calibration through ``simpose.Estimator.estimate_keypoints``
with the product's settings, as ``simpose eval h36m`` (``--lifter-only``: the lifter alone;
``--no-body``: the refinement's joints, not the body's). Evaluation only: nothing is fitted to
Human3.6M. Per action, every frame
(averaged per action, then over actions, as the protocol):

- P1: MPJPE after root alignment (protocol #1);
- scale: after the best scale of each pose too (N-MPJPE, Rhodin et al. 2018);
- rotation: after the best rotation of each pose about its root instead (the rotation of
  :func:`~simpose.eval.metrics.procrustes_transform`, no scale);
- P2: PA-MPJPE (protocol #2: rotation, scale and translation).

Then the per-pose rotation error as a rotation vector in camera axes (x: lean towards or away
from the camera, y: turn about the image's vertical, z: roll in the image plane), RMS in
degrees: all of it, the part that is constant over a sequence, and the part left after
removing its 1 s Gaussian smoothing (what changes faster than a second). Small fast parts mean
the error is a slow misjudgement of the body's orientation, not jitter.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation

from simpose.data.h36m import load_h36m
from simpose.data.paths import shared_dir
from simpose.eval.metrics import mpjpe, n_mpjpe, pa_mpjpe, procrustes_transform
from simpose.eval.runner import ablation_settings, describe_settings
from simpose.track.estimator import Estimator


def breakdown(pred: np.ndarray, gt: np.ndarray, fps: float) -> dict[str, np.ndarray]:
    """(T, J, 3) prediction and ground truth (metres, camera frame, joint 0 the root) -> per-pose
    errors (mm) and the rotation error's vectors (T, 3) degrees: whole, sequence mean, fast part."""
    p, g = pred - pred[:, :1], gt - gt[:, :1]
    rotmat = procrustes_transform(p, g).rotmat  # (T, 3, 3), applied as R @ p
    rotvec = np.degrees(Rotation.from_matrix(rotmat).as_rotvec())
    return {
        "P1": mpjpe(p, g, root=0),
        "scale": n_mpjpe(p, g, root=0),
        "rotation": mpjpe(p @ np.swapaxes(rotmat, -1, -2), g, root=0),
        "P2": pa_mpjpe(p, g),
        "rot": rotvec,
        "rot_mean": np.broadcast_to(rotvec.mean(0), rotvec.shape),
        "rot_fast": rotvec - gaussian_filter1d(rotvec, fps, axis=0, mode="nearest"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="lifter .pt (default: the shipped weights)")
    parser.add_argument("--lifter-only", action="store_true", help="the lifter alone (no refinement, no body)")
    parser.add_argument("--no-body", action="store_true", help="the refinement's joints, not the fitted body's")
    parser.add_argument("--every", type=int, default=1, help="every K-th sequence only (a quick look, not the protocol)")
    args = parser.parse_args()
    settings = ablation_settings(body=not args.no_body, lifter_only=args.lifter_only)
    est = Estimator.from_pretrained(args.weights, **settings)
    per_action: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for seq in load_h36m(shared_dir() / "benchmarks" / "h36m")[:: args.every]:
        x = np.asarray(seq.joints2d, np.float64)[:, 0]
        pred = est.estimate_keypoints(x, None, "h36m17", seq.camera, seq.fps).joints3d[:, 0].astype(np.float64)
        for key, value in breakdown(pred, np.asarray(seq.joints3d, np.float64)[:, 0], seq.fps).items():
            per_action[seq.action][key].append(value)
    errors = ("P1", "scale", "rotation", "P2")
    print(f"simpose.Estimator, {describe_settings(settings)}, ground-truth 2D; mm after aligning each pose by:")
    print("| action | nothing (P1) | scale | rotation | rotation + scale + translation (P2) |\n|---|---:|---:|---:|---:|")
    means = {k: [] for k in errors}
    for action in sorted(per_action):
        row = [float(np.concatenate(per_action[action][k]).mean()) for k in errors]
        for k, v in zip(errors, row):
            means[k].append(v)
        print(f"| {action} | " + " | ".join(f"{v:.1f}" for v in row) + " |")
    print("| **average** | " + " | ".join(f"**{np.mean(means[k]):.1f}**" for k in errors) + " |")
    print("\nrotation error, RMS degrees about the camera's axes:\n| part | x (lean to/from camera) | y (turn) | z (roll) |\n|---|---:|---:|---:|")
    for key, label in (("rot", "all"), ("rot_mean", "constant per sequence"), ("rot_fast", "faster than 1 s")):
        v = np.concatenate([np.concatenate(per_action[a][key]) for a in per_action])
        rms = np.sqrt((v**2).mean(0))
        print(f"| {label} | {rms[0]:.2f} | {rms[1]:.2f} | {rms[2]:.2f} |")


if __name__ == "__main__":
    main()
