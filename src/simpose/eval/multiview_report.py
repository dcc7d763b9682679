"""The reports of ``simpose eval multiview``: results.md, and the picture of the reference and the estimates side by side."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simpose.body.joints import get_joint_set
from simpose.eval.metrics import procrustes_transform

__all__ = ["plot_reference", "results_markdown"]

_COLOURS = {"simpose": "tab:blue", "mediapipe_world": "tab:orange"}


def _upright(x: np.ndarray) -> np.ndarray:
    """Camera frame (x right, y down, z forward) -> plot axes (x right, depth, up)."""
    return np.stack([x[..., 0], x[..., 2], -x[..., 1]], -1)


def _draw(ax, joints: np.ndarray, edges, colour: str, alpha: float = 1.0) -> None:
    for a, b in edges:
        seg = joints[[a, b]]
        if np.isfinite(seg).all():
            ax.plot(*seg.T, color=colour, alpha=alpha, lw=2)


def plot_reference(path: Path, estimates: dict[str, dict[str, np.ndarray]], frames: np.ndarray, n_frames: int = 4) -> Path:
    """Rows: views; per frame two panels: the reference, then the estimates aligned onto it.

    Args:
        path: the PNG written.
        estimates: view -> {"reference", "simpose", "mediapipe_world"} (F, 17, 3) h36m17 metres,
            that view's camera frame (F scored frames; NaN where an estimate is missing).
        frames: (F,) the reference frame index of each scored frame (for the titles).
        n_frames: frames drawn, evenly spread over the scored ones that every estimate has.
    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    edges = get_joint_set("h36m17").edges
    limbs = get_joint_set("h36m17").indices(
        ["left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
         "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"])  # fmt: skip
    views = list(estimates)
    complete = np.flatnonzero(np.all([np.isfinite(e[m][:, limbs]).all((-1, -2)) for e in estimates.values() for m in _COLOURS], 0))
    complete = complete if len(complete) else np.arange(len(frames))  # frames every estimate has, where there are some
    picks = complete[np.unique(np.linspace(0, len(complete) - 1, n_frames).round().astype(int))]
    fig = plt.figure(figsize=(3.0 * 2 * len(picks), 3.2 * len(views)))
    for r, view in enumerate(views):
        e = estimates[view]
        for c, k in enumerate(picks):
            ref = e["reference"][k]
            centre = np.nanmean(ref[limbs], 0)
            ax_ref = fig.add_subplot(len(views), 2 * len(picks), r * 2 * len(picks) + 2 * c + 1, projection="3d")
            ax_est = fig.add_subplot(len(views), 2 * len(picks), r * 2 * len(picks) + 2 * c + 2, projection="3d")
            _draw(ax_ref, _upright(ref - centre), edges, "black")
            _draw(ax_est, _upright(ref - centre), edges, "black", alpha=0.2)
            for method, colour in _COLOURS.items():
                pred = e[method][k]
                if not np.isfinite(pred[limbs]).all():
                    continue
                rot, scale, trans = procrustes_transform(pred[limbs], ref[limbs])
                aligned = scale * pred @ rot.T + trans
                _draw(ax_est, _upright(aligned - centre), edges, colour)
            ax_ref.set_title(f"{view} frame {frames[k]}: reference", fontsize=8)
            ax_est.set_title("simpose (blue), MediaPipe (orange)", fontsize=8)
            for ax in (ax_ref, ax_est):
                ax.set_xlim(-1, 1), ax.set_ylim(-1, 1), ax.set_zlim(-1, 1)
                ax.set_box_aspect((1, 1, 1))
                ax.view_init(elev=10, azim=-90)  # seen from the camera
                ax.set_xticklabels([]), ax.set_yticklabels([]), ax.set_zticklabels([])
    fig.suptitle("reference (triangulated from all views) and each view's monocular estimate, similarity-aligned")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def results_markdown(results: dict) -> str:
    """The results as a markdown table (one row per view and the mean)."""
    r = results["reference"]
    lines = [
        f"# Multi-view reference: {results['dataset']}",
        "",
        f"{len(results['views'])} views, frames {results['frames'][0]}-{results['frames'][1] - 1} "
        f"({results['n_frames']} scored, {results['fps']:g} fps); 12 limb joints; estimate: {results['estimate']}.",
        "Reference: MediaPipe 2D of every view, left/right swaps undone, views synchronised, robust DLT. Per view: "
        + ", ".join(f"{n} offset {r['offsets_applied'][n]:+d} (found {r['offsets_frames'][n]:+d}), {r['swapped_frames'][n]} swapped frames, "
                    f"median reprojection {r['median_reprojection_px'][n]:.1f} px, inliers {100 * r['inlier_share'][n]:.0f}%"
                    for n in results["views"])
        + f"; the reference's own worst limb CV {r['worst_limb_cv']:.3f}.",
        "",
        "| view | PA-MPJPE simpose | PA-MPJPE MediaPipe | MPJPE simpose | MPJPE MediaPipe | worst limb CV simpose | worst limb CV MediaPipe "
        "| accel. error simpose | accel. error MediaPipe |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip

    def row(name, s, m):
        return (f"| {name} | {s['pa_mpjpe_mm']:.1f} | {m['pa_mpjpe_mm']:.1f} | {s['mpjpe_mm']:.1f} | {m['mpjpe_mm']:.1f} | "
                f"{s['worst_limb_cv']:.3f} | {m['worst_limb_cv']:.3f} | {s['accel_error_mm_per_frame2']:.1f} | {m['accel_error_mm_per_frame2']:.1f} |")  # fmt: skip

    for n in results["views"]:
        lines.append(row(n, results["per_view"][n]["simpose"], results["per_view"][n]["mediapipe_world"]))
    lines.append(row("**mean**", results["mean"]["simpose"], results["mean"]["mediapipe_world"]))
    lines += ["", "mm; accel. error in mm/frame^2 at the video's rate; MPJPE and accel. error centred on the mid-hip; "
              "PA-MPJPE aligned per frame (rotation, translation, scale)."]  # fmt: skip
    return "\n".join(lines) + "\n"
