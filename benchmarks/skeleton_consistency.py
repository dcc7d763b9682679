"""One skeleton per person on real video: limb-length variation and 2D reprojection of the exported joints.

    python benchmarks/skeleton_consistency.py [--before DIR] [--out DIR] [--results FILE]

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
- ``reproj smooth``: the same against the detections smoothed over time (Gaussian, sigma
  0.04 s, within runs of valid frames): the part of the distance that is not the detector's
  frame-to-frame jitter, which one skeleton of constant bone lengths cannot follow;
- ``accel``: the mean acceleration of the exported joints, mm/frame^2 (jitter shows here);
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


def smoothed(x: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """(T, J, 2) Gaussian-smoothed over time (sigma in frames) within runs of valid frames."""
    out = x.copy()
    edges = np.diff(np.concatenate([[0], valid.astype(np.int8), [0]]))
    r = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / max(sigma, 1e-6)) ** 2)
    for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        seg = np.nan_to_num(x[s:e])
        w = np.isfinite(x[s:e]).all(-1).astype(float)[..., None]
        n = e - s
        num = np.apply_along_axis(lambda c: np.convolve(c, k, "full")[r : r + n], 0, seg * w)
        den = np.apply_along_axis(lambda c: np.convolve(c, k, "full")[r : r + n], 0, np.broadcast_to(w, seg.shape))
        out[s:e] = np.where(den > 0, num / np.maximum(den, 1e-12), np.nan)
    return out


def accel_mm(seq: PoseSequence) -> float:
    """Mean |X_t+1 - 2 X_t + X_t-1| of the exported joints over consecutive valid frames, mm."""
    X = np.asarray(seq.joints3d[:, 0], np.float64)
    a = np.linalg.norm(X[2:] - 2 * X[1:-1] + X[:-2], axis=-1)
    return float(1e3 * np.nanmean(a)) if np.isfinite(a).any() else float("nan")


def reprojection_px(seq: PoseSequence, smooth_s: float = 0.0) -> float:
    """Mean pixel distance of the projected joints3d to joints2d (valid frames, confidence > 0)."""
    X = np.asarray(seq.joints3d[:, 0], np.float64)
    uv = np.einsum("ij,tkj->tki", seq.K, X)
    uv = uv[..., :2] / uv[..., 2:]
    target = np.asarray(seq.joints2d[:, 0], np.float64)
    if smooth_s > 0:
        target = smoothed(target, seq.valid[:, 0], smooth_s * seq.fps)
    d = np.linalg.norm(uv - target, axis=-1)
    use = seq.valid[:, 0][:, None] & (seq.confidence[:, 0] > 0) & np.isfinite(d)
    return float(d[use].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=None, help="run folders of another version to compare against")
    parser.add_argument("--out", type=Path, default=None, help="write each estimate's poses.npz to OUT/NAME")
    parser.add_argument("--results", type=Path, default=None, help="also write the table to this markdown file")
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
        row = {"name": name, "frames": int(seq.valid[:, 0].sum()), "ms": 1e3 * t3d / seq.num_frames, "after": _scores(seq)}
        if args.before is not None:
            row["before"] = _scores(PoseSequence.load(args.before / name))
        rows.append(row)
    sides = ["before", "after"] if args.before is not None else ["after"]
    cols = ["worst limb CV", "reproj px", "reproj smooth px", "accel mm"]
    lines = ["| input | valid frames | " + " | ".join(f"{c} {s}" if len(sides) > 1 else c for c in cols for s in sides) + " | worst limb | 3D ms/frame |",
             "| --- | ---: |" + " ---: |" * (len(cols) * len(sides)) + " --- | ---: |"]  # fmt: skip
    for r in rows:
        cells = " | ".join(f"{r[s][c]:.3f}" if c == "worst limb CV" else f"{r[s][c]:.1f}" for c in cols for s in sides)
        lines.append(f"| {r['name']} | {r['frames']} | {cells} | {r['after']['worst limb']} | {r['ms']:.1f} |")
    print("\n".join(lines))
    if args.results is not None:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        head = f"# One skeleton on real video: `python benchmarks/skeleton_consistency.py{' --before DIR' if args.before else ''}`\n\n"
        args.results.write_text(head + "\n".join(lines) + "\n")


def _scores(seq: PoseSequence) -> dict:
    limb, cv = limb_cv(seq)
    return {"worst limb CV": cv, "worst limb": limb, "reproj px": reprojection_px(seq), "reproj smooth px": reprojection_px(seq, 0.04), "accel mm": accel_mm(seq)}

if __name__ == "__main__":
    main()
