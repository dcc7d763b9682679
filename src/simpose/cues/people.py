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
- **Track ids**: candidates are matched to tracks (Hungarian, scipy) on the same similarity
  against each track's constant-velocity prediction, with a gate; an unmatched track survives
  ``max_missed`` frames (NaN there, never invented) before it ends.

:func:`detect_people` returns :class:`PeopleDetections`: a :class:`Keypoints2D` with a
people axis (T, P, 33) whose column p is track ``track_ids[p]``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from simpose.body.joints import get_joint_set
from simpose.cues.blazepose import BlazePose, PoseCandidate, Roi, project_landmarks, roi_from_points, to_roi, weighted_nms
from simpose.cues.errors import CueError
from simpose.cues.keypoints import MEDIAPIPE_JOINT_SET, Keypoints2D
from simpose.cues.video import VideoSource

__all__ = [
    "PeopleConfig", "PeopleDetections", "PeopleTracker", "detect_people", "detect_people_image",
    "skeleton_similarity", "skeleton_nms", "match", "tile_rois", "on_mask", "mask_overlaps", "duplicates",
]  # fmt: skip

log = logging.getLogger(__name__)
_FORMAT = 1
J = len(get_joint_set(MEDIAPIPE_JOINT_SET))
FACE = get_joint_set(MEDIAPIPE_JOINT_SET).indices(
    ["nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
     "left_ear", "right_ear", "mouth_left", "mouth_right"]
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class PeopleConfig:
    """Settings of the multi-person 2D stage.

    Attributes:
        detect_every: run the detector every this many frames (also whenever a track is lost
            or nobody is tracked); 1 detects in every frame.
        tile_fractions: side of the square detector tiles as fractions of the frame's short
            side (the whole frame, letterboxed, is always searched too); () for no tiles.
        tile_overlap: fraction of a tile its neighbour overlaps.
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
    """

    detect_every: int = 10
    tile_fractions: tuple[float, ...] = (1.0, 0.5)
    tile_overlap: float = 0.25
    detection_threshold: float = 0.5
    presence_threshold: float = 0.5
    refine_passes: int = 1
    min_visibility: float = 0.5
    kappa: float = 0.1
    nms_similarity: float = 0.5
    mask_overlap: float = 0.8
    part_overlap: float = 0.5
    part_size_ratio: float = 0.75
    match_similarity: float = 0.2
    max_missed: int = 10
    max_people: int | None = None
    num_threads: int = 1

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


# ------------------------------------------------------------------ pure functions


def skeleton_similarity(kps_a: np.ndarray, vis_a: np.ndarray, kps_b: np.ndarray, vis_b: np.ndarray, kappa: float = 0.1, min_visibility: float = 0.5) -> np.ndarray:
    """OKS-like similarity between two sets of skeletons.

    ``sum_j w_j exp(-d_j^2 / (2 s^2 kappa^2)) / sum_j w_j`` over landmarks visible in both
    (``w_j = 1`` where both visibilities >= ``min_visibility``), with ``s^2`` the mean of the two
    skeletons' box areas (of their visible landmarks). Symmetric; 1 for identical skeletons; 0
    where no landmark is visible in both. Unlike box IoU it separates two people who overlap
    in the image, since their joints lie apart.

    Args:
        kps_a: (A, J, 2) pixels; vis_a: (A, J) in [0, 1]; kps_b: (B, J, 2); vis_b: (B, J).
    Returns:
        (A, B) float64 in [0, 1].
    """
    kps_a, kps_b = np.asarray(kps_a, np.float64), np.asarray(kps_b, np.float64)
    va, vb = np.asarray(vis_a) >= min_visibility, np.asarray(vis_b) >= min_visibility
    va &= np.isfinite(kps_a).all(-1)
    vb &= np.isfinite(kps_b).all(-1)
    area_a, area_b = _area(kps_a, va), _area(kps_b, vb)
    s2 = (area_a[:, None] + area_b[None, :]) / 2  # (A, B)
    d2 = ((np.nan_to_num(kps_a)[:, None] - np.nan_to_num(kps_b)[None]) ** 2).sum(-1)  # (A, B, J)
    w = (va[:, None] & vb[None]).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.exp(-d2 / (2 * np.maximum(s2, 1e-9)[..., None] * kappa**2))
        n = w.sum(-1)
        return np.where(n > 0, (e * w).sum(-1) / np.maximum(n, 1), 0.0)


def _area(kps: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """(N,) area of the box around each skeleton's visible landmarks (0 with fewer than 2)."""
    p = np.where(vis[..., None], kps, np.nan)
    out = np.zeros(kps.shape[0])
    ok = vis.sum(-1) >= 2
    if ok.any():
        span = np.nanmax(p[ok], 1) - np.nanmin(p[ok], 1)
        out[ok] = span[:, 0] * span[:, 1]
    return out


def skeleton_nms(
    kps: np.ndarray, vis: np.ndarray, scores: np.ndarray, threshold: float = 0.5, kappa: float = 0.1, min_visibility: float = 0.5,
    duplicate: np.ndarray | None = None,
) -> np.ndarray:
    """Greedy non-max suppression on skeletons: best score first, dropping every skeleton more
    similar than ``threshold`` (:func:`skeleton_similarity`) to one kept, or marked by
    ``duplicate`` as the same person as a kept one (:func:`duplicates`: a second skeleton drawn
    on the same person at another scale, or on one of their limbs, shares few joint positions
    but their pixels).

    Args:
        kps: (N, J, 2) pixels; vis: (N, J); scores: (N,).
        duplicate: (N, N) bool, entry (i, k): i is the same person as k; or None.
    Returns:
        (K,) int64 indices of the kept skeletons, by decreasing score.
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    if order.size == 0:
        return order.astype(np.int64)
    sim = skeleton_similarity(kps, vis, kps, vis, kappa, min_visibility)
    keep: list[int] = []
    if duplicate is not None:
        sim = np.where(np.asarray(duplicate, bool), np.inf, sim)
    for i in order:
        if all(sim[i, k] <= threshold for k in keep):
            keep.append(int(i))
    return np.asarray(keep, np.int64)


def on_mask(points: np.ndarray, mask: np.ndarray, roi: Roi, threshold: float = 0.5) -> np.ndarray:
    """Which points lie on a person's segmentation mask.

    Args:
        points: (N, 2) frame pixels.
        mask: (S, S) probability over ``roi`` (:attr:`PoseCandidate.mask`).
        roi: the ROI the mask covers.
    Returns:
        (N,) bool: inside the ROI and mask probability > ``threshold`` (nearest cell).
    """
    q = to_roi(points, roi) * mask.shape[0]
    ok = np.isfinite(q).all(-1) & (q >= 0).all(-1) & (q < mask.shape[0]).all(-1)
    out = np.zeros(len(points), bool)
    idx = q[ok].astype(int)
    out[ok] = mask[idx[:, 1], idx[:, 0]] > threshold
    return out


def mask_overlaps(candidates: list[PoseCandidate], grid: int = 64, threshold: float = 0.5) -> np.ndarray:
    """Pairwise overlap of the people's segmentation masks in the frame.

    Each pair's masks are sampled on a ``grid`` x ``grid`` lattice over the box around both
    ROIs; the overlap is the shared area over the smaller mask's area (so a skeleton drawn on
    one limb of a person overlaps that person fully).

    Args:
        candidates: N skeletons with masks.
    Returns:
        (N, N) float64 in [0, 1], 1 on the diagonal; 0 where a mask is missing or empty.
    """
    n = len(candidates)
    out = np.eye(n)
    for i in range(n):
        for k in range(i + 1, n):
            a, b = candidates[i], candidates[k]
            if a.mask is None or b.mask is None:
                continue
            corners = np.concatenate([_roi_corners(a.roi), _roi_corners(b.roi)])
            lo, hi = corners.min(0), corners.max(0)
            u = (np.arange(grid) + 0.5) / grid
            pts = lo + np.stack(np.meshgrid(u, u, indexing="xy"), -1).reshape(-1, 2) * (hi - lo)
            ma, mb = on_mask(pts, a.mask, a.roi, threshold), on_mask(pts, b.mask, b.roi, threshold)
            small = min(ma.sum(), mb.sum())
            out[i, k] = out[k, i] = (ma & mb).sum() / small if small > 0 else 0.0
    return out


def duplicates(candidates: list[PoseCandidate], overlap: float = 0.8, part_overlap: float = 0.5, part_size_ratio: float = 0.75) -> np.ndarray:
    """Which skeletons are another one's person again (see ``PeopleConfig.mask_overlap``).

    Args:
        candidates: N skeletons with masks.
    Returns:
        (N, N) bool, entry (i, k): i is k's person (mask overlap >= ``overlap``, or i's ROI
        smaller than ``part_size_ratio`` times k's and overlap >= ``part_overlap``); False on
        the diagonal.
    """
    ov = mask_overlaps(candidates)
    size = np.array([c.roi.size for c in candidates])
    out = (ov >= overlap) | ((ov >= part_overlap) & (size[:, None] < part_size_ratio * size[None, :]))
    np.fill_diagonal(out, False)
    return out


def _roi_corners(roi: Roi) -> np.ndarray:
    """(4, 2) pixel corners of a ROI."""
    return project_landmarks(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), roi)


def match(similarity: np.ndarray, min_similarity: float) -> list[tuple[int, int]]:
    """One-to-one assignment maximising the total similarity above the gate (Hungarian).

    Args:
        similarity: (A, B), higher is better (e.g. OKS, or a negated distance; -inf never matches).
        min_similarity: pairs at or below it are never matched.
    Returns:
        (a, b) pairs, sorted by a.
    """
    from scipy.optimize import linear_sum_assignment

    sim = np.asarray(similarity, np.float64)
    if sim.size == 0:
        return []
    # maximise the summed margin above the gate: gated pairs add nothing, so any sign of
    # similarity works (negated distances too)
    with np.errstate(invalid="ignore"):
        gain = np.where(sim > min_similarity, sim - min_similarity, 0.0)
    rows, cols = linear_sum_assignment(-gain)
    return [(int(a), int(b)) for a, b in zip(rows, cols) if sim[a, b] > min_similarity]


def tile_rois(width: int, height: int, fractions: tuple[float, ...], overlap: float) -> list[Roi]:
    """Square detector tiles covering the frame, for each tile size.

    Args:
        width, height: frame size in pixels.
        fractions: tile sides as fractions of min(width, height).
        overlap: fraction of a tile shared with its neighbour (at least; tiles are spread
            evenly between the frame's edges).
    Returns:
        ROIs (rotation 0), tile size by tile size, row-major.
    """
    out = []
    for f in fractions:
        side = f * min(width, height)
        step = side * (1 - overlap)

        def starts(extent: float) -> np.ndarray:
            n = int(np.ceil(max(extent - side, 0) / step - 1e-9)) + 1
            return np.linspace(0, max(extent - side, 0), n)

        for y in starts(height):
            for x in starts(width):
                out.append(Roi(np.array([x + side / 2, y + side / 2]), float(side), 0.0))
    return out


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
        detected = lost or self._since_detection >= cfg.detect_every or not any(t.next_roi is not None for t in self.tracks)
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
            known: people already found in this frame (their noses mark detections to skip).
        Returns:
            the new candidates that pass the presence threshold.
        """
        cfg = self.config
        h, w = image.shape[:2]
        rois = [None] + tile_rois(w, h, cfg.tile_fractions, cfg.tile_overlap)
        boxes, kps, scores = [], [], []
        for roi in rois:
            b, k, s = self.model.detect(image, roi)
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
        for i, tr in enumerate(self.tracks):
            if i not in matched_tracks:
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
        cache_dir: cue cache folder (complete results are cached), or None.
        stop: when set, the stage ends after the current frame (a partial, uncached result).
        progress: show a rich progress bar.
        model: a loaded :class:`BlazePose` to reuse.
    Returns:
        :class:`PeopleDetections`; keypoints (T, P, 33) in MediaPipe's edge-origin pixels.
    Raises:
        CueError: ai-edge-litert or mediapipe missing, or the range holds no frame.
        VideoError: a frame cannot be decoded.
    """
    from simpose.cues.cache import cache_key, cache_path, load_arrays, save_arrays

    entry = None
    if cache_dir is not None:
        settings = {"stage": "people-keypoints", "format": _FORMAT, "people": dataclasses.asdict(config), "start": start, "end": end}
        entry = cache_path(cache_dir, source, cache_key(source, settings))
        a = load_arrays(entry)
        if a is not None and {"keypoints", "confidence", "valid", "world", "track_ids", "scores", "frame_index", "detector_frames"} <= a.keys():
            log.info("people keypoints of %s from cache %s", source.path, entry)
            kp = Keypoints2D(a["keypoints"], a["confidence"], a["valid"], tuple(source.size), MEDIAPIPE_JOINT_SET, a["world"])
            return PeopleDetections(kp, a["track_ids"], a["scores"], a["frame_index"], a["detector_frames"], True, True)

    tracker = PeopleTracker(config, model)
    stop = stop or threading.Event()
    per_frame: list[dict[int, PoseCandidate]] = []
    indices, detector_frames = [], []
    stream: Iterator = source.frames(start=start, end=end)
    if progress:
        from rich.progress import track

        total = max(0, (source.n_frames if end is None else min(end, source.n_frames)) - start)
        stream = track(stream, total=total, description=f"people 2D {Path(source.path).name}", transient=True)
    complete = True
    for index, image in stream:
        if stop.is_set():
            complete = False
            break
        found, detected = tracker.step(image)
        per_frame.append(found)
        indices.append(index)
        detector_frames.append(detected)
    if not per_frame:
        raise CueError(f"{source.path}: no frames in the range [{start}, {end if end is not None else 'end'})")
    out = _assemble(per_frame, source.size, np.asarray(indices, np.int64), np.asarray(detector_frames, bool), complete)
    if entry is not None and complete:
        kp = out.keypoints
        save_arrays(entry, {"keypoints": kp.keypoints, "confidence": kp.confidence, "valid": kp.valid, "world": kp.world,
                            "track_ids": out.track_ids, "scores": out.scores, "frame_index": out.frame_index,
                            "detector_frames": out.detector_frames})  # fmt: skip
    return out


def _assemble(per_frame: list[dict[int, PoseCandidate]], size: tuple[int, int], frame_index: np.ndarray, detector_frames: np.ndarray, complete: bool) -> PeopleDetections:
    """Per-frame {track id: candidate} dicts -> (T, P, ...) arrays, P in order of first appearance."""
    ids: list[int] = []
    for found in per_frame:
        ids += [i for i in sorted(found) if i not in ids]
    T, P = len(per_frame), len(ids)
    col = {i: p for p, i in enumerate(ids)}
    kps = np.full((T, P, J, 2), np.nan, np.float32)
    world = np.full((T, P, J, 3), np.nan, np.float32)
    conf = np.zeros((T, P, J), np.float32)
    valid = np.zeros((T, P), bool)
    scores = np.zeros((T, P), np.float32)
    for t, found in enumerate(per_frame):
        for i, c in found.items():
            p = col[i]
            kps[t, p], world[t, p], conf[t, p], valid[t, p], scores[t, p] = c.keypoints, c.world, c.visibility, True, c.score
    kp = Keypoints2D(kps, conf, valid, tuple(size), MEDIAPIPE_JOINT_SET, world)
    return PeopleDetections(kp, np.asarray(ids, np.int64), scores, frame_index, detector_frames, complete)
