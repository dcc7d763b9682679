"""``summary.png``: one page that says whether a run's result is physically plausible.

Top: a few overlay frames. Below: the root's camera-frame trajectory (x, y, depth z), the
detector's confidence over time (with the frames where no person was found shaded), and the
length of each bone over time relative to its median (a rigid body keeps them at 1: drifting
or jumping lengths mean the lifter is unsure).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from simpose._files import atomic_open
from simpose.body.joints import get_joint_set

__all__ = ["write_summary"]


def write_summary(
    path: str | os.PathLike,
    joints3d: np.ndarray,
    confidence: np.ndarray,
    valid: np.ndarray,
    joint_set: str,
    fps: float,
    thumbnails: list[tuple[int, np.ndarray]],
    title: str = "",
) -> Path:
    """Write the summary page.

    Args:
        path: output ``.png``.
        joints3d: (T, J, 3) metres, camera frame (NaN where invalid), one person.
        confidence: (T, J) detector confidence.
        valid: (T,) bool.
        joint_set: the set of ``joints3d``.
        fps: frames per second (time axis in seconds).
        thumbnails: (frame number, (H, W, 3) uint8 image) pairs to show on top (up to 4).
        title: page title.
    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)  # headless; only if no backend was chosen yet
    import matplotlib.pyplot as plt

    from simpose.body.fit import bone_lengths

    js = get_joint_set(joint_set)
    T = len(valid)
    t = np.arange(T) / fps
    X = np.asarray(joints3d, np.float64)
    thumbs = thumbnails[:4]
    fig = plt.figure(figsize=(14, 10), dpi=100)
    gs = fig.add_gridspec(2, max(1, len(thumbs)), height_ratios=[1.1, 1.0])
    for k, (i, img) in enumerate(thumbs):
        ax = fig.add_subplot(gs[0, k])
        ax.imshow(img)
        ax.set_title(f"frame {i} ({i / fps:.2f} s)", fontsize=9)
        ax.axis("off")
    sub = gs[1, :].subgridspec(1, 3, wspace=0.3)

    ax = fig.add_subplot(sub[0])
    root = X[:, js.root]
    for c, name in enumerate(("x (right)", "y (down)", "z (depth)")):
        ax.plot(t, root[:, c], label=name)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("root position, camera frame (m)")
    ax.legend(fontsize=8)
    ax.set_title("root trajectory (3D, camera frame)", fontsize=10)

    ax = fig.add_subplot(sub[1])
    conf = np.asarray(confidence, np.float64)
    ax.plot(t, np.where(valid, conf.mean(1), np.nan), color="k", label="mean")
    ax.fill_between(t, np.where(valid, conf.min(1), np.nan), np.where(valid, conf.max(1), np.nan), alpha=0.2, label="min-max")
    for i in np.flatnonzero(~np.asarray(valid)):
        ax.axvspan((i - 0.5) / fps, (i + 0.5) / fps, color="red", alpha=0.15, lw=0)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("time (s)")
    ax.set_title(f"detector confidence\n({int(np.sum(~np.asarray(valid)))} of {T} frames without a person, red)", fontsize=10)
    ax.legend(fontsize=8)

    ax = fig.add_subplot(sub[2])
    child = [j for j, p in enumerate(js.parents) if p >= 0]  # the bones in bone_lengths' order
    lengths = bone_lengths(X, joint_set)
    med = np.nanmedian(lengths, axis=0) if np.asarray(valid).any() else np.ones(len(child))
    rel = lengths / med
    for k, j in enumerate(child):
        ax.plot(t, rel[:, k], lw=0.8)
    cv = np.nanstd(rel, axis=0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("bone length / its median")
    worst = js.names[child[int(np.nanargmax(cv))]] if np.isfinite(cv).any() else "-"
    ax.set_title(f"bone length constancy (3D)\nstd {np.nanmean(cv) * 100:.1f}% mean, {np.nanmax(cv) * 100:.1f}% worst ({worst})", fontsize=10)
    ax.set_ylim(0.5, 1.5)
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_open(path) as f:
            fig.savefig(f, format="png")
    finally:
        plt.close(fig)
    return path
