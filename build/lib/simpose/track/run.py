"""``run_video``: a video in, the main person's 3D motion out (the library behind ``simpose run``).

Stages (each timed in ``RunResult.timings``; ``setup``: loading the lifter and body model and their
first calls, which build the body's joint regressor and caches, once per process):

1. ``keypoints``: decode + MediaPipe BlazePose-33 per frame (:mod:`simpose.track.detect`;
   cached; the first Ctrl-C ends it early and the run goes on with the frames done).
2. ``lifter``: the 2D of the main person, mapped to ``h36m17`` (a synthetic-trained map from
   BlazePose's landmarks to H36M's joints, :mod:`simpose.track.keypoint_map`), to root-relative 3D in ``h36m17``
   and the native ``anny`` set (:class:`simpose.models.lifter.Lifter`, offline mode).
3. ``position``: camera-frame translation per frame in closed form, smoothed
   (:mod:`simpose.track.position`); then (``refine``) one skeleton for the whole track, its
   bones of constant length, fitted to the 2D rays near the lifter's pose
   (:mod:`simpose.adapt.refine`); then, if asked (``self_train``), a copy of the lifter
   fine-tuned on the refined track lifts it again, refined again (:mod:`simpose.adapt.selftrain`);
   then (``align_2d``) each joint moved sideways onto its detected 2D ray at its depth.
4. ``body_fit``: the body model's shape (one per track) and pose per frame
   (:mod:`simpose.body.fit`), placed on the native joints.
5. ``write``: ``poses.npz``/``poses.json``/``motion.bvh`` (:mod:`simpose.export`), then the
   views: ``overlay.mp4``, ``skeleton3d.mp4``, ``summary.png`` (:mod:`simpose.viz`).

Pixel convention: MediaPipe's keypoints have 0 at the image edge; simpose's cameras put pixel
centres at integers, so keypoints are shifted by -0.5 px once, here, and everything written
(``joints2d``, ``K``) uses the camera convention.

Frames where the person is not found stay invalid (NaN) in every output except the BVH (which
needs a value per frame; see :mod:`simpose.export.bvh`). For the lifter only, the 2D of such
frames is interpolated from their neighbours at zero confidence so that they do not disturb
the temporal windows of the valid frames around them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np

from simpose.adapt.refine import refine_sequence
from simpose.adapt.selftrain import SelfTrainConfig, fine_tune
from simpose.cues.keypoints import KeypointConfig, Keypoints2D
from simpose.track.detect import Detections, detect, graceful_interrupt
from simpose.track.position import PositionConfig, align_to_rays, normalised_coords, smooth_translation, solve_translation

__all__ = ["RunConfig", "RunResult", "RunError", "run_video", "lift_and_fit", "default_cache_dir", "main_person", "DEFAULT_FOV"]

log = logging.getLogger(__name__)

DEFAULT_FOV = 60.0  # degrees across the larger image side: a typical phone's main camera
JOINT_SET = "h36m17"
# joints defined identically in h36m17 and the native anny set (the same bone heads): they tie
# the two outputs of the lifter, which are each relative to their own root, into one frame
_SHARED = {
    "left_knee": "lowerleg01.L", "right_knee": "lowerleg01.R", "left_ankle": "foot.L", "right_ankle": "foot.R",
    "left_shoulder": "upperarm01.L", "right_shoulder": "upperarm01.R", "left_elbow": "lowerarm01.L",
    "right_elbow": "lowerarm01.R", "left_wrist": "wrist.L", "right_wrist": "wrist.R",
}  # fmt: skip
# which h36m17 joints' image-plane correction (align_2d) each native joint takes: the same point
# where both sets have it, else the nearest one along the body
_NATIVE_FROM_H36M = {
    "root": {"pelvis": 1.0}, "spine05": {"pelvis": 1.0}, "spine03": {"spine": 1.0},
    "spine01": {"spine": 0.5, "thorax": 0.5}, "neck01": {"thorax": 1.0}, "head": {"neck_nose": 1.0},
    "head_top": {"head": 1.0},
    **{f"{a}.{s}": {f"{side}_{b}": 1.0} for s, side in (("L", "left"), ("R", "right")) for a, b in (
        ("clavicle", "shoulder"), ("upperarm01", "shoulder"), ("lowerarm01", "elbow"), ("wrist", "wrist"),
        ("hand_tip", "wrist"), ("upperleg01", "hip"), ("lowerleg01", "knee"), ("foot", "ankle"), ("toe", "ankle"))},
}  # fmt: skip


class RunError(ValueError):
    """Input that ``simpose run`` cannot turn into motion (no person found, bad options)."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/simpose/cues`` (``~/.cache/simpose/cues``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "simpose" / "cues"


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Settings of a run (saved as ``run_config.json`` next to the outputs).

    Attributes:
        focal: focal length in pixels (wins over ``fov``).
        fov: field of view in degrees across the larger image side.
        start, end: frame range ``[start, end)`` (end None: to the end).
        fps: the frame rate: overrides a video's own (for files whose rate is wrong), sets an
            image folder's (None: 30). The lifter resamples other rates than its training
            rate to it, so a wrong rate shows motion too fast or too slow.
        keypoints: MediaPipe settings.
        position: absolute-position settings.
        keypoint_map: BlazePose landmarks to H36M joints through the synthetic-trained map
            (:mod:`simpose.track.keypoint_map`); False: renamed as they are.
        refine: the test-time refinement of :mod:`simpose.adapt.refine` (constant bone lengths,
            joints on their 2D rays); False: the lifter's pose as it is.
        self_train: after the refinement, fine-tune a copy of the lifter on the refined track
            and lift and refine again (:mod:`simpose.adapt.selftrain`; needs ``refine``). Off
            by default: more accurate, but ~8 ms per frame on 2 cores, more than the 3D stages'
            speed budget.
        self_train_config: its settings.
        align_2d: move each 3D joint sideways onto its detected 2D ray (depth kept; weighted by
            the detector's confidence), so the result and the mesh land on the person in the
            image (:func:`simpose.track.position.align_to_rays`).
        cache_dir: cue cache folder ('' for none).
        lifter_weights: a lifter checkpoint; None: the shipped weights.
        views: also write overlay.mp4, skeleton3d.mp4 and summary.png.
        mesh_every: also write ``meshes/mesh_XXXXXX.obj`` for every n-th valid frame (0: none).
        json: also write poses.json.
        max_side: the overlay video's larger side at most this many pixels.
        progress: rich progress bars.
    """

    focal: float | None = None
    fov: float | None = None
    start: int = 0
    end: int | None = None
    fps: float | None = None
    keypoints: KeypointConfig = KeypointConfig()
    position: PositionConfig = PositionConfig()
    keypoint_map: bool = True
    refine: bool = True
    self_train: bool = False
    self_train_config: SelfTrainConfig = SelfTrainConfig()
    align_2d: bool = True
    cache_dir: str = dataclasses.field(default_factory=lambda: str(default_cache_dir()))  # read when a config is made
    lifter_weights: str | None = None
    views: bool = True
    mesh_every: int = 0
    json: bool = True
    max_side: int = 1280
    progress: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, eq=False)
class RunResult:
    """What a run produced.

    Attributes:
        out_dir: the run folder.
        paths: output name -> path written.
        n_frames: frames processed; n_valid: frames with the person found.
        complete: False if the run was interrupted (the outputs cover the frames done).
        K: (3, 3) intrinsics used; fov_assumed: True if no focal/fov was given.
        fps: frames per second.
        timings: stage -> seconds (see the module docstring).
        arrays: the ``poses.npz`` content.
    """

    out_dir: Path
    paths: dict[str, Path]
    n_frames: int
    n_valid: int
    complete: bool
    K: np.ndarray
    fov_assumed: bool
    fps: float
    timings: dict[str, float]
    arrays: dict[str, np.ndarray]


def main_person(keypoints: Keypoints2D) -> int:
    """Index of the main person: the largest, most central track.

    Score per person: the sum over frames where it is valid of box area times closeness of the
    box centre to the image centre (1 at the centre, 0 at a corner).
    """
    boxes = keypoints.boxes()  # (T, P, 4)
    w, h = keypoints.image_size
    area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    centre = np.stack([(boxes[..., 0] + boxes[..., 2]) / 2 / w, (boxes[..., 1] + boxes[..., 3]) / 2 / h], -1)
    closeness = 1.0 - np.linalg.norm(centre - 0.5, axis=-1) / np.sqrt(0.5)
    score = np.nansum(np.where(keypoints.valid, area * closeness, 0.0), axis=0)
    return int(np.argmax(score))


def camera_matrix(image_size: tuple[int, int], focal: float | None, fov: float | None) -> tuple[np.ndarray, bool]:
    """(3, 3) K from a focal length or FOV (default ``DEFAULT_FOV``, with a warning); whether it was assumed."""
    from simpose.camera import Camera

    if focal is not None:
        if not focal > 0:
            raise RunError(f"--focal must be positive pixels, got {focal}")
        cam = Camera.from_intrinsics(float(focal), image_size)
        return cam.K.double().numpy(), False
    assumed = fov is None
    if assumed:
        log.warning("no --focal or --fov given: assuming a %g degree field of view (depth and size scale with it)", DEFAULT_FOV)
    try:
        cam = Camera.from_fov(DEFAULT_FOV if assumed else float(fov), image_size)
    except ValueError as e:
        raise RunError(f"--fov: {e}") from e
    return cam.K.double().numpy(), assumed


def _fill_gaps(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(T, ...) with invalid frames linearly interpolated between valid ones (held at the ends)."""
    idx = np.flatnonzero(valid)
    flat = x.reshape(len(x), -1)
    out = np.empty_like(flat)
    for c in range(flat.shape[1]):
        out[:, c] = np.interp(np.arange(len(x)), idx, flat[idx, c])
    return out.reshape(x.shape)


def to_lifter_joints(keypoints: np.ndarray, confidence: np.ndarray, joint_set: str, learned_map: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Detected keypoints (T, J, 2) of ``joint_set`` -> h36m17 points (T, 17, 2) and confidence (T, 17).

    BlazePose goes through the synthetic-trained map of :mod:`simpose.track.keypoint_map` (its
    landmarks are not H36M's joints); other sets, or ``learned_map=False``, are renamed
    (:func:`simpose.body.joints.convert`).
    """
    if joint_set == "blazepose33" and learned_map:
        from simpose.track.keypoint_map import apply_map, load_map

        return apply_map(keypoints, confidence, load_map())
    from simpose.body.joints import conversion_matrix, convert

    W, has = conversion_matrix(joint_set, JOINT_SET, strict=False)
    kp = convert(np.asarray(keypoints, np.float64), joint_set, JOINT_SET, strict=False)
    conf = np.zeros(kp.shape[:-1])
    for j in np.flatnonzero(has):
        conf[..., j] = np.asarray(confidence)[..., W[j] != 0].min(-1)
    return kp, np.where(np.isfinite(kp).all(-1), conf, 0.0)


def lifter_inputs(kp: np.ndarray, conf: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 2D the lifter sees for one person: missing joints and invalid frames filled from
    their neighbours at confidence 0 (they must not disturb the windows around them).

    Args:
        kp: (T, 17, 2) h36m17 pixels; conf: (T, 17); valid: (T,) bool.
    Returns:
        (T, 17, 2) pixels without NaN, (T, 17) confidences.
    """
    finite = np.isfinite(kp).all(-1)
    kp_in = kp.copy()
    for j in range(kp.shape[1]):  # per joint: fill frames where that joint is missing
        ok = finite[:, j] & valid
        kp_in[:, j] = _fill_gaps(kp[:, j], ok) if ok.any() else 0.0
    return kp_in, np.where(valid[:, None] & finite, conf, 0.0)


def lift(lifter, kp: np.ndarray, conf: np.ndarray, valid: np.ndarray, K: np.ndarray, fps: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Root-relative 3D in ``h36m17`` and ``anny`` for one person; NaN on invalid frames.

    Args:
        lifter: a :class:`~simpose.models.lifter.Lifter`.
        kp: (T, 17, 2) h36m17 pixels; conf: (T, 17); valid: (T,) bool; K: (3, 3).
        fps: the video's frame rate (the lifter resamples other rates to its own).
    Returns:
        (T, 17, 3) and (T, 25, 3) float64 metres, camera axes.
    """
    kp_in, conf_in = lifter_inputs(kp, conf, valid)
    out = lifter.predict_sets(kp_in, JOINT_SET, conf_in, K, ("h36m17", "anny"), fps=fps)
    h36m, anny = out["h36m17"].astype(np.float64), out["anny"].astype(np.float64)
    h36m[~valid], anny[~valid] = np.nan, np.nan
    return h36m, anny


def native_displacement(displacement_h36m: np.ndarray) -> np.ndarray:
    """(T, 17, 3) per-joint corrections of the h36m17 result -> (T, 25, 3) for the native joints."""
    from simpose.body.joints import get_joint_set

    h, a = get_joint_set("h36m17"), get_joint_set("anny")
    W = np.zeros((len(a), len(h)))
    for name, rule in _NATIVE_FROM_H36M.items():
        for src, w in rule.items():
            W[a.index(name), h.index(src)] = w
    return np.einsum("ah,thc->tac", W, displacement_h36m)


def place_native(h36m_cam: np.ndarray, anny_rel: np.ndarray) -> np.ndarray:
    """(T, 25, 3) native joints in the camera frame: shifted onto the h36m17 result by the joints both define."""
    from simpose.body.joints import get_joint_set

    h, a = get_joint_set("h36m17"), get_joint_set("anny")
    hi = h.indices(list(_SHARED))
    ai = a.indices(list(_SHARED.values()))
    offset = np.mean(h36m_cam[:, hi] - anny_rel[:, ai], axis=1)  # (T, 3)
    return anny_rel + offset[:, None]


def _warm_up(lifter, body) -> None:
    """First calls build what later calls reuse: the body's joint regressor and anny's caches, torch's kernels."""
    from simpose.body.fit import reference_joints

    reference_joints(body)
    lifter.predict(np.zeros((1, 17, 2)), JOINT_SET, np.ones((1, 17)))


def run_video(
    path: str | os.PathLike, out_dir: str | os.PathLike, config: RunConfig = RunConfig(), *, stop: threading.Event | None = None
) -> RunResult:
    """Video (file, image folder or image) to the main person's 3D motion and its views.

    Args:
        path: the input.
        out_dir: run folder (created); see the module docstring for what it gets.
        config: settings.
        stop: set it to end the keypoint stage early (the first Ctrl-C does, in the main
            thread); the run then finishes with the frames done and ``complete`` False.
    Returns:
        :class:`RunResult`.
    Raises:
        VideoError: unreadable, corrupt, empty input, mixed image sizes.
        CueError: mediapipe missing.
        RunError: no person found; bad focal/fov/range.
    """
    from simpose.cues.video import open_video

    if config.start < 0 or (config.end is not None and config.end <= config.start):
        raise RunError(f"need 0 <= --start < --end, got start={config.start}, end={config.end}")
    out_dir = Path(out_dir)
    timings: dict[str, float] = {}
    tick = time.perf_counter()
    source = open_video(path, fps=config.fps)
    K, assumed = camera_matrix(source.size, config.focal, config.fov)  # bad options fail before the slow stage
    stop = stop or threading.Event()
    with graceful_interrupt(stop):
        det = detect(source, config.keypoints, config.start, config.end, config.cache_dir or None, stop, config.progress)
    timings["keypoints"] = time.perf_counter() - tick
    if not det.complete:
        log.warning("keypoint stage stopped after %d frames; writing the result for those", len(det.frame_index))
    kp_all = det.keypoints
    if not kp_all.valid.any():
        raise RunError(f"{source.path}: no person found in {kp_all.num_frames} frames {_range_text(det)}")
    p = main_person(kp_all)
    valid = kp_all.valid[:, p].copy()

    tick = time.perf_counter()
    from simpose.body.model import BodyModel
    from simpose.models.lifter import Lifter

    lifter = Lifter.from_pretrained(config.lifter_weights)
    body = BodyModel()
    _warm_up(lifter, body)
    timings["setup"] = time.perf_counter() - tick  # once per process, not per frame

    kp, conf = to_lifter_joints(kp_all.keypoints[:, p] - 0.5, kp_all.confidence[:, p], kp_all.joint_set, config.keypoint_map)
    joints3d, valid, fit, stage_s = lift_and_fit(lifter, body, kp, conf, valid, K, source.fps, config)
    timings.update(stage_s)

    tick = time.perf_counter()
    arrays = _pose_arrays(kp, conf, joints3d, valid, fit, K, source, det)
    paths = _write_outputs(out_dir, arrays, body, fit, source.fps, config)
    timings["write_poses"] = time.perf_counter() - tick
    if config.views:
        from simpose.track.views import write_views

        tick = time.perf_counter()
        paths.update(write_views(out_dir, source, det.frame_index, arrays, body, fit, config))
        timings["views"] = time.perf_counter() - tick
    return RunResult(out_dir, paths, len(valid), int(valid.sum()), det.complete, K, assumed, source.fps, timings, arrays)


def lift_and_fit(lifter, body, kp, conf, valid, K, fps: float, config: RunConfig = RunConfig()):
    """The 3D stages of a run, one person: lift, place in the camera frame, fit the body.

    Args:
        lifter: a :class:`~simpose.models.lifter.Lifter`. body: the body model.
        kp, conf: (T, 17, 2) h36m17 pixels and (T, 17) confidences (:func:`to_lifter_joints`).
        valid: (T,) frames with a person. K: (3, 3) intrinsics. fps: frame rate.
        config: the run's settings (``position``, ``refine``, ``self_train``, ``align_2d``).
    Returns:
        joints3d (T, 17, 3) camera-frame metres (NaN where not valid), valid (T,) (frames whose
        translation could not be solved dropped), the :class:`~simpose.body.fit.BodyFit`, and
        the seconds of each stage (``lifter``, ``position``, ``refine``, ``self_train``,
        ``body_fit``).
    """
    from simpose.body.fit import fit_body

    timings = {"refine": 0.0, "self_train": 0.0}
    tick = time.perf_counter()
    h36m_rel, anny_rel = lift(lifter, kp, conf, valid, K, fps)
    timings["lifter"] = time.perf_counter() - tick

    tick = time.perf_counter()
    joints3d, native, valid = _place(h36m_rel, anny_rel, kp, conf, valid, K, fps, config, timings)
    if config.self_train and config.refine:
        tock = time.perf_counter()
        st = config.self_train_config
        kp_in, conf_in = lifter_inputs(kp, conf, valid)
        for r in range(st.rounds):  # the refined track teaches the lifter, which lifts it again
            targets = {"h36m17": joints3d, "anny": native}  # NaN frames do not count
            lifter = fine_tune(lifter, kp_in, targets, conf_in, K, JOINT_SET, st.steps, st.lr, st.max_frames, seed=r, fps=fps)
            h36m_rel, anny_rel = lift(lifter, kp, conf, valid, K, fps)
            joints3d, native, valid = _place(h36m_rel, anny_rel, kp, conf, valid, K, fps, config, {"refine": 0.0})
        timings["self_train"] = time.perf_counter() - tock  # its fine-tuning, lifts and refinements
    if config.align_2d:
        aligned = align_to_rays(joints3d, kp, conf, K)
        native = native + native_displacement(np.nan_to_num(aligned - joints3d))
        joints3d = aligned
    timings["position"] = time.perf_counter() - tick - timings["refine"] - timings["self_train"]

    tick = time.perf_counter()
    fit = fit_body(body, native, valid)
    timings["body_fit"] = time.perf_counter() - tick
    return joints3d, valid, fit, timings


def _place(h36m_rel, anny_rel, kp, conf, valid, K, fps: float, config: RunConfig, timings: dict):
    """Root-relative lift -> camera frame: closed-form smoothed translation, then (``config.refine``)
    the refinement. Returns joints3d (T, 17, 3), native (T, 25, 3) camera-frame metres and the
    valid frames (those whose translation was solved); adds the refinement's seconds to
    ``timings["refine"]``."""
    valid = valid.copy()
    trans = solve_translation(h36m_rel, kp, conf, K, config.position)
    valid &= np.isfinite(trans).all(-1)
    trans = smooth_translation(np.where(valid[:, None], trans, np.nan), fps, config.position)
    joints3d = h36m_rel + trans[:, None]
    joints3d[~valid] = np.nan
    native = place_native(joints3d, anny_rel)
    if config.refine:
        tock = time.perf_counter()
        # Invalid frames have NaN poses and translations: the refinement leaves them out (NaN).
        refined = refine_sequence(h36m_rel, normalised_coords(kp, K), conf, fps, trans=trans)
        native = native + native_displacement(np.nan_to_num(refined - joints3d))
        joints3d = refined
        timings["refine"] += time.perf_counter() - tock
    return joints3d, native, valid


def _range_text(det: Detections) -> str:
    f = det.frame_index
    return f"(frames {f[0]}-{f[-1]})" if len(f) else ""


def _pose_arrays(kp, conf, joints3d, valid, fit, K, source, det: Detections) -> dict[str, np.ndarray]:
    """The ``poses.npz`` content (P = 1: the main person), NaN/0 wherever the person is missing."""
    from simpose.body.joints import get_joint_set

    f32 = lambda x: np.asarray(x, np.float32)[:, None]  # noqa: E731  (T, ...) -> (T, P=1, ...)
    kp, conf = kp.copy(), conf.copy()
    kp[~valid], conf[~valid] = np.nan, 0.0
    shape = np.where(valid[:, None], fit.shape_params[None], np.nan)
    return {
        "joints3d": f32(joints3d),
        "joints2d": f32(kp),
        "confidence": f32(conf),
        "valid": valid[:, None].copy(),
        "joint_set": np.array(JOINT_SET),
        "joint_names": np.array(get_joint_set(JOINT_SET).names),
        "body_pose_rotvecs": f32(fit.pose_rotvecs),
        "body_global_rotvecs": f32(fit.global_rotvecs),
        "body_trans": f32(fit.trans),
        "body_shape": f32(shape),
        "K": np.asarray(K, np.float64),
        "image_size": np.asarray(source.size, np.int64),
        "fps": np.array(float(source.fps)),
        "frame_index": det.frame_index.astype(np.int64),
        "complete": np.array(bool(det.complete)),
    }


def _write_outputs(out_dir: Path, arrays, body, fit, fps: float, config: RunConfig) -> dict[str, Path]:
    from simpose.export.bvh import write_body_bvh
    from simpose.export.poses import write_poses

    out_dir.mkdir(parents=True, exist_ok=True)
    written = write_poses(out_dir, arrays, json_too=config.json)
    paths = {p.name: p for p in written}
    paths["motion.bvh"] = write_body_bvh(out_dir / "motion.bvh", body, fit, fps)
    if config.mesh_every > 0:
        from simpose.export.mesh import write_meshes

        meshes = write_meshes(out_dir / "meshes", body, fit, every=config.mesh_every)
        if meshes:
            paths["meshes/"] = meshes[0].parent
    cfg = out_dir / "run_config.json"
    cfg.write_text(json.dumps(config.to_dict(), indent=2))
    paths[cfg.name] = cfg
    return paths
