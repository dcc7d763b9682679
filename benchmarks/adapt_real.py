"""Test-time adaptation of the body on real video (issue 21's real columns): pose2sim's 4 views.

    python benchmarks/adapt_real.py [--data ../shared/real/pose2sim] [--out /work/runs/adapt/real] [--every 5]
        [--figure] [--speed]

Rows: the product today (``adapt="off"``: the keypoint-only refinement and 2D alignment), then
``adapt="params"`` with keypoints only / + silhouettes / + motion / all three (``OptimiseConfig``
defaults otherwise, chosen on synthetic clips only), and ``adapt="weights"`` (the same losses
back-propagated into a copy of the lifter, :mod:`simpose.adapt.network`; all three, keypoints only, + silhouettes). Each row is one run of the multi-view
evaluation (:func:`simpose.eval.multiview.evaluate_multiview`, the same as ``simpose eval
multiview``) with :class:`~simpose.eval.multiview.EstimatorEstimate` set to that adaptation:
PA-MPJPE of every view against the 4-view triangulation and the worst limb-length variation.
Then mesh-to-mask IoU (the masks are MediaPipe's person segmentation, the ones the adaptation
uses): in the same view (cues the adaptation saw), and in the held-out view ``cam04`` for the
meshes of cam01-03 (world frame by the calibration, the pelvis placed on the triangulated one,
so the IoU judges pose and shape, not monocular depth), every ``--every``-th scored frame.
Writes OUT/<row>/ (the evaluation's files), OUT/results.md (the table), and with ``--figure``
``docs/images/adapt_real_frame.png`` (one frame of cam01: the mask, the mesh before and after
the adaptation: weights with all three cues where that row is run, else params).
``--speed params|weights``: only the CPU time of that adaptation on cam01. Results: ``docs/results/adapt_real/results.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

import numpy as np
import torch

from simpose.adapt.optimise import OptimiseConfig
from simpose.body.fit import body_vertices
from simpose.body.joints import convert, get_joint_set
from simpose.camera import Camera
from simpose.data.paths import shared_dir
from simpose.eval.multiview import EstimatorEstimate, MultiviewConfig, evaluate_multiview, find_views
from simpose.render.raster import Rasterizer
from simpose.track.run import default_cache_dir

ROWS = {  # row -> (EstimatorConfig.adapt, OptimiseConfig fields changed)
    "off (keypoint-only refinement)": ("off", None),
    "keypoints only": ("params", dict(w_silhouette=0.0, w_motion=0.0)),
    "+ silhouettes": ("params", dict(w_motion=0.0)),
    "+ motion": ("params", dict(w_silhouette=0.0)),
    "all three": ("params", dict()),
    "weights (all three)": ("weights", dict()),
    "weights (keypoints only)": ("weights", dict(w_silhouette=0.0, w_motion=0.0)),
    "weights (+ silhouettes)": ("weights", dict(w_motion=0.0)),
}
HELD_OUT = "cam04"


class Recorded(EstimatorEstimate):
    """The evaluation's estimate, keeping each view's PoseSequence."""

    def __call__(self, video, K, fps):
        seq = self.sequence(video, K, fps)
        SEQS[(self, Path(video).stem)] = seq
        return seq.joints3d[:, 0].astype(np.float64), seq.valid[:, 0].copy()


SEQS: dict = {}


def silhouettes(raster: Rasterizer, body, seq, frames: np.ndarray, camera: Camera, to_cam=None) -> np.ndarray:
    """(F, H, W) bool: the body of ``seq`` rasterized at ``frames`` (``to_cam(vertices, frame)`` moves them into ``camera``)."""
    fit = seq.body_fit(0)
    out = []
    for f in frames:
        if not fit.valid[f]:
            out.append(None)
            continue
        v = body_vertices(body, fit, np.array([f]))[0]
        if to_cam is not None:
            v = to_cam(v, f)
        out.append(raster.rasterize(v, body.faces.numpy(), camera, barycentric=False).mask > 0)
    return out


def iou(a: np.ndarray | None, b: np.ndarray | None) -> float:
    if a is None or b is None or not b.any():
        return np.nan
    return float((a & b).sum() / max((a | b).sum(), 1))


def speed(data: Path, cache: str, mode: str) -> None:
    """``--speed MODE``: CPU seconds of ``adapt=MODE`` (all three cues) on cam01's 100 frames at
    1080x1920, the cue stage's masks and flow read from the cache (its first pass not counted):
    the whole estimate with it less the whole estimate without it (both from the cached 2D)."""
    import time

    calib, videos = find_views(data)
    cpu = {}
    for m in ("off", mode):
        ee = EstimatorEstimate(cache, adapt=m)
        ee.sequence(videos["cam01"], calib["cam01"].K, 60.0)  # the first call builds what later ones reuse
        tick = time.process_time()
        seq = ee.sequence(videos["cam01"], calib["cam01"].K, 60.0)
        cpu[m] = time.process_time() - tick
    extra = cpu[mode] - cpu["off"]
    T = len(seq.valid)
    print(f"cam01, {T} frames: the estimate {cpu['off']:.1f} s CPU with adapt off, {cpu[mode]:.1f} s with {mode}: the adaptation (cues from the cache "
          f"{seq.timings['adapt_cues']:.1f} s wall, optimisation {seq.timings['adapt']:.1f} s wall) {extra:.1f} s CPU; per 300 frames {300 * extra / T:.0f} s CPU")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=(shared_dir() or Path("../shared")) / "real" / "pose2sim")
    ap.add_argument("--out", type=Path, default=Path("/work/runs/adapt/real"))
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--figure", action="store_true", help="also draw docs/images/adapt_real_frame.png")
    ap.add_argument("--speed", choices=("params", "weights"), help="only the CPU time of this adaptation of cam01 (needs the cues cached by a first run)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cache = str(default_cache_dir())
    if args.speed:
        return speed(args.data, cache, args.speed)
    config = MultiviewConfig(cache_dir=cache, plot_frames=0)
    calib, videos = find_views(args.data)
    names = list(calib)
    rows = [r.strip() for r in args.rows.split(",")]
    table, ious, estimates, timing = {}, {}, {}, {}
    for r in rows:
        adapt, changed = ROWS[r]
        cfg = None if changed is None else dataclasses.replace(OptimiseConfig(), **changed)
        est = Recorded(cache, adapt=adapt, adapt_config=cfg)
        res, _ = evaluate_multiview(args.data, args.out / r.replace(" ", "_").replace("(", "").replace(")", "").replace("+", "plus"), config=config, estimate=est, progress=False)
        table[r] = res
        estimates[r] = est
        timing[r] = {n: SEQS[(est, n)].timings.get("adapt", 0.0) for n in names}
        print(f"{r:32s} PA-MPJPE " + " ".join(f"{n} {res['per_view'][n]['simpose']['pa_mpjpe_mm']:.1f}" for n in names)
              + f"  mean {res['mean']['simpose']['pa_mpjpe_mm']:.1f}  adapt s/view {np.mean(list(timing[r].values())):.1f}", flush=True)

    # mesh-to-mask IoU, same view and held-out view
    ref = np.load(args.out / rows[0].replace(" ", "_").replace("(", "").replace(")", "").replace("+", "plus") / "reference.npz")
    offsets = dict(zip([str(v) for v in ref["views"]], ref["offsets"]))
    pelvis_w = convert(ref["points3d_world"], str(ref["joint_set"]), "h36m17", strict=False)[:, get_joint_set("h36m17").root]
    base = EstimatorEstimate(cache).estimator()
    body = base.body
    T = len(pelvis_w)
    scored = np.flatnonzero(np.isfinite(pelvis_w).all(-1))
    scored = scored[(scored + max(offsets.values()) < T) & (scored + min(offsets.values()) >= 0)][:: args.every]
    masks = {}
    for n in names:
        m, _ = base.adapt_cues(videos[n], None, np.arange(T), False)
        masks[n] = m
    root = get_joint_set("h36m17").root
    c4 = calib[HELD_OUT]
    cam4 = Camera(K=torch.as_tensor(c4.K, dtype=torch.float64), R=torch.eye(3, dtype=torch.float64), t=torch.zeros(3, dtype=torch.float64), image_size=tuple(c4.image_size))
    for r in rows:
        ious[r] = {}
        for n in names:
            seq = SEQS[(estimates[r], n)]
            W, H = seq.image_size
            cam = Camera(K=torch.as_tensor(seq.K, dtype=torch.float64), R=torch.eye(3, dtype=torch.float64), t=torch.zeros(3, dtype=torch.float64), image_size=(W, H))
            src = scored + offsets[n]
            with Rasterizer(W, H) as raster:
                sil = silhouettes(raster, body, seq, src, cam)
            ious[r][n] = float(np.nanmean([iou(s, masks[n][f]) for s, f in zip(sil, src)]))
            if n == HELD_OUT:
                continue
            c = calib[n]

            def to_cam4(v, f, c=c, seq=seq, n=n):
                world = (v - seq.joints3d[f, 0, root]) @ c.R  # camera n -> world axes, pelvis at the origin
                t_ref = f - offsets[n]
                return (world + pelvis_w[t_ref]) @ c4.R.T + c4.t

            with Rasterizer(*c4.image_size) as raster:
                sil4 = silhouettes(raster, body, seq, src, cam4, to_cam4)
            dst = scored + offsets[HELD_OUT]
            ious[r][f"{n}->{HELD_OUT}"] = float(np.nanmean([iou(s, masks[HELD_OUT][f]) for s, f in zip(sil4, dst)]))
        print(f"{r:32s} IoU " + " ".join(f"{k} {v:.3f}" for k, v in ious[r].items()), flush=True)

    lines = [
        "| row | " + " | ".join(f"PA {n}" for n in names) + " | PA mean | worst limb CV (max over views) | IoU same view (mean) | IoU held-out cam04 (mean of cam01-03) | adapt s / view |",
        "|---|" + "---:|" * (len(names) + 5),
    ]
    for r in rows:
        pv = table[r]["per_view"]
        same = np.mean([ious[r][n] for n in names])
        held = np.mean([v for k, v in ious[r].items() if "->" in k])
        cv = max(pv[n]["simpose"]["worst_limb_cv"] for n in names)
        lines.append(f"| {r} | " + " | ".join(f"{pv[n]['simpose']['pa_mpjpe_mm']:.1f}" for n in names)
                     + f" | {table[r]['mean']['simpose']['pa_mpjpe_mm']:.1f} | {cv:.3f} | {same:.3f} | {held:.3f} | {np.mean(list(timing[r].values())):.1f} |")
    md = "\n".join(lines) + "\n\nIoU per view: \n\n" + "\n".join(f"- {r}: " + ", ".join(f"{k} {v:.3f}" for k, v in ious[r].items()) for r in rows) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(md)
    print(md)
    if args.figure:
        after = next((r for r in ("weights (all three)", "all three") if r in rows), rows[-1])
        figure(Path("docs/images/adapt_real_frame.png"), videos["cam01"], SEQS[(estimates[rows[0]], "cam01")], SEQS[(estimates[after], "cam01")],
               masks["cam01"], body, int(scored[len(scored) // 2] + offsets["cam01"]), after)


def figure(path: Path, video: Path, before, after, masks, body, frame: int, label: str) -> None:
    """One frame: the image with the mask, the mesh before, the mesh after (outlines over the mask)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simpose.cues.video import open_video

    image = next(img for i, img in open_video(video).frames(start=frame, end=frame + 1))
    W, H = before.image_size
    cam = Camera(K=torch.as_tensor(before.K, dtype=torch.float64), R=torch.eye(3, dtype=torch.float64), t=torch.zeros(3, dtype=torch.float64), image_size=(W, H))
    with Rasterizer(W, H) as raster:
        (b,), (a,) = silhouettes(raster, body, before, np.array([frame]), cam), silhouettes(raster, body, after, np.array([frame]), cam)
    m = masks[frame]
    ys, xs = np.nonzero(m | b | a)
    y0, y1, x0, x1 = max(ys.min() - 40, 0), min(ys.max() + 40, H), max(xs.min() - 40, 0), min(xs.max() + 40, W)
    fig, axes = plt.subplots(1, 3, figsize=(12, 6))
    panels = [("person mask (MediaPipe)", None), (f"mesh before (IoU {iou(b, m):.2f})", b), (f"mesh after, {label} (IoU {iou(a, m):.2f})", a)]
    for ax, (title, sil) in zip(axes, panels):
        ax.imshow(image[y0:y1, x0:x1])
        ax.imshow(np.ma.masked_where(~m[y0:y1, x0:x1], m[y0:y1, x0:x1]), alpha=0.35, cmap="Blues", vmin=0, vmax=1)
        if sil is not None:
            ax.contour(sil[y0:y1, x0:x1], levels=[0.5], colors="red", linewidths=1.5)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.suptitle(f"pose2sim cam01, frame {frame}: mask (blue) and the projected mesh outline (red)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
