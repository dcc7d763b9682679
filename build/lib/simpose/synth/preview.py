"""Contact sheets of synthetic clips (``simpose synth --preview DIR``).

One PNG per clip: a row per frame (at most ``max_frames``, evenly spaced), columns RGB, instance
mask, body parts, depth, optical flow (colour wheel: hue = direction, brightness = magnitude
relative to the clip's largest) and the joints of one set over RGB, coloured by why a joint is
or is not seen (``occlusion``): green visible, red self-occluded, blue behind another person,
yellow behind an occluder (not drawn: outside the image).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from simpose.data.synthetic import read_clip
from simpose.render.parts import part_colors

logger = logging.getLogger(__name__)

__all__ = ["flow_to_color", "contact_sheet", "preview_folder"]

# occlusion code (simpose.synth.clip.OCCLUSION_CODES) -> RGB
_JOINT_COLORS = {0: (0, 255, 0), 2: (255, 0, 0), 3: (0, 128, 255), 4: (255, 255, 0)}


def flow_to_color(flow: np.ndarray, max_mag: float | None = None) -> np.ndarray:
    """(H, W, 2) flow in pixels -> (H, W, 3) uint8 RGB colour-wheel image."""
    import cv2

    mag = np.linalg.norm(flow, axis=-1)
    ang = np.arctan2(flow[..., 1], flow[..., 0])
    m = max(float(max_mag if max_mag is not None else mag.max()), 1e-6)
    hsv = np.zeros(flow.shape[:2] + (3,), np.uint8)
    hsv[..., 0] = ((ang + np.pi) / (2 * np.pi) * 179).astype(np.uint8)
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(mag / m * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def contact_sheet(clip: dict, joint_set: str = "coco17", max_frames: int = 4) -> np.ndarray:
    """(rows * H, 6 * W, 3) uint8 sheet of a clip dict (:func:`simpose.data.synthetic.read_clip`)."""
    import cv2

    T, H, W = clip["mask"].shape
    frames = np.unique(np.linspace(0, T - 1, min(max_frames, T)).round().astype(int))
    js = joint_set if joint_set in clip["joints2d"] else next(iter(clip["joints2d"]))
    pal = part_colors()
    inst = np.random.default_rng(7).integers(60, 256, size=(256, 3)).astype(np.uint8)
    inst[0] = 0
    flows = clip["flow"]
    fmax = float(np.linalg.norm(flows, axis=-1).max()) if len(flows) else 1.0
    rows = []
    for t in frames:
        d = clip["depth"][t]
        fg = d > 0
        dimg = np.zeros((H, W), np.uint8)
        if fg.any():
            lo, hi = d[fg].min(), d[fg].max()
            dimg[fg] = (255 - (d[fg] - lo) / max(hi - lo, 1e-6) * 200).astype(np.uint8)
        fl = flow_to_color(flows[t], fmax) if t < len(flows) else np.zeros((H, W, 3), np.uint8)
        joints = np.ascontiguousarray(clip["rgb"][t]).copy()
        r = max(1, H // 128)
        codes = clip.get("occlusion", {}).get(js)
        for p in range(clip["joints2d"][js].shape[1]):
            for j, ((u, v), vis) in enumerate(zip(clip["joints2d"][js][t, p], clip["visible"][js][t, p])):
                code = int(codes[t, p, j]) if codes is not None else (0 if vis else 2)
                if np.isfinite(u) and np.isfinite(v) and code != 1:
                    cv2.circle(joints, (int(round(u)), int(round(v))), r, _JOINT_COLORS.get(code, (255, 0, 0)), -1)
        rows.append(np.concatenate(
            [clip["rgb"][t], inst[clip["mask"][t]], pal[clip["parts"][t]], np.repeat(dimg[..., None], 3, -1), fl, joints],
            axis=1,
        ))  # fmt: skip
    return np.concatenate(rows, axis=0)


def preview_folder(folder: str | Path, out: str | Path | None = None) -> list[Path]:
    """Write ``<clip>.png`` contact sheets for every ``clip_*.npz`` in ``folder`` (into ``out``, default
    ``folder/preview``).

    Raises:
        ValueError: ``folder`` holds no clip files.
    """
    import cv2

    folder = Path(folder)
    files = sorted(folder.glob("clip_*.npz"))
    if not files:
        raise ValueError(f"{folder} holds no clip_*.npz files; run `simpose synth --out {folder}` first")
    out = Path(out) if out is not None else folder / "preview"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for f in files:
        sheet = contact_sheet(read_clip(f))
        path = out / (f.stem + ".png")
        cv2.imwrite(str(path), sheet[..., ::-1])
        written.append(path)
    return written
