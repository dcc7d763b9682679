"""``extract_cues``: a video in, its 2D keypoints, person masks and optical flow out, cached.

Two passes over the frames: MediaPipe first (keypoints and masks), then DIS flow inside the
person boxes that the first pass found. Frames are streamed, never all held in memory; the
outputs (masks and flow at full resolution) are. Results are cached per (video, settings) in
``cache_dir`` (:mod:`simpose.cues.cache`), so a second run of the same video skips detection.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from simpose.cues import flow as _flow
from simpose.cues import keypoints as _kp
from simpose.cues.cache import (
    CACHE_FORMAT, cache_key, cache_path, load_arrays, pack_flow, quantize_flow_, save_arrays, unpack_flow,
)  # fmt: skip
from simpose.cues.errors import CueError
from simpose.cues.flow import FlowConfig
from simpose.cues.keypoints import KeypointConfig, Keypoints2D
from simpose.cues.video import VideoSource, open_video

__all__ = ["CueConfig", "Cues", "extract_cues"]

log = logging.getLogger(__name__)

# videos with at least this many frames show a progress bar unless told otherwise
PROGRESS_MIN_FRAMES = 50


@dataclasses.dataclass(frozen=True)
class CueConfig:
    """Settings of the cue stage (all of them enter the cache key).

    Attributes:
        keypoints: MediaPipe settings (``keypoints.segmentation`` switches the masks).
        flow: optical flow settings, or None for no flow.
    """

    keypoints: KeypointConfig = KeypointConfig()
    flow: FlowConfig | None = FlowConfig()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(d: dict) -> CueConfig:
        return CueConfig(KeypointConfig(**d["keypoints"]), None if d["flow"] is None else FlowConfig(**d["flow"]))


@dataclasses.dataclass(frozen=True, eq=False)
class Cues:
    """The cues of one video.

    Attributes:
        keypoints: 2D keypoints (``blazepose33``, P = 1 with MediaPipe), T frames.
        masks: (T, P, H, W) bool person masks, or None.
        flow: (T - 1, H, W, 2) float32 forward flow in pixels, zero outside ``flow_boxes``, or
            None. Cached in steps of 1/16 px (:func:`simpose.cues.cache.pack_flow`).
        flow_boxes: (T - 1, 4) int64 ``x0, y0, x1, y1`` where flow was computed (empty: nowhere).
        fps: frames per second of the source.
        source: path of the video, image folder or image.
        config: the settings that produced these cues.
    """

    keypoints: Keypoints2D
    masks: np.ndarray | None
    flow: np.ndarray | None
    flow_boxes: np.ndarray | None
    fps: float
    source: str
    config: CueConfig

    @property
    def num_frames(self) -> int:
        return self.keypoints.num_frames

    @property
    def image_size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.keypoints.image_size

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays stored in a cache entry (flow quantised to 1/16 px inside its boxes)."""
        kp = self.keypoints
        out = {
            "format": np.array(CACHE_FORMAT),
            "config_json": np.array(json.dumps(self.config.to_dict(), sort_keys=True)),
            "joint_set": np.array(kp.joint_set),
            "image_size": np.array(kp.image_size, np.int64),
            "keypoints": kp.keypoints,
            "confidence": kp.confidence,
            "valid": kp.valid,
        }
        optional = {"world": kp.world, "masks": self.masks, "flow_boxes": self.flow_boxes}
        optional["flow_packed"] = None if self.flow is None else pack_flow(self.flow, self.flow_boxes)
        out.update({k: v for k, v in optional.items() if v is not None})
        return out

    @staticmethod
    def from_arrays(arrays: dict[str, np.ndarray], fps: float, source: str) -> Cues:
        """Inverse of :meth:`to_arrays`."""
        image_size = tuple(int(v) for v in arrays["image_size"])
        kp = Keypoints2D(
            keypoints=arrays["keypoints"],
            confidence=arrays["confidence"],
            valid=arrays["valid"],
            image_size=image_size,
            joint_set=str(arrays["joint_set"]),
            world=arrays.get("world"),
        )
        packed = arrays.get("flow_packed")
        return Cues(
            keypoints=kp,
            masks=arrays.get("masks"),
            flow=None if packed is None else unpack_flow(packed, arrays["flow_boxes"], image_size),
            flow_boxes=arrays.get("flow_boxes"),
            fps=fps,
            source=source,
            config=CueConfig.from_dict(json.loads(str(arrays["config_json"]))),
        )


