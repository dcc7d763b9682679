"""Reprojection against jitter: the body alignment's 2D term swept on synthetic and real sequences.

    python benchmarks/align_tradeoff.py [--cache /tmp/refine_val] [--max-sequences 12] [--max-frames 300] [--no-real] [--no-synthetic]

The exported joints are the fitted body's (one skeleton of constant bone lengths per track), so
they cannot sit on every noisy detection. This sweeps :class:`simpose.body.align.AlignConfig`
(``reprojection_m``, the 2D term's std; the 2D target smoothed over time, ``smooth_2d_s``; a Huber
2D loss, ``robust_m``) and prints, per setting:

- **synthetic** (settings are chosen here; no real data): whole procedural sequences of the
  validation cache of ``benchmarks/refine_synthetic.py`` (built on the first run), one camera each,
  2D through the detector-noise model (:mod:`simpose.models.noise`). MPJPE and PA-MPJPE
  (root-relative, mm), acceleration error (camera frame, mm/frame^2, against the true motion),
  reprojection (px) against the noisy 2D and against the TRUE 2D, worst limb CV. The row
  ``detections`` is the noise model itself: what a skeleton snapped joint by joint onto the
  detections (the previous version) scores against the true 2D.
- **real** (reporting only): the inputs of ``benchmarks/skeleton_consistency.py`` (MediaPipe 2D
  from the cue cache, run once per input through ``estimate_video``, then every setting through
  ``estimate_keypoints`` on the same h36m17 2D): reprojection px against the detections and
  against the detections smoothed over 0.04 s, acceleration (mm/frame^2), worst limb CV.

Every prediction is ``simpose.Estimator.estimate_keypoints`` with the product's settings except
the alignment's. Reprojection counts every valid frame's joints with confidence > 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from refine_synthetic import VAL, score, sequences  # noqa: E402
from skeleton_consistency import LIMBS, inputs, smoothed  # noqa: E402

from simpose.body.align import AlignConfig  # noqa: E402
from simpose.track.estimator import Estimator  # noqa: E402
from simpose.train.lifter_data import build_joint_cache  # noqa: E402


def settings(pick: str | None = None) -> list[tuple[str, dict]]:
    """(label, EstimatorConfig overrides) of the sweep; ``pick``: comma-separated row numbers (0-based) to keep."""
    base = AlignConfig()
    out = [("no 2D", {"align_2d": False})]
    for r in (0.02, 0.01, 0.005, 0.003, 0.002):
        out.append((f"2D {r * 1000:g} mm", {"align": dataclasses.replace(base, reprojection_m=r, smooth_2d_s=0.0, robust_m=0.0)}))
    for r in (0.005, 0.003, 0.002, 0.001):
        out.append((f"2D {r * 1000:g} mm, smoothed 0.04 s", {"align": dataclasses.replace(base, reprojection_m=r, smooth_2d_s=0.04, robust_m=0.0)}))
    for r in (0.003, 0.002):
        out.append((f"2D {r * 1000:g} mm, smoothed 0.04 s, Huber 1 cm", {"align": dataclasses.replace(base, reprojection_m=r, smooth_2d_s=0.04, robust_m=0.01)}))
    out.append((f"default ({base.reprojection_m * 1000:g} mm, smooth {base.smooth_2d_s:g} s, Huber {base.robust_m * 100:g} cm)", {}))
    if pick:
        rows = [int(i) for i in pick.split(",")]
        if not all(0 <= i < len(out) for i in rows):
            raise SystemExit(f"--settings: row numbers must lie in 0..{len(out) - 1}")
        out = [out[i] for i in rows]
    return out


def synthetic(folder: Path, seed: int, max_frames: int, bone_scale: float = 0.25, size_sigma: float = 0.06) -> list[dict]:
    """``refine_synthetic.sequences`` through the detector-noise model (it keeps the true 2D and camera-frame 3D)."""
    return sequences(folder, True, seed, bone_scale=bone_scale, size_sigma=size_sigma, max_frames=max_frames)


def project(K: np.ndarray, X: np.ndarray) -> np.ndarray:
    """(T, J, 3) camera metres -> (T, J, 2) pixels."""
    uv = np.einsum("ij,tkj->tki", K, X)
    return uv[..., :2] / uv[..., 2:]


def worst_cv(X: np.ndarray, valid: np.ndarray, names: list[str]) -> float:
    """Largest coefficient of variation of a limb's length over the valid frames."""
    cvs = []
    for a, b in LIMBS:
        L = np.linalg.norm(X[valid, names.index(a)] - X[valid, names.index(b)], axis=-1)
        cvs.append(L.std() / L.mean())
    return float(max(cvs))


def accel(X: np.ndarray) -> np.ndarray:
    """(T-2, J) |second difference| of (T, J, 3)."""
    return np.linalg.norm(X[2:] - 2 * X[1:-1] + X[:-2], axis=-1)


def px(a: np.ndarray, b: np.ndarray, use: np.ndarray) -> tuple[float, float]:
    """Summed pixel distance and count over ``use``."""
    d = np.linalg.norm(a - b, axis=-1)
    use = use & np.isfinite(d)
    return float(d[use].sum()), float(use.sum())


