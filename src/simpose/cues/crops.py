"""Square person crops of a clip for the motion network: RGB, optical flow and keypoints in crop units.

One function set for both sides of the sim-to-real gap: the motion crop cache
(:mod:`simpose.synth.motion_crops`) calls :func:`motion_crops` on rendered clips with the detector's
keypoints, and the real-video path calls it on decoded frames with the same detector's keypoints.

A crop box is ``(cx, cy, side)`` in image pixels (pixel centres at integers, the keypoints'
convention): a square around the keypoints' bounding box, its side the box's larger side times
``1 + 2 * pad``, smoothed in time (a centred moving average) and filled across frames without a
detection from the nearest frames with one. Boxes may reach outside the image; those crop pixels
are black (zero flow). Crop pixel ``(u, v)`` (centres at integers, ``0..size-1``) samples image
point ``x = cx + (u + 0.5 - size / 2) * side / size`` (and likewise ``y``).

The flow is the cue stage's (:func:`simpose.cues.flow.compute_flow`: DIS at full resolution inside
the padded person box of each frame pair, :class:`~simpose.cues.flow.FlowConfig`), resampled into
the crop of the pair's first frame and scaled to crop pixels (``* size / side``).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from simpose.cues.flow import FlowConfig, compute_flow, import_cv2, crop_boxes, pair_boxes, person_boxes

__all__ = ["CropConfig", "MotionCrops", "square_boxes", "box_cuts", "crop_affine", "crop_images", "crop_flow", "keypoints_in_crop", "person_mask", "motion_crops"]


@dataclasses.dataclass(frozen=True)
class CropConfig:
    """Settings of the person crops.

    Attributes:
        size: crop side in pixels (S).
        pad: padding of the keypoints' larger side, as a fraction of it, on each side.
        smooth: frames of the centred moving average over the boxes (1: none).
        flow: the flow settings (the cue stage's by default).
    """

    size: int = 64
    pad: float = 0.2
    smooth: int = 5
    flow: FlowConfig = FlowConfig()

    def __post_init__(self) -> None:
        if self.size < 8 or self.pad < 0 or self.smooth < 1:
            raise ValueError(f"need size >= 8, pad >= 0, smooth >= 1; got {self.size}, {self.pad}, {self.smooth}")

    @classmethod
    def from_dict(cls, d: dict) -> "CropConfig":
        """The config of ``dataclasses.asdict(config)`` (a manifest's or a card's ``crop``)."""
        return cls(**{**d, "flow": FlowConfig(**d["flow"])})


@dataclasses.dataclass(frozen=True)
class MotionCrops:
    """The crops of one person track over T frames.

    Attributes:
        boxes: (T, 3) float32 ``cx, cy, side`` image pixels.
        rgb: (T, S, S, 3) uint8.
        flow: (T - 1, S, S, 2) float32 DIS flow from frame t to t + 1 in crop pixels of frame t.
        keypoints: (T, J, 2) float32 keypoints in crop units (``(kp - c) / side``, in [-0.5, 0.5]
            inside the crop); 0 where not detected.
    """

    boxes: np.ndarray
    rgb: np.ndarray
    flow: np.ndarray
    keypoints: np.ndarray


def square_boxes(keypoints: np.ndarray, valid: np.ndarray, image_size: tuple[int, int], pad: float = 0.2, smooth: int = 5) -> np.ndarray:
    """Smoothed square crop boxes around one person's keypoints.

    Args:
        keypoints: (T, J, 2) pixels, NaN for joints (or frames) not found.
        valid: (T,) bool, frames with a detection.
        image_size: (width, height); the box of a track with no detection at all is the
            centred square of the image's shorter side.
        pad: as :class:`CropConfig`. smooth: as :class:`CropConfig` (odd or even; centred).
    Returns:
        (T, 3) float32 ``cx, cy, side`` pixels.
    """
    kp = np.asarray(keypoints, np.float64)
    T = len(kp)
    ok = np.asarray(valid, bool) & np.isfinite(kp).all(-1).any(-1)
    raw = np.zeros((T, 3))
    for t in np.flatnonzero(ok):
        pts = kp[t][np.isfinite(kp[t]).all(-1)]
        lo, hi = pts.min(0), pts.max(0)
        raw[t] = [*(0.5 * (lo + hi)), max((hi - lo).max(), 1.0) * (1 + 2 * pad)]
    w, h = image_size
    if not ok.any():
        return np.tile(np.float32([(w - 1) / 2, (h - 1) / 2, min(w, h)]), (T, 1))
    # frames without a detection take the nearest detected frame's box (ties: the earlier one)
    idx = np.flatnonzero(ok)
    nearest = idx[np.abs(np.arange(T)[:, None] - idx[None]).argmin(1)]
    filled = raw[nearest]
    if smooth > 1:  # centred moving average, the window shrunk at the ends (no edge bias)
        c = np.concatenate([np.zeros((1, 3)), np.cumsum(filled, 0)])
        lo = np.clip(np.arange(T) - (smooth - 1) // 2, 0, T)
        hi = np.clip(np.arange(T) + smooth // 2 + 1, 0, T)
        filled = (c[hi] - c[lo]) / (hi - lo)[:, None]
    return filled.astype(np.float32)


def box_cuts(boxes: np.ndarray, max_jump: float = 0.5) -> np.ndarray:
    """Frames whose crop box jumped from the previous frame's (a cut, or the detector switching
    people): there the flow from the previous frame shows no motion of the person.

    Args:
        boxes: (T, 3) ``cx, cy, side``. max_jump: a centre moving by more than this share of
            the mean of the two sides, or a side changing by more than this share, is a jump.
    Returns:
        (T,) bool; frame 0 is False (it has no previous frame at all).
    """
    b = np.asarray(boxes, np.float64)
    out = np.zeros(len(b), bool)
    if len(b) > 1:
        side = 0.5 * (b[1:, 2] + b[:-1, 2])
        moved = np.linalg.norm(b[1:, :2] - b[:-1, :2], axis=-1) > max_jump * side
        resized = np.abs(b[1:, 2] - b[:-1, 2]) > max_jump * side
        out[1:] = moved | resized
    return out


def crop_affine(box: np.ndarray, size: int) -> np.ndarray:
    """(2, 3) float64 affine from crop pixels to image pixels (centres at integers) of one box."""
    cx, cy, side = (float(v) for v in box)
    a = side / size
    return np.array([[a, 0.0, cx + (0.5 - size / 2) * a], [0.0, a, cy + (0.5 - size / 2) * a]])


def crop_images(images: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Resample square crops (bilinear; black outside the image).

    Args:
        images: (T, H, W, C) any dtype cv2 resamples (uint8, float32). boxes: (T, 3) ``cx, cy, side``.
        size: S.
    Returns:
        (T, S, S, C) of the images' dtype.
    """
    cv2 = import_cv2()
    out = np.zeros((len(images), size, size, images.shape[-1]), images.dtype)
    for t, (img, box) in enumerate(zip(images, boxes)):
        # INTER_AREA does not apply to warps; a crop much smaller than its box is pre-blurred
        # by a resize instead, so both sides of the gap alias alike
        scale = float(box[2]) / size
        src, M = img, crop_affine(box, size)
        if scale > 2:
            f = 1.0 / np.floor(scale)
            src = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            src = src.reshape(*src.shape[:2], img.shape[-1])
            sx, sy = src.shape[1] / img.shape[1], src.shape[0] / img.shape[0]
            M = np.diag([sx, sy]) @ M + np.array([[0, 0, 0.5 * sx - 0.5], [0, 0, 0.5 * sy - 0.5]])
        res = cv2.warpAffine(src, M, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        out[t] = res.reshape(size, size, -1)
    return out


def crop_flow(flow: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Flow fields resampled into crops and scaled to crop pixels.

    Args:
        flow: (N, H, W, 2) float pixels, frame t -> t + 1 (NaN is read as 0).
        boxes: (N, 3) the crop box of each pair's first frame. size: S.
    Returns:
        (N, S, S, 2) float32 flow in crop pixels.
    """
    flow = np.nan_to_num(np.asarray(flow, np.float32))
    out = crop_images(flow, boxes, size)
    return out * (size / np.asarray(boxes, np.float32)[:, 2])[:, None, None, None]


def keypoints_in_crop(keypoints: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(T, J, 2) pixels -> crop units ``(kp - (cx, cy)) / side``; NaN becomes 0."""
    b = np.asarray(boxes, np.float64)
    rel = (np.asarray(keypoints, np.float64) - b[:, None, :2]) / b[:, None, 2:3]
    return np.nan_to_num(rel).astype(np.float32)


PERSON_RADIUS = 0.05  # crop units: about a limb's half width plus the keypoints' error at a 0.2 pad


def person_mask(keypoints: np.ndarray, confidence: np.ndarray, size: int, radius: float = PERSON_RADIUS) -> np.ndarray:
    """The person's region in its crops, drawn from the keypoints alone (the same on rendered and
    real frames: the crop cache has no rendered mask, real video none at all).

    The union of capsules of radius ``radius`` along the BlazePose-33 skeleton's edges and the
    torso's two diagonals (its inside), between joints with confidence > 0.

    Args:
        keypoints: (T, 33, 2) crop units (:func:`keypoints_in_crop`). confidence: (T, 33), 0 where
            not found. size: S. radius: capsule radius in crop units.
    Returns:
        (T, S, S) bool; all False in a frame without keypoints.
    """
    from simpose.body.joints import get_joint_set

    cv2 = import_cv2()
    js = get_joint_set("blazepose33")
    diagonals = [(js.index("left_shoulder"), js.index("right_hip")), (js.index("right_shoulder"), js.index("left_hip"))]
    edges = list(js.edges) + diagonals
    shift = 4  # cv2's sub-pixel bits
    px = np.round(((np.asarray(keypoints, np.float64) + 0.5) * size - 0.5) * 2**shift).astype(np.int64)  # crop px, centres at integers
    thick = max(1, int(round(2 * radius * size)))
    out = np.zeros((len(px), size, size), np.uint8)
    for t in range(len(px)):
        found = np.asarray(confidence[t]) > 0
        for a, b in edges:
            if found[a] and found[b]:
                cv2.line(out[t], tuple(int(v) for v in px[t, a]), tuple(int(v) for v in px[t, b]), 1, thick, cv2.LINE_8, shift)
    return out.astype(bool)


def motion_crops(frames: np.ndarray, keypoints: np.ndarray, valid: np.ndarray, config: CropConfig = CropConfig()) -> MotionCrops:
    """The crops, the cue stage's DIS flow and the keypoints of one person over a clip.

    Args:
        frames: (T, H, W, 3) uint8 RGB, T >= 1. keypoints: (T, J, 2) pixels (centres at
            integers), NaN where not found. valid: (T,) bool.
        config: :class:`CropConfig`.
    Returns:
        :class:`MotionCrops` (flow has T - 1 pairs; none for a single frame).
    """
    T, H, W = frames.shape[:3]
    boxes = square_boxes(keypoints, valid, (W, H), config.pad, config.smooth)
    rgb = crop_images(frames, boxes, config.size)
    if T < 2:
        flow = np.zeros((0, config.size, config.size, 2), np.float32)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: frames without a detection
            kb = np.concatenate([np.nanmin(keypoints, 1), np.nanmax(keypoints, 1)], -1)  # (T, 4)
        kbox = np.where(np.asarray(valid, bool)[:, None], kb, np.nan)[:, None]  # (T, 1, 4), as Keypoints2D.boxes
        if config.flow.restrict_to_person:  # the cue stage's regions (simpose.cues.pipeline)
            regions = crop_boxes(pair_boxes(person_boxes((W, H), kbox, pad=config.flow.pad)), (W, H))
        else:
            regions = None
        full = compute_flow(frames, regions, preset=config.flow.preset)
        flow = crop_flow(full, boxes[:-1], config.size)
    return MotionCrops(boxes, rgb, flow, keypoints_in_crop(keypoints, boxes))
