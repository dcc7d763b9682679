"""Training windows from the detector cache: the production detector's own 2D on synthetic people.

The joint cache (:mod:`simpose.train.lifter_data`) shows the lifter projected joints plus a
hand-made noise model. The detector cache (:mod:`simpose.synth.detcache`) shows it what MediaPipe
really answers on rendered people (where it puts a hip, how it fails under occlusion,
truncation and blur, how its confidence relates to its error), with the exact 3D of the person
it found. :class:`DetectorWindowSampler` cuts training windows from it exactly as the lifter
sees a real video at test time:

- every frame is put in its own pelvis-view virtual camera and normalised as the lifter does
  (:func:`~simpose.models.lifter_input.normalize_keypoints`), once;
- the clip (rendered at its own rate, 30 fps) is read at the training rate (50 fps) with a
  random playback speed, linearly between those frames (at test time
  :func:`simpose.models.lifter_input.resample_track` interpolates the pixels first: the same to
  first order; a point between two frames is as confident as the less confident one);
- frames where the detector found nobody, or another person than at the window's centre, are
  missing (confidence 0), as a lost track is at test time; window frames before the clip's
  start or after its end repeat its first or last frame, as the lifter's padding does;
- the 2D size is the median over frames of the clip that show the person;
- half of the windows are mirrored (input and targets), as for the joint cache.

No noise is added: the detector's errors are the point. Clips are split by index into training
and held-out clips (:func:`split_clips`), so the held-out windows show motions, bodies, scenes
and cameras the network never saw.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import torch

from simpose.body.joints import get_joint_set
from simpose.models.lifter_input import (
    OUTPUT_SETS,
    clip_scale,
    frame_sizes,
    mirror_input,
    mirror_output,
    normalize_keypoints,
    pelvis_view_rotations,
    to_pelvis_view,
)
from simpose.synth.detcache import KEYPOINT_SET, DetectorCache, DetectorCacheError

logger = logging.getLogger(__name__)

__all__ = ["DetectorFrames", "load_detector_frames", "split_clips", "DetectorWindowSampler"]


@dataclasses.dataclass(frozen=True)
class DetectorFrames:
    """The frames of a set of detector-cache clips, end to end.

    Attributes:
        keypoints: (N, 33, 2) float32 detected pixels (NaN: not found).
        confidence: (N, 33) float32, 0 where not found.
        person: (N,) int8 the rendered person found (-1: none).
        targets: (N, J_out, 3) float32 camera-frame metres of the person found, every set of
            ``OUTPUT_SETS`` side by side (NaN where none was found).
        segments: (C, 2) start, stop of each clip. K: (C, 3, 3). fps: (C,) the clips' rates.
        clip_index: (C,) the clips' indices in the cache.
    """

    keypoints: np.ndarray
    confidence: np.ndarray
    person: np.ndarray
    targets: np.ndarray
    segments: np.ndarray
    K: np.ndarray
    fps: np.ndarray
    clip_index: np.ndarray

    @property
    def num_frames(self) -> int:
        return len(self.person)


def split_clips(files: list[Path], hold_out_every: int) -> tuple[list[Path], list[Path]]:
    """(training, held-out) clip files: clip ``i`` is held out when ``i % hold_out_every == 0``
    (by the index in its name, so the split does not move as the cache grows); 0: none held out."""
    if hold_out_every <= 0:
        return list(files), []
    held = [f for f in files if int(f.stem.split("_")[-1]) % hold_out_every == 0]
    return [f for f in files if f not in set(held)], held


def load_detector_frames(folder: str | Path, files: list[Path] | None = None, detector: str | None = None) -> DetectorFrames:
    """Read detector-cache clips (all of ``folder``'s, or ``files``) into one :class:`DetectorFrames`.

    Raises:
        DetectorCacheError: not a detector cache, another detector version than ``detector``,
            no finished clip, or a clip whose keypoints are not BlazePose-33.
    """
    cache = DetectorCache(folder, detector=detector, joint_set=KEYPOINT_SET)
    files = cache.files if files is None else list(files)
    if not files:
        raise DetectorCacheError(f"{folder}: no finished clips (build them with simpose synth --detect)")
    from simpose.synth.detcache import read_detector_clip

    kp, conf, person, targets, segments, K, fps, index = [], [], [], [], [], [], [], []
    start = 0
    version = detector or cache.manifest["detector_version"]
    for f in files:
        clip = read_detector_clip(f, version, KEYPOINT_SET)
        if clip.meta.get("keypoint_set", KEYPOINT_SET) != KEYPOINT_SET:
            raise DetectorCacheError(f"{f}: keypoints of {clip.meta.get('keypoint_set')!r}, not {KEYPOINT_SET!r}")
        kp.append(clip.keypoints)
        conf.append(clip.confidence)
        person.append(clip.person)
        targets.append(np.concatenate([clip.found_person(s)[1] for s in OUTPUT_SETS], axis=1))
        segments.append((start, start + clip.num_frames))
        start += clip.num_frames
        K.append(clip.K)
        fps.append(float(clip.meta["fps"]))
        index.append(int(clip.meta["clip_index"]))
    return DetectorFrames(
        keypoints=np.concatenate(kp), confidence=np.concatenate(conf), person=np.concatenate(person),
        targets=np.concatenate(targets).astype(np.float32), segments=np.asarray(segments, np.int64),
        K=np.asarray(K), fps=np.asarray(fps), clip_index=np.asarray(index),
    )  # fmt: skip


class DetectorWindowSampler:
    """Draws training windows (module docstring) from :class:`DetectorFrames`.

    Args:
        frames: the clips. receptive_field: frames per window. rate: the training rate (fps).
        speed: (low, high) log-uniform playback speed. mirror_prob: share of mirrored windows.
        scale_frames: frames of the clip (showing the person) the 2D size is taken over.
        pelvis_view: train in the pelvis-view virtual camera (as the lifter predicts with a camera).
    """

    def __init__(
        self,
        frames: DetectorFrames,
        receptive_field: int = 27,
        rate: float = 50.0,
        speed: tuple[float, float] = (0.67, 1.5),
        mirror_prob: float = 0.5,
        scale_frames: int = 24,
        pelvis_view: bool = True,
    ) -> None:
        self.f = frames
        self.RF, self.rate, self.speed, self.mirror_prob = receptive_field, rate, speed, mirror_prob
        self.scale_frames, self.pelvis_view = scale_frames, pelvis_view
        clip = np.zeros(frames.num_frames, np.int64)
        for c, (a, b) in enumerate(frames.segments):
            clip[a:b] = c
        self.clip = clip
        self.found = np.flatnonzero(frames.person >= 0)  # candidate centre frames
        if not len(self.found):
            raise DetectorCacheError("the detector found nobody in these clips: no training window")
        self.pelvis = get_joint_set(OUTPUT_SETS[0]).index("pelvis")
        # Every frame's features once, as the lifter makes them at test time (each frame in its
        # own pelvis-view camera, centred, not yet scaled) and its 2D size; a window then only
        # interpolates them (at test time the pixels are interpolated first: the same to first order).
        K = frames.K[clip]  # (N, 3, 3)
        conf = np.where(np.isfinite(frames.keypoints).all(-1), frames.confidence, 0.0).astype(np.float64)
        xy = (np.nan_to_num(frames.keypoints).astype(np.float64) - K[:, None, :2, 2]) / np.stack([K[:, 0, 0], K[:, 1, 1]], -1)[:, None]
        if pelvis_view:
            R = pelvis_view_rotations(xy, conf, KEYPOINT_SET)  # (N, 3, 3)
            xy = to_pelvis_view(xy, R)
            targets = np.einsum("nij,nkj->nki", R, frames.targets.astype(np.float64))
        else:
            targets = frames.targets.astype(np.float64)
        feats, _ = normalize_keypoints(xy, conf, None, scale=1.0, joint_set=KEYPOINT_SET)
        self.feats = feats  # (N, 33, 3) float32
        self.sizes = frame_sizes(feats[..., :2], feats[..., 2], KEYPOINT_SET)  # (N,)
        self.targets = (targets - targets[:, self.pelvis : self.pelvis + 1]).astype(np.float32)  # (N, J_out, 3) view axes

    def _neighbours(self, pos: np.ndarray):
        """Fractional frame indices -> the frames before and after (within the clip) and the weight of the one after."""
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, self.f.segments[self.clip[lo], 1] - 1)
        return lo, hi, (pos - lo).astype(np.float32)

    def _at(self, values: np.ndarray, pos: np.ndarray, person: np.ndarray, confidence: bool):
        """(N, J, C) per-frame values at (B, L) fractional frames -> (B, L, J, C) interpolated and
        (B, L) whether both neighbours show ``person`` (only the frame itself when exactly on one).
        With ``confidence`` the last channel is a confidence: the smaller of the two, 0 where
        the person is not shown."""
        lo, hi, w = self._neighbours(pos)
        wb = w[..., None, None]
        out = np.where(wb > 0, (1 - wb) * values[lo] + wb * values[hi], values[lo])
        same = (self.f.person[lo] == person[:, None]) & ((w == 0) | (self.f.person[hi] == person[:, None]))
        if confidence:
            c = np.where(w[..., None] > 0, np.minimum(values[lo][..., -1], values[hi][..., -1]), values[lo][..., -1])
            out[..., -1] = c * same[..., None]
            out[..., :-1] *= same[..., None, None]
        return out, same

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` windows: features (n, RF, 3 * 33) float32 and targets (n, 2, J_out, 3) float32
        metres relative to the h36m17 pelvis (the window's centre frame, its last frame), in the
        view camera of each of those frames."""
        RF = self.RF
        feats_out, targets_out, have = [], [], 0
        while have < n:
            t = self.found[rng.integers(0, len(self.found), n)]
            c = self.clip[t]
            a, b = self.f.segments[c, 0], self.f.segments[c, 1]
            person = self.f.person[t].astype(np.int64)
            step = np.exp(rng.uniform(np.log(self.speed[0]), np.log(self.speed[1]), n)) * self.f.fps[c] / self.rate
            pos = np.clip(t[:, None] + step[:, None] * (np.arange(RF)[None] - RF // 2), a[:, None], (b - 1)[:, None].astype(np.float64))
            feats, _ = self._at(self.feats, pos, person, confidence=True)  # (n, RF, 33, 3)
            y_last, same = self._at(self.targets, pos[:, -1:], person, confidence=False)
            ok = same[:, 0] & np.isfinite(y_last).all((1, 2, 3))
            # the 2D size: the median over frames of the clip that show the person
            span = a[:, None] + (rng.random((n, self.scale_frames)) * (b - a)[:, None]).astype(np.int64)
            sizes = np.where(self.f.person[span] == person[:, None], self.sizes[span], np.nan)
            feats[..., :2] /= clip_scale(sizes)[:, None, None, None].astype(np.float32)
            Y = np.concatenate([self.targets[t][:, None], y_last], 1)  # (n, 2, J_out, 3)
            feats_out.append(feats[ok].astype(np.float32))
            targets_out.append(Y[ok].astype(np.float32))
            have += int(ok.sum())
        feats = torch.from_numpy(np.concatenate(feats_out)[:n])
        Y = torch.from_numpy(np.concatenate(targets_out)[:n])
        mirror = torch.from_numpy(rng.random(n) < self.mirror_prob)
        feats = torch.where(mirror[:, None, None, None], mirror_input(feats, KEYPOINT_SET), feats)
        Y = torch.where(mirror[:, None, None, None], mirror_output(Y), Y)
        return feats.reshape(n, RF, -1).numpy(), Y.numpy()
