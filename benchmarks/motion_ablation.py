"""The motion network's input ablation: RGB / flow / keypoints, trained on synthetic, tested on real (issue 22).

    python benchmarks/motion_ablation.py --crops /work/runs/motion/cache --work /work/runs/motion/ablation \\
        [--steps 800] [--rows all] [--out docs/results/motion_ablation] [--skip-real] [--estimator keypoints,flow_keypoints]

Every row is one :class:`~simpose.models.motion_net.MotionNet` (same architecture, window, crop,
steps, batch, seed: the same training budget), trained by :func:`simpose.train.motion.train_motion`
on the training clips of the motion crop cache (resumable: a killed run continues), seeing:

RGB | flow (DIS) | flow (ground truth at training, DIS at test) | keypoints | flow + keypoints | RGB + flow + keypoints
(and, not in ``all``: flow_person_keypoints, the flow + keypoints row with ``flow_norm="person"``, and
flow_gt_person_keypoints, that with the exact flow at training)

Columns:

1. **held-out synthetic clips** (index a multiple of 10; DIS flow, detector keypoints): MPJPE and
   PA-MPJPE (mm) over the 17 h36m17 joints, frames where the detector found the person. These
   clips come from the training distribution (same background and texture sources); the
   domain-shifted set (photographic backgrounds) is benchmarks/motion_shifted.py's.
2. **real 4-view video** (../shared/real/pose2sim): ``simpose eval multiview``'s reference and
   scoring (:func:`simpose.eval.multiview.evaluate_multiview`) with each view's monocular
   estimate from :func:`simpose.track.motion_video.estimate_motion_video` (BlazePose from the cue
   cache, every 2nd frame of the 60 fps video = the model's 30 fps, crops and DIS flow made by the
   functions the training crops came from): mean over the 4 views of PA-MPJPE over the 12 limbs;
   with ``--estimator ROWS`` also through the product path (``simpose run --model motion``:
   the Estimator's body fit, refinement and alignment on the motion model's 3D).

Also: training seconds per row (wall clock, 2 shared cores) and the real-video path's speed.
Nothing is tuned on the real video. Writes ``OUT/results.json`` and ``OUT/results.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from simpose.data.paths import shared_dir

# name -> (inputs, training flow, flow_norm)
ROWS = {  # the main comparison first: a run cut short still answers it
    "keypoints": (("keypoints",), "dis", "raw"),
    "flow_keypoints": (("flow", "keypoints"), "dis", "raw"),
    "flow": (("flow",), "dis", "raw"),
    "rgb": (("rgb",), "dis", "raw"),
    "flow_gt": (("flow",), "gt", "raw"),
    "rgb_flow_keypoints": (("rgb", "flow", "keypoints"), "dis", "raw"),
    # the flow on the keypoint skeleton minus its median (benchmarks/motion_flow_stats.py: the
    # renders' flow off the person and the person's translation are what differs from real video)
    "flow_person_keypoints": (("flow", "keypoints"), "dis", "person"),
    # the same with the renderer's exact flow at training (DIS at test): is the renders' DIS noise on the person what is left?
    "flow_gt_person_keypoints": (("flow", "keypoints"), "gt", "person"),
}
LABELS = {
    "rgb": "RGB", "flow": "flow (DIS)", "flow_gt": "flow (GT at training, DIS at test)", "keypoints": "keypoints",
    "flow_keypoints": "flow + keypoints", "rgb_flow_keypoints": "RGB + flow + keypoints",
    "flow_person_keypoints": "flow on the person, minus its median (flow_norm person) + keypoints",
    "flow_gt_person_keypoints": "flow on the person, minus its median, GT at training, DIS at test + keypoints",
}  # fmt: skip


def held_out_synthetic(model, crops: Path, indices: list[int], keep: dict[int, np.ndarray] | None = None) -> dict:
    """MPJPE / PA-MPJPE (mm) on whole held-out clips, DIS flow, frames with a person found
    (and, with ``keep``, only clip i's frames where ``keep[i]`` (T,) bool is True)."""
    from simpose.eval.metrics import mpjpe, pa_mpjpe
    from simpose.train.motion import load_motion_clips

    e1, e2 = [], []
    for i in indices:
        c = load_motion_clips(crops, [i], "dis")
        pred = model.predict({"rgb": c.rgb.float(), "flow": c.flow.float(), "keypoints": c.keypoints})["h36m17"]
        gt = c.targets[:, : pred.shape[1]]  # the h36m17 joints come first
        ok = np.isfinite(gt).all((1, 2)) & (keep[i] if keep is not None else True)
        if ok.any():
            e1.append(mpjpe(pred[ok], gt[ok]))
            e2.append(pa_mpjpe(pred[ok], gt[ok]))
    e1, e2 = np.concatenate(e1), np.concatenate(e2)
    return {"mpjpe_mm": float(e1.mean()), "pa_mpjpe_mm": float(e2.mean()), "frames": len(e1)}  # the metrics give mm


def real_multiview(model, data: Path, out: Path, tracks: dict) -> dict:
    """Mean over the views of the multiview evaluation's scores, with the motion model as the estimate."""
    from simpose.cues.crops import CropConfig
    from simpose.eval.multiview import MultiviewConfig, evaluate_multiview
    from simpose.track.motion_video import estimate_motion_video, motion_track
    from simpose.track.run import default_cache_dir

    cache_dir = str(default_cache_dir())

    def estimate(video: Path, K: np.ndarray, fps: float):
        key = str(video)
        if key not in tracks:  # crops and DIS flow once per view for every row
            tracks[key] = motion_track(video, float(model.card["fps"]), CropConfig.from_dict(model.card["crop"]), cache_dir)
        joints, valid, _ = estimate_motion_video(model, video, track=tracks[key])
        return joints, valid

    results, _ = evaluate_multiview(data, out, config=MultiviewConfig(cache_dir=cache_dir, plot_frames=0), estimate=estimate)
    return {"pa_mpjpe_mm": results["mean"]["simpose"]["pa_mpjpe_mm"], "mpjpe_mm": results["mean"]["simpose"]["mpjpe_mm"],
            "per_view_pa_mpjpe_mm": {v: r["simpose"]["pa_mpjpe_mm"] for v, r in results["per_view"].items()},
            "mediapipe_world_pa_mpjpe_mm": results["mean"]["mediapipe_world"]["pa_mpjpe_mm"]}  # fmt: skip


def real_estimator(weights: Path, data: Path, out: Path) -> dict:
    """The product path: ``simpose run --model motion`` (:class:`simpose.Estimator` with the motion
    model: body fit, refinement, alignment on its 3D) scored as ``simpose eval multiview`` scores it."""
    from simpose.eval.multiview import MultiviewConfig, evaluate_multiview
    from simpose.track.estimator import Estimator
    from simpose.track.run import default_cache_dir

    cache_dir = str(default_cache_dir())
    est = Estimator.from_pretrained(cache_dir=cache_dir, motion_weights=str(weights))

    def estimate(video: Path, K: np.ndarray, fps: float):
        seq = est.estimate_video(video, focal=float(K[0, 0]), fps=fps)
        return seq.joints3d[:, 0].astype(np.float64), seq.valid[:, 0].copy()

    results, _ = evaluate_multiview(data, out, config=MultiviewConfig(cache_dir=cache_dir, plot_frames=0), estimate=estimate)
    return {"pa_mpjpe_mm": results["mean"]["simpose"]["pa_mpjpe_mm"], "per_view_pa_mpjpe_mm": {v: r["simpose"]["pa_mpjpe_mm"] for v, r in results["per_view"].items()}}


def speed_640(model, tracks: dict, repeats: int = 1) -> dict:
    """Frames/s of crops + DIS flow + network on a real view resized to 640 px wide (detection
    excluded: the cue stage's, cached), the person's keypoints scaled alike."""
    import cv2

    from simpose.cues.crops import CropConfig, motion_crops
    from simpose.cues.video import open_video
    from simpose.models.motion import frame_inputs

    track = next(iter(tracks.values()))
    video = next(iter(tracks))
    source = open_video(video)
    frames = [f for i, f in source.frames(0, 2 * 48) if i % track.stride == 0][:48]
    h, w = frames[0].shape[:2]
    s = 640 / max(w, h)
    small = np.stack([cv2.resize(f, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) for f in frames])
    boxes = track.crops.boxes[: len(small)]
    # the keypoints of the crops, back in pixels of the small frames
    kp = (track.crops.keypoints[: len(small)].astype(np.float64) * boxes[:, None, 2:3] + boxes[:, None, :2] + 0.5) * s - 0.5
    valid = track.valid[: len(small)]
    config = CropConfig.from_dict(model.card["crop"])
    t0 = time.perf_counter()
    for _ in range(repeats):
        crops = motion_crops(small, np.where(valid[:, None, None], kp, np.nan), valid, config)
        x = frame_inputs(crops.rgb, crops.flow, crops.keypoints, track.inputs["keypoints"][: len(small), :, 2].numpy())
        model.predict(x)
    dt = (time.perf_counter() - t0) / repeats
    return {"frames": len(small), "size": list(small.shape[1:3][::-1]), "fps": len(small) / dt}


def markdown(results: dict) -> str:
    lines = [
        f"Training budget per row: {results['steps']} steps x batch {results['batch']} windows of {results['window']} frames "
        f"({results['train_clips']} training clips of the motion crop cache, {results['crop']} px crops), one process on 2 shared cores.",
        "",
        "| inputs | held-out synthetic MPJPE (mm) | held-out synthetic PA-MPJPE (mm) | real 4-view PA-MPJPE (mm) | real, through simpose.Estimator (mm) | training time (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results["rows"].items():
        real = r.get("real", {}).get("pa_mpjpe_mm", float("nan"))
        product = f"{r['estimator']['pa_mpjpe_mm']:.1f}" if "estimator" in r else "-"
        lines.append(f"| {LABELS[name]} | {r['synthetic']['mpjpe_mm']:.1f} | {r['synthetic']['pa_mpjpe_mm']:.1f} | {real:.1f} | {product} | {r['train_seconds']:.0f} |")
    if results.get("reference"):
        lines += ["", "For reference on the same real video: " + results["reference"]]
    if results.get("speed"):
        sp = results["speed"]
        lines += ["", f"Speed (crops + DIS flow + network, {sp['size'][0]}x{sp['size'][1]} frames, detection excluded): {sp['fps']:.1f} frames/s."]
    return "\n".join(lines) + "\n"


def main() -> None:
    from simpose.models.motion import MotionModel
    from simpose.train.lifter_detcache import split_clips
    from simpose.train.motion import HOLD_OUT_EVERY, MotionTrainConfig, train_motion

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/motion_ablation"))
    parser.add_argument("--out", type=Path, default=Path("docs/results/motion_ablation"))
    parser.add_argument("--data", type=Path, default=(shared_dir() or Path("../shared")) / "real" / "pose2sim")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0, help="training seed of every row (another seed: the rows' spread)")
    parser.add_argument("--rows", default="all", help="comma-separated names of ROWS, or all")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--estimator", default="", help="comma-separated rows also scored through simpose.Estimator (simpose run --model motion)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("anny", "simpose.eval", "simpose.cues"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    names = [n for n in ROWS if ROWS[n][2] == "raw"] if args.rows == "all" else args.rows.split(",")
    files = sorted(args.crops.glob("crops_*.npz"))
    train_files, held = split_clips(files, HOLD_OUT_EVERY)
    held_idx = [int(f.stem.split("_")[1]) for f in held]
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    if results.get("steps") != args.steps or results.get("crops") != str(args.crops) or results.get("seed", 0) != args.seed:  # rows of another budget or cache: start afresh
        results = {"rows": {}, "crops": str(args.crops)}
    tracks: dict = {}
    for name in names:
        inputs, flow_source, flow_norm = ROWS[name]
        config = MotionTrainConfig(inputs=inputs, flow_source=flow_source, steps=args.steps, flow_norm=flow_norm, seed=args.seed)
        cmd = f"simpose train motion --crops {args.crops} --out {args.work / name} --inputs {','.join(inputs)} --flow {flow_source} --flow-norm {flow_norm} --steps {args.steps} --seed {args.seed}"
        weights = train_motion(args.crops, args.work / name, config, command=cmd)
        model = MotionModel.from_weights(weights)
        row = {"inputs": list(inputs), "training_flow": flow_source, "train_seconds": model.card["training_seconds"], "weights": str(weights)}
        row["synthetic"] = held_out_synthetic(model, args.crops, held_idx)
        if not args.skip_real:
            row["real"] = real_multiview(model, args.data, args.work / name / "real", tracks)
            if "speed" not in results and "flow" in inputs:
                results["speed"] = speed_640(model, tracks)
            if name in args.estimator.split(","):
                row["estimator"] = real_estimator(weights, args.data, args.work / name / "real_estimator")
        results["rows"][name] = {**results["rows"].get(name, {}), **row}
        results.update(steps=args.steps, seed=args.seed, batch=config.batch, window=config.window, crop=model.card["crop"]["size"], train_clips=len(train_files), held_out_clips=len(held_idx))
        results_path.write_text(json.dumps(results, indent=2))
        logging.info("%s: %s", name, json.dumps(row))
    results["reference"] = ("the shipped keypoint lifter through simpose.Estimator (lifter_blazepose33, trained on far more data) "
                            "83.6 mm, MediaPipe's world landmarks 88.6 mm (benchmarks/multiview_pose2sim.py).")  # fmt: skip
    results_path.write_text(json.dumps(results, indent=2))
    (args.out / "results.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
