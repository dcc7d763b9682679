"""Where pose2sim's PA-MPJPE comes from: a measured account of issue 21's -10% target.

    python benchmarks/adapt_error_breakdown.py [--data ../shared/real/pose2sim] [--out /work/runs/h21/breakdown]
        [--adapt off,params] [--oracle-adapt off,params]

Each view alone, as in ``benchmarks/adapt_real.py`` (the multi-view evaluation's reference: the
4-view triangulation; PA-MPJPE over the 12 limb joints, the same frames), and:

- **floor**: the body model itself fitted to the reference (the track's shape from the
  reference's bone lengths, then pose and translation optimised onto the reference's 3D joints,
  :func:`simpose.body.align.align_body` with a 3D term only): the error the body's joint
  definitions and one-shape-per-track leave even with perfect 3D (the representational part).
- **oracle 2D**: the reference projected into the view (with the view's frame offset) given to the
  Estimator as its 2D (BlazePose-33, confidence 1) in place of MediaPipe's, with each
  ``--oracle-adapt`` mode and the view's own masks and flow: how far perfect 2D cues take the
  lifter and the adaptation.
- **per axis**: the error of each ``--adapt`` estimate after the PA alignment, split into the
  camera's image plane (x, y) and depth (z) as RMS per joint (mm), and the same before the
  alignment's rotation and scale (hip-centred, the camera's axes).
- **per joint**: PA error of each limb joint (mean over views).
Writes OUT/results.md. Results: ``docs/results/adapt_real/results.md`` (section "Error breakdown").
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

import numpy as np

from simpose.body.align import AlignConfig, align_body
from simpose.body.fit import body_joints, fit_shape
from simpose.body.joints import convert, get_joint_set
from simpose.body.rig import JointRig
from simpose.data.paths import shared_dir
from simpose.eval.metrics import procrustes_align
from simpose.eval.multiview import LIMB_JOINTS, EstimatorEstimate, MultiviewConfig, evaluate_multiview, find_views
from simpose.track.run import default_cache_dir

EVAL = "h36m17"


class Recorded(EstimatorEstimate):
    """The evaluation's estimate, keeping each view's PoseSequence."""

    def __call__(self, video, K, fps):
        seq = self.sequence(video, K, fps)
        SEQS[(self.adapt, Path(video).stem)] = seq
        return seq.joints3d[:, 0].astype(np.float64), seq.valid[:, 0].copy()


SEQS: dict = {}


def limb_errors(pred: np.ndarray, ref: np.ndarray) -> dict:
    """Per-frame, per-limb-joint errors of ``pred`` (F, 17, 3) against ``ref`` (F, 17, 3), camera
    frame, both hip-centred as the multi-view scores are: ``pa`` (F, 12) metres after the
    similarity alignment, ``pa_axes`` (F, 12, 3) its residual per camera axis, ``centred_axes``
    (F, 12, 3) the residual before the alignment (hip-centred only). Frames with NaN are dropped."""
    js = get_joint_set(EVAL)
    limbs, hips = js.indices(LIMB_JOINTS), js.indices(["left_hip", "right_hip"])
    p = pred[:, limbs] - pred[:, hips].mean(1, keepdims=True)
    g = ref[:, limbs] - ref[:, hips].mean(1, keepdims=True)
    ok = np.isfinite(p).all((-1, -2)) & np.isfinite(g).all((-1, -2))
    p, g = p[ok], g[ok]
    aligned = procrustes_align(p, g)
    return {"pa": np.linalg.norm(aligned - g, axis=-1), "pa_axes": aligned - g, "centred_axes": p - g}


def floor_fit(body, seq, ref_cam: np.ndarray, src: np.ndarray) -> np.ndarray:
    """(T, 17, 3) the body fitted to the reference ``ref_cam`` (F, 17, 3, camera frame) at the
    view's frames ``src``: shape from the reference's bone lengths, the estimate's body as the
    start, then pose and translation onto the reference's joints (3D term only, a weak pose prior)."""
    T = len(seq.valid)
    target = np.full((T, 17, 3), np.nan)
    target[src] = ref_cam
    ok = np.isfinite(target).all((-1, -2)) & seq.valid[:, 0]
    start = seq.body_fit(0)
    shape = fit_shape(body, target, ok, joint_set=EVAL)
    start = dataclasses.replace(start, shape_params=shape, valid=start.valid & ok)
    rig = JointRig.build(body, shape, EVAL)
    cfg = AlignConfig(reprojection_m=0.0, depth_m=0.005, target_m=0.005, pose_rad=10.0, accel_m=1.0, iterations=60)
    fit = align_body(rig, start, None, None, seq.fps, target3d=target, config=cfg)
    return body_joints(body, fit, EVAL)


