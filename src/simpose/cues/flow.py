"""Dense optical flow between consecutive frames with OpenCV's DIS, optionally only around the person.

Flow is forward flow in pixels: ``flow[t, y, x] = (dx, dy)`` moves pixel ``(x, y)`` of frame
``t`` to ``(x + dx, y + dy)`` in frame ``t + 1``. Restricting it to the person's box (from
keypoints or masks, padded) saves most of the time on wide shots; outside the box the flow is
zero, which is "not computed", not "no motion" — the boxes used say where it is meaningful.

OpenCV is imported lazily: the mediapipe extra brings it (``opencv-contrib-python``), as does
``opencv-python-headless``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from simpose.cues.errors import CueError

__all__ = ["FlowConfig", "compute_flow", "person_boxes", "pair_boxes", "crop_boxes", "DIS_PRESETS", "import_cv2"]

# names of cv2's DISOpticalFlow presets, looked up on the lazily imported module
DIS_PRESETS = {
    "ultrafast": "DISOPTICAL_FLOW_PRESET_ULTRAFAST",
    "fast": "DISOPTICAL_FLOW_PRESET_FAST",
    "medium": "DISOPTICAL_FLOW_PRESET_MEDIUM",
}
# DIS needs a few patches and pyramid levels; smaller crops are grown to this side (pixels)
MIN_CROP_SIDE = 32


@dataclasses.dataclass(frozen=True)
class FlowConfig:
    """Settings of the optical flow cue.

    Attributes:
        preset: DIS preset, one of :data:`DIS_PRESETS`.
        restrict_to_person: compute flow only inside the padded person box of each frame pair.
        pad: box padding as a fraction of the box's larger side, on each side.
    """

    preset: str = "medium"
    restrict_to_person: bool = True
    pad: float = 0.15

    def __post_init__(self) -> None:
        if self.preset not in DIS_PRESETS:
            raise ValueError(f"unknown DIS preset {self.preset!r}; known: {', '.join(DIS_PRESETS)}")
        if self.pad < 0:
            raise ValueError(f"pad must be >= 0, got {self.pad}")


def import_cv2():
    """The lazily imported cv2 module; CueError with the install hint when it is missing."""
    try:
        import cv2
    except ImportError as e:
        raise CueError(
            "optical flow needs OpenCV: pip install 'simpose[mediapipe]' (or opencv-python-headless)"
        ) from e
    return cv2


def person_boxes(
    image_size: tuple[int, int],
    keypoint_boxes: np.ndarray | None = None,
    masks: np.ndarray | None = None,
    pad: float = 0.15,
) -> np.ndarray:
    """One padded box per frame around everyone found in it (union of keypoints and masks).

    Args:
        image_size: (width, height) in pixels.
        keypoint_boxes: (T, P, 4) ``x0, y0, x1, y1`` pixels, NaN for people not found
            (e.g. :meth:`Keypoints2D.boxes`), or None.
        masks: (T, P, H, W) bool person masks, or None.
        pad: padding on each side, as a fraction of the box's larger side.
    Returns:
        (T, 4) int64 boxes ``x0, y0, x1, y1`` (half-open, clipped to the image); an empty box
        (all zeros) where nobody was found.
    """
    if keypoint_boxes is None and masks is None:
        raise ValueError("person_boxes needs keypoint boxes, masks or both")
    T = len(keypoint_boxes) if keypoint_boxes is not None else len(masks)
    lo = np.full((T, 2), np.inf)
    hi = np.full((T, 2), -np.inf)
    if keypoint_boxes is not None:
        kb = np.asarray(keypoint_boxes, np.float64).reshape(T, -1, 4)
        ok = np.isfinite(kb).all(-1)
        lo = np.minimum(lo, np.where(ok[..., None], kb[..., :2], np.inf).min(1))
        hi = np.maximum(hi, np.where(ok[..., None], kb[..., 2:], -np.inf).max(1))
    if masks is not None:
        any_mask = np.asarray(masks).reshape(T, -1, *masks.shape[-2:]).any(1)  # (T, H, W)
        for t in range(T):
            ys, xs = np.nonzero(any_mask[t])
            if len(xs):
                lo[t] = np.minimum(lo[t], (xs.min(), ys.min()))
                hi[t] = np.maximum(hi[t], (xs.max() + 1, ys.max() + 1))
    w, h = image_size
    out = np.zeros((T, 4), np.int64)
    found = np.isfinite(lo).all(1) & np.isfinite(hi).all(1)
    margin = pad * (hi - lo).max(1, initial=0, where=np.isfinite(hi - lo))[:, None]
    lo_p = np.clip(np.floor(lo - margin), 0, None)
    hi_p = np.clip(np.ceil(hi + margin), None, [w, h])
    out[found] = np.concatenate([lo_p, hi_p], 1)[found].astype(np.int64)
    return out


def pair_boxes(boxes: np.ndarray) -> np.ndarray:
    """Boxes of consecutive frame pairs: the union of the boxes of frames t and t + 1.

    Args:
        boxes: (T, 4) int ``x0, y0, x1, y1``, empty (zero area) where nobody was found.
    Returns:
        (T - 1, 4) int64; empty where both frames are empty.
    """
    boxes = np.asarray(boxes, np.int64)
    a, b = boxes[:-1], boxes[1:]
    empty_a = (a[:, 2] <= a[:, 0]) | (a[:, 3] <= a[:, 1])
    empty_b = (b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])
    a = np.where(empty_a[:, None], b, a)
    b = np.where(empty_b[:, None], a, b)
    return np.concatenate([np.minimum(a[:, :2], b[:, :2]), np.maximum(a[:, 2:], b[:, 2:])], 1)


def compute_flow(
    frames: Iterable[np.ndarray], boxes: np.ndarray | None = None, preset: str = "medium"
) -> np.ndarray:
    """Forward DIS optical flow between consecutive frames.

    Args:
        frames: iterable of T >= 2 frames, (H, W, 3) uint8 RGB (or (H, W) uint8 grey), one size.
        boxes: (T - 1, 4) int ``x0, y0, x1, y1`` region per frame pair (see :func:`pair_boxes`),
            or None for the whole frame. An empty box gives zero flow for that pair.
        preset: DIS preset name (:data:`DIS_PRESETS`).
    Returns:
        (T - 1, H, W, 2) float32 flow in pixels, ``(dx, dy)``; zero outside the boxes (as
        clipped and grown by :func:`crop_boxes`).
    Raises:
        CueError: OpenCV missing; fewer than 2 frames or more frames than boxes + 1.
        ValueError: frames of different sizes or an unknown preset.
    """
    cv2 = import_cv2()
    if preset not in DIS_PRESETS:
        raise ValueError(f"unknown DIS preset {preset!r}; known: {', '.join(DIS_PRESETS)}")
    dis = cv2.DISOpticalFlow_create(getattr(cv2, DIS_PRESETS[preset]))
    n_pairs = len(boxes) if boxes is not None else (len(frames) - 1 if hasattr(frames, "__len__") else None)
    out: np.ndarray | list[np.ndarray] | None = None
    prev = None
    t = -1
    for t, frame in enumerate(frames):
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
        if prev is None:
            prev = grey
            H, W = grey.shape
            out = np.zeros((n_pairs, H, W, 2), np.float32) if n_pairs is not None else []
            continue
        if grey.shape != prev.shape:
            raise ValueError(f"frame {t}: size {grey.shape[::-1]} differs from {prev.shape[::-1]}")
        if n_pairs is not None and t > n_pairs:
            raise CueError(f"got more frames than boxes + 1 ({n_pairs + 1})")
        box = (0, 0, W, H) if boxes is None else _crop_box(boxes[t - 1], (W, H))
        pair = out[t - 1] if n_pairs is not None else np.zeros((H, W, 2), np.float32)
        if box is not None:
            x0, y0, x1, y1 = box
            pair[y0:y1, x0:x1] = dis.calc(np.ascontiguousarray(prev[y0:y1, x0:x1]), np.ascontiguousarray(grey[y0:y1, x0:x1]), None)
        if n_pairs is None:
            out.append(pair)
        prev = grey
    if t < 1:
        raise CueError(f"optical flow needs at least 2 frames, got {t + 1}")
    if n_pairs is None:
        return np.stack(out)
    if t != n_pairs:
        raise CueError(f"got {t + 1} frames for {n_pairs} boxes (expected {n_pairs + 1})")
    return out


def crop_boxes(boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """The regions :func:`compute_flow` really computes: boxes clipped to the image and grown
    to at least ``MIN_CROP_SIDE`` pixels a side (DIS needs a few patches).

    Args:
        boxes: (N, 4) int ``x0, y0, x1, y1``.
        image_size: (width, height).
    Returns:
        (N, 4) int64; all zeros for boxes that are empty inside the image.
    """
    out = np.zeros((len(boxes), 4), np.int64)
    for i, box in enumerate(boxes):
        crop = _crop_box(box, image_size)
        if crop is not None:
            out[i] = crop
    return out


def _crop_box(box: np.ndarray, image_size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Clip a box to the image and grow each side to at least MIN_CROP_SIDE; None if empty."""
    w, h = image_size
    x0, y0, x1, y1 = (int(v) for v in box)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    x0, x1 = _grow_interval(x0, x1, w)
    y0, y1 = _grow_interval(y0, y1, h)
    return x0, y0, x1, y1


def _grow_interval(lo: int, hi: int, side: int) -> tuple[int, int]:
    target = min(MIN_CROP_SIDE, side)
    if hi - lo >= target:
        return lo, hi
    lo = min(max(0, (lo + hi - target) // 2), side - target)
    return lo, lo + target
