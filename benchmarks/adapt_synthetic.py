"""Direct optimisation of the body against keypoints, silhouettes and flow on rendered clips (issue 21's ablation, "params" rows).

    python benchmarks/adapt_synthetic.py [--clips 3] [--frames 16] [--size 192] [--iterations 60] [--seed 2026]
        [--set w_pose=0.2 --set lr=0.02 ...]

No real data. Each clip: one person rendered by simpose's engine (``ClipSynthesizer``, no
occluders, no truncation), its true body in camera frame. The start is what the pipeline
would hand over: the body fitted (``fit_body``) to noisy 3D joints (the true native joints +
a per-track systematic error per joint of ``--joint-bias`` m, per-frame noise of
``--joint-noise`` m, and a whole-body depth offset of ``--depth-offset`` m std). Cues: the true
COCO-17 keypoints + ``--kp-noise`` px noise, confidence 1 where visible, 0 elsewhere; the
rendered person mask; the rasterizer's exact flow. Rows: the start, then keypoints only /
+ silhouettes / + motion / all three; columns (mean over every frame of every clip, mm):
MPJPE (H36M-17, pelvis-aligned), PA-MPJPE, PVE (all vertices, pelvis-aligned), root error
(absolute pelvis position), and seconds per frame of the optimisation: wall time (the load
on the machine shows in it) and CPU time of the process (``time.process_time``; with
``OMP_NUM_THREADS=1`` one core's work). The speed figure of issue 21 (300 frames of one person):
``--clips 1 --frames 300 --rows "all three"``. ``OptimiseConfig``'s defaults were chosen on clips of seed 99.
Results: ``docs/results/adapt_synthetic/results.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from simpose.adapt.optimise import OptimiseConfig, optimise_body
from simpose.adapt.synthetic import synthetic_track
from simpose.body.align import align_body
from simpose.body.fit import BodyFit, body_joints, body_vertices, fit_body
from simpose.body.rig import JointRig
from simpose.camera import image_to_normalised
from simpose.track.estimator import EstimatorConfig
from simpose.body.joints import get_joint_set
from simpose.body.model import BodyModel
from simpose.eval.metrics import mpjpe, pa_mpjpe, pve
from simpose.synth.scene import SceneConfig
from simpose.synth.writer import ClipSynthesizer

ROWS = {
    "keypoints only": dict(w_silhouette=0.0, w_motion=0.0),
    "+ silhouettes": dict(w_motion=0.0),
    "+ motion": dict(w_silhouette=0.0),
    "all three": dict(),
}


def perturbed_start(body: BodyModel, truth: BodyFit, rng: np.random.Generator, bias: float, noise: float, depth: float) -> BodyFit:
    joints = body_joints(body, truth, "anny")
    T, J, _ = joints.shape
    noisy = joints + rng.normal(0, bias, (1, J, 3)) + rng.normal(0, noise, (T, J, 3))
    noisy[..., 2] += rng.normal(0, depth)
    return fit_body(body, noisy)


def aligned_start(body: BodyModel, start: BodyFit, kp_h36m: np.ndarray, conf_h36m: np.ndarray, K: np.ndarray, fps: float) -> BodyFit:
    """The product's keypoint-only refinement of a start (:func:`simpose.body.align.align_body`,
    the Estimator's settings): its pose and translation on the h36m17 2D and its own 3D."""
    rig = JointRig.build(body, start.shape_params, "h36m17")
    xy = image_to_normalised(kp_h36m, K)
    return align_body(rig, start, xy, conf_h36m, fps, target3d=body_joints(body, start, "h36m17"), config=EstimatorConfig().align)


