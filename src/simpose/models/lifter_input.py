"""The lifter's input and output layout: joint sets, 2D normalisation, frame-rate resampling, mirroring.

What :class:`simpose.models.lifter.Lifter` does to a 2D track before the network sees it, and
how the network's joint axis is laid out (its module docstring gives the why of each step):

- joint sets: the network sees ``INPUT_SET`` and predicts every set of ``OUTPUT_SETS`` on one
  joint axis (:func:`output_slices`, :func:`output_roots`);
- frame rate: a track at another rate is resampled to the training rate
  (:func:`rate_positions`, the ``"cover"`` rule of :func:`simpose.geometry.frame_positions`,
  bounded by ``MAX_UPSAMPLING``) and the 3D taken back at its own frames
  (:func:`resample_to_frames`);
- normalisation (:func:`normalize_keypoints`): normalised image coordinates, the virtual camera
  looking at the pelvis, pelvis centring, the per-clip 2D size over ``SCALE_FRAMES`` frames;
- mirroring (:func:`mirror_input`, :func:`mirror_output`) for flip augmentation and test-time flips.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import torch

from simpose.body.joints import get_joint_set
from simpose.camera import image_to_normalised
from simpose.geometry import frame_positions, interpolate_frames, track_at

__all__ = ["INPUT_SET", "INPUT_SETS", "centre_weights", "OUTPUT_SETS", "output_roots", "frame_sizes", "clip_scale", "sliding_scales", "normalize_keypoints", "pelvis_view_rotations", "to_pelvis_view", "output_flip_permutation", "mirror_input", "mirror_output", "output_slices", "TRAINING_FPS", "rate_positions", "resample_frames", "resample_track", "resample_to_frames"]


INPUT_SET = "h36m17"

# The 2D sets a lifter's weights may be trained on (their card's ``input.joint_set``): the
# h36m17 set (ground-truth 2D, or any detector's keypoints converted by name) and BlazePose's own
# 33 landmarks (MediaPipe's output as it is, learned from the detector cache).
INPUT_SETS: tuple[str, ...] = ("h36m17", "blazepose33")


OUTPUT_SETS: tuple[str, ...] = ("h36m17", "anny")


# Frames over which the per-clip 2D size is taken at test time: the middle, on a log scale, of
# the spans training uses (SamplerConfig.scale_span = 27..500: sqrt(27 * 500) = 116). Training
# writes it into the card (input.scale_frames); a lifter reads it from there (lifter.InputContract).
SCALE_FRAMES = 116


HEAD_CENTRE, HEAD_CAUSAL = 0, 1


# The frame rate of the training windows (the joint cache's, CacheConfig.fps) when a card does
# not say: the network's 27 frames are 0.54 s of motion only at this rate.
TRAINING_FPS = 50.0


def output_slices() -> dict[str, slice]:
    """Where each set of ``OUTPUT_SETS`` lies on the network's joint axis."""
    out, start = {}, 0
    for name in OUTPUT_SETS:
        n = len(get_joint_set(name))
        out[name] = slice(start, start + n)
        start += n
    return out


# ------------------------------------------------------------------------------ frame rate
#
# The network learned motion at one frame rate (with playback speeds of 0.67x to 1.5x,
# SamplerConfig.speed): fed a 25 fps video as it is, it sees its motion twice as fast and its 27
# frames span 1.1 s; a 12 fps one, 4x as fast. So a track at another rate is lifted on a copy
# resampled to the training rate, and the 3D is taken back at the track's own frames.

# At most this many resampled frames per input frame: the resampled copy (and the lifter's time
# and memory) grows as rate / fps, so a nonsense rate (0.001 fps: a million frames per frame) must
# be an error, not a run that fills the memory. 50 allows 1 fps input at the 50 fps training rate.
MAX_UPSAMPLING = 50.0


