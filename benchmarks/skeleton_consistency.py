"""One skeleton per person on real video: limb-length variation and 2D reprojection of the exported joints.

    python benchmarks/skeleton_consistency.py [--before DIR] [--out DIR]

Inputs (real data, evaluation only): ``shared/real/videos/street_demo.mp4`` run as a new user
would (no focal: the default field of view), and each of the 4 views of ``shared/real/pose2sim``
(``camNN.mp4``, focal from ``K[0][0]`` of its ``calib.json``). Each goes through
``simpose.Estimator.estimate_video`` with the product's settings.

Per input it prints:

- ``worst limb CV``: over the 8 limb bones of ``h36m17`` (upper arms, forearms, thighs, shins),
  the largest coefficient of variation (std / mean) of the bone's length over the valid frames;
  one body per track gives ~0 (target <= 0.03);
- ``reproj px``: the mean distance (pixels) between the exported ``joints3d`` projected with
  ``K`` and the detections ``joints2d`` (every valid frame, every joint with confidence > 0);
- ``3D ms/frame``: the 3D stages' time (lifter, position, refinement, body fit) per frame.

``--before DIR`` also scores run folders made by another version (``DIR/street_demo``,
``DIR/cam01``...: ``simpose run VIDEO -o DIR/NAME --no-views [--focal F]``), side by side.
``--out DIR`` writes each estimate's ``poses.npz`` to ``DIR/NAME``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from simpose import Estimator, PoseSequence
from simpose.data.paths import shared_dir

LIMBS = [
    (f"{s}_{a}", f"{s}_{b}") for s in ("left", "right") for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))
]  # fmt: skip


def inputs(shared: Path) -> list[tuple[str, Path, float | None]]:
    """(name, video, focal or None) of every input."""
    out = [("street_demo", shared / "real" / "videos" / "street_demo.mp4", None)]
    calib = json.loads((shared / "real" / "pose2sim" / "calib.json").read_text())
    for cam in sorted(calib):
        out.append((cam, shared / "real" / "pose2sim" / f"{cam}.mp4", float(calib[cam]["K"][0][0])))
    return out


def limb_cv(seq: PoseSequence) -> tuple[str, float]:
    """The worst limb's coefficient of variation of length over valid frames (person 0)."""
    names = list(seq.joint_names)
    X = np.asarray(seq.joints3d[:, 0], np.float64)[seq.valid[:, 0]]
    worst = ("", 0.0)
    for a, b in LIMBS:
        L = np.linalg.norm(X[:, names.index(a)] - X[:, names.index(b)], axis=-1)
        L = L[np.isfinite(L)]
        cv = float(L.std() / L.mean()) if len(L) > 1 else float("nan")
        if cv > worst[1]:
            worst = (f"{a.split('_', 1)[0]} {a.split('_', 1)[1]}-{b.split('_', 1)[1]}", cv)
    return worst


def reprojection_px(seq: PoseSequence) -> float:
    """Mean pixel distance of the projected joints3d to joints2d (valid frames, confidence > 0)."""
    X = np.asarray(seq.joints3d[:, 0], np.float64)
    uv = np.einsum("ij,tkj->tki", seq.K, X)
    uv = uv[..., :2] / uv[..., 2:]
    d = np.linalg.norm(uv - seq.joints2d[:, 0], axis=-1)
    use = seq.valid[:, 0][:, None] & (seq.confidence[:, 0] > 0) & np.isfinite(d)
    return float(d[use].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=None, help="run folders of another version to compare against")
    parser.add_argument("--out", type=Path, default=None, help="write each estimate's poses.npz to OUT/NAME")
    args = parser.parse_args()
    shared = shared_dir()
    if shared is None:
        parser.error("no shared data folder: set SIMPOSE_SHARED")
    est = Estimator.from_pretrained()
    rows = []
    for name, video, focal in inputs(shared):
        seq = est.estimate_video(video, focal=focal)
        if args.out is not None:
            seq.save(args.out / name, json=False)
        t3d = sum(seq.timings.get(k, 0.0) for k in ("lifter", "position", "refine", "self_train", "body_fit"))
        row = {"name": name, "frames": int(seq.valid[:, 0].sum()), "limb": limb_cv(seq), "reproj": reprojection_px(seq), "ms": 1e3 * t3d / seq.num_frames}
        if args.before is not None:
            before = PoseSequence.load(args.before / name)
            row["before_limb"], row["before_reproj"] = limb_cv(before), reprojection_px(before)
        rows.append(row)
    head = "| input | valid frames | worst limb CV | worst limb | reproj px | 3D ms/frame |"
    sep = "| --- | ---: | ---: | --- | ---: | ---: |"
    if args.before is not None:
        head = "| input | valid frames | worst limb CV before | after | worst limb (after) | reproj px before | after | 3D ms/frame |"
        sep = "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |"
    print(head)
    print(sep)
    for r in rows:
        if args.before is not None:
            print(f"| {r['name']} | {r['frames']} | {r['before_limb'][1]:.3f} | {r['limb'][1]:.3f} | {r['limb'][0]} | {r['before_reproj']:.1f} | {r['reproj']:.1f} | {r['ms']:.1f} |")
        else:
            print(f"| {r['name']} | {r['frames']} | {r['limb'][1]:.3f} | {r['limb'][0]} | {r['reproj']:.1f} | {r['ms']:.1f} |")


if __name__ == "__main__":
    main()