def extract_cues(
    video_path: str | os.PathLike,
    cache_dir: str | os.PathLike | None,
    config: CueConfig = CueConfig(),
    *,
    fps: float | None = None,
    progress: bool | None = None,
) -> Cues:
    """2D keypoints, person masks and optical flow of a video, from the cache when possible.

    Args:
        video_path: video file, image folder or image (see :func:`simpose.cues.video.open_video`).
        cache_dir: folder of cached cues (created if needed), or None to always compute.
        config: cue settings.
        fps: frame rate of image folders (default 30); overrides a video's own rate.
        progress: show a progress bar over frames; None shows one for videos of at least
            ``PROGRESS_MIN_FRAMES`` frames.
    Returns:
        :class:`Cues`. With a ``cache_dir``, identical whether computed now or loaded (the flow
        is rounded to the cache's 1/16 px steps in both cases).
    Raises:
        VideoError: the video cannot be read.
        CueError: mediapipe (or OpenCV, for flow) missing.
    """
    source = open_video(video_path, fps=fps)
    entry = None
    if cache_dir is not None:
        entry = cache_path(cache_dir, source, cache_key(source, config.to_dict()))
        arrays = load_arrays(entry)
        if arrays is not None and _entry_matches(arrays, config):
            log.info("cues of %s from cache %s", source.path, entry)
            return Cues.from_arrays(arrays, fps=source.fps, source=str(source.path))
    show = source.n_frames >= PROGRESS_MIN_FRAMES if progress is None else progress

    keypoints, masks = _kp.detect_keypoints(_images(source, "2D keypoints", show), config.keypoints)
    if keypoints.image_size != source.size:
        raise CueError(f"{source.path}: detector saw {keypoints.image_size} frames, the video says {source.size}")
    flow = flow_boxes = None
    if config.flow is not None:
        flow, flow_boxes = _compute_flow(source, keypoints, masks, config.flow, show)

    if entry is not None and flow is not None:
        quantize_flow_(flow, flow_boxes)  # what the cache holds, so both runs agree exactly
    cues = Cues(keypoints, masks, flow, flow_boxes, source.fps, str(source.path), config)
    if entry is not None:
        save_arrays(entry, cues.to_arrays())
        log.info("cached cues of %s in %s", source.path, entry)
    return cues


def _entry_matches(arrays: dict[str, np.ndarray], config: CueConfig) -> bool:
    """Whether a cache entry holds what ``config`` asks for (guards against stale or foreign files)."""
    required = {"format", "config_json", "joint_set", "image_size", "keypoints", "confidence", "valid"}
    required |= {"masks"} if config.keypoints.segmentation else set()
    required |= {"flow_packed", "flow_boxes"} if config.flow is not None else set()
    ok = required <= arrays.keys() and int(arrays["format"]) == CACHE_FORMAT
    ok = ok and json.loads(str(arrays["config_json"])) == json.loads(json.dumps(config.to_dict()))
    if not ok:
        log.warning("cue cache entry does not match the requested settings; recomputing")
    return ok


def _compute_flow(
    source: VideoSource, keypoints: Keypoints2D, masks: np.ndarray | None, config: FlowConfig, show: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(T - 1, H, W, 2) float32 flow and the (T - 1, 4) boxes where it was computed."""
    T = keypoints.num_frames
    w, h = keypoints.image_size
    if T < 2:
        return np.zeros((0, h, w, 2), np.float32), np.zeros((0, 4), np.int64)
    if config.restrict_to_person:
        boxes = _flow.pair_boxes(_flow.person_boxes((w, h), keypoints.boxes(), masks, pad=config.pad))
        boxes = _flow.crop_boxes(boxes, (w, h))
    else:
        boxes = np.tile(np.array([0, 0, w, h], np.int64), (T - 1, 1))
    frames = _images(source, "optical flow", show, end=T)
    return _flow.compute_flow(frames, boxes, preset=config.preset), boxes


def _images(source: VideoSource, description: str, show: bool, end: int | None = None) -> Iterator[np.ndarray]:
    """The frames of ``source`` as (H, W, 3) uint8 RGB, with a rich progress bar if ``show``."""
    images = (image for _, image in source.frames(end=end))
    if not show:
        yield from images
        return
    from rich.progress import track

    total = source.n_frames if end is None else min(end, source.n_frames)
    yield from track(images, total=total, description=f"{description} {Path(source.path).name}", transient=True)
