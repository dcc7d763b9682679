"""The temporal 2D-to-3D lifter: 2D keypoint sequences (+ confidences) to root-relative 3D in metres.

Network: dilated temporal convolutions (VideoPose3D-style; receptive field ``RF`` = the product
of ``filter_widths``, 27 frames by default), trained on synthetic humans only
(:mod:`simpose.train.lifter`). It sees the ``h36m17`` joints (other input sets are converted by
name, missing joints get confidence 0) and predicts the ``h36m17`` and the native ``anny``
joints together (one head over the union, ``OUTPUT_SETS``), twice: for the window's centre
frame (offline) and for its last frame (causal: no look at the future, for streaming).

Input normalisation (:func:`normalize_keypoints`), the input contract of the shipped weights:

1. pixels to normalised image coordinates ``(u - c) / f`` with the intrinsics K when given
   (and the lens distortion undone for a :class:`~simpose.camera.Camera` that has one). With no
   camera, pixels are used as they are (square pixels assumed): steps 2-3 make the result the
   same anyway, since centring removes ``c`` and the scale removes ``f``.
2. centring: every frame minus its pelvis (``h36m17`` pelvis).
3. scaling by a per-clip 2D size: the median, over ``SCALE_FRAMES`` frames around each frame
   (:func:`sliding_scales`; in the causal mode the last ``SCALE_FRAMES`` up to it), of the
   frame's confidence-weighted RMS distance of the joints to the pelvis (:func:`frame_sizes`).
   Training takes that median over spans of 27 to 500 frames (``SamplerConfig.scale_span``),
   so a long video is not scaled by one median of all its frames: a person walking from 3 to
   7 m away would be 2D-scaled by a size that fits neither end, an input training never shows.
4. joints with confidence 0 (not detected, outside the image) are zeroed; the confidence is the
   third input channel of every joint.

The input is therefore invariant to image translation and scale, i.e. to the camera's
distance and focal length: the network cannot see the person's metric size, and predicts metres
because bodies have a typical size (the synthetic training bodies span children to elders;
errors in absolute scale are what protocol #2's Procrustes alignment forgives).

Frame rate: the network learned motion at the joint cache's rate (50 fps, ``Lifter.fps``) with
playback speeds of 0.67-1.5x. Given ``fps``, a track at another rate is lifted resampled to it
(linearly; :func:`resample_track`) and the 3D is taken back at the track's own frames
(:func:`resample_to_frames`): a 12.5 fps Human3.6M track then scores as the 50 fps one does
(protocol #1 79.3 vs 79.2 mm), where taken as it is it loses 10 mm
(``benchmarks/lifter_frame_rate.py``).

Output: ``(T, J, 3)`` metres in the camera's axes (x right, y down, z forward), each set
relative to its own root (``h36m17``: pelvis; ``anny``: ``root``).

Virtual camera (when a camera is given): centring in step 2 throws away where the person is in
the image, yet a person seen off the optical axis is seen along a different ray, so the same
image pose means a rotated camera-frame pose. With intrinsics, every frame is first re-projected
into a virtual camera that shares the camera's centre and looks straight at the pelvis
(:func:`pelvis_view_rotations`; its x axis stays horizontal in the camera's x-z plane), as the
training cameras do (they aim at the pelvis); the prediction is rotated back into the real
camera's axes. Without a camera the pixels are used as they are and nothing is rotated.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from simpose.body.joints import convert, get_joint_set
from simpose.camera import image_to_normalised

logger = logging.getLogger(__name__)

__all__ = [
    "INPUT_SET",
    "OUTPUT_SETS",
    "WEIGHTS_PATH",
    "CARD_PATH",
    "TemporalLifterNet",
    "Lifter",
    "LifterStream",
    "frame_sizes",
    "clip_scale",
    "sliding_scales",
    "normalize_keypoints",
    "pelvis_view_rotations",
    "to_pelvis_view",
    "output_flip_permutation",
    "mirror_input",
    "mirror_output",
    "output_slices",
    "TRAINING_FPS",
    "rate_positions",
    "resample_frames",
    "resample_track",
    "resample_to_frames",
]

INPUT_SET = "h36m17"
OUTPUT_SETS: tuple[str, ...] = ("h36m17", "anny")
WEIGHTS_PATH = Path(__file__).parent / "weights" / "lifter.pt"
CARD_PATH = WEIGHTS_PATH.with_suffix(".json")
# Frames over which the per-clip 2D size is taken at test time: the middle, on a log scale, of
# the spans training uses (SamplerConfig.scale_span = 27..500: sqrt(27 * 500) = 116).
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


def rate_positions(n_frames: int, fps: float, rate: float) -> np.ndarray:
    """(T',) fractional input-frame indices of the frames of a track resampled from ``fps`` to ``rate``.

    Output frame ``k`` lies at ``k / rate`` seconds; the frames cover the input's span, the last
    one at or just past its last frame (clamped to it), so every input frame lies between two
    output frames. ``T' = ceil((T - 1) rate / fps) + 1``; equal rates give ``arange(T)``.
    """
    if not (math.isfinite(fps) and fps > 0 and math.isfinite(rate) and rate > 0):
        raise ValueError(f"frame rates must be finite and positive, got fps={fps!r}, rate={rate!r}")
    if n_frames <= 1:
        return np.zeros(n_frames)
    n_out = int(math.ceil((n_frames - 1) * rate / fps - 1e-9)) + 1
    return np.minimum(np.arange(n_out) * (fps / rate), n_frames - 1.0)


def _split(positions: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fractional frame positions (T',) -> the frame at or before each, the one after (both in
    ``[0, n_frames)``) and the weight of the second in [0, 1]; a position within 1e-9 of a whole
    frame is that frame (weight 0)."""
    i0 = np.clip(np.floor(positions + 1e-9).astype(np.int64), 0, n_frames - 1)
    return i0, np.minimum(i0 + 1, n_frames - 1), np.clip(positions - i0, 0.0, 1.0)


def _lerp(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(T, ...) values at fractional frame positions (T',) -> (T', ...); exact copies at whole
    positions (a NaN neighbour does not leak into them)."""
    i0, i1, a = _split(positions, len(values))
    whole = a < 1e-9
    a = a.reshape((-1,) + (1,) * (values.ndim - 1))
    out = values[i0] + a * (values[i1] - values[i0])
    out[whole] = values[i0[whole]]
    return out


def _track_at(xy: np.ndarray, confidence: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, J, 2) 2D and (T, J) confidence at fractional frame positions (T',) -> (T', J, 2) and
    (T', J): a point between two frames is as confident as the less confident of the two, and
    has confidence 0 where either is missing."""
    xy2 = _lerp(np.asarray(xy, np.float64), positions)
    conf = np.asarray(confidence, np.float64)
    i0, i1, a = _split(positions, len(conf))
    c = np.where((a < 1e-9)[:, None], conf[i0], np.minimum(conf[i0], conf[i1]))
    return xy2, np.where(np.isfinite(xy2).all(-1), c, 0.0)


def resample_frames(values: np.ndarray, fps: float, rate: float) -> np.ndarray:
    """(T, ...) per-frame values at ``fps`` -> (T', ...) at ``rate`` (:func:`rate_positions`),
    linearly; NaN stays NaN (and spreads to the resampled frames next to it)."""
    values = np.asarray(values, np.float64)
    return _lerp(values, rate_positions(len(values), fps, rate)) if len(values) else values


def resample_track(xy: np.ndarray, confidence: np.ndarray, fps: float, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """A 2D track at ``fps`` -> the same track at ``rate`` (:func:`rate_positions`), linearly.

    Args:
        xy: (T, J, 2) pixels or normalised coordinates (NaN: missing). confidence: (T, J).
    Returns:
        (T', J, 2) and (T', J): a point between two frames is as confident as the less
        confident of the two, and has confidence 0 where either is missing.
    """
    return _track_at(xy, confidence, rate_positions(len(xy), fps, rate))


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
    return _lerp(np.asarray(values), pos).astype(np.float32)


# ------------------------------------------------------------------------------ normalisation


def _pelvis() -> int:
    return get_joint_set(INPUT_SET).index("pelvis")


def frame_sizes(centred: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Per-frame 2D size: the confidence-weighted RMS distance of the joints to the pelvis.

    Args:
        centred: (..., T, J, 2) pelvis-centred coordinates (any units).
        confidence: (..., T, J) in [0, 1].
    Returns:
        (..., T), same units; NaN for frames with less than 2 (summed) confidence.
    """
    w = confidence.astype(np.float64)
    w = w * (np.arange(w.shape[-1]) != _pelvis())
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


def pelvis_view_rotations(xy: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Per-frame rotation from the camera to a virtual camera looking along the pelvis ray.

    Args:
        xy: (..., T, J, 2) normalised image coordinates ``(u - c) / f`` (undistorted).
        confidence: (..., T, J); the pelvis ray is the pelvis where it is seen, otherwise the
            confidence-weighted mean of the seen joints, otherwise the optical axis.
    Returns:
        (..., T, 3, 3) R with rows the virtual camera's axes in camera coordinates: a camera-frame
        vector v is ``R @ v`` in the virtual frame. Its z row is the unit pelvis ray, its x row is
        horizontal (orthogonal to the camera's y axis), so R is the identity on the optical axis.
    """
    pel = _pelvis()
    seen = (confidence > 0) & np.isfinite(xy).all(-1)
    xy0 = np.where(seen[..., None], xy, 0.0)
    w = seen.astype(np.float64)
    mean = (w[..., None] * xy0).sum(-2) / np.maximum(w.sum(-1), 1e-9)[..., None]
    centre = np.where(seen[..., pel, None], xy0[..., pel, :], np.where(w.sum(-1, keepdims=True) > 0, mean, 0.0))
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
) -> tuple[np.ndarray, np.ndarray]:
    """The lifter's input normalisation (module docstring, steps 1-4).

    Args:
        joints2d: (..., T, J, 2) pixels, ``INPUT_SET`` joints; NaN for missing joints.
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
    centred = x - x[..., _pelvis() : _pelvis() + 1, :]
    centred = np.where(conf[..., None] > 0, np.nan_to_num(centred), 0.0)
    if scale is None:
        scale = clip_scale(frame_sizes(centred, conf))
    scale = np.asarray(scale, dtype=np.float64)
    feats = np.concatenate([centred / scale[..., None, None, None], conf[..., None]], axis=-1)
    return feats.astype(np.float32), scale


# ------------------------------------------------------------------------------ network


class TemporalLifterNet(nn.Module):
    """Dilated temporal convolutions from per-frame features to per-frame 3D.

    Args:
        in_joints: J_in (features per frame: 3 J_in: x, y, confidence).
        out_joints: J_out (the union of ``OUTPUT_SETS``).
        filter_widths: kernel widths; the receptive field is their product.
        channels: width of every layer.
        dropout: dropout probability during training.
        heads: outputs per window (centre frame, last frame).
    """

    def __init__(
        self,
        in_joints: int,
        out_joints: int,
        filter_widths: tuple[int, ...] = (3, 3, 3),
        channels: int = 512,
        dropout: float = 0.25,
        heads: int = 2,
    ) -> None:
        super().__init__()
        if any(w % 2 == 0 for w in filter_widths):
            raise ValueError(f"filter widths must be odd, got {filter_widths}")
        self.filter_widths = tuple(int(w) for w in filter_widths)
        self.in_joints, self.out_joints, self.heads = in_joints, out_joints, heads
        self.expand = nn.Conv1d(3 * in_joints, channels, filter_widths[0], bias=False)
        self.expand_bn = nn.BatchNorm1d(channels, momentum=0.1)
        self.convs = nn.ModuleList()
        self.bns = nn.ModuleList()
        for w in filter_widths[1:]:
            self.convs.append(nn.Conv1d(channels, channels, w, bias=False))
            self.bns.append(nn.BatchNorm1d(channels, momentum=0.1))
            self.convs.append(nn.Conv1d(channels, channels, 1, bias=False))
            self.bns.append(nn.BatchNorm1d(channels, momentum=0.1))
        self.shrink = nn.Conv1d(channels, heads * out_joints * 3, 1)
        with torch.no_grad():  # start near the zero pose: a small first error, stable early steps
            self.shrink.weight.mul_(0.1)
            self.shrink.bias.zero_()
        self.drop = nn.Dropout(dropout)

    @property
    def receptive_field(self) -> int:
        return math.prod(self.filter_widths)

    def _dense(self, x: torch.Tensor) -> torch.Tensor:
        fw = self.filter_widths
        x = x.transpose(1, 2)  # (B, F, T)
        x = self.drop(F.relu(self.expand_bn(self.expand(x))))
        dilation = fw[0]
        for i, w in enumerate(fw[1:]):
            pad = (w - 1) * dilation // 2
            res = x[:, :, pad : x.shape[2] - pad]
            x = self.drop(F.relu(self.bns[2 * i](F.conv1d(x, self.convs[2 * i].weight, dilation=dilation))))
            x = res + self.drop(F.relu(self.bns[2 * i + 1](self.convs[2 * i + 1](x))))
            dilation *= w
        out = self.shrink(x)  # (B, H*J*3, T')
        B, _, Tp = out.shape
        return out.view(B, self.heads, self.out_joints, 3, Tp).permute(0, 4, 1, 2, 3)

    @staticmethod
    def _strided(x: torch.Tensor, conv: nn.Conv1d, w: int) -> torch.Tensor:
        """A convolution with stride = width on channels-last (B, T, C) as one matrix product."""
        B, T, C = x.shape
        weight = conv.weight.permute(0, 2, 1).reshape(conv.out_channels, w * C)
        return F.linear(x.reshape(B, T // w, w * C), weight, conv.bias)

    @staticmethod
    def _bn(x: torch.Tensor, bn: nn.BatchNorm1d) -> torch.Tensor:
        B, T, C = x.shape
        return bn(x.reshape(B * T, C)).view(B, T, C)

    def _layers(self) -> list[tuple[nn.Conv1d, nn.BatchNorm1d | None]]:
        """The convolutions in order, each with the batch norm that follows it (None: the last)."""
        return [(self.expand, self.expand_bn)] + list(zip(self.convs, self.bns)) + [(self.shrink, None)]

    def _folded(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Inference weights of the strided path: each convolution flattened to (out, w C) with its
        batch norm folded in (``W g / s``, ``beta - mean g / s``); cached until a weight changes.
        For one window at a time (streaming) the per-layer overhead is most of the cost."""
        # Watched: the version counters of the tensors folded in, which every in-place change
        # bumps (optimiser steps, load_state_dict, batch-norm statistics); building this key
        # from the modules on every call cost streaming 4%.
        if getattr(self, "_folded_watch", None) is None:
            layers = self._layers()
            self._folded_watch = [c.weight for c, _ in layers] + [c.bias for c, _ in layers if c.bias is not None]
            self._folded_watch += [t for _, bn in layers if bn is not None for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var)]
        key = [t._version for t in self._folded_watch]
        if getattr(self, "_folded_key", None) != key:
            folded = []
            for conv, bn in self._layers():
                w = conv.weight.detach().permute(0, 2, 1).reshape(conv.out_channels, -1)
                b = conv.bias.detach() if conv.bias is not None else torch.zeros(conv.out_channels)
                if bn is not None:
                    g = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
                    w, b = w * g[:, None], bn.bias.detach() + (b - bn.running_mean) * g
                folded.append((w.contiguous(), b.contiguous()))
            self._folded_cache, self._folded_key = folded, key
        return self._folded_cache

    def _windows(self, x: torch.Tensor) -> torch.Tensor:
        fw = self.filter_widths
        if not self.training and not torch.is_grad_enabled():  # inference: batch norms folded in
            folded = self._folded()

            def layer(k: int, x: torch.Tensor, w: int) -> torch.Tensor:
                B, T, C = x.shape
                return F.linear(x.reshape(B, T // w, w * C), *folded[k])

        else:
            pairs = self._layers()

            def layer(k: int, x: torch.Tensor, w: int) -> torch.Tensor:
                conv, bn = pairs[k]
                y = self._strided(x, conv, w)
                return y if bn is None else self._bn(y, bn)

        drop = self.drop if self.training else (lambda t: t)  # a no-op call per layer costs streaming ~10%
        x = drop(F.relu(layer(0, x, fw[0])))
        for i, w in enumerate(fw[1:]):
            res = x[:, w // 2 :: w]
            x = drop(F.relu(layer(1 + 2 * i, x, w)))
            x = res + drop(F.relu(layer(2 + 2 * i, x, 1)))
        out = layer(len(fw) * 2 - 1, x, 1)  # (B, 1, H*J*3)
        return out.view(x.shape[0], self.heads, self.out_joints, 3)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Dense sliding prediction.

        Args:
            features: (B, T, 3 J_in) normalised input, T >= RF.
        Returns:
            (B, T - RF + 1, heads, J_out, 3): output i is the window of frames i .. i + RF - 1
            (head 0 predicts its centre frame, head 1 its last frame), metres.
        """
        return self._dense(features)

    def forward_windows(self, features: torch.Tensor) -> torch.Tensor:
        """One prediction per window (strided convolutions; the same result, cheaper for training).

        Args:
            features: (B, RF, 3 J_in).
        Returns:
            (B, heads, J_out, 3).
        """
        if features.shape[1] != self.receptive_field:
            raise ValueError(f"windows must have {self.receptive_field} frames, got {features.shape[1]}")
        return self._windows(features)


# ------------------------------------------------------------------------------ inference


@functools.cache
def _flip_in() -> np.ndarray:
    return np.asarray(get_joint_set(INPUT_SET).flip_permutation)


@functools.cache
def output_flip_permutation() -> np.ndarray:
    """Left-right permutation of the network's joint axis (every ``OUTPUT_SETS`` set, in order)."""
    perms, start = [], 0
    for name in OUTPUT_SETS:
        perm = np.asarray(get_joint_set(name).flip_permutation)
        perms.append(perm + start)
        start += len(perm)
    return np.concatenate(perms)


def mirror_input(features: torch.Tensor) -> torch.Tensor:
    """(..., J_in, 3) network input features -> those of the mirrored image (left and right
    swapped, x negated; the confidence channel unchanged)."""
    return features[..., _flip_in(), :] * features.new_tensor([-1.0, 1.0, 1.0])


def mirror_output(joints: torch.Tensor) -> torch.Tensor:
    """(..., J_all, 3) network output for a mirrored input -> the same pose mirrored back."""
    return joints[..., output_flip_permutation(), :] * joints.new_tensor([-1.0, 1.0, 1.0])


def _check_output_set(name: str) -> None:
    if name not in OUTPUT_SETS:
        raise ValueError(f"output_set must be one of {OUTPUT_SETS}, got {name!r}")


def _roots() -> dict[str, int]:
    return {name: get_joint_set(name).root for name in OUTPUT_SETS}


class Lifter:
    """2D keypoint sequences to root-relative 3D joints (metres, camera axes).

    Args:
        net: the network (put in eval mode).
        card: the weights' card (input contract, training recipe, metrics); informational.
    """

    name = "simpose-lifter"

    def __init__(self, net: TemporalLifterNet, card: dict | None = None, flip: bool = True) -> None:
        self.net = net.eval()
        self.flip = flip
        self.card = card or {}
        self.receptive_field = net.receptive_field
        self._slices = output_slices()
        # the rate of the training windows: tracks at other rates are resampled to it
        self.fps = float(self.card.get("data_recipe", {}).get("config", {}).get("cache", {}).get("fps", TRAINING_FPS))

    @staticmethod
    def from_pretrained(path: str | Path | None = None) -> Lifter:
        """Load shipped weights (``weights/lifter.pt`` and its card ``lifter.json``) or a checkpoint.

        Args:
            path: a ``.pt`` written by :func:`save_weights` or the training loop; None: the shipped one.
        """
        path = Path(path) if path is not None else WEIGHTS_PATH
        if not path.exists():
            raise FileNotFoundError(f"{path}: no lifter weights (train them: python -m simpose.train.lifter --out DIR)")
        blob = torch.load(path, map_location="cpu", weights_only=True)
        net = TemporalLifterNet(**blob["net_config"])
        net.load_state_dict(blob["state_dict"])
        card_path = path.with_suffix(".json")
        card = json.loads(card_path.read_text()) if card_path.exists() else {}
        return Lifter(net, card)

    # -------------------------------------------------------------- inputs
    def _inputs(self, joints2d, joint_set: str, confidence) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(joints2d, dtype=np.float64)
        if x.ndim != 3 or x.shape[-1] != 2:
            raise ValueError(f"joints2d must be (T, J, 2) pixels, got {x.shape}")
        conf = np.ones(x.shape[:2]) if confidence is None else np.asarray(confidence, dtype=np.float64)
        if conf.shape != x.shape[:2]:
            raise ValueError(f"confidence must be (T, J) = {x.shape[:2]}, got {conf.shape}")
        if joint_set != INPUT_SET:
            conf = np.where(np.isfinite(x).all(-1), conf, 0.0)
            x = convert(x, joint_set, INPUT_SET, strict=False)
            conf = convert(conf[..., None], joint_set, INPUT_SET, strict=False)[..., 0]
            conf = np.nan_to_num(conf, nan=0.0)
        return x, conf

    def _resamples(self, fps: float | None) -> bool:
        """Whether a track at ``fps`` is lifted resampled: its rate is known and differs from
        :attr:`fps` by more than 0.1%."""
        return fps is not None and abs(fps / self.fps - 1.0) > 1e-3

    def at_training_rate(self, x: np.ndarray, conf: np.ndarray, camera, fps: float | None):
        """Resample a track to :attr:`fps` when it is at another rate (beyond 0.1%).

        Args:
            x, conf: (T, J_in, 2) pixels and (T, J_in), as :meth:`_inputs` returns them.
            camera: as for :meth:`predict`; one per frame is fine (the pixels are made
                normalised coordinates at their own frames first).
            fps: the track's rate; None: it is at the training rate already.
        Returns:
            ``(x, conf, camera, resampled)``: the track to lift and the camera to lift it with
            (the identity K when the coordinates are normalised already), and whether it was
            resampled (then map the outputs back with :func:`resample_to_frames`).
        """
        if not self._resamples(fps) or len(x) <= 1:
            return x, conf, camera, False
        if camera is not None:
            x, camera = image_to_normalised(x, camera), np.eye(3)
        x, conf = resample_track(x, conf, fps, self.fps)
        return x, conf, camera, True

    @staticmethod
    def _view(x: np.ndarray, conf: np.ndarray, camera) -> tuple[np.ndarray, np.ndarray | None]:
        """Pixels -> (coordinates the network's normalisation takes, per-frame R or None): with a
        camera, the rays re-projected into the pelvis-view virtual cameras (module docstring)."""
        if camera is None:
            return x, None
        xy = image_to_normalised(x, camera)
        R = pelvis_view_rotations(xy, np.where(np.isfinite(xy).all(-1), conf, 0.0))
        return to_pelvis_view(xy, R), R

    @staticmethod
    def _unview(y: np.ndarray, R: np.ndarray | None) -> np.ndarray:
        """(T, J, 3) virtual-camera predictions -> camera axes (``R^T y`` per frame)."""
        return y if R is None else np.einsum("tji,tkj->tki", R, y).astype(np.float32)

    def _select(self, out: np.ndarray, output_set: str) -> np.ndarray:
        joints = out[..., self._slices[output_set], :]
        root = _roots()[output_set]
        return joints - joints[..., root : root + 1, :]

    # -------------------------------------------------------------- predict
    def predict(
        self,
        joints2d: np.ndarray,
        joint_set: str = INPUT_SET,
        confidence: np.ndarray | None = None,
        camera=None,
        output_set: str = "h36m17",
        causal: bool = False,
        chunk: int = 4096,
        fps: float | None = None,
    ) -> np.ndarray:
        """Lift one 2D sequence.

        Args:
            joints2d: (T, J, 2) pixels in ``joint_set`` (NaN: missing).
            joint_set: the input's joint set; converted to ``INPUT_SET`` by name.
            confidence: (T, J) in [0, 1], or None (all 1).
            camera: None, a (3, 3) intrinsics matrix K, or a :class:`~simpose.camera.Camera`.
            output_set: ``"h36m17"`` or ``"anny"``.
            causal: predict each frame from it and the ``RF - 1`` frames before it only (the
                streaming mode; per-clip size from past frames, :func:`sliding_scales`).
            chunk: frames per batch element in the offline mode.
            fps: the sequence's frame rate. At another rate than the training windows'
                (:attr:`fps`, 50) the track is lifted resampled to that rate and the 3D taken back
                at its own frames (:meth:`at_training_rate`); None: it is taken as at that rate.
        Returns:
            (T, J_out, 3) float32 metres, camera axes, relative to the set's root.
        """
        return self.predict_sets(joints2d, joint_set, confidence, camera, (output_set,), causal, chunk, fps)[output_set]

    @torch.no_grad()
    def predict_sets(
        self,
        joints2d: np.ndarray,
        joint_set: str = INPUT_SET,
        confidence: np.ndarray | None = None,
        camera=None,
        output_sets: tuple[str, ...] = OUTPUT_SETS,
        causal: bool = False,
        chunk: int = 4096,
        fps: float | None = None,
    ) -> dict[str, np.ndarray]:
        """:meth:`predict` for several output sets from one network pass: {set: (T, J_set, 3)}."""
        for name in output_sets:
            _check_output_set(name)
        x, conf = self._inputs(joints2d, joint_set, confidence)
        if x.shape[0] == 0:
            return {name: np.zeros((0, len(get_joint_set(name)), 3), dtype=np.float32) for name in output_sets}
        T = len(x)
        x, conf, camera, resampled = self.at_training_rate(x, conf, camera, fps)
        out = self._predict_all(x, conf, camera, causal, chunk)
        if resampled:
            out = resample_to_frames(out, T, fps, self.fps, causal)
        return {name: self._select(out, name) for name in output_sets}

    def _features(self, x: np.ndarray, conf: np.ndarray, camera, causal: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(T, J_in, 3) normalised features before the 2D scale, the (T,) per-frame 2D scales
        (:func:`sliding_scales`) and the view rotations (None without a camera)."""
        x, R = self._view(x, conf, camera)
        feats, _ = normalize_keypoints(x, conf, None, scale=1.0)
        scales = sliding_scales(frame_sizes(feats[..., :2], feats[..., 2]), causal=causal).astype(np.float32)
        return feats, scales, R

    def offline_input(self, x: np.ndarray, conf: np.ndarray, camera) -> tuple[np.ndarray, np.ndarray | None]:
        """The offline mode's network input for a whole sequence.

        Args:
            x, conf: (T, J_in, 2) and (T, J_in) as :meth:`_inputs` returns them (T >= 1).
            camera: as for :meth:`predict`.
        Returns:
            (T + RF - 1, 3 J_in) features, every frame scaled by its own span's 2D size and
            replicate-padded by RF // 2 at both ends (output i belongs to frame i), and the
            per-frame view rotations (None without a camera).
        """
        feats, scales, R = self._features(x, conf, camera)
        feats[..., :2] /= scales[:, None, None]
        half = self.receptive_field // 2
        padded = np.concatenate([np.repeat(feats[:1], half, 0), feats, np.repeat(feats[-1:], half, 0)])
        return padded.reshape(len(padded), -1), R

    @torch.no_grad()
    def _predict_all(self, x: np.ndarray, conf: np.ndarray, camera, causal: bool = False, chunk: int = 4096) -> np.ndarray:
        """Every output joint of :meth:`predict` before the set is chosen: (T, J_all, 3) camera axes.

        ``x``/``conf`` as :meth:`_inputs` returns them (``INPUT_SET``, T >= 1); :meth:`_select`
        picks a set, so one network pass can give both sets.
        """
        T = x.shape[0]
        RF = self.receptive_field
        if causal:  # every window scaled by its last frame's size, as the stream sees it
            feats, scales, R = self._features(x, conf, camera, causal=True)
            idx = np.clip(np.arange(T)[:, None] + np.arange(-RF + 1, 1)[None], 0, None)  # (T, RF) replicate-padded
            windows = feats[idx]  # (T, RF, J, 3)
            windows[..., :2] /= scales[:, None, None, None]
            out = []
            for s in range(0, T, chunk):
                w = torch.from_numpy(windows[s : s + chunk].reshape(-1, RF, windows.shape[2] * 3))
                out.append(self.net.forward_windows(w)[:, HEAD_CAUSAL].numpy())
            return self._unview(np.concatenate(out), R)
        padded, R = self.offline_input(x, conf, camera)
        # Batched sliding windows: cut the padded sequence into chunks overlapping by RF - 1.
        starts = list(range(0, T, chunk))
        n = min(chunk, T)
        pieces = [padded[s : s + n + RF - 1] for s in starts]
        if len(pieces[-1]) < n + RF - 1:  # last piece: pad with its last frame, trim after
            last = pieces[-1]
            pieces[-1] = np.concatenate([last, np.repeat(last[-1:], n + RF - 1 - len(last), 0)])
        y = self._centre_head(np.stack(pieces))  # (P, n, J_all, 3)
        y = y.reshape(-1, *y.shape[2:])[:T]
        return self._unview(y, R)

    def _centre_head(self, pieces: np.ndarray) -> np.ndarray:
        """(P, n + RF - 1, 3 J_in) padded features -> (P, n, J_all, 3) centre-head output,
        averaged with the output for the mirrored input mirrored back (test-time flipping:
        the network is trained on mirrored windows too, so the two are equally good guesses and
        their mean cancels part of each one's error)."""
        x = torch.from_numpy(pieces)
        y = self.net(x)[:, :, HEAD_CENTRE]
        if not self.flip:
            return y.numpy()
        P, L, _ = x.shape
        xf = mirror_input(x.view(P, L, -1, 3)).view(P, L, -1)
        yf = mirror_output(self.net(xf)[:, :, HEAD_CENTRE])
        return ((y + yf) / 2).numpy()

    def stream(self, joint_set: str = INPUT_SET, camera=None, output_set: str = "h36m17", fps: float | None = None) -> LifterStream:
        """A frame-by-frame (causal) predictor; gives the same numbers as ``predict(causal=True, fps=fps)``."""
        return LifterStream(self, joint_set, camera, output_set, fps)


class LifterStream:
    """Streaming lifting: push one frame of 2D, get that frame's 3D (no look-ahead).

    Keeps the last ``RF`` frames and the last ``SCALE_FRAMES`` frame sizes. With ``fps`` at
    another rate than the lifter's (:attr:`Lifter.fps`), every push makes the frames of the
    track resampled to that rate that fall up to it (interpolated with the frame before, as
    :func:`resample_track` does), lifts them, and returns the last one's 3D: the numbers of
    ``predict(causal=True, fps=fps)``.
    """

    def __init__(self, lifter: Lifter, joint_set: str = INPUT_SET, camera=None, output_set: str = "h36m17", fps: float | None = None) -> None:
        _check_output_set(output_set)
        self.lifter, self.joint_set, self.camera, self.output_set = lifter, joint_set, camera, output_set
        self._window: np.ndarray | None = None  # (RF, J, 3) the last RF frames' features, oldest first
        self._sizes = np.full(SCALE_FRAMES, np.nan)  # the last SCALE_FRAMES frame sizes, oldest first
        self._ratio = fps / lifter.fps if lifter._resamples(fps) else None  # input frames per lifted frame
        self._pushed = 0  # input frames so far
        self._made = 0  # resampled frames so far
        self._prev: tuple[np.ndarray, np.ndarray] | None = None  # the last input frame (normalised with a camera) and its confidence
        self._last: np.ndarray | None = None  # the last output

    @torch.no_grad()
    def push(self, joints2d: np.ndarray, confidence: np.ndarray | None = None) -> np.ndarray:
        """joints2d: (J, 2) pixels, confidence (J,) or None -> (J_out, 3) metres for this frame."""
        conf = None if confidence is None else np.asarray(confidence)[None]
        x, c = self.lifter._inputs(np.asarray(joints2d)[None], self.joint_set, conf)
        if self._ratio is None:
            return self._lift(x, c, self.camera)
        camera = None
        if self.camera is not None:
            x, camera = image_to_normalised(x, self.camera), np.eye(3)
        i = self._pushed
        # the frames known so far that a resampled frame can need: this one and the one before
        xs, cs = (x, c) if self._prev is None else (np.concatenate([self._prev[0], x]), np.concatenate([self._prev[1], c]))
        first = i + 1 - len(xs)  # input index of xs[0]
        while self._made * self._ratio <= i + 1e-9:  # the resampled frames up to this one
            xk, ck = _track_at(xs, cs, np.array([self._made * self._ratio - first]))  # as resample_track
            self._last = self._lift(xk, ck, camera)
            self._made += 1
        self._prev, self._pushed = (x, c), i + 1
        return self._last

    def _lift(self, x: np.ndarray, c: np.ndarray, camera) -> np.ndarray:
        """One frame at the lifter's rate: (1, J_in, 2), (1, J_in) -> (J_out, 3)."""
        x, R = self.lifter._view(x, c, camera)
        feats, _ = normalize_keypoints(x, c, None, scale=1.0)  # (1, J, 3)
        self._sizes[:-1] = self._sizes[1:]
        self._sizes[-1] = frame_sizes(feats[..., :2], feats[..., 2])[0]
        RF = self.lifter.receptive_field
        if self._window is None:  # the first frame stands in for the frames before it
            self._window = np.repeat(feats, RF, axis=0)
        else:
            self._window[:-1] = self._window[1:]
            self._window[-1] = feats[0]
        window = self._window.copy()
        window[..., :2] /= np.float32(clip_scale(self._sizes))
        y = self.lifter.net.forward_windows(torch.from_numpy(window.reshape(1, RF, -1)))[:, HEAD_CAUSAL].numpy()
        return self.lifter._select(self.lifter._unview(y, R), self.output_set)[0]
