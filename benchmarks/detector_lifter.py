"""The lifter on the detector's own output: which training data crosses to real video (issue 19's ablation).

    python benchmarks/detector_lifter.py --detcache DIR --variant NAME=WEIGHTS [--variant ...] \\
        [--out docs/results/detector_lifter] [--work /tmp/detector_lifter] [--skip-real]

Rows: the 2D-to-3D lifters compared on BlazePose input. ``map`` (always there) is the shipped
``h36m17`` lifter fed BlazePose through the synthetic-trained keypoint map (trained on projected
joints + the noise model: the product before the detector lifter); each ``--variant NAME=WEIGHTS``
is a ``blazepose33`` lifter (``simpose train lifter --config ...``: detector cache only, or mixed
with projected joints). Columns:

1. **held-out synthetic clips with the detector**: the detector cache's held-out clips (index a
   multiple of 10: ``TrainConfig.detector_hold_out``), each clip lifted whole
   (``Lifter.predict`` with its K, 30 fps), MPJPE / PA-MPJPE over the 17 h36m17 joints against
   the found person's true 3D, frames where the detector found the person;
2. **real multi-view video** (../shared/real/pose2sim, ``simpose eval multiview``): mean over
   the 4 views of PA-MPJPE over the 12 limb joints, and MediaPipe's own world landmarks;
3. **the 4 real Human3.6M frames** (../shared/real/h36m), each alone through the Estimator
   (MediaPipe in static-image mode): mean PA-MPJPE over the 12 limb joints.

Human3.6M with ground-truth 2D goes through the ``h36m17`` lifter, which this does not change
(``benchmarks/lifter_h36m.py``). Nothing real is fitted: the variants were chosen on the
held-out synthetic clips. Writes ``OUT/results.json`` and ``OUT/results.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from simpose.data.paths import shared_dir
from simpose.eval.metrics import mpjpe, pa_mpjpe

LIMBS = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
         "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")  # fmt: skip


def held_out_synthetic(lifter, files, use_map: bool) -> dict:
    """MPJPE / PA-MPJPE (mm) of a lifter on whole held-out detector-cache clips: all frames where
    the detector found the person, and broken down by scene (one person in full view: no other
    person, occluder or truncation, as in the real sets here; the others) and by the detector's
    own error on the frame (median over the 33 landmarks, below / above 10% of the torso diagonal)."""
    import warnings

    from simpose.synth.detcache import read_detector_clip
    from simpose.track.inputs import lifter_inputs, to_lifter_joints

    e1, e2, simple, good = [], [], [], []
    for f in files:
        clip = read_detector_clip(f)
        _, gt3d, _ = clip.found_person("h36m17")
        gt2d, _, _ = clip.found_person("blazepose33")
        found = clip.person >= 0
        if found.sum() < 2:
            continue
        kp, conf = clip.keypoints, clip.confidence
        if use_map:
            kp, conf = to_lifter_joints(kp, conf, "blazepose33")
        x, c = lifter_inputs(kp, conf, found)
        pred = lifter.predict(x, "h36m17" if use_map else "blazepose33", c, camera=clip.K, fps=float(clip.meta["fps"]))
        p, g = pred[found].astype(np.float64), (gt3d[found] - gt3d[found][:, :1]).astype(np.float64)
        e1.append(mpjpe(p, g))
        e2.append(pa_mpjpe(p, g))
        ls, rs, lh, rh = 11, 12, 23, 24  # BlazePose shoulders and hips: the torso diagonal
        torso = 0.5 * (np.linalg.norm(gt2d[:, ls] - gt2d[:, rh], axis=-1) + np.linalg.norm(gt2d[:, rs] - gt2d[:, lh], axis=-1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            det = np.nanmedian(np.linalg.norm(clip.keypoints - gt2d, axis=-1), axis=1) / torso
        good.append(det[found] < 0.1)
        one = clip.meta["people"] == 1 and clip.meta["occluders"] == 0 and not any(clip.meta["truncated"])
        simple.append(np.full(int(found.sum()), one))
    e1, e2, simple, good = (np.concatenate(v) for v in (e1, e2, simple, good))

    def part(m) -> list[float]:
        return [round(float(e1[m].mean()), 1), round(float(e2[m].mean()), 1), int(m.sum())]

    return {
        "frames": len(e1), "clips": len(files), "mpjpe_mm": float(e1.mean()), "pa_mpjpe_mm": float(e2.mean()),
        "one_person_full_view": part(simple), "crowded": part(~simple),
        "detector_error_below_10pct": part(good), "detector_error_above_10pct": part(~good),
    }  # fmt: skip


def real_multiview(data: Path, out: Path, weights: str | None, detector_lifter: bool) -> dict:
    from simpose.eval.multiview import EstimatorEstimate, MultiviewConfig, evaluate_multiview
    from simpose.track.run import default_cache_dir

    config = MultiviewConfig(cache_dir=str(default_cache_dir()), plot_frames=0)
    estimate = EstimatorEstimate(config.cache_dir, weights, detector_lifter)
    results, _ = evaluate_multiview(data, out, config=config, estimate=estimate)
    m = results["mean"]
    return {"simpose_pa_mpjpe_mm": m["simpose"]["pa_mpjpe_mm"], "mediapipe_pa_mpjpe_mm": m["mediapipe_world"]["pa_mpjpe_mm"],
            "simpose_mpjpe_mm": m["simpose"]["mpjpe_mm"], "per_view": {v: r["simpose"]["pa_mpjpe_mm"] for v, r in results["per_view"].items()}}  # fmt: skip


def real_h36m_frames(data: Path, weights: str | None, detector_lifter: bool, cache_dir: Path) -> dict:
    from simpose.body.joints import get_joint_set
    from simpose.cues.keypoints import KeypointConfig
    from simpose.data.h36m import load_h36m_frames
    from simpose.track.estimator import Estimator

    limbs = get_joint_set("h36m17").indices(LIMBS)
    est = Estimator.from_pretrained(
        detector_weights=weights, detector_lifter=detector_lifter, keypoints=KeypointConfig(static_image_mode=True), cache_dir=str(cache_dir)
    )
    errs = []
    for sample in load_h36m_frames(data):
        focal = float(sample.camera.K[..., 0, 0] + sample.camera.K[..., 1, 1]) / 2
        seq = est.estimate_video(sample.image_path, focal=focal)
        ours = seq.joints3d[0, 0].astype(np.float64)[limbs]
        errs.append(float(pa_mpjpe(ours[None], sample.people[0].joints3d[limbs][None])[0]))
    return {"per_frame": errs, "pa_mpjpe_mm": float(np.mean(errs))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detcache", type=Path, required=True, help="the detector cache (its held-out clips are scored)")
    parser.add_argument("--variant", action="append", default=[], help="NAME=WEIGHTS of a blazepose33 lifter")
    parser.add_argument("--out", type=Path, default=Path("docs/results/detector_lifter"))
    parser.add_argument("--skip-real", action="store_true", help="only the held-out synthetic clips")
    parser.add_argument("--hold-out-every", type=int, default=10)
    parser.add_argument("--work", type=Path, default=Path("/tmp/detector_lifter"), help="the runs' own outputs and the cue cache")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    from simpose.models.lifter import Lifter
    from simpose.synth.detcache import DetectorCache
    from simpose.train.lifter_detcache import split_clips

    shared = shared_dir() or Path("../shared")
    _, held = split_clips(DetectorCache(args.detcache).files, args.hold_out_every)
    rows = {"map": (None, False)}
    for v in args.variant:
        name, path = v.split("=", 1)
        rows[name] = (path, True)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"held_out_clips": len(held), "rows": {}}
    for name, (weights, own) in rows.items():
        lifter = Lifter.from_pretrained(weights) if own else Lifter.from_pretrained()
        r = {"weights": weights or "shipped h36m17 lifter + keypoint map", "synthetic_held_out": held_out_synthetic(lifter, held, not own)}
        if not args.skip_real:
            r["real_multiview"] = real_multiview(shared / "real" / "pose2sim", args.work / f"multiview_{len(results['rows'])}", weights, own)
            r["real_h36m_frames"] = real_h36m_frames(shared / "real" / "h36m", weights, own, args.work / "cache")
        results["rows"][name] = r
        print(name, json.dumps(r), flush=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    lines = [
        f"| trained on | held-out synthetic clips with the detector ({len(held)} clips), MPJPE / PA-MPJPE | of which one person in full view | crowded | real 4-view video, PA-MPJPE (MediaPipe) | 4 real H36M frames, PA-MPJPE |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results["rows"].items():
        s = r["synthetic_held_out"]
        mv = r.get("real_multiview")
        h = r.get("real_h36m_frames")
        mv_s = f"{mv['simpose_pa_mpjpe_mm']:.1f} ({mv['mediapipe_pa_mpjpe_mm']:.1f})" if mv else "-"
        h_s = f"{h['pa_mpjpe_mm']:.1f}" if h else "-"
        one, crowd = s["one_person_full_view"], s["crowded"]
        lines.append(f"| {name} | {s['mpjpe_mm']:.1f} / {s['pa_mpjpe_mm']:.1f} | {one[0]:.1f} / {one[1]:.1f} | {crowd[0]:.1f} / {crowd[1]:.1f} | {mv_s} | {h_s} |")
    table = "\n".join(lines) + "\n"
    (args.out / "results.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