def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(..., 3) camera frame -> (..., 2) pixels (simpose's convention: centres at integers)."""
    uv = points @ np.asarray(K).T
    return uv[..., :2] / uv[..., 2:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=(shared_dir() or Path("../shared")) / "real" / "pose2sim")
    ap.add_argument("--out", type=Path, default=Path("/work/runs/h21/breakdown"))
    ap.add_argument("--adapt", default="off,params", help="Estimator adapt modes scored on MediaPipe's 2D")
    ap.add_argument("--oracle-adapt", default="off,params", help="adapt modes run on the projected reference as 2D")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cache = str(default_cache_dir())
    calib, videos = find_views(args.data)
    names = list(calib)
    modes = [m.strip() for m in args.adapt.split(",") if m.strip()]
    oracle_modes = [m.strip() for m in args.oracle_adapt.split(",") if m.strip()]
    results = {}
    for m in modes:
        res, _ = evaluate_multiview(args.data, args.out / m, config=MultiviewConfig(cache_dir=cache, plot_frames=0), estimate=Recorded(cache, adapt=m), progress=False)
        results[m] = res
    ref = np.load(args.out / modes[0] / "reference.npz")
    offsets = dict(zip([str(v) for v in ref["views"]], ref["offsets"]))
    ref_set = str(ref["joint_set"])
    ref_w = ref["points3d_world"]  # (T, J, 3) world, the detector's set
    ref_h36m = convert(ref_w, ref_set, EVAL, strict=False)
    T = len(ref_w)
    limbs = get_joint_set(EVAL).indices(LIMB_JOINTS)
    frames = np.flatnonzero(np.isfinite(ref_h36m[:, limbs]).all((-1, -2)))
    base = Recorded(cache).estimator()
    body = base.body

    rows: dict[str, dict[str, float]] = {}
    axes: dict[str, dict[str, np.ndarray]] = {}
    joints: dict[str, list[np.ndarray]] = {}
    for n in names:
        c = calib[n]
        src = frames + offsets[n]
        inside = (src >= 0) & (src < T)
        f_in, s_in = frames[inside], src[inside]
        ref_cam = ref_h36m[f_in] @ c.R.T + c.t
        for m in modes:
            e = limb_errors(SEQS[(m, n)].joints3d[s_in, 0].astype(np.float64), ref_cam)
            rows.setdefault(f"{m} (MediaPipe 2D)", {})[n] = e["pa"].mean() * 1000
            axes.setdefault(m, {})[n] = e
            joints.setdefault(m, []).append(e["pa"].mean(0) * 1000)
        # the floor: the body model on the reference itself
        seq = SEQS[(modes[0], n)]
        fl = floor_fit(body, seq, ref_cam, s_in)
        e = limb_errors(fl[s_in], ref_cam)
        rows.setdefault("floor: the body fitted to the reference", {})[n] = e["pa"].mean() * 1000
        joints.setdefault("floor", []).append(e["pa"].mean(0) * 1000)
        # the oracle: the reference's projection as the 2D
        ref_view = np.full((len(seq.valid), ref_w.shape[1], 3), np.nan)
        ref_view[s_in] = ref_w[f_in] @ c.R.T + c.t
        kp = project(ref_view, c.K)
        conf = np.isfinite(kp).all(-1).astype(np.float64)
        masks, flows = base.adapt_cues(videos[n], None, np.arange(len(seq.valid)), False)
        for m in oracle_modes:
            est = Recorded(cache, adapt=m).estimator()
            o = est.estimate_keypoints(kp, conf, ref_set, c.K, seq.fps, seq.image_size, masks=masks, flows=flows)
            e = limb_errors(o.joints3d[s_in, 0].astype(np.float64), ref_cam)
            rows.setdefault(f"oracle 2D (the reference projected), {m}", {})[n] = e["pa"].mean() * 1000
            joints.setdefault(f"oracle {m}", []).append(e["pa"].mean(0) * 1000)
        print(n, {k: round(v[n], 1) for k, v in rows.items()}, flush=True)

    lines = ["## PA-MPJPE (mm), each view alone against the 4-view triangulation", "",
             "| row | " + " | ".join(names) + " | mean |", "|---|" + "---:|" * (len(names) + 1)]
    for r, v in rows.items():
        lines.append(f"| {r} | " + " | ".join(f"{v[n]:.1f}" for n in names) + f" | {np.mean([v[n] for n in names]):.1f} |")
    lines += ["", "## Per camera axis (RMS per joint, mm; x, y: image plane, z: depth)", "",
              "| estimate | view | PA x | PA y | PA z | hip-centred x | hip-centred y | hip-centred z |", "|---|---|" + "---:|" * 6]
    for m in modes:
        for n in names:
            a = axes[m][n]
            pa = np.sqrt((a["pa_axes"] ** 2).mean((0, 1))) * 1000
            ce = np.sqrt((a["centred_axes"] ** 2).mean((0, 1))) * 1000
            lines.append(f"| {m} | {n} | " + " | ".join(f"{x:.1f}" for x in (*pa, *ce)) + " |")
    lines += ["", "## Per limb joint (PA, mm, mean over the views)", "", "| joint | " + " | ".join(joints) + " |", "|---|" + "---:|" * len(joints)]
    for i, j in enumerate(LIMB_JOINTS):
        lines.append(f"| {j} | " + " | ".join(f"{np.mean([x[i] for x in v]):.1f}" for v in joints.values()) + " |")
    md = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