def rate_positions(n_frames: int, fps: float, rate: float) -> np.ndarray:
    """(T',) fractional input-frame indices of the frames of a track resampled from ``fps`` to ``rate``.

    :func:`simpose.geometry.frame_positions` with the ``"cover"`` rule (the last frame at or just
    past the input's last, clamped to it, so every input frame lies between two output frames:
    ``T' = ceil((T - 1) rate / fps) + 1``) and the lifter's bound :data:`MAX_UPSAMPLING`.

    Raises:
        ValueError: a rate that is not finite and positive, or ``rate / fps > MAX_UPSAMPLING``.
    """
    return frame_positions(n_frames, fps, rate, end="cover", max_upsampling=MAX_UPSAMPLING)


def resample_frames(values: np.ndarray, fps: float, rate: float) -> np.ndarray:
    """(T, ...) per-frame values at ``fps`` -> (T', ...) at ``rate`` (:func:`rate_positions`),
    linearly; NaN stays NaN (and spreads to the resampled frames next to it)."""
    values = np.asarray(values, np.float64)
    return interpolate_frames(values, rate_positions(len(values), fps, rate)) if len(values) else values


def resample_track(xy: np.ndarray, confidence: np.ndarray, fps: float, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """A 2D track at ``fps`` -> the same track at ``rate`` (:func:`rate_positions`), linearly.

    Args:
        xy: (T, J, 2) pixels or normalised coordinates (NaN: missing). confidence: (T, J).
    Returns:
        (T', J, 2) and (T', J): a point between two frames is as confident as the less
        confident of the two, and has confidence 0 where either is missing.
    """
    return track_at(xy, confidence, rate_positions(len(xy), fps, rate))


def resample_to_frames(values: np.ndarray, n_frames: int, fps: float, rate: float, causal: bool = False) -> np.ndarray:
    """Per-frame values of a track resampled to ``rate`` -> at the original ``n_frames`` frames.

    Args:
        values: (T', ...) on :func:`rate_positions`' frames. n_frames: T, the original's frames.
        causal: take each frame's value from the last resampled frame at or before it (which
            used no later input frame) instead of interpolating with the next one.
    Returns:
        (T, ...) float32.
    """
    if causal:  # the last resampled frame at or before each frame, as a stream finds it
        pos = np.minimum(np.floor(np.arange(n_frames) * (rate / fps) + 1e-9), len(values) - 1.0)
    else:  # frame i in the resampled track's frame units (its last frame may be clamped onto
        # the original's last, so invert the positions rather than scale by rate / fps)
        pos = np.interp(np.arange(n_frames), rate_positions(n_frames, fps, rate), np.arange(len(values)))
    return interpolate_frames(np.asarray(values), pos).astype(np.float32)


@functools.cache
def centre_weights(joint_set: str = INPUT_SET) -> np.ndarray:
    """(J,) the input's centre as a weighted sum of ``joint_set``'s joints (weights sum to 1):
    its ``pelvis`` where the set has one, else the middle of its hips (BlazePose's definition of
    its own centre). The lifter's 2D is centred on it, and its view camera looks at it."""
    js = get_joint_set(joint_set)
    w = np.zeros(len(js))
    if "pelvis" in js.names:
        w[js.index("pelvis")] = 1.0
    else:
        w[js.indices(["left_hip", "right_hip"])] = 0.5
    w.setflags(write=False)
    return w


def _centre(x: np.ndarray, joint_set: str, keepdims: bool = True) -> np.ndarray:
    """(..., J, D) -> (..., 1, D) (or (..., D)) the weighted centre of :func:`centre_weights`."""
    w = centre_weights(joint_set)
    idx = np.flatnonzero(w)  # only the centre's joints: a NaN elsewhere must not spread into it
    c = np.einsum("...jd,j->...d", x[..., idx, :], w[idx])
    return c[..., None, :] if keepdims else c


def _centre_seen(conf: np.ndarray, joint_set: str) -> np.ndarray:
    """(..., J) -> (...,) bool: every joint the centre is made of is seen."""
    return (conf[..., centre_weights(joint_set) > 0] > 0).all(-1)


def frame_sizes(centred: np.ndarray, confidence: np.ndarray, joint_set: str = INPUT_SET) -> np.ndarray:
    """Per-frame 2D size: the confidence-weighted RMS distance of the joints to the centre.

    Args:
        centred: (..., T, J, 2) centred coordinates (any units; :func:`centre_weights`).
        confidence: (..., T, J) in [0, 1].
        joint_set: the set of axis J (a joint that is the centre itself does not count).
    Returns:
        (..., T), same units; NaN for frames with less than 2 (summed) confidence.
    """
    w = confidence.astype(np.float64)
    w = w * (centre_weights(joint_set) < 1.0)
    total = w.sum(-1)
    ms = (w * (centred.astype(np.float64) ** 2).sum(-1)).sum(-1) / np.maximum(total, 1e-9)
    return np.where(total >= 2.0, np.sqrt(ms), np.nan)


def clip_scale(sizes: np.ndarray) -> np.ndarray:
    """(..., T) frame sizes -> (...,) their median over valid frames (1 where none is valid)."""
    if sizes.ndim == 1:  # one clip (the streaming hot path): plain median, nanmedian costs ~5x
        valid = sizes[np.isfinite(sizes) & (sizes > 0)]
        return np.float64(np.median(valid)) if len(valid) else np.float64(1.0)
    filled = np.where(np.isfinite(sizes) & (sizes > 0), sizes, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: handled below
        med = np.nanmedian(filled, axis=-1)
    return np.where(np.isfinite(med) & (med > 0), med, 1.0)


def sliding_scales(sizes: np.ndarray, frames: int = SCALE_FRAMES, causal: bool = False) -> np.ndarray:
    """Per-frame clip size: the median of the frame sizes over ``frames`` frames about each frame.

    Args:
        sizes: (T,) frame sizes (:func:`frame_sizes`), NaN where invalid.
        frames: span length.
        causal: the span ends at the frame (entry t depends on frames ``t - frames + 1 .. t``
            only) instead of being centred on it.
    Returns:
        (T,) sizes (:func:`clip_scale` of each span; spans are cut at the clip's ends).
    """
    T = len(sizes)
    before = frames - 1 if causal else frames // 2
    padded = np.concatenate([np.full(before, np.nan), sizes, np.full(frames - 1 - before, np.nan)])
    return clip_scale(np.lib.stride_tricks.sliding_window_view(padded, frames)[:T])


def pelvis_view_rotations(xy: np.ndarray, confidence: np.ndarray, joint_set: str = INPUT_SET) -> np.ndarray:
    """Per-frame rotation from the camera to a virtual camera looking along the pelvis ray.

    Args:
        xy: (..., T, J, 2) normalised image coordinates ``(u - c) / f`` (undistorted).
        confidence: (..., T, J); the pelvis ray is the centre (:func:`centre_weights`) where it
            is seen, otherwise the confidence-weighted mean of the seen joints, otherwise the
            optical axis.
        joint_set: the set of axis J.
    Returns:
        (..., T, 3, 3) R with rows the virtual camera's axes in camera coordinates: a camera-frame
        vector v is ``R @ v`` in the virtual frame. Its z row is the unit pelvis ray, its x row is
        horizontal (orthogonal to the camera's y axis), so R is the identity on the optical axis.
    """
    seen = (confidence > 0) & np.isfinite(xy).all(-1)
    xy0 = np.where(seen[..., None], xy, 0.0)
    w = seen.astype(np.float64)
    mean = (w[..., None] * xy0).sum(-2) / np.maximum(w.sum(-1), 1e-9)[..., None]
    centre_seen = _centre_seen(seen, joint_set)[..., None]
    centre = np.where(centre_seen, _centre(xy0, joint_set, keepdims=False), np.where(w.sum(-1, keepdims=True) > 0, mean, 0.0))
    fwd = np.concatenate([centre, np.ones_like(centre[..., :1])], -1)
    fwd /= np.linalg.norm(fwd, axis=-1, keepdims=True)
    right = np.stack([fwd[..., 2], np.zeros_like(fwd[..., 0]), -fwd[..., 0]], -1)  # (0, 1, 0) x fwd
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    return np.stack([right, np.cross(fwd, right), fwd], axis=-2)


def to_pelvis_view(xy: np.ndarray, R: np.ndarray) -> np.ndarray:
    """(..., T, J, 2) normalised image coordinates -> the same rays in the virtual cameras ``R`` (..., T, 3, 3)."""
    d = np.concatenate([xy, np.ones_like(xy[..., :1])], -1)
    dv = np.einsum("...ij,...kj->...ki", R, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        return dv[..., :2] / dv[..., 2:]


def normalize_keypoints(
    joints2d: np.ndarray,
    confidence: np.ndarray | None = None,
    camera=None,
    scale: np.ndarray | float | None = None,
    joint_set: str = INPUT_SET,
) -> tuple[np.ndarray, np.ndarray]:
    """The lifter's input normalisation (module docstring, steps 1-4).

    Args:
        joints2d: (..., T, J, 2) pixels, ``joint_set`` joints (one of :data:`INPUT_SETS`,
            centred on :func:`centre_weights`); NaN for missing joints.
        confidence: (..., T, J) in [0, 1] or None (all 1).
        camera: None, a (3, 3) K (or (..., 3, 3)) or a :class:`~simpose.camera.Camera`.
        scale: the per-clip size to divide by, (...,) or scalar; None computes it from this clip
            (median of :func:`frame_sizes` over T).
    Returns:
        features: (..., T, J, 3) float32: normalised x, y and the confidence.
        scale: (...,) the per-clip size used (units of the normalised image coordinates).
    """
    x = np.asarray(joints2d, dtype=np.float64)
    conf = np.ones(x.shape[:-1]) if confidence is None else np.asarray(confidence, dtype=np.float64)
    conf = np.where(np.isfinite(x).all(-1), np.nan_to_num(conf), 0.0)
    x = image_to_normalised(x, camera)
    centred = x - _centre(x, joint_set)
    centred = np.where(conf[..., None] > 0, np.nan_to_num(centred), 0.0)
    if scale is None:
        scale = clip_scale(frame_sizes(centred, conf, joint_set))
    scale = np.asarray(scale, dtype=np.float64)
    feats = np.concatenate([centred / scale[..., None, None, None], conf[..., None]], axis=-1)
    return feats.astype(np.float32), scale


@functools.cache
def _flip_in(joint_set: str) -> np.ndarray:
    return np.asarray(get_joint_set(joint_set).flip_permutation)


@functools.cache
def output_flip_permutation() -> np.ndarray:
    """Left-right permutation of the network's joint axis (every ``OUTPUT_SETS`` set, in order)."""
    perms, start = [], 0
    for name in OUTPUT_SETS:
        perm = np.asarray(get_joint_set(name).flip_permutation)
        perms.append(perm + start)
        start += len(perm)
    return np.concatenate(perms)


def mirror_input(features: torch.Tensor, joint_set: str = INPUT_SET) -> torch.Tensor:
    """(..., J_in, 3) network input features of ``joint_set`` -> those of the mirrored image
    (left and right swapped, x negated; the confidence channel unchanged)."""
    return features[..., _flip_in(joint_set), :] * features.new_tensor([-1.0, 1.0, 1.0])


def mirror_output(joints: torch.Tensor) -> torch.Tensor:
    """(..., J_all, 3) network output for a mirrored input -> the same pose mirrored back."""
    return joints[..., output_flip_permutation(), :] * joints.new_tensor([-1.0, 1.0, 1.0])


def output_roots() -> dict[str, int]:
    """Output joint set -> index of its root joint (the joint the lifter's output is relative to)."""
    return {name: get_joint_set(name).root for name in OUTPUT_SETS}
