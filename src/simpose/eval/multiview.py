"""A real-video 3D reference from synchronised, calibrated views, and monocular 3D scored against it.

``simpose eval multiview DIR`` (:func:`evaluate_multiview`):

1. **2D in every view**: MediaPipe BlazePose, the 2D stage of ``simpose run``
   (:func:`simpose.cues.detect.detect`, same settings, same cue cache), keypoints shifted by
   -0.5 px into the camera convention as ``simpose run`` does.
2. **Reference** (:func:`build_reference`): per view and frame, left/right swaps of the arms and
   of the legs are detected against the other views and undone; each view's frame offset is
   estimated over ``-max_offset..max_offset`` and (``sync``) applied; then every joint is
   triangulated robustly (weighted DLT from the views that agree; outlier views dropped per joint
   and frame by reprojection error). See :mod:`simpose.eval.triangulation`.
3. **Monocular estimates**: each view's video alone through an ``estimate`` callable
   (:data:`Estimate`; default :class:`EstimatorEstimate`, the 3D path of ``simpose run``) with
   the view's calibrated K, and MediaPipe's own metric 3D (world landmarks) from the same
   detections.
4. **Scores** (:func:`score_sequence`) over the 12 limb joints (shoulders, elbows, wrists, hips,
   knees, ankles) against the reference in that view's camera frame: PA-MPJPE, MPJPE (both
   centred on the mid-hip), the worst limb's coefficient of variation of length, acceleration
   error. ``results.json``, ``results.md`` and ``reference.png``.

The reference is MediaPipe's own 2D, triangulated: it measures agreement with multi-view
geometry, not mocap accuracy, and its reprojection error (reported) bounds what it resolves.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from simpose.body.joints import convert, get_joint_set
from simpose.cues.video import VIDEO_SUFFIXES
from simpose.data.multiview_calib import ViewCalibration, read_calibration
from simpose.eval.metrics import accel_error, mpjpe, pa_mpjpe
from simpose.eval.multiview_report import plot_reference, results_markdown
from simpose.eval.triangulation import apply_swaps, detect_swaps, estimate_offsets, shift_views, temporal_outliers, triangulate_robust

__all__ = [
    "LIMB_JOINTS", "LIMB_BONES", "MultiviewConfig", "MultiviewError", "Reference", "Estimate", "EstimatorEstimate",
    "find_views", "build_reference", "score_sequence", "limb_cv", "evaluate_multiview",
]  # fmt: skip

log = logging.getLogger(__name__)

EVAL_SET = "h36m17"  # the joint set scores are given in (what the estimators output)
LIMB_JOINTS = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
               "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")  # fmt: skip
LIMB_BONES = tuple((f"{s}_{a}", f"{s}_{b}") for s in ("left", "right")
                   for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle")))  # fmt: skip
# joints of blazepose33 swapped together when a detector mistakes a body's front for its back
_SWAP_GROUPS = {
    "arms": ("shoulder", "elbow", "wrist", "pinky", "index", "thumb"),
    "legs": ("hip", "knee", "ankle", "heel", "foot_index"),
}

# the estimate of one view: (video, K (3, 3), fps) -> joints3d (T, 17, 3) h36m17 camera-frame
# metres (NaN where not valid) and valid (T,), one row per frame of the video
Estimate = Callable[[Path, np.ndarray, float], tuple[np.ndarray, np.ndarray]]


class MultiviewError(ValueError):
    """A multi-view folder that cannot be evaluated (missing view, unsynchronised, bad calibration)."""


@dataclasses.dataclass(frozen=True)
class MultiviewConfig:
    """Settings of the reference and the evaluation (saved in results.json).

    Attributes:
        threshold_px: a view whose reprojection error exceeds this is an outlier for that joint
            and frame (40 px: about 2x the median error of the views on the pose2sim demo).
        min_confidence: detections below this detector confidence are left out; above it they
            are weighted by their confidence.
        max_offset: per-view frame offsets -max..max are tried.
        min_offset_gain: an offset counts where it lowers the median reprojection error of
            offset 0 by at least this share (flat cost curves show no clear offset).
        max_jump_m: a reference joint farther than this from the median of its 5-frame window
            is dropped (two views that agree on a wrong point; its frame is not scored).
        sync: apply the estimated offsets (else only report them).
        fix_swaps: detect and undo left/right swaps per view and frame.
        swap_ratio: a swap is taken where it lowers the group's reprojection error below this
            share of the unswapped one.
        start, end: reference frames scored ``[start, end)`` (end None: to the end).
        plot_frames: frames drawn in reference.png (0: no picture).
        cache_dir: cue cache folder ('' for none).
    """

    threshold_px: float = 40.0
    min_confidence: float = 0.2
    max_offset: int = 5
    min_offset_gain: float = 0.05
    max_jump_m: float = 0.1
    sync: bool = True
    fix_swaps: bool = True
    swap_ratio: float = 0.5
    start: int = 0
    end: int | None = None
    plot_frames: int = 4
    cache_dir: str = ""


@dataclasses.dataclass(frozen=True, eq=False)
class Reference:
    """The triangulated reference (V views, J joints of ``joint_set``, T frames of the first view's time).

    Attributes:
        joint_set: the detector's joint set (``blazepose33``).
        points3d: (T, J, 3) world metres; NaN where fewer than 2 views agree.
        inliers: (T, V, J) bool, the views each point was triangulated from.
        errors: (T, V, J) reprojection errors, pixels (NaN: no detection).
        offsets: (V,) frame offsets found (view v's frame ``t + offsets[v]`` shows frame t).
        offset_costs: (V, 2 * max_offset + 1) median reprojection error of each offset, pixels.
        applied_offsets: (V,) the offsets applied (``offsets`` if synced, else zeros).
        swaps: (T, V, G) bool, left/right groups (``_SWAP_GROUPS``) found swapped and undone.
        jumps: (T, J) bool, points dropped as temporal outliers (NaN in ``points3d``).
    """

    joint_set: str
    points3d: np.ndarray
    inliers: np.ndarray
    errors: np.ndarray
    offsets: np.ndarray
    offset_costs: np.ndarray
    applied_offsets: np.ndarray
    swaps: np.ndarray
    jumps: np.ndarray


def _swap_groups(joint_set: str) -> list[list[tuple[int, int]]]:
    js = get_joint_set(joint_set)
    groups = []
    for parts in _SWAP_GROUPS.values():
        pairs = [(js.index(f"left_{p}"), js.index(f"right_{p}")) for p in parts if f"left_{p}" in js.names]
        if pairs:
            groups.append(pairs)
    return groups


def build_reference(
    keypoints: np.ndarray, confidence: np.ndarray, projections: np.ndarray, joint_set: str, config: MultiviewConfig = MultiviewConfig()
) -> Reference:
    """Swaps undone, views synchronised, joints triangulated robustly.

    Args:
        keypoints: (T, V, J, 2) pixels (camera convention), NaN where missing.
        confidence: (T, V, J) in [0, 1].
        projections: (V, 3, 4) ``K [R | t]`` world metres -> pixels.
        joint_set: the set of axis J (its left/right names give the swap groups).
        config: settings.
    Returns:
        :class:`Reference`.
    """
    T, V, J, _ = keypoints.shape
    if V < 3 and (config.fix_swaps or config.max_offset > 0):
        raise MultiviewError(f"swap checks and offsets judge a view by the others: need >= 3 views, got {V} (else --no-swaps --max-offset 0)")
    w = np.where(np.isfinite(keypoints).all(-1) & (confidence >= config.min_confidence), confidence, 0.0)
    kp = keypoints.astype(np.float64)
    groups = _swap_groups(joint_set)
    swaps = np.zeros((T, V, len(groups)), bool)

    def fix(kp, w, swaps):
        if not config.fix_swaps:
            return kp, w, swaps
        found = detect_swaps(kp, projections, groups, w, config.threshold_px, config.swap_ratio)
        kp = apply_swaps(kp, found, groups)
        w = apply_swaps(w[..., None], found, groups)[..., 0]
        return kp, w, swaps ^ found

    kp, w, swaps = fix(kp, w, swaps)  # swaps first: a swapped view would blur the offsets' costs
    limbs = get_joint_set(joint_set).indices([n for n in LIMB_JOINTS if n in get_joint_set(joint_set).names])
    offsets = np.zeros(V, int)
    costs = np.zeros((V, 2 * config.max_offset + 1))
    if config.max_offset > 0:
        offsets, costs = estimate_offsets(kp[:, :, limbs], projections, w[:, :, limbs], config.max_offset, config.threshold_px, min_gain=config.min_offset_gain)
    applied = offsets if config.sync else np.zeros(V, int)
    if applied.any():
        kp, w = shift_views(kp, applied), shift_views(w, applied, fill=0.0)
        swaps = shift_views(swaps, applied, fill=False).astype(bool)
        kp, w, swaps = fix(kp, w, swaps)  # views now aligned in time: check again
    tri = triangulate_robust(kp.swapaxes(1, 2), projections, w.swapaxes(1, 2), config.threshold_px)
    jumps = temporal_outliers(tri.points3d, threshold_m=config.max_jump_m) if config.max_jump_m > 0 else np.zeros((T, J), bool)
    points = np.where(jumps[..., None], np.nan, tri.points3d)
    return Reference(joint_set, points, tri.inliers.swapaxes(1, 2), tri.errors.swapaxes(1, 2), offsets, costs, applied, swaps, jumps)


def limb_cv(joints: np.ndarray, joint_set: str = EVAL_SET) -> tuple[float, dict[str, float]]:
    """Coefficient of variation (std / mean over frames) of each limb bone's length; the worst.

    Args:
        joints: (T, J, 3) metres; frames with NaN are left out per bone.
    Returns:
        the worst CV and bone name -> CV (``LIMB_BONES``).
    """
    js = get_joint_set(joint_set)
    out = {}
    for a, b in LIMB_BONES:
        length = np.linalg.norm(joints[:, js.index(a)] - joints[:, js.index(b)], axis=-1)
        length = length[np.isfinite(length)]
        out[f"{a}-{b}"] = float(length.std() / length.mean()) if len(length) > 1 else float("nan")
    return max(out.values()), out


def score_sequence(pred: np.ndarray, ref: np.ndarray, joint_set: str = EVAL_SET) -> dict:
    """Scores of one estimate against the reference, over ``LIMB_JOINTS``.

    Args:
        pred: (T, J, 3) metres, NaN where the estimate has no pose.
        ref: (T, J, 3) metres in the same camera frame, finite.
    Returns:
        ``pa_mpjpe_mm`` (per-frame similarity aligned), ``mpjpe_mm`` (both centred on the
        mid-hip), ``accel_error_mm_per_frame2`` (mid-hip centred; windows of 3 frames both
        have), ``worst_limb_cv``, ``limb_cv`` (per bone), ``n_frames`` (scored), ``n_missing``.
    """
    js = get_joint_set(joint_set)
    limbs = js.indices(LIMB_JOINTS)
    hips = js.indices(["left_hip", "right_hip"])
    p, g = pred[:, limbs], ref[:, limbs]
    p = p - pred[:, hips].mean(1, keepdims=True)
    g = g - ref[:, hips].mean(1, keepdims=True)
    ok = np.isfinite(p).all((-1, -2))
    if not ok.any():
        raise MultiviewError("no frame has both an estimate and a reference")
    pa = pa_mpjpe(p[ok], g[ok])
    mp = mpjpe(p[ok], g[ok])
    acc = accel_error(np.where(ok[:, None, None], p, np.nan), g) if len(p) >= 3 else np.array([np.nan])
    worst, per_bone = limb_cv(np.where(ok[:, None, None], pred, np.nan), joint_set)
    return {
        "pa_mpjpe_mm": float(pa.mean()),
        "mpjpe_mm": float(mp.mean()),
        "accel_error_mm_per_frame2": float(np.nanmean(acc)) if np.isfinite(acc).any() else float("nan"),
        "worst_limb_cv": worst,
        "limb_cv": per_bone,
        "n_frames": int(ok.sum()),
        "n_missing": int((~ok).sum()),
    }


# --------------------------------------------------------------------------- the estimate (swap point)


@functools.cache
def _estimator(cache_dir: str, detector_weights: str | None = None, detector_lifter: bool = True, adapt: str = "off", adapt_config=None):
    """The product's :class:`simpose.Estimator` (shipped weights, default settings but those
    given), once per process and settings."""
    from simpose.track.estimator import Estimator

    extra = {} if adapt_config is None else {"adapt_config": adapt_config}
    return Estimator.from_pretrained(cache_dir=cache_dir, detector_weights=detector_weights, detector_lifter=detector_lifter, adapt=adapt, **extra)


@dataclasses.dataclass(frozen=True)
class EstimatorEstimate:
    """:data:`Estimate` through :class:`simpose.Estimator` with the product's settings: the
    numbers of ``simpose run VIDEO --focal K[0, 0]`` (the principal point at the image centre,
    as there), without writing files.

    Attributes:
        cache_dir: cue cache folder ('' for none): the reference's detections are reused.
        detector_weights: a detector lifter's weights (None: the shipped one, where there is one).
        detector_lifter: False: BlazePose mapped to h36m17 for the h36m17 lifter (an ablation).
        adapt, adapt_config: the test-time adaptation (``EstimatorConfig.adapt``; None: its default settings).
    """

    cache_dir: str = ""
    detector_weights: str | None = None
    detector_lifter: bool = True
    adapt: str = "off"
    adapt_config: object = None

    def estimator(self):
        """The :class:`simpose.Estimator` with these settings (made once per process)."""
        return _estimator(self.cache_dir, self.detector_weights, self.detector_lifter, self.adapt, self.adapt_config)

    def sequence(self, video: Path, K: np.ndarray, fps: float):
        """The :class:`~simpose.track.sequence.PoseSequence` of one view."""
        return self.estimator().estimate_video(video, focal=float(K[0, 0]), fps=fps)

    def __call__(self, video: Path, K: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
        seq = self.sequence(video, K, fps)
        return seq.joints3d[:, 0].astype(np.float64), seq.valid[:, 0].copy()


# --------------------------------------------------------------------------- the folder


def find_views(directory: Path, calibration: Path | None = None, views: list[str] | None = None) -> tuple[dict[str, ViewCalibration], dict[str, Path]]:
    """The calibration and the video of every view of a multi-view folder.

    Args:
        directory: holds one video per camera, named after it (``cam01.mp4``), and the
            calibration (``calib.json``, else a ``*.qca.txt``) unless ``calibration`` is given.
        calibration: a ``calib.json`` or QTM ``.qca.txt`` file.
        views: the cameras to use (default: every camera of the calibration).
    Returns:
        name -> :class:`ViewCalibration` and name -> video path, in the order of ``views``.
    Raises:
        MultiviewError: no folder/calibration, a video whose name is no camera of the
            calibration, a view without its video, fewer than 2 views.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise MultiviewError(f"{directory}: no such folder")
    if calibration is None:
        found = [directory / "calib.json"] if (directory / "calib.json").is_file() else sorted(directory.glob("*.qca.txt"))
        if not found:
            raise MultiviewError(f"{directory}: no calib.json or *.qca.txt calibration (or pass --calib)")
        calibration = found[0]
    calib = read_calibration(calibration)
    videos = {p.stem: p for p in sorted(directory.iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES}
    unknown = sorted(set(videos) - set(calib))
    if unknown and views is None:
        raise MultiviewError(f"{calibration}: no camera named {', '.join(unknown)} (videos in {directory}); cameras: {', '.join(calib)}")
    names = list(views) if views is not None else list(calib)
    for name in names:
        if name not in calib:
            raise MultiviewError(f"{calibration}: no camera named {name!r}; cameras: {', '.join(calib)}")
        if name not in videos:
            raise MultiviewError(f"view {name!r}: no video {name}.mp4 (or .mov/.avi/.mkv/.webm) in {directory}")
    if len(names) < 2:
        raise MultiviewError(f"need at least 2 views, got {names}")
    return {n: calib[n] for n in names}, {n: videos[n] for n in names}


def _open_views(calib: dict[str, ViewCalibration], videos: dict[str, Path]):
    """Open every video; check they are synchronised (frame count, rate) and fit their calibration."""
    from simpose.cues.video import open_video

    sources = {n: open_video(p) for n, p in videos.items()}
    counts = {n: s.n_frames for n, s in sources.items()}
    if len(set(counts.values())) > 1:
        raise MultiviewError("unsynchronised views: frame counts differ (" + ", ".join(f"{n} {c}" for n, c in counts.items()) + ")")
    rates = {n: s.fps for n, s in sources.items()}
    if max(rates.values()) - min(rates.values()) > 1e-3 * max(rates.values()):
        raise MultiviewError("unsynchronised views: frame rates differ (" + ", ".join(f"{n} {r:g}" for n, r in rates.items()) + ")")
    for n, s in sources.items():
        cw, ch = calib[n].image_size
        if (cw, ch) != tuple(s.size):
            if abs(cw - s.size[0]) > 0.02 * cw or abs(ch - s.size[1]) > 0.02 * ch:
                raise MultiviewError(f"view {n}: video is {s.size[0]}x{s.size[1]}, its calibration {cw}x{ch}")
            # pose2sim's cam01/02 are 1080 wide for a 1088-wide calibration. Judged against the
            # other 3 views, cam01 fits best with K as it is, cam02 with 8 px cropped on the left
            # or the width scaled (median 2-3 px better, of 12-22 px): no clear rule, K is kept
            log.warning("view %s: video %dx%d, calibration %dx%d: K used as it is", n, *s.size, cw, ch)
    return sources


def _detect(sources, cache_dir: str, progress: bool):
    from simpose.cues.detect import detect
    from simpose.track.run import RunConfig, main_person

    out = {}
    for n, s in sources.items():
        det = detect(s, RunConfig().keypoints, 0, None, cache_dir or None, progress=progress)
        out[n] = (det.keypoints, main_person(det.keypoints))
    return out


def evaluate_multiview(
    directory: Path,
    out: Path,
    calibration: Path | None = None,
    views: list[str] | None = None,
    config: MultiviewConfig = MultiviewConfig(),
    estimate: Estimate | None = None,
    progress: bool = False,
) -> tuple[dict, list[Path]]:
    """Reference from all views, each view's monocular estimate scored against it; reports written.

    Args:
        directory: the multi-view folder (:func:`find_views`).
        out: folder for ``results.json``, ``results.md``, ``reference.png``, ``reference.npz``.
        calibration, views: see :func:`find_views`.
        config: settings.
        estimate: the monocular estimator (default :class:`EstimatorEstimate`).
        progress: progress bars.
    Returns:
        the results (as in results.json) and the paths written.
    Raises:
        MultiviewError, DatasetError, VideoError, CueError: bad input, with a one-line message.
    """
    calib, videos = find_views(directory, calibration, views)
    names = list(calib)
    if len(names) < 3 and (config.fix_swaps or config.max_offset > 0):  # before the slow 2D stage
        raise MultiviewError(f"swap checks and offsets judge a view by the others: need >= 3 views, got {names} (else --no-swaps --max-offset 0)")
    sources = _open_views(calib, videos)
    T = next(iter(sources.values())).n_frames
    fps = float(next(iter(sources.values())).fps)
    start, end = config.start, T if config.end is None else min(config.end, T)
    if not 0 <= start < end:
        raise MultiviewError(f"need 0 <= start < end <= {T} frames, got start={config.start}, end={config.end}")
    estimate = estimate or EstimatorEstimate(config.cache_dir)
    dets = _detect(sources, config.cache_dir, progress)
    kp = np.stack([d.keypoints[:, p] for d, p in dets.values()], 1).astype(np.float64) - 0.5  # (T, V, J, 2)
    conf = np.stack([d.confidence[:, p] for d, p in dets.values()], 1).astype(np.float64)
    joint_set = next(iter(dets.values()))[0].joint_set
    projections = np.stack([calib[n].projection for n in names])
    ref = build_reference(kp, conf, projections, joint_set, config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # written before the estimates run: the reference is the costly, reusable part
    np.savez_compressed(out / "reference.npz", points3d_world=ref.points3d, joint_set=np.array(joint_set), frame_index=np.arange(T),
                        inliers=ref.inliers, errors_px=ref.errors, offsets=ref.applied_offsets, offsets_found=ref.offsets,
                        swaps=ref.swaps, views=np.array(names))  # fmt: skip

    ref_h36m = convert(ref.points3d, joint_set, EVAL_SET, strict=False)  # (T, 17, 3) world
    limbs = get_joint_set(EVAL_SET).indices(LIMB_JOINTS)
    frames = np.arange(start, end)
    frames = frames[np.isfinite(ref_h36m[frames][:, limbs]).all((-1, -2))]
    if len(frames) == 0:
        raise MultiviewError("the views agree on no frame: no reference")

    per_view, estimates = {}, {}
    for v, n in enumerate(names):
        c = calib[n]
        ref_cam = ref_h36m @ c.R.T + c.t  # (T, 17, 3) this camera's frame
        src = frames + ref.applied_offsets[v]  # this view's frames that show the reference frames
        inside = (src >= 0) & (src < T)
        log.info("view %s: monocular estimate", n)
        joints3d, valid = estimate(videos[n], c.K, fps)
        if np.shape(joints3d) != (T, 17, 3) or np.shape(valid) != (T,):
            raise MultiviewError(f"view {n}: the estimate gave joints3d {np.shape(joints3d)} and valid {np.shape(valid)}, expected ({T}, 17, 3) and ({T},)")
        ours = np.full((len(frames), 17, 3), np.nan)
        ours[inside] = np.where(valid[src[inside], None, None], joints3d[src[inside]], np.nan)
        d, p = dets[n]
        world = convert(d.world[:, p].astype(np.float64), joint_set, EVAL_SET, strict=False)
        mp_world = np.full_like(ours, np.nan)
        mp_world[inside] = np.where(d.valid[src[inside], p, None, None], world[src[inside]], np.nan)
        per_view[n] = {"simpose": score_sequence(ours, ref_cam[frames]), "mediapipe_world": score_sequence(mp_world, ref_cam[frames])}
        estimates[n] = {"simpose": ours, "mediapipe_world": mp_world, "reference": ref_cam[frames]}

    results = _results(directory, names, fps, (start, end), frames, ref, ref_h36m, per_view, config, estimate)
    paths = [out / "results.json", out / "results.md", out / "reference.npz"]
    paths[0].write_text(json.dumps(results, indent=2))
    paths[1].write_text(results_markdown(results))
    if config.plot_frames > 0:
        paths.append(plot_reference(out / "reference.png", estimates, frames, config.plot_frames))
    return results, paths


def _results(directory, names, fps, results_range, frames, ref: Reference, ref_h36m, per_view, config, estimate) -> dict:
    js = get_joint_set(ref.joint_set)
    limbs = js.indices([n for n in LIMB_JOINTS if n in js.names])
    err = ref.errors[frames][:, :, limbs]
    inl = ref.inliers[frames][:, :, limbs]
    methods = ("simpose", "mediapipe_world")
    keys = ("pa_mpjpe_mm", "mpjpe_mm", "worst_limb_cv", "accel_error_mm_per_frame2")
    ref_cv, _ = limb_cv(ref_h36m[frames])
    return {
        "dataset": str(directory),
        "views": names,
        "fps": fps,
        "frames": [int(results_range[0]), int(results_range[1])],
        "n_frames": len(frames),
        "joints": list(LIMB_JOINTS),
        "estimate": type(estimate).__name__,
        "config": dataclasses.asdict(config),
        "reference": {
            "joint_set": ref.joint_set,
            "offsets_frames": {n: int(o) for n, o in zip(names, ref.offsets)},
            "offsets_applied": {n: int(o) for n, o in zip(names, ref.applied_offsets)},
            "offset_costs_px": {n: [round(float(c), 2) for c in cs] for n, cs in zip(names, ref.offset_costs)},
            "swapped_frames": {n: int(ref.swaps[frames][:, v].any(-1).sum()) for v, n in enumerate(names)},
            "median_reprojection_px": {n: float(np.nanmedian(np.where(inl[:, v], err[:, v], np.nan))) for v, n in enumerate(names)},
            "inlier_share": {n: float(inl[:, v].mean()) for v, n in enumerate(names)},
            "dropped_jumps": int(ref.jumps[:, limbs].sum()),
            "unscored_frames": int(results_range[1] - results_range[0] - len(frames)),
            "worst_limb_cv": ref_cv,
        },
        "per_view": per_view,
        "mean": {m: {k: float(np.mean([per_view[n][m][k] for n in names])) for k in keys} for m in methods},
    }
