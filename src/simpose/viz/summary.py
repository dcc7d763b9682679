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

THUMB_SIDE = 720  # thumbnails are shown at about 350 x 500 px: twice that is plenty, and matplotlib resamples less


def _shrink(image: np.ndarray, side: int) -> np.ndarray:
    """(H, W, 3) uint8 scaled down (area average) so that its larger side is at most ``side``."""
    h, w = image.shape[:2]
    s = side / max(h, w)
    if s >= 1.0:
        return image
    import cv2

    return cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def write_summary(
    path: str | os.PathLike,
    joints3d: np.ndarray,
    confidence: np.ndarray,
    valid: np.ndarray,
    joint_set: str,
    fps: float,
    thumbnails: list[tuple[int, np.ndarray]],
    title: str = "",
    labels: list[str] | None = None,
) -> Path:
    """Write the summary page.

    Args:
        path: output ``.png``.
        joints3d: (T, J, 3) metres, camera frame (NaN where invalid), one person; or
            (T, P, J, 3) several people, each drawn in its :func:`~simpose.viz.overlay.track_color`.
        confidence: (T, J) detector confidence; (T, P, J) with several people.
        valid: (T,) bool; (T, P) with several people.
        joint_set: the set of ``joints3d``.
        fps: frames per second (time axis in seconds).
        thumbnails: (frame number, (H, W, 3) uint8 image) pairs to show on top (up to 4).
        title: page title.
        labels: with several people, the legend name of each column (default ``id <p>``).
    Returns:
        ``path``.
    """
    if np.ndim(joints3d) == 4:
        return _write_people_summary(path, joints3d, confidence, valid, joint_set, fps, thumbnails, title, labels)
    import matplotlib

    matplotlib.use("Agg", force=False)  # headless; only if no backend was chosen yet
    import matplotlib.pyplot as plt

    from simpose.body.fit import bone_lengths

    js = get_joint_set(joint_set)
    T = len(valid)
    t = np.arange(T) / fps
    X = np.asarray(joints3d, np.float64)
    fig, sub = _page(plt, thumbnails, fps)

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
    return _save(plt, fig, path, title)


def _write_people_summary(path, joints3d, confidence, valid, joint_set, fps, thumbnails, title, labels) -> Path:
    """:func:`write_summary` of P people: one line per person in its track colour (depth and
    sideways position of the root, mean confidence), and each person's bone-length variation."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from simpose.body.fit import bone_lengths
    from simpose.viz.overlay import track_color

    js = get_joint_set(joint_set)
    X = np.asarray(joints3d, np.float64)
    valid = np.asarray(valid, bool)
    T, P = valid.shape
    labels = labels or [f"id {p}" for p in range(P)]
    colors = [np.asarray(track_color(p)) / 255.0 for p in range(P)]
    t = np.arange(T) / fps
    fig, sub = _page(plt, thumbnails, fps)

    ax = fig.add_subplot(sub[0])
    for p in range(P):
        root = np.where(valid[:, p, None], X[:, p, js.root], np.nan)
        ax.plot(t, root[:, 2], color=colors[p], label=f"{labels[p]} z (depth)")
        ax.plot(t, root[:, 0], color=colors[p], ls="--", lw=0.8, label=f"{labels[p]} x (right)")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("root position, camera frame (m)")
    ax.legend(fontsize=7, ncol=1 + P // 4)
    ax.set_title("root trajectories (3D, one camera frame)", fontsize=10)

    ax = fig.add_subplot(sub[1])
    conf = np.asarray(confidence, np.float64).mean(-1)
    for p in range(P):
        ax.plot(t, np.where(valid[:, p], conf[:, p], np.nan), color=colors[p], label=labels[p])
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("time (s)")
    seen = ", ".join(f"{labels[p]} {int(valid[:, p].sum())}" for p in range(P))
    ax.set_title(f"detector confidence (mean over joints)\nframes seen of {T}: {seen}", fontsize=10)
    ax.legend(fontsize=7)

    ax = fig.add_subplot(sub[2])
    mean_cv, worst_cv = np.full(P, np.nan), np.full(P, np.nan)
    for p in range(P):
        if valid[:, p].any():
            lengths = bone_lengths(X[valid[:, p], p], joint_set)
            cv = np.nanstd(lengths / np.nanmedian(lengths, axis=0), axis=0)
            mean_cv[p], worst_cv[p] = np.nanmean(cv), np.nanmax(cv)
    x = np.arange(P)
    ax.bar(x - 0.2, 100 * mean_cv, 0.4, color=colors, alpha=0.5, label="mean bone")
    ax.bar(x + 0.2, 100 * worst_cv, 0.4, color=colors, label="worst bone")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("bone length std / median (%)")
    ax.set_title("bone length constancy per person (3D)\n(a rigid body: 0)", fontsize=10)
    ax.legend(fontsize=8)
    return _save(plt, fig, path, title)


def _page(plt, thumbnails: list[tuple[int, np.ndarray]], fps: float):
    """The figure with up to 4 thumbnails on top; returns it and the 3 plot cells below."""
    thumbs = thumbnails[:4]
    fig = plt.figure(figsize=(14, 10), dpi=100)
    gs = fig.add_gridspec(2, max(1, len(thumbs)), height_ratios=[1.1, 1.0])
    for k, (i, img) in enumerate(thumbs):
        ax = fig.add_subplot(gs[0, k])
        ax.imshow(_shrink(img, THUMB_SIDE))
        ax.set_title(f"frame {i} ({i / fps:.2f} s)", fontsize=9)
        ax.axis("off")
    return fig, gs[1, :].subgridspec(1, 3, wspace=0.3)


def _save(plt, fig, path: str | os.PathLike, title: str) -> Path:
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_open(path) as f:
            # compress level 3: the default 6 took ~0.3 s more for a ~10% smaller file
            fig.savefig(f, format="png", pil_kwargs={"compress_level": 3})
    finally:
        plt.close(fig)
    return path
