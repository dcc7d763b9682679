"""The motion model on a video: ``simpose run --model motion``'s 3D path and the real-video evaluation's.

:func:`estimate_motion_video`: the run's 2D stage (BlazePose, same settings, cue cache), its main
person, frames taken at the model's rate (every ``round(fps / model fps)``-th frame), crops and
the cue stage's DIS flow (:func:`simpose.cues.crops.motion_crops`, the function the training crops
came from), the network, and the result held over the skipped frames.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np

from simpose.cues.crops import CropConfig, box_cuts, motion_crops
from simpose.models.motion import MotionModel, frame_inputs

__all__ = ["MotionTrack", "motion_track", "predict_track", "estimate_motion_video"]

log = logging.getLogger(__name__)


def _decode_frames(source, indices: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 frames of a video at the given sorted indices (one pass)."""
    want, out = set(int(i) for i in indices), {}
    for i, frame in source.frames(0, int(indices[-1]) + 1):
        if i in want:
            out[i] = frame
    return np.stack([out[int(i)] for i in indices])


@dataclasses.dataclass(frozen=True)
class MotionTrack:
    """The main person of a video as the motion network's input (T' model frames of T video frames).

    Attributes:
        inputs: :func:`simpose.models.motion.frame_inputs` of the crops (T' frames).
        crops: the :class:`~simpose.cues.crops.MotionCrops`. valid: (T',) bool detected.
        stride: video frames per model frame. n_frames: T. seconds: time spent (detection
            excluded when it came from the cue cache; decoding, crops and flow included).
    """

    inputs: dict
    crops: object
    valid: np.ndarray
    stride: int
    n_frames: int
    seconds: float


def motion_track(video: str | Path, fps: float, crop: CropConfig, cache_dir: str | Path | None = None, source=None, det=None) -> MotionTrack:
    """The run's 2D stage on a video, its main person, frames at ``fps``, crops and DIS flow.

    Args:
        video: a video file or image folder. fps: the model's frame rate (every
            ``round(video fps / fps)``-th frame is used). crop: the model's crop settings.
        cache_dir: cue cache folder (the run's 2D detections are reused), or None.
        source, det: the opened video and its :class:`~simpose.cues.detect.Detections` when
            the caller has them (the estimator); None: opened and detected here.
    """
    from simpose.cues.detect import detect
    from simpose.cues.keypoints import KeypointConfig
    from simpose.cues.video import open_video
    from simpose.track.inputs import main_person

    start = time.perf_counter()
    source = open_video(video) if source is None else source
    if det is None:
        # KeypointConfig(): the run's settings (RunConfig().keypoints), so the cue cache is shared
        det = detect(source, KeypointConfig(), 0, None, None if cache_dir is None else str(cache_dir))
    p = main_person(det.keypoints)
    T = len(det.frame_index)
    stride = max(1, int(round(source.fps / float(fps))))
    idx = np.arange(0, T, stride)
    kp = det.keypoints.keypoints[idx, p].astype(np.float64) - 0.5  # pixel centres at integers, as simpose run
    valid = det.keypoints.valid[idx, p].astype(bool)
    kp[~valid] = np.nan
    conf = np.where(valid[:, None], det.keypoints.confidence[idx, p], 0.0)
    frames = _decode_frames(source, det.frame_index[idx])
    crops = motion_crops(frames, kp, valid, crop)
    cuts = box_cuts(crops.boxes)  # cuts and track switches: no flow into those frames
    if cuts.any():
        log.info("%s: the person's box jumps at model frames %s: no flow into them", video, np.flatnonzero(cuts).tolist())
    x = frame_inputs(crops.rgb, crops.flow, crops.keypoints, conf, ~cuts)
    return MotionTrack(x, crops, valid, stride, T, time.perf_counter() - start)


def predict_track(model: MotionModel, track: MotionTrack, name: str = "video") -> dict[str, np.ndarray]:
    """The model on a track: joint set -> (T, J, 3) at every video frame (a skipped frame takes
    the model frame before it); a track shorter than the window is padded, with a warning."""
    n = len(track.valid)
    window = model.net.config.window
    if n < window:
        log.warning("%s: %d frames at %g fps, fewer than the model's window of %d: the ends are padded by repeating them", name, n, model.card["fps"], window)
    nearest = np.minimum(np.arange(track.n_frames) // track.stride, n - 1)
    return {s: y[nearest] for s, y in model.predict(track.inputs).items()}


def estimate_motion_video(model: MotionModel, video: str | Path, cache_dir: str | Path | None = None, track: MotionTrack | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """The motion model on a video's main person.

    Args:
        model: :class:`MotionModel`. video: a video file or image folder.
        cache_dir: cue cache folder (the run's 2D detections are reused), or None.
        track: the video's :func:`motion_track` when already made (with the model's fps and crops).
    Returns:
        joints3d (T, 17, 3) h36m17 metres relative to the pelvis, camera axes, at every frame of
        the video (frames between two model frames take the earlier one's); valid (T,) bool
        (detected in that model frame); info (``stride``, ``model_frames``, ``padded``).
    """
    if track is None:
        track = motion_track(video, float(model.card["fps"]), CropConfig.from_dict(model.card["crop"]), cache_dir)
    n = len(track.valid)
    pred = predict_track(model, track, str(video))["h36m17"]
    nearest = np.minimum(np.arange(track.n_frames) // track.stride, n - 1)
    info = {"stride": track.stride, "model_frames": n, "padded": n < model.net.config.window}
    return pred, track.valid[nearest], info
