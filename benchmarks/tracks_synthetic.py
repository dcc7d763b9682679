"""``simpose eval tracks`` on a tiny synthetic 3-person scene, printed as its results.md table.

    OMP_NUM_THREADS=1 python benchmarks/tracks_synthetic.py --out /tmp/tracks_synthetic [--no-2d]

Three walking body-model skeletons (``BodyModel.forward_joints``, h36m17; 3, 4.5 and 6 m away,
1.3 m apart, drifting right at 0.3 m/s; the far one enters at frame 15) are projected through K
(exact pinhole 2D, no detector noise), their columns shuffled (prediction column p holds person
``ORDER[p]``), and lifted by ``Estimator.estimate_keypoints``. The run is saved as ``run/poses.npz``,
the truth as ``gt.npz`` (:func:`simpose.eval.tracks.write_gt`; ``--no-2d``: without 2D, so the
association runs on 3D camera positions), and both are scored into ``eval/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from simpose.body.model import BodyModel
from simpose.motion.procedural import swinging_limbs
from simpose.eval.tracks import evaluate_tracks_files, write_gt
from simpose.track.estimator import Estimator

FPS, T = 50.0, 60
K = np.array([[1000.0, 0.0, 639.5], [0.0, 1000.0, 359.5], [0.0, 0.0, 1.0]])
ORDER = np.array([2, 0, 1])


def walker(body: BodyModel, x: float, depth: float, phase: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, 17, 2) pixels and (T, 17, 3) metres of a body swinging its limbs, starting at (x, 0.1, depth)."""
    t = np.arange(T) / FPS
    pose = swinging_limbs(T, FPS, phase)
    glob = np.zeros((T, 3))
    glob[:, 1] = 0.3
    trans = np.stack([np.full(T, x) + 0.3 * t, np.full(T, 0.1), np.full(T, depth)], -1)
    with torch.no_grad():
        X = body.forward_joints(
            "h36m17", torch.as_tensor(pose), torch.full((1, 6), 0.5, dtype=torch.float64), torch.as_tensor(glob), torch.as_tensor(trans)
        ).numpy()
    uv = X @ K.T
    return uv[..., :2] / uv[..., 2:], X


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--no-2d", action="store_true", help="Ground truth without 2D: associate on 3D camera positions.")
    args = parser.parse_args()
    body = BodyModel()
    people = [walker(body, -1.2, 3.0, 0.0), walker(body, 0.2, 4.5, 1.0), walker(body, 1.4, 6.0, 2.0)]
    uv = np.stack([p[0] for p in people], 1)  # (T, 3, 17, 2), ground-truth order
    X = np.stack([p[1] for p in people], 1)
    uv[:15, 2] = X[:15, 2] = np.nan  # the far person enters at frame 15
    seq = Estimator.from_pretrained().estimate_keypoints(uv[:, ORDER], None, "h36m17", K, FPS)
    seq.save(args.out / "run", json=False)
    write_gt(args.out / "gt.npz", X, joints2d=None if args.no_2d else uv)
    _, paths = evaluate_tracks_files(args.out / "run", args.out / "gt.npz", args.out / "eval")
    print(paths[1].read_text())
    print("wrote " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    main()
