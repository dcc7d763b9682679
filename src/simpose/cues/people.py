"""Every person's 2D keypoints in a video: BlazePose's models run per person, with track ids.

MediaPipe's legacy Pose follows one person. Here the same two networks
(:mod:`simpose.cues.blazepose`) follow everyone:

- **Finding people**: the detector is anchored on faces and reports about one person per
  call, so it runs on the whole frame and on overlapping square tiles (two sizes by default),
  every ``detect_every`` frames, and at once whenever a track is lost or nobody is tracked.
  A detection at the face of a person already found costs no landmark run.
- **Following them**: between detections, each person's landmarks come from the landmark
  model's own ROI for the next frame (landmarks 33, 34: MediaPipe's tracking mode), so a
  frame costs one landmark run per person.
- **One skeleton per person**: candidates from tracking and from every tile are reduced by
  non-max suppression on the skeletons (an OKS-like similarity of the visible landmarks), so
  duplicates of one person collapse and two overlapping people, whose boxes overlap but whose
  joints do not, stay apart.
- **Smoothing**: each track's landmarks are filtered over time as ``mp.solutions.pose`` does in
  video mode (:mod:`simpose.cues.smoothing`), unless ``smooth_landmarks`` is off.
- **Track ids**: candidates are matched to tracks (Hungarian, scipy) on the same similarity
  against each track's constant-velocity prediction, with a gate; an unmatched track survives
  ``max_missed`` frames (NaN there, never invented) before it ends.

:func:`detect_people` returns :class:`PeopleDetections`: a :class:`Keypoints2D` with a
people axis (T, P, 33) whose column p is track ``track_ids[p]``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from simpose.body.joints import get_joint_set
from simpose.cues.blazepose import BlazePose, PoseCandidate, Roi, roi_from_points, weighted_nms
from simpose.cues.errors import CueError
from simpose.cues.keypoints import MEDIAPIPE_JOINT_SET, Keypoints2D
from simpose.cues.people_match import duplicates, match, skeleton_nms, skeleton_similarity, tile_rois
from simpose.cues.smoothing import LANDMARK_FILTER, LEGACY_RATE, VISIBILITY_ALPHA, WORLD_FILTER, low_pass, one_euro
from simpose.cues.video import VideoSource, prefetch

__all__ = ["PeopleConfig", "PeopleDetections", "PeopleTracker", "detect_people", "detect_people_image"]

log = logging.getLogger(__name__)
_FORMAT = 2  # 2: cache entries hold the unsmoothed per-track arrays and the tracker's state (partial ones resume)
J = len(get_joint_set(MEDIAPIPE_JOINT_SET))
FACE = get_joint_set(MEDIAPIPE_JOINT_SET).indices(
    ["nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
     "left_ear", "right_ear", "mouth_left", "mouth_right"]
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class PeopleConfig:
    """Settings of the multi-person 2D stage (the thresholds' defaults are compared against their
    neighbours on rendered people by ``benchmarks/people_settings_synthetic.py``; real frames only
    evaluate them).

    Attributes:
        detect_every: run the detector every this many frames (also whenever a track is lost
            or nobody is tracked); 1 detects in every frame. A sweep of the frame and its
            tiles costs about as much as following 20 people for a frame, so the default (once
            a second at 30 fps) keeps the cost per person near the single-person stage's, and
            newcomers wait up to this many frames to be found.
        tile_fractions: side of the square detector tiles as fractions of the frame's short
            side (the whole frame, letterboxed, is always searched too); () for no tiles.
        tile_overlap: fraction of a tile its neighbour overlaps.
        mirror: also run the detector on each crop mirrored left-right (it then finds people
            it misses in the crop as is; twice the detector's cost).
        detection_threshold: detector score threshold (MediaPipe: 0.5).
        presence_threshold: landmark model's pose-presence flag needed to keep a skeleton
            (MediaPipe: 0.5).
        refine_passes: landmark runs on a new detection's own next ROI (what MediaPipe's
            tracking does in the next frame): the detector's ROI can be far too large or small,
            and duplicates then converge onto the same skeleton.
        min_visibility: landmarks with visibility below this do not count in similarities.
        kappa: OKS falloff per landmark, as a fraction of the person's scale (COCO's
            per-joint values range 0.025..0.107; one value for all 33 landmarks).
        nms_similarity: two skeletons more similar than this are one person.
        mask_overlap: two skeletons whose segmentation masks overlap this much (shared area
            over the smaller mask) are one person (a duplicate at another scale); the masks
            are not instance masks in crowds, so neighbours can overlap less than this.
        part_overlap, part_size_ratio: a skeleton whose ROI is smaller than
            ``part_size_ratio`` times another's and whose mask overlaps it at least
            ``part_overlap`` is drawn on that person's limbs (the detector fires on legs in
            small tiles).
        match_similarity: gate: a candidate joins a track only above this similarity.
        max_missed: frames a track survives unmatched before it ends.
        max_people: keep at most this many tracks (highest scores first); None: all.
        num_threads: TFLite threads per model.
        smooth_landmarks: filter each track's landmarks over time as ``mp.solutions.pose`` does
            in video mode (:mod:`simpose.cues.smoothing`); single images are never filtered.
        smoothing_rate: frames per second the filters assume (MediaPipe's legacy API: 30
            whatever the video's rate).
    """

    detect_every: int = 30
    tile_fractions: tuple[float, ...] = (1.0, 0.5)
    tile_overlap: float = 0.25
    mirror: bool = False
    detection_threshold: float = 0.5
    presence_threshold: float = 0.5
    refine_passes: int = 1
    min_visibility: float = 0.5
    kappa: float = 0.1
    nms_similarity: float = 0.5
    mask_overlap: float = 0.8
    part_overlap: float = 0.6
    part_size_ratio: float = 0.75
    match_similarity: float = 0.2
    max_missed: int = 10
    max_people: int | None = None
    num_threads: int = 1
    smooth_landmarks: bool = True
    smoothing_rate: float = LEGACY_RATE

    def __post_init__(self) -> None:
        if self.detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {self.detect_every}")
        if any(not 0 < f <= 1 for f in self.tile_fractions):
            raise ValueError(f"tile_fractions must lie in (0, 1], got {self.tile_fractions}")
        if not 0 <= self.tile_overlap < 1:
            raise ValueError(f"tile_overlap must lie in [0, 1), got {self.tile_overlap}")
        if self.max_people is not None and self.max_people < 1:
            raise ValueError(f"max_people must be >= 1 or None, got {self.max_people}")
        if self.max_missed < 0:
            raise ValueError(f"max_missed must be >= 0, got {self.max_missed}")
        if not self.smoothing_rate > 0:
            raise ValueError(f"smoothing_rate must be > 0 frames per second, got {self.smoothing_rate}")
        if self.refine_passes < 0:
            raise ValueError(f"refine_passes must be >= 0, got {self.refine_passes}")


@dataclasses.dataclass(frozen=True, eq=False)
class PeopleDetections:
    """Everyone's 2D keypoints over a frame range.

    Attributes:
        keypoints: :class:`Keypoints2D` (T, P, 33) ``blazepose33`` with ``world``; confidence is
            the landmark visibility; column p is track ``track_ids[p]``; NaN / invalid in frames
            where that track was not seen. P = 0 when nobody was found.
        track_ids: (P,) int64, in order of first appearance.
        scores: (T, P) float32 pose-presence flag (0 where invalid).
        frame_index: (T,) int64 index of each frame in the video.
        detector_frames: (T,) bool, frames where the detector ran.
        complete: False if stopped before the end of the range.
        cached: whether the result came from the cue cache.
    """

    keypoints: Keypoints2D
    track_ids: np.ndarray
    scores: np.ndarray
    frame_index: np.ndarray
    detector_frames: np.ndarray
    complete: bool = True
    cached: bool = False


# ------------------------------------------------------------------ the tracker


@dataclasses.dataclass
class _Track:
    track_id: int
    keypoints: np.ndarray  # (J, 2) last seen
    visibility: np.ndarray  # (J,)
    velocity: np.ndarray  # (2,) pixels per frame, of the mean visible landmark
    next_roi: Roi | None  # None once missed: only the detector can find it again
    missed: int = 0

    def predicted(self) -> np.ndarray:
        return self.keypoints + self.velocity * (self.missed + 1)


class PeopleTracker:
    """Multi-person 2D, frame by frame (stateful; see the module docstring).

    Args:
        config: settings.
        model: a loaded :class:`BlazePose` to share; one is loaded if None.
    """

    def __init__(self, config: PeopleConfig = PeopleConfig(), model: BlazePose | None = None) -> None:
        self.config = config
        self.model = model or BlazePose(config.num_threads, config.detection_threshold)
        self.tracks: list[_Track] = []
        self._next_id = 0
        self._since_detection = config.detect_every  # detect in the first frame
        self._lost = False  # a track went unseen in the last frame: detect in this one

    def state(self) -> dict:
        """Everything the next :meth:`step` depends on, JSON-able (floats round-trip exactly), so
        a stopped video resumes where it stopped with the same result (see :meth:`restore`)."""
        def array(x) -> dict:  # with its dtype: float32 and float64 arithmetic differ in the last bits
            x = np.asarray(x)
            return {"values": x.tolist(), "dtype": x.dtype.str}

        def roi(r: Roi | None) -> dict | None:
            return None if r is None else {"center": array(r.center), "size": array(r.size), "rotation": array(r.rotation)}

        tracks = [
            {"track_id": t.track_id, "keypoints": array(t.keypoints), "visibility": array(t.visibility),
             "velocity": array(t.velocity), "next_roi": roi(t.next_roi), "missed": t.missed}
            for t in self.tracks
        ]  # fmt: skip
        return {"tracks": tracks, "next_id": self._next_id, "since_detection": self._since_detection, "lost": self._lost}

    def restore(self, state: dict) -> None:
        """Continue from a :meth:`state` (same config; the model is this tracker's own)."""
        array = lambda d: np.asarray(d["values"], np.dtype(d["dtype"]))[()]  # noqa: E731  ([()]: 0-d -> scalar)
        roi = lambda d: None if d is None else Roi(array(d["center"]), array(d["size"]), array(d["rotation"]))  # noqa: E731
        self.tracks = [
            _Track(t["track_id"], array(t["keypoints"]), array(t["visibility"]), array(t["velocity"]), roi(t["next_roi"]), t["missed"])
            for t in state["tracks"]
        ]
        self._next_id, self._since_detection, self._lost = state["next_id"], state["since_detection"], state["lost"]

    def step(self, image: np.ndarray) -> tuple[dict[int, PoseCandidate], bool]:
        """Process the next frame.

        Args:
            image: (H, W, 3) uint8 RGB.
        Returns:
            track id -> that person's :class:`PoseCandidate` for the tracks seen in this frame,
            and whether the detector ran.
        """
        cfg = self.config
        candidates: list[PoseCandidate] = []
        sources: list[int | None] = []  # the track whose ROI gave each candidate
        lost = False
        for tr in self.tracks:
            if tr.next_roi is None:
                continue
            cand = self.model.landmarks(image, tr.next_roi)
            if cand.score >= cfg.presence_threshold:
                candidates.append(cand)
                sources.append(tr.track_id)
            else:
                lost = True
        self._since_detection += 1
        detected = lost or self._lost or self._since_detection >= cfg.detect_every or not any(t.next_roi is not None for t in self.tracks)
        if detected:
            new = self.find_new(image, candidates)
            candidates += new
            sources += [None] * len(new)
            self._since_detection = 0
        return self.update(candidates, sources), detected

    def find_new(self, image: np.ndarray, known: list[PoseCandidate]) -> list[PoseCandidate]:
        """Detector on the frame and its tiles; landmarks for each detection not already known.

        Args:
            image: (H, W, 3) uint8 RGB.
            known: people already found in this frame (their faces mark detections to skip).
        Returns:
            the new candidates that pass the presence threshold.
        """
        cfg = self.config
        h, w = image.shape[:2]
        rois = [None] + tile_rois(w, h, cfg.tile_fractions, cfg.tile_overlap)
        boxes, kps, scores = [], [], []
        for roi in rois:
            for mirror in (False, True) if cfg.mirror else (False,):
                b, k, s = self.model.detect(image, roi, mirror)
                boxes.append(b), kps.append(k), scores.append(s)
        boxes, kps, scores = np.concatenate(boxes), np.concatenate(kps), np.concatenate(scores)
        # the same face seen from several tiles: merged as within one call
        boxes, kps, scores = weighted_nms(boxes, kps, scores, self.model.nms_iou)
        # the detector's box has a fixed size (a fifth of the crop): only its centre, the face's,
        # says where the person is. A detection whose face centre lies within a head's size
        # (a tenth of the ROI side) of a found person's face is that person.
        faces = [(_face_centre(c), 0.1 * c.roi.size) for c in known]
        out: list[PoseCandidate] = []
        for box, kp in zip(boxes, kps):
            centre = (box[:2] + box[2:]) / 2
            if any(np.hypot(*(centre - f)) < r for f, r in faces):
                continue
            cand = self.model.landmarks(image, roi_from_points(kp[0], kp[1]))
            for _ in range(cfg.refine_passes):
                if cand.score < cfg.presence_threshold:
                    break
                cand = self.model.landmarks(image, cand.next_roi)
            if cand.score >= cfg.presence_threshold:
                out.append(cand)
                faces.append((_face_centre(cand), 0.1 * cand.roi.size))
        return out

    def update(self, candidates: list[PoseCandidate], sources: list[int | None]) -> dict[int, PoseCandidate]:
        """Skeleton NMS, then candidates to tracks (Hungarian on skeleton similarity to each
        track's constant-velocity prediction, gated). A candidate the landmark model followed
        from a track's own ROI continues that track (as in MediaPipe's tracking mode) unless
        NMS dropped it for a better skeleton of the same person.

        Args:
            candidates: this frame's skeletons (from tracking ROIs and new detections).
            sources: per candidate, the id of the track whose ROI gave it, or None.
        Returns:
            track id -> candidate, for every track seen in this frame (new tracks included).
        """
        cfg = self.config
        if candidates:
            kps = np.stack([c.keypoints for c in candidates])
            vis = np.stack([c.visibility for c in candidates])
            scores = np.array([c.score * c.visibility.mean() for c in candidates])
            dup = duplicates(candidates, cfg.mask_overlap, cfg.part_overlap, cfg.part_size_ratio)
            keep = skeleton_nms(kps, vis, scores, cfg.nms_similarity, cfg.kappa, cfg.min_visibility, dup)
            candidates = [candidates[i] for i in keep]
            sources = [sources[i] for i in keep]
        result: dict[int, PoseCandidate] = {}
        pairs: list[tuple[int, int]] = []
        if candidates and self.tracks:
            sim = skeleton_similarity(
                np.stack([t.predicted() for t in self.tracks]), np.stack([t.visibility for t in self.tracks]),
                np.stack([c.keypoints for c in candidates]), np.stack([c.visibility for c in candidates]),
                cfg.kappa, cfg.min_visibility,
            )  # fmt: skip
            own = np.array([[s == t.track_id for s in sources] for t in self.tracks])
            sim = np.where(own, 1.0 + sim, sim)
            pairs = match(sim, cfg.match_similarity)
        matched_tracks = {a for a, _ in pairs}
        matched_cands = {b for _, b in pairs}
        for a, b in pairs:
            tr, c = self.tracks[a], candidates[b]
            shift = _mean_visible(c.keypoints, c.visibility, cfg.min_visibility) - _mean_visible(tr.keypoints, tr.visibility, cfg.min_visibility)
            tr.velocity = np.nan_to_num(shift / (tr.missed + 1)) if np.isfinite(shift).all() else np.zeros(2)
            tr.keypoints, tr.visibility, tr.next_roi, tr.missed = c.keypoints, c.visibility, c.next_roi, 0
            result[tr.track_id] = c
        self._lost = False
        for i, tr in enumerate(self.tracks):
            if i not in matched_tracks:
                self._lost |= tr.next_roi is not None  # just lost (e.g. merged into another by NMS)
                tr.missed += 1
                tr.next_roi = None
        self.tracks = [t for t in self.tracks if t.missed <= cfg.max_missed]
        new = sorted((b for b in range(len(candidates)) if b not in matched_cands), key=lambda b: -candidates[b].score)
        for b in new:
            if cfg.max_people is not None and len(self.tracks) >= cfg.max_people:
                break
            c = candidates[b]
            self.tracks.append(_Track(self._next_id, c.keypoints, c.visibility, np.zeros(2), c.next_roi))
            result[self._next_id] = c
            self._next_id += 1
        return result


def _face_centre(c: PoseCandidate) -> np.ndarray:
    """(2,) mean of the face landmarks (nose, eyes, ears, mouth), pixels."""
    return c.keypoints[FACE].mean(0)


def _mean_visible(kps: np.ndarray, vis: np.ndarray, threshold: float) -> np.ndarray:
    ok = vis >= threshold
    return kps[ok].mean(0) if ok.any() else np.nanmean(kps, 0)


def detect_people_image(image: np.ndarray, config: PeopleConfig = PeopleConfig(), model: BlazePose | None = None) -> list[PoseCandidate]:
    """Everyone in one image (detector on the frame and tiles, landmarks, skeleton NMS).

    Args:
        image: (H, W, 3) uint8 RGB.
    Returns:
        :class:`PoseCandidate` per person, by decreasing presence score.
    """
    tracker = PeopleTracker(dataclasses.replace(config, max_missed=0), model)
    found, _ = tracker.step(image)
    return sorted(found.values(), key=lambda c: -c.score)


def detect_people(
    source: VideoSource,
    config: PeopleConfig = PeopleConfig(),
    start: int = 0,
    end: int | None = None,
    cache_dir: str | Path | None = None,
    stop: threading.Event | None = None,
    progress: bool = False,
    model: BlazePose | None = None,
) -> PeopleDetections:
    """Every person's BlazePose-33 keypoints over frames ``start <= i < end``, with track ids.

    Args:
        source: an opened video (:func:`simpose.cues.video.open_video`).
        config: :class:`PeopleConfig`.
        start, end: the frame range (end None: to the end of the video).
        cache_dir: cue cache folder, or None.
        stop: when set, the stage ends after the current frame (a partial result, cached as
            such with the tracker's state: the next call resumes after it).
        progress: show a rich progress bar.
        model: a loaded :class:`BlazePose` to reuse.
    Returns:
        :class:`PeopleDetections`; keypoints (T, P, 33) in MediaPipe's edge-origin pixels.
    Raises:
        CueError: ai-edge-litert or mediapipe missing, or the range holds no frame.
        VideoError: a frame cannot be decoded.
    """
    from simpose.cues.cache import cache_key, cache_path, content_fingerprint, load_arrays, save_arrays

    entry, content, done, tracker = None, None, None, PeopleTracker(config, model)
    if cache_dir is not None:
        settings = {"stage": "people-keypoints", "format": _FORMAT, "people": dataclasses.asdict(config), "start": start, "end": end}
        entry = cache_path(cache_dir, source, cache_key(source, settings))
        content = content_fingerprint(source)
        a = load_arrays(entry)
        problem = None if a is None else _entry_problem(a, source, start, end, content)
        if problem:
            log.warning("people cache entry %s does not match %s (%s): recomputing it", entry, source.path, problem)
            a = None
        if a is not None and bool(a["complete"]):
            log.info("people keypoints of %s from cache %s", source.path, entry)
            return _finish({k: a[k] for k in _RAW_KEYS}, source.size, True, config, cached=True)
        elif a is not None:
            done = {k: a[k] for k in _RAW_KEYS}
            tracker.restore(json.loads(str(a["tracker"])))
            log.warning("resuming the people keypoints of %s after frame %d (cue cache %s)", source.path, int(done["frame_index"][-1]), entry)

    stop = stop or threading.Event()
    first = start if done is None else int(done["frame_index"][-1]) + 1
    per_frame: list[dict[int, PoseCandidate]] = []
    indices, detector_frames = [], []
    decoded = prefetch(source.frames(start=first, end=end))  # decoded in a thread beside the models
    stream: Iterator = decoded
    if progress:
        from rich.progress import track

        total = max(0, (source.n_frames if end is None else min(end, source.n_frames)) - first)
        stream = track(stream, total=total, description=f"people 2D {Path(source.path).name}", transient=True)
    complete = True
    with contextlib.closing(decoded):
        for index, image in stream:
            if stop.is_set():
                complete = False
                break
            found, detected = tracker.step(image)
            per_frame.append(found)
            indices.append(index)
            detector_frames.append(detected)
    if not per_frame and done is None:
        raise CueError(f"{source.path}: no frames in the range [{start}, {end if end is not None else 'end'})")
    raw = _raw(per_frame, np.asarray(indices, np.int64), np.asarray(detector_frames, bool))
    raw = raw if done is None else _concat_raw(done, raw)
    if entry is not None:  # partial results too, with the tracker's state: the next call resumes after them
        state = {"complete": np.array(complete), "tracker": np.array(json.dumps(tracker.state())), "content": np.array(content)}
        save_arrays(entry, {**raw, **state})
    return _finish(raw, source.size, complete, config)


def _entry_problem(a: dict[str, np.ndarray], source: VideoSource, start: int, end: int | None, content: str) -> str | None:
    """Why a people cache entry cannot be this video's detections of frames ``[start, end)``
    (complete) or of a prefix of them (partial, to resume); None if it can. The key trusts the
    file's path, size and mtime; the content fingerprint catches an entry made from other frames,
    which a resumed partial entry would otherwise splice into this video's tracks."""
    from simpose.cues.cache import range_entry_problem

    problem = range_entry_problem(a, (*_RAW_KEYS, "complete", "tracker", "content"), content, start)
    if problem:
        return problem
    fi = a["frame_index"]
    last = source.n_frames if end is None else min(end, source.n_frames)
    if source.n_frames_exact and len(fi) > last - start:
        return f"{len(fi)} frames, more than the range's {last - start}"
    T, P = len(fi), len(a["track_ids"])
    shapes = {"keypoints": (T, P, J, 2), "world": (T, P, J, 3), "visibility": (T, P, J), "scores": (T, P),
              "roi_size": (T, P), "valid": (T, P), "detector_frames": (T,)}  # fmt: skip
    wrong = [k for k, shape in shapes.items() if a[k].shape != shape]
    if wrong:
        return f"wrong shapes of {', '.join(wrong)}"
    valid = a["valid"].astype(bool)
    if not (np.isfinite(a["keypoints"][valid]).all() and np.isfinite(a["world"][valid]).all()):
        return "non-finite keypoints where a person is marked seen"
    return None


# unsmoothed per-track arrays of a run of frames, P in order of first appearance (= track id order)
_RAW_KEYS = ("track_ids", "keypoints", "world", "visibility", "scores", "roi_size", "valid", "frame_index", "detector_frames")


def _raw(per_frame: list[dict[int, PoseCandidate]], frame_index: np.ndarray, detector_frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame {track id: candidate} dicts -> the :data:`_RAW_KEYS` arrays: keypoints (T, P, J, 2)
    and world (T, P, J, 3) NaN where unseen, visibility and scores (T, P[, J]) 0 there,
    roi_size (T, P) 1 there, valid (T, P)."""
    ids = sorted({i for found in per_frame for i in found})  # ids grow with first appearance
    T, P = len(per_frame), len(ids)
    col = {i: p for p, i in enumerate(ids)}
    raw = {
        "track_ids": np.asarray(ids, np.int64), "keypoints": np.full((T, P, J, 2), np.nan, np.float32),
        "world": np.full((T, P, J, 3), np.nan, np.float32), "visibility": np.zeros((T, P, J), np.float32),
        "scores": np.zeros((T, P), np.float32), "roi_size": np.ones((T, P)), "valid": np.zeros((T, P), bool),
        "frame_index": frame_index, "detector_frames": detector_frames,
    }  # fmt: skip
    for t, found in enumerate(per_frame):
        for i, c in found.items():
            p = col[i]
            raw["keypoints"][t, p], raw["world"][t, p], raw["visibility"][t, p] = c.keypoints, c.world, c.visibility
            raw["valid"][t, p], raw["scores"][t, p], raw["roi_size"][t, p] = True, c.score, c.roi.size
    return raw


def _concat_raw(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Two consecutive runs of frames as one: time concatenated, people columns united by id."""
    ids = np.union1d(a["track_ids"], b["track_ids"]).astype(np.int64)
    out = {"track_ids": ids, "frame_index": np.concatenate([a["frame_index"], b["frame_index"]]),
           "detector_frames": np.concatenate([a["detector_frames"], b["detector_frames"]])}  # fmt: skip
    empty = {"keypoints": np.nan, "world": np.nan, "visibility": 0, "scores": 0, "roi_size": 1, "valid": False}
    for key, fill in empty.items():
        parts = []
        for part in (a, b):
            x = np.full((len(part["frame_index"]), len(ids)) + part[key].shape[2:], fill, part[key].dtype)
            x[:, np.searchsorted(ids, part["track_ids"])] = part[key]
            parts.append(x)
        out[key] = np.concatenate(parts)
    return out


def _finish(raw: dict[str, np.ndarray], size: tuple[int, int], complete: bool, config: PeopleConfig, cached: bool = False) -> PeopleDetections:
    """:class:`PeopleDetections` of :func:`_raw` arrays, each track smoothed as MediaPipe's video
    mode does if ``config.smooth_landmarks``."""
    kps, world, conf = raw["keypoints"].copy(), raw["world"].copy(), raw["visibility"].copy()
    valid = raw["valid"]
    if config.smooth_landmarks:
        rate = config.smoothing_rate
        for p in range(valid.shape[1]):
            v = valid[:, p]
            kps[:, p] = one_euro(kps[:, p], v, raw["roi_size"][:, p], rate, **LANDMARK_FILTER)
            world[:, p] = one_euro(world[:, p], v, None, rate, **WORLD_FILTER)
            conf[:, p] = low_pass(conf[:, p], v, VISIBILITY_ALPHA)
    kp = Keypoints2D(kps, conf, valid, tuple(size), MEDIAPIPE_JOINT_SET, world)
    return PeopleDetections(kp, raw["track_ids"], raw["scores"], raw["frame_index"], raw["detector_frames"], complete, cached)