def scores(body: BodyModel, fit: BodyFit, truth: BodyFit) -> dict:
    root = get_joint_set("h36m17").root
    p, g = body_joints(body, fit, "h36m17"), body_joints(body, truth, "h36m17")
    frames = np.arange(len(fit.valid))
    pv, gv = body_vertices(body, fit, frames), body_vertices(body, truth, frames)
    return {
        "MPJPE": mpjpe(p, g, root=root),
        "PA-MPJPE": pa_mpjpe(p, g),
        "PVE": pve(pv, gv, align="root", pred_root=p[:, root], gt_root=g[:, root]),
        "root": np.linalg.norm(p[:, root] - g[:, root], axis=-1) * 1000,
    }


def estimator_rows(args, syn: ClipSynthesizer, body: BodyModel, config: OptimiseConfig) -> None:
    """``--estimator``: the whole Estimator on each clip's COCO-17 2D (+ noise) with adapt off /
    params / weights (the rasterizer's masks and flow as the cues, ``config`` their settings), and
    weights with a lifter whose weights were re-initialised (no synthetic pretraining)."""
    import copy

    import torch

    from simpose.track.estimator import Estimator

    est = Estimator.from_pretrained(cache_dir="", adapt_config=config)
    untrained = copy.deepcopy(est.lifter)
    torch.manual_seed(0)
    for m in untrained.net.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    variants = {
        "off (keypoint-only refinement)": (est.lifter, "off"),
        "params (all three)": (est.lifter, "params"),
        "weights (all three)": (est.lifter, "weights"),
        "untrained lifter, off": (untrained, "off"),
        "untrained lifter, weights": (untrained, "weights"),
    }
    if args.variants:
        variants = {k: v for k, v in variants.items() if k in [n.strip() for n in args.variants.split(",")]}
    rng = np.random.default_rng(args.seed)
    results: dict[str, list[dict]] = {v: [] for v in variants}
    secs: dict[str, list[float]] = {v: [] for v in variants}
    adapt_s: dict[str, list[float]] = {v: [] for v in variants}
    for c in range(args.clips):
        track = synthetic_track(syn, args.seed, c)
        kp = track.joints2d["coco17"] + rng.normal(0, args.kp_noise, track.joints2d["coco17"].shape)
        conf = track.visible["coco17"].astype(np.float64)
        for name, (lifter, adapt) in variants.items():
            est.lifter, est.config = lifter, est.config.with_settings(adapt=adapt)
            cpu = time.process_time()
            seq = est.estimate_keypoints(kp, conf, "coco17", track.K, syn.config.fps, track.image_size, masks=list(track.masks), flows=list(track.flows))
            secs[name].append((time.process_time() - cpu) / args.frames)
            adapt_s[name].append(seq.timings.get("adapt", 0.0) / args.frames)
            results[name].append(scores(body, seq.body_fit(0), track.fit))
            print(f"clip {c} {name:32s} " + " ".join(f"{k} {np.nanmean(v):6.1f}" for k, v in results[name][-1].items()) + f"  CPU {secs[name][-1]:.3f} s/frame", flush=True)
    cols = ["MPJPE", "PA-MPJPE", "PVE", "root"]
    print(f"\n{args.clips} clips x {args.frames} frames, {args.size} px, the Estimator on COCO-17 2D + {args.kp_noise} px; mm, mean over frames")
    print("| row | " + " | ".join(cols) + " | CPU s/frame (whole Estimator) | adaptation wall s/frame |")
    print("|---|" + "---:|" * (len(cols) + 2))
    for name, lst in results.items():
        vals = [np.nanmean(np.concatenate([d[k] for d in lst])) for k in cols]
        print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in vals) + f" | {np.mean(secs[name]):.3f} | {np.mean(adapt_s[name]):.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=3)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--iterations", type=int, default=OptimiseConfig().iterations)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--joint-bias", type=float, default=0.03)
    ap.add_argument("--joint-noise", type=float, default=0.02)
    ap.add_argument("--depth-offset", type=float, default=0.05)
    ap.add_argument("--kp-noise", type=float, default=2.0)
    ap.add_argument("--start", choices=("aligned", "fit"), default="aligned",
                    help="aligned: the noisy-joints fit then the product's keypoint-only alignment (the Estimator's start); fit: the noisy-joints fit only")
    ap.add_argument("--estimator", action="store_true", help="rows of the whole Estimator: adapt off / params / weights, and an untrained lifter")
    ap.add_argument("--variants", default="", help="with --estimator: comma-separated subset of its rows")
    ap.add_argument("--set", action="append", default=[], help="OptimiseConfig field=value (with --estimator too: the adaptation's settings)")
    ap.add_argument("--rows", default=",".join(ROWS), help="comma-separated subset of the rows")
    args = ap.parse_args()

    base = OptimiseConfig(iterations=args.iterations)
    for kv in args.set:
        k, v = kv.split("=")
        base = dataclasses.replace(base, **{k: type(getattr(base, k))(v)})
    syn = ClipSynthesizer(SceneConfig(size=args.size, frames=args.frames, people=1, occluder_prob=0.0, truncated_share=0.0))
    body = BodyModel()
    if args.estimator:
        return estimator_rows(args, syn, body, base)
    rng = np.random.default_rng(args.seed)
    rows = [r.strip() for r in args.rows.split(",")]
    results: dict[str, list[dict]] = {"start": []}
    secs: dict[str, list[float]] = {r: [] for r in rows}
    cpus: dict[str, list[float]] = {r: [] for r in rows}
    for c in range(args.clips):
        track = synthetic_track(syn, args.seed, c)
        truth = track.fit
        start = perturbed_start(body, truth, rng, args.joint_bias, args.joint_noise, args.depth_offset)
        kp = track.joints2d["coco17"] + rng.normal(0, args.kp_noise, track.joints2d["coco17"].shape)
        conf = track.visible["coco17"].astype(np.float64)
        if args.start == "aligned":
            kp_h = track.joints2d["h36m17"] + rng.normal(0, args.kp_noise, track.joints2d["h36m17"].shape)
            start = aligned_start(body, start, kp_h, track.visible["h36m17"].astype(np.float64), track.K, syn.config.fps)
        results["start"].append(scores(body, start, truth))
        for r in rows:
            cfg = dataclasses.replace(base, **ROWS[r])
            cpu = time.process_time()
            res = optimise_body(body, start, track.K, track.image_size, kp, conf, "coco17", list(track.masks), list(track.flows), cfg)
            cpus[r].append((time.process_time() - cpu) / args.frames)
            results.setdefault(r, []).append(scores(body, res.fit, truth))
            secs[r].append(res.seconds / args.frames)
            print(f"clip {c} {r:15s} " + " ".join(f"{k} {np.mean(v):6.1f}" for k, v in results[r][-1].items())
                  + f"  (start {np.mean(results['start'][-1]['PA-MPJPE']):.1f} PA)  {secs[r][-1]:.3f} s/frame, CPU {cpus[r][-1]:.3f}", flush=True)

    print(f"\n{args.clips} clips x {args.frames} frames, {args.size} px, {base.iterations} Adam steps; mm, mean over frames")
    cols = ["MPJPE", "PA-MPJPE", "PVE", "root"]
    print(f"| {'row':15s} | " + " | ".join(f"{c:>8s}" for c in cols) + " | s/frame | CPU s/frame | CPU s / 300 frames |")
    print("|" + "---|" * (len(cols) + 4))
    for r, lst in results.items():
        vals = [np.mean(np.concatenate([d[c] for d in lst])) for c in cols]
        sp = [f"{np.mean(secs[r]):.3f}", f"{np.mean(cpus[r]):.3f}", f"{300 * np.mean(cpus[r]):.0f}"] if r in secs else ["-"] * 3
        print(f"| {r:15s} | " + " | ".join(f"{v:8.1f}" for v in vals) + " | " + " | ".join(sp) + " |")


if __name__ == "__main__":
    main()