def run_synthetic(base: Estimator, data: list[dict], pick: str | None = None) -> None:
    names = list(base.estimate_keypoints(data[0]["uv"][:20], data[0]["conf"][:20], "h36m17", data[0]["K"], 50.0).joint_names)
    # the detector itself (joints snapped onto the detections): its distance to the truth
    noise = np.array([px(d["uv"], d["true"], d["conf"] > 0) for d in data]).sum(0)
    noise_conf = np.array([px(d["uv"], d["true"], d["conf"] > 0.3) for d in data]).sum(0)
    print(f"synthetic: {len(data)} sequences, {sum(len(d['X']) for d in data)} frames at 50 fps; detections vs true 2D: "
          f"{noise[0] / noise[1]:.1f} px (all), {noise_conf[0] / noise_conf[1]:.1f} px (confidence > 0.3); ground truth's worst limb CV 0")
    print("| setting | MPJPE mm | PA-MPJPE mm | accel err mm | reproj px vs noisy 2D | reproj px vs TRUE 2D | reproj px vs smoothed noisy 2D | worst limb CV |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(f"| detections (joints snapped onto them) | | | | 0.0 | {noise[0] / noise[1]:.1f} | | |")
    for label, kw in settings(pick):
        est = Estimator(base.lifter, base.body, dataclasses.replace(base.config, **kw), base.weights)
        preds, acc, rn, rt, rs, cv = [], [], np.zeros(2), np.zeros(2), np.zeros(2), []
        for d in data:
            seq = est.estimate_keypoints(d["uv"], d["conf"], "h36m17", d["K"], 50.0)
            X = seq.joints3d[:, 0].astype(np.float64)
            v = seq.valid[:, 0]
            preds.append(np.where(v[:, None, None], X, np.nan))
            err = np.abs(accel(X) - accel(d["X"]))
            acc.append(err[np.isfinite(err)])
            uv = project(d["K"], X)
            use = v[:, None] & (d["conf"] > 0)
            rn += px(uv, d["uv"], use)
            rt += px(uv, d["true"], use)
            sm = smoothed(np.where(use[..., None], d["uv"], np.nan), v, 0.04 * 50.0)
            rs += px(uv, sm, use)
            cv.append(worst_cv(X, v, names))
        p1, p2 = score([np.nan_to_num(p) for p in preds], data)
        acc_mm = 1e3 * np.concatenate([a.ravel() for a in acc]).mean()
        print(f"| {label} | {p1:.1f} | {p2:.1f} | {acc_mm:.2f} | {rn[0] / rn[1]:.1f} | {rt[0] / rt[1]:.1f} | {rs[0] / rs[1]:.1f} | {max(cv):.3f} |", flush=True)


def run_real(base: Estimator, pick: str | None = None) -> None:
    from simpose.data.paths import shared_dir

    shared = shared_dir()
    if shared is None:
        print("real: no shared data folder (SIMPOSE_SHARED); skipped")
        return
    seqs = {name: base.estimate_video(video, focal=focal) for name, video, focal in inputs(shared)}  # 2D from the cue cache
    names = list(next(iter(seqs.values())).joint_names)
    print("real (reporting only): per input `reproj px / reproj smooth px / accel mm / worst limb CV`")
    print("| setting | " + " | ".join(seqs) + " |")
    print("| --- |" + " ---: |" * len(seqs))
    for label, kw in settings(pick):
        est = Estimator(base.lifter, base.body, dataclasses.replace(base.config, **kw), base.weights)
        cells = []
        for s in seqs.values():
            kp, conf = s.joints2d[:, 0].astype(np.float64), s.confidence[:, 0].astype(np.float64)
            out = est.estimate_keypoints(kp, conf, "h36m17", s.K, s.fps)
            X, v = out.joints3d[:, 0].astype(np.float64), out.valid[:, 0]
            uv = project(s.K, X)
            use = v[:, None] & (conf > 0)
            r = px(uv, kp, use)
            rs = px(uv, smoothed(np.where(use[..., None], kp, np.nan), v, 0.04 * s.fps), use)
            a = accel(X)
            cells.append(f"{r[0] / r[1]:.1f} / {rs[0] / rs[1]:.1f} / {1e3 * np.nanmean(a):.1f} / {worst_cv(X, v, names):.3f}")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/refine_val"), help="validation joint cache (built on the first run)")
    parser.add_argument("--max-sequences", type=int, default=12, help="score every k-th sequence so that at most this many remain")
    parser.add_argument("--max-frames", type=int, default=300, help="longest sequence (frames)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument("--no-real", action="store_true")
    parser.add_argument("--settings", default=None, help="comma-separated rows of the sweep to run (0-based; default: all)")
    args = parser.parse_args()
    if args.max_sequences < 1 or args.max_frames < 10:
        parser.error("--max-sequences must be >= 1 and --max-frames >= 10")
    torch.set_num_threads(2)
    base = Estimator.from_pretrained()
    if not args.no_synthetic:
        build_joint_cache(args.cache, VAL, only=("proc_",))
        data = synthetic(args.cache, args.seed, args.max_frames)
        if len(data) > args.max_sequences:
            data = data[:: -(-len(data) // args.max_sequences)]
        run_synthetic(base, data, args.settings)
    if not args.no_real:
        run_real(base, args.settings)


if __name__ == "__main__":
    main()
