"""``simpose.Estimator``: the application path in memory, the one that run, eval and benchmarks share.

    from simpose import Estimator
    est = Estimator.from_pretrained()                     # shipped weights, the product's settings
    seq = est.estimate_video("clip.mp4", focal=1450.0)    # -> PoseSequence
    seq.joints3d                                          # (T, P, J, 3) metres, camera frame
    seq.save("out/")                                      # poses.npz + poses.json

    seq = est.estimate_keypoints(joints2d, confidence, "blazepose33", K, fps=30.0)   # 2D you have

Stages (``PoseSequence.timings``; ``setup`` is paid once, in :meth:`Estimator.from_pretrained`):

1. ``keypoints`` (video only): decode + MediaPipe BlazePose-33 (:mod:`simpose.cues.detect`; cached).
   The main person (:func:`main_person`) is kept: P = 1. With ``people="all"``: everyone, with
   track ids (:func:`simpose.cues.people.detect_people`; cached); the ``max_people`` most-seen
   tracks are kept, each its own person column (P >= 1), each placed in the shared camera.
2. ``lifter``: the 2D lifted to root-relative 3D in ``h36m17`` and the native ``anny`` set
   (:class:`~simpose.models.lifter.Lifter`). BlazePose's own 33 landmarks go to the detector
   lifter (``weights/lifter_blazepose33.pt``: trained on the detector's output on synthetic
   people, :mod:`simpose.train.lifter_detcache`) where it is shipped and ``detector_lifter`` is
   on; other 2D (and BlazePose otherwise) is mapped to ``h36m17`` (BlazePose through
   :mod:`simpose.models.keypoint_map`) for the ``h36m17`` lifter. The later stages use the
   ``h36m17`` points either way.
3. ``position``: closed-form camera translation, smoothed (:mod:`simpose.track.position`); then
   (``refine``) one skeleton on the 2D rays (:mod:`simpose.adapt.refine`); then, if asked
   (``self_train``), a fine-tuned copy of the lifter lifts and refines again
   (:mod:`simpose.adapt.selftrain`).
4. ``body_fit``: the body's shape (one per track, from step 3's bone lengths) and its pose in
   closed form from the native joints (:mod:`simpose.body.fit`), placed where its ``h36m17``
   joints best match step 3's; then
   (``align_2d``) its pose and translation optimised against the 2D (confidence-weighted) and
   step 3's 3D (:mod:`simpose.body.align`).
5. The exported joints are the fitted body's (:class:`simpose.body.rig.JointRig`): one skeleton
   per person, the mesh's own. (``body=False``, an ablation: step 3's joints as they are.)

Pixel convention: simpose's cameras put pixel centres at integers; MediaPipe's keypoints (0 at
the image edge) are shifted by -0.5 px once, in :meth:`Estimator.estimate_video`. Keypoints
given to :meth:`Estimator.estimate_keypoints` must already use K's convention.

Frames where a person is not found (not yet entered, left, occluded) stay invalid (NaN). For the lifter only, the 2D of such
frames is interpolated from their neighbours at zero confidence so that they do not disturb the
temporal windows of the valid frames around them.

Modules: :mod:`simpose.track.sequence` (the ``PoseSequence`` record and its files),
:mod:`simpose.track.inputs` (options, camera, the 2D for the lifter), this one (``Estimator``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simpose.adapt.optimise import OptimiseConfig
from simpose.adapt.refine import RefineConfig
from simpose.adapt.selftrain import SelfTrainConfig
from simpose.body.align import AlignConfig
from simpose.cues.keypoints import KeypointConfig
from simpose.track.inputs import (
    camera_matrix, default_cache_dir, lift, lifter_inputs, main_person, to_lifter_joints, validate_options, warn_if_far,
)  # fmt: skip
from simpose.track.position import PositionConfig
from simpose.track.sequence import JOINT_SET, EstimatorError, PoseSequence

if TYPE_CHECKING:
    from simpose.cues.video import VideoSource

__all__ = ["Estimator", "EstimatorConfig", "WeightsInfo", "PEOPLE_MODES", "ADAPT_MODES", "most_seen"]

log = logging.getLogger(__name__)
PEOPLE_MODES = ("main", "all")  # EstimatorConfig.people
ADAPT_MODES = ("off", "params", "weights")  # EstimatorConfig.adapt
ADAPT_CUES = ("all", "keypoints")  # EstimatorConfig.adapt_with


@dataclasses.dataclass(frozen=True)
class WeightsInfo:
    """Which weights an estimator runs: the file and its sha256 (recorded in ``run_config.json``)."""

    path: str
    sha256: str


@dataclasses.dataclass(frozen=True)
class EstimatorConfig:
    """The estimator's settings (the product's defaults; the others are ablations).

    Attributes:
        keypoints: MediaPipe settings (video input).
        position: the closed-form translation and its smoothing.
        keypoint_map: BlazePose landmarks to H36M joints through the synthetic-trained map
            (:mod:`simpose.models.keypoint_map`); False: renamed as they are.
        detector_lifter: lift BlazePose's landmarks with the detector lifter (module docstring)
            where its weights are there; False: map them to ``h36m17`` for the ``h36m17`` lifter.
        refine: the test-time refinement (:mod:`simpose.adapt.refine`); False: the lifter's pose.
        refine_config: its settings.
        self_train: then fine-tune a copy of the lifter on the refined track and lift and refine
            again (:mod:`simpose.adapt.selftrain`; needs ``refine``). Off by default: ~8 ms per
            frame on 2 cores, more than the 3D stages' speed budget.
        self_train_config: its settings.
        body: export the fitted body's joints (one skeleton per person); False (an ablation):
            the joints of the position/refinement stage, the body fitted but not exported.
        align_2d: optimise the body's pose and translation against the detected 2D
            (:mod:`simpose.body.align`); False: against the 3D of the position stage only.
        align: the body alignment's settings.
        cache_dir: cue cache folder ('' for none).
        people: video input: ``"main"`` follows the main person with MediaPipe's single-person
            Pose (:mod:`simpose.cues.detect`); ``"all"`` follows everyone with the multi-person
            stage (:mod:`simpose.cues.people`, its default settings), one track per person.
        max_people: with ``people="all"``, at most this many people are tracked at once
            (the tracker's cost grows with them) and the this many most-seen tracks are kept.
        adapt: video input, ``people="main"``: test-time self-supervision of the fitted body on
            the video's own cues. ``"params"``: its pose and translation optimised against the
            detector's keypoints, the person masks and the optical flow of the cue stage
            (:func:`simpose.adapt.optimise.optimise_body`; a second MediaPipe pass with
            segmentation, and DIS flow, both cached). ``"weights"``: the same losses back-propagated
            into a copy of the lifter's weights through the closed-form body fit (with a per-frame
            translation; :func:`simpose.adapt.network.adapt_network`), the body the adapted
            network's: its prior keeps the poses plausible. ``"off"``: none (the default; docs/results/adapt_real
            says why).
        adapt_with: the cues of ``adapt``: ``"all"`` (keypoints, person masks and optical flow,
            from a second MediaPipe pass with segmentation and DIS flow) or ``"keypoints"`` (the
            2D stage's own keypoints only: no second pass; on pose2sim's real views ``weights``
            with keypoints alone takes PA-MPJPE from 83.6 to 74.7 mm, with all cues to 71.9).
        adapt_config: its settings.
        motion_weights: a motion model (``simpose train motion``: crops of RGB / optical flow /
            keypoints -> 3D) that gives the root-relative 3D of video input in place of the
            lifter (``people="main"`` only); '' (default): the lifter.
    """

    keypoints: KeypointConfig = KeypointConfig()
    position: PositionConfig = PositionConfig()
    keypoint_map: bool = True
    detector_lifter: bool = True
    refine: bool = True
    refine_config: RefineConfig = RefineConfig()
    self_train: bool = False
    self_train_config: SelfTrainConfig = SelfTrainConfig()
    body: bool = True
    align_2d: bool = True
    align: AlignConfig = AlignConfig()
    cache_dir: str = dataclasses.field(default_factory=lambda: str(default_cache_dir()))  # read when a config is made
    people: str = "main"
    max_people: int = 8
    adapt: str = "off"
    adapt_with: str = "all"
    adapt_config: OptimiseConfig = OptimiseConfig()
    motion_weights: str = ""

    def __post_init__(self) -> None:
        if self.motion_weights and (self.people != "main" or self.self_train or self.adapt == "weights"):
            raise EstimatorError("the motion model follows the main person and is not fine-tuned: it needs people='main', self_train=False, adapt other than 'weights'")
        if self.people not in PEOPLE_MODES:
            raise EstimatorError(f"people must be one of {PEOPLE_MODES}, got {self.people!r}")
        if self.adapt not in ADAPT_MODES:
            raise EstimatorError(f"adapt must be one of {ADAPT_MODES}, got {self.adapt!r}")
        if self.adapt_with not in ADAPT_CUES:
            raise EstimatorError(f"adapt_with must be one of {ADAPT_CUES}, got {self.adapt_with!r}")
        if self.adapt != "off" and self.people != "main":
            raise EstimatorError("adapt needs people='main': the person masks are MediaPipe's single person's")
        if not (isinstance(self.max_people, int) and self.max_people >= 1):
            raise EstimatorError(f"max_people must be an integer >= 1, got {self.max_people!r}")
        if self.self_train and not self.refine:
            raise EstimatorError("self_train learns from the refined track: it needs refine=True")

    def with_settings(self, **settings) -> EstimatorConfig:
        """A copy with the named fields replaced.

        Raises:
            EstimatorError: a name that is not a field.
        """
        known = {f.name for f in dataclasses.fields(EstimatorConfig)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise EstimatorError(f"unknown estimator settings {unknown}; known: {sorted(known)}")
        return dataclasses.replace(self, **settings)


class _BoxedFlows:
    """The cue stage's flow, read lazily per pair of the kept frames: NaN outside the box it was
    computed in (zero there means "not computed"), None where there is none (frames not consecutive,
    an empty box). Avoids copying a whole video's flow."""

    def __init__(self, flow: np.ndarray | None, boxes: np.ndarray | None, frame_index: np.ndarray) -> None:
        self.flow, self.boxes, self.frames = flow, boxes, np.asarray(frame_index)

    def __len__(self) -> int:
        return max(len(self.frames) - 1, 0)

    def __getitem__(self, t: int) -> np.ndarray | None:
        if not 0 <= t < len(self):
            raise IndexError(t)
        f = int(self.frames[t])
        if self.flow is None or self.frames[t + 1] != f + 1 or f >= len(self.flow):
            return None
        x0, y0, x1, y1 = (int(c) for c in self.boxes[f])
        if x1 <= x0 or y1 <= y0:
            return None
        out = np.full(self.flow.shape[1:], np.nan, np.float32)
        out[y0:y1, x0:x1] = self.flow[f, y0:y1, x0:x1]
        return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def most_seen(valid: np.ndarray, n: int) -> np.ndarray:
    """Columns of the ``n`` people seen in the most frames, in their original (first-appearance) order.

    Args:
        valid: (T, P) bool. n: at most this many.
    Returns:
        (min(n, P'),) int64 column indices, P' the people seen in at least one frame.
    """
    frames = np.asarray(valid, bool).sum(0)
    seen = np.flatnonzero(frames > 0)
    keep = seen[np.argsort(-frames[seen], kind="stable")[:n]]  # ties: the earlier track
    return np.sort(keep).astype(np.int64)


def _check_camera(K):
    """A (3, 3) K (float64) or a Camera, else EstimatorError."""
    from simpose.camera import Camera

    if isinstance(K, Camera):
        return K
    try:
        K = np.asarray(K, np.float64)
    except (TypeError, ValueError):
        raise EstimatorError(f"K must be a (3, 3) intrinsics matrix or a Camera, got {type(K).__name__}") from None
    if K.shape != (3, 3) or not np.isfinite(K).all() or not (K[0, 0] > 0 and K[1, 1] > 0):
        raise EstimatorError(f"K must be a finite (3, 3) intrinsics matrix with positive focal lengths, got shape {K.shape}")
    return K


def _check_detector(card: dict, keypoints, path) -> None:
    """Warn when the 2D detector that will run is not the one a detector lifter learned (its card's
    ``input.detector``): another MediaPipe version or setting errs differently, and the lifter
    learned those errors. A warning, not an error: the lifter still reads the same landmarks."""
    trained = card.get("input", {}).get("detector")
    if trained is None:
        return
    try:
        from simpose.synth.detcache import detector_info, detector_version

        running = detector_version(detector_info(dataclasses.replace(keypoints, segmentation=False)))
    except Exception:  # noqa: BLE001 - mediapipe missing: keypoints come from elsewhere, nothing to compare
        return
    if running != trained:
        log.warning("%s learned the output of %s; this run's detector is %s: its 3D may be less accurate", path, trained, running)


# ------------------------------------------------------------------------------ the estimator
class Estimator:
    """Video or 2D keypoints in, :class:`PoseSequence` out (the module docstring).

    Args:
        lifter: a :class:`~simpose.models.lifter.Lifter`.
        body: a :class:`~simpose.body.model.BodyModel`.
        config: settings.
        weights: which weights the lifter came from.
        detector_lifter: a second :class:`~simpose.models.lifter.Lifter` for one detector's own
            keypoints (its ``input_set``, e.g. ``blazepose33``), used for 2D of that set; None: none.
        detector_weights: which weights that one came from.
    """

    def __init__(
        self, lifter, body, config: EstimatorConfig = EstimatorConfig(), weights: WeightsInfo | None = None,
        detector_lifter=None, detector_weights: WeightsInfo | None = None,
    ) -> None:  # fmt: skip
        self.lifter = lifter
        self.body = body
        self.config = config
        self.weights = weights
        self.detector_lifter = detector_lifter
        self.detector_weights = detector_weights
        self.motion = None  # a MotionModel (config.motion_weights), set by from_pretrained
        self.setup_s = 0.0

    def lifter_for(self, joint_set: str):
        """The lifter that lifts 2D of ``joint_set``: the detector lifter for its own set (when
        there is one and ``config.detector_lifter`` is on), else the ``h36m17`` lifter."""
        d = self.detector_lifter
        if d is not None and self.config.detector_lifter and joint_set == d.input_set:
            return d
        return self.lifter

    @classmethod
    def from_pretrained(
        cls, weights: str | os.PathLike | None = None, config: EstimatorConfig | None = None,
        detector_weights: str | os.PathLike | None = None, **settings,
    ) -> Estimator:  # fmt: skip
        """Load the lifter weights (None: the shipped ones) and the body model; warm them up.

        Args:
            weights: an ``h36m17`` lifter ``.pt`` with its card ``.json`` beside it; None: the shipped weights.
            detector_weights: a detector lifter (``blazepose33`` input); None: the shipped one
                (``weights/lifter_blazepose33.pt``) where it is there. Not loaded when
                ``detector_lifter`` is off.
            config: settings (default: the product's).
            **settings: fields of :class:`EstimatorConfig` that override ``config``'s.
        Raises:
            EstimatorError: an unknown setting; a card that does not match the code.
            FileNotFoundError: no such weights.
        """
        from simpose.body.model import BodyModel
        from simpose.models.lifter import DETECTOR_WEIGHTS_PATH, WEIGHTS_PATH, Lifter

        config = (config or EstimatorConfig()).with_settings(**settings)
        tick = time.perf_counter()
        path = Path(weights) if weights is not None else WEIGHTS_PATH
        det_path = Path(detector_weights) if detector_weights is not None else DETECTOR_WEIGHTS_PATH
        try:
            lifter = Lifter.from_pretrained(path)
            if lifter.input_set != JOINT_SET:
                raise EstimatorError(f"{path}: the main lifter must take {JOINT_SET} 2D, its card says {lifter.input_set!r} (give it as detector_weights)")
            det = None
            if config.detector_lifter and (detector_weights is not None or det_path.exists()):
                det = Lifter.from_pretrained(det_path)
                if det.input_set == JOINT_SET:
                    raise EstimatorError(f"{det_path}: a detector lifter takes a detector's own keypoints, its card says {JOINT_SET!r}")
                _check_detector(det.card, config.keypoints, det_path)
        except ValueError as e:  # the card does not match the code
            raise EstimatorError(str(e)) from e
        det_info = WeightsInfo(str(det_path.resolve()), _sha256(det_path)) if det is not None else None
        est = cls(lifter, BodyModel(), config, WeightsInfo(str(path.resolve()), _sha256(path)), det, det_info)
        if config.motion_weights:
            from simpose.models.motion import MotionModel

            est.motion = MotionModel.from_weights(config.motion_weights)
        est.warm_up()
        est.setup_s = time.perf_counter() - tick
        return est

    def warm_up(self) -> None:
        """First calls build what later calls reuse: the body's joint regressors and anny's caches, torch's kernels."""
        from simpose.body.fit import reference_joints

        reference_joints(self.body)
        self.lifter.predict(np.zeros((1, 17, 2)), JOINT_SET, np.ones((1, 17)))
        if self.detector_lifter is not None:
            from simpose.body.joints import get_joint_set

            n = len(get_joint_set(self.detector_lifter.input_set))
            self.detector_lifter.predict(np.zeros((1, n, 2)), None, np.ones((1, n)))

    # -------------------------------------------------------------- video
    def estimate_video(
        self,
        path: str | os.PathLike | VideoSource,
        focal: float | None = None,
        fov: float | None = None,
        start: int = 0,
        end: int | None = None,
        fps: float | None = None,
        *,
        stop: threading.Event | None = None,
        progress: bool = False,
    ) -> PoseSequence:
        """The main person's (``people="main"``) or everyone's (``"all"``) 3D motion in a video
        (file, image folder or image).

        Args:
            path: the input, or a :class:`~simpose.cues.video.VideoSource` opened already (its
                frame rate is used; ``fps`` is then only checked).
            focal: focal length in pixels (wins over ``fov``); fov: degrees across the larger
                image side; neither: ``DEFAULT_FOV`` with a warning (``fov_assumed``).
            start, end: frame range ``[start, end)`` (end None: to the end).
            fps: overrides a video's own rate; sets an image folder's (None: 30).
            stop: set it to end the keypoint stage early (the first Ctrl-C does, in the main
                thread); the result then covers the frames done and ``complete`` is False.
            progress: rich progress bars.
        Returns:
            :class:`PoseSequence` (``h36m17``): P = 1 (``"main"``); with ``"all"``, one column
            per kept track (``track_ids``), NaN where that person is not seen.
        Raises:
            VideoError: unreadable, corrupt, empty input. CueError: mediapipe (or, for
                ``"all"``, ai-edge-litert) missing.
            EstimatorError: no person found; bad focal/fov/range.
        """
        from simpose.cues.video import VideoSource, open_video
        from simpose.cues.detect import detect, graceful_interrupt

        validate_options(focal, fov, fps, start, end)
        tick = time.perf_counter()
        source = path if isinstance(path, VideoSource) else open_video(path, fps=fps)
        path = source.path
        validate_options(focal, fov, fps, start, end, tuple(source.size))
        K, assumed = camera_matrix(source.size, focal, fov)  # bad options fail before the slow stage
        stop = stop or threading.Event()
        cfg = self.config
        with graceful_interrupt(stop):
            if cfg.people == "all":
                from simpose.cues.people import PeopleConfig, detect_people

                # the tracker keeps at most max_people at once: its cost is one landmark run per person and frame
                people_cfg = PeopleConfig(max_people=cfg.max_people)
                det = detect_people(source, people_cfg, start, end, cfg.cache_dir or None, stop, progress)
            else:
                det = detect(source, cfg.keypoints, start, end, cfg.cache_dir or None, stop, progress)
        t_kp = time.perf_counter() - tick
        if not det.complete:
            log.warning("the 2D stage covers %d frames only (see above); the result covers those", len(det.frame_index))
        kp_all = det.keypoints
        if not kp_all.valid.any():
            f = det.frame_index
            where = f"(frames {f[0]}-{f[-1]})" if len(f) else ""
            raise EstimatorError(f"{source.path}: no person found in {kp_all.num_frames} frames {where}")
        track_ids = None
        if cfg.people == "all":
            cols = most_seen(self._usable(kp_all.keypoints, kp_all.confidence, kp_all.valid, kp_all.joint_set), cfg.max_people)
            if not len(cols):
                raise EstimatorError(f"{source.path}: no person with {cfg.position.min_joints} usable keypoints in any frame")
            track_ids = det.track_ids[cols].astype(np.int64)
        else:
            cols = np.array([main_person(kp_all)])
        raw = (kp_all.keypoints[:, cols] - 0.5, kp_all.confidence[:, cols])  # (T, P, 33, 2), (T, P, 33)
        kp, conf = to_lifter_joints(*raw, kp_all.joint_set, cfg.keypoint_map)  # (T, P, 17, 2), (T, P, 17)
        own = (raw[0], raw[1], kp_all.joint_set)
        valid = kp_all.valid[:, cols].copy()
        rel3d = None
        if self.motion is not None:  # the motion model's 3D in place of the lifter's (people="main")
            from simpose.cues.crops import CropConfig
            from simpose.track.motion_video import motion_track, predict_track

            tock = time.perf_counter()
            track = motion_track(path, float(self.motion.card["fps"]), CropConfig.from_dict(self.motion.card["crop"]), source=source, det=det)
            pred = predict_track(self.motion, track, str(source.path))
            rel3d = (pred["h36m17"], pred["anny"])
            t_kp += time.perf_counter() - tock
        seq = self._estimate(kp, conf, valid, K, float(source.fps), tuple(source.size), own, rel3d=rel3d)
        seq = dataclasses.replace(
            seq, frame_index=det.frame_index.astype(np.int64), complete=bool(det.complete), fov_assumed=assumed,
            timings={"keypoints": t_kp, "setup": self.setup_s, **seq.timings}, track_ids=track_ids,
        )  # fmt: skip
        if cfg.adapt != "off":
            tick = time.perf_counter()
            if cfg.adapt_with == "keypoints":  # no second pass: the masks and flow terms drop
                masks, flows = [None] * len(seq.frame_index), [None] * max(len(seq.frame_index) - 1, 0)
            else:
                masks, flows = self.adapt_cues(path, fps, seq.frame_index, progress)
            t_cues = time.perf_counter() - tick
            seq = self._adapt(seq, masks, flows, (kp, conf, valid, K, float(source.fps), tuple(source.size), own))
            seq.timings["adapt_cues"] = t_cues
        warn_if_far(seq.joints3d)
        return seq

    # -------------------------------------------------------------- test-time adaptation
    def adapt_cues(self, path, fps: float | None, frame_index: np.ndarray, progress: bool):
        """The person masks and flow of the frames ``frame_index`` of a video (:func:`simpose.cues.pipeline.extract_cues`,
        cached): (T,) masks (None: no person pixels) and (T - 1,) flows t -> t+1 (None: no flow,
        the frames not consecutive), each NaN outside the box it was computed in."""
        from simpose.cues.flow import FlowConfig
        from simpose.cues.pipeline import CueConfig, extract_cues

        cfg = self.config
        cue_cfg = CueConfig(keypoints=dataclasses.replace(cfg.keypoints, segmentation=True), flow=FlowConfig())
        cues = extract_cues(path, cfg.cache_dir or None, cue_cfg, fps=fps, progress=progress)
        n = cues.num_frames
        masks = [cues.masks[f, 0] if f < n and cues.masks[f, 0].any() else None for f in frame_index]
        return masks, _BoxedFlows(cues.flow, cues.flow_boxes, frame_index)

    def _adapt(self, seq: PoseSequence, masks, flows, inputs) -> PoseSequence:
        """``config.adapt`` on an estimate (:meth:`adapt_sequence`). ``inputs``: :meth:`_estimate`'s arguments."""
        return self.adapt_sequence(seq, masks, flows, inputs)

    def adapt_sequence(self, seq: PoseSequence, masks: list, flows, inputs=None) -> PoseSequence:
        """Each person's body adapted to its keypoints, masks and flow (``config.adapt``: its
        parameters optimised, or the lifter's weights fine-tuned through it); the exported joints
        are the adapted body's. A track too short to adapt keeps its body (with a warning).

        Args:
            seq: the estimate (``seq.keypoints`` of the detector where present, else ``joints2d``).
            masks: T entries, (H, W) bool or None. flows: T - 1 entries, (H, W, 2) pixels
                (NaN: not computed) or None.
            inputs: :meth:`_estimate`'s arguments (the 2D the lifter took); needed by ``"weights"``.
        Returns:
            ``seq`` with the body and joints replaced; ``timings["adapt"]`` its seconds.
        """
        import torch

        from simpose.adapt.network import adapt_network
        from simpose.adapt.optimise import optimise_body
        from simpose.body.rig import JointRig

        tick = time.perf_counter()
        own = seq.keypoints is not None
        kp_all = seq.keypoints if own else seq.joints2d
        conf_all = seq.keypoint_confidence if own else seq.confidence
        joint_set = seq.keypoint_set if own else seq.joint_set
        weights = self.config.adapt == "weights"
        if weights and inputs is None:
            raise EstimatorError('adapt="weights" needs the estimate\'s inputs (the 2D the lifter took)')
        arrays = {k: np.array(getattr(seq, k)) for k in ("body_pose_rotvecs", "body_global_rotvecs", "body_trans", "body_shape", "joints3d")}
        for p in range(seq.valid.shape[1]):
            v = seq.valid[:, p]
            if not v.any():
                continue
            cues = (seq.K, seq.image_size, np.asarray(kp_all[:, p], np.float64), np.nan_to_num(np.asarray(conf_all[:, p], np.float64)), joint_set, masks, flows, self.config.adapt_config)
            if weights:
                kp, conf, valid, camera, fps, _, own_2d = inputs
                lifter, x_in, c_in, set_in = self._lifter_input(kp[:, p], conf[:, p], None if own_2d is None else (own_2d[0][:, p], own_2d[1][:, p], own_2d[2]))
                res, _ = adapt_network(self.body, lifter, (*lifter_inputs(x_in, c_in, valid[:, p]), set_in), fps, seq.body_fit(p), *cues, camera=camera)
            else:
                res = optimise_body(self.body, seq.body_fit(p), *cues)
            if not res.adapted:
                log.warning("person %d: a track of %d frames is too short to adapt; kept unadapted", p, int(v.sum()))
                continue
            log.info("person %d adapted in %.1f s: loss %.3f -> %.3f", p, res.seconds, res.history[0, 0], res.history[-1, 0])
            new = res.fit
            rig = JointRig.build(self.body, new.shape_params, JOINT_SET)
            with torch.no_grad():
                j = rig(*(torch.as_tensor(a[v]) for a in (new.pose_rotvecs, new.global_rotvecs, new.trans))).numpy()
            arrays["body_pose_rotvecs"][v, p] = new.pose_rotvecs[v]
            arrays["body_global_rotvecs"][v, p] = new.global_rotvecs[v]
            arrays["body_trans"][v, p] = new.trans[v]
            if self.config.body:
                arrays["joints3d"][v, p] = j
        return dataclasses.replace(seq, timings={**seq.timings, "adapt": time.perf_counter() - tick}, **arrays)

    def _usable(self, keypoints, confidence, valid, joint_set: str) -> np.ndarray:
        """(T, P) frames where a person has the ``position.min_joints`` usable h36m17 points
        the later stages need (a track seen only as a few landmarks cannot be placed).

        Args:
            keypoints: (T, P, J, 2) pixels; confidence: (T, P, J); valid: (T, P) bool.
        """
        kp, conf = to_lifter_joints(keypoints, np.nan_to_num(confidence), joint_set, self.config.keypoint_map)
        usable = np.isfinite(kp).all(-1) & (conf >= self.config.position.min_confidence)
        return np.asarray(valid, bool) & (usable.sum(-1) >= self.config.position.min_joints)

    # -------------------------------------------------------------- keypoints
    def estimate_keypoints(
        self,
        joints2d: np.ndarray,
        confidence: np.ndarray | None,
        joint_set: str,
        K,
        fps: float,
        image_size: tuple[int, int] | None = None,
        frame_index: np.ndarray | None = None,
        masks: list | None = None,
        flows: list | None = None,
    ) -> PoseSequence:
        """3D motion from 2D keypoints you already have.

        Args:
            joints2d: (T, J, 2) one person or (T, P, J, 2) several (each is its own track),
                pixels with centres at integers (K's convention); NaN: missing.
            confidence: (T, J) / (T, P, J) in [0, 1], or None (1 wherever a keypoint is finite).
            joint_set: the keypoints' set (e.g. ``"h36m17"``, ``"coco17"``, ``"blazepose33"``);
                it must map onto ``h36m17``.
            K: (3, 3) intrinsics in pixels, or a :class:`~simpose.camera.Camera` (its lens
                distortion is undone).
            fps: frame rate (> 0).
            image_size: (width, height) recorded in the result; None: from K's principal point.
            frame_index: (T,) frame numbers; None: 0..T-1.
            masks, flows: with ``config.adapt`` on (one person), the cues of the adaptation: T
                person masks (H, W) bool and T - 1 forward flows (H, W, 2) pixels (None entries:
                missing); None: the keypoints only.
        Returns:
            :class:`PoseSequence` in ``h36m17``; a frame is valid where its person has at least
            ``position.min_joints`` usable keypoints and a translation could be solved.
        Raises:
            EstimatorError: wrong shapes, an unknown joint set, K not (3, 3), fps not positive,
                a person with no usable keypoint in any frame.
        """
        from simpose.body.joints import conversion_matrix, get_joint_set
        from simpose.camera import Camera

        try:
            js = get_joint_set(joint_set)
        except (KeyError, ValueError):
            raise EstimatorError(f"unknown joint set {joint_set!r}") from None
        try:
            _, has = conversion_matrix(joint_set, JOINT_SET, strict=False)
        except (KeyError, ValueError) as e:
            raise EstimatorError(f"joint set {joint_set!r} does not map onto {JOINT_SET}: {e}") from None
        if not np.asarray(has).any():
            raise EstimatorError(f"joint set {joint_set!r} shares no joint with {JOINT_SET}")
        x = np.asarray(joints2d, np.float64)
        if x.ndim == 3:
            x = x[:, None]
        if x.ndim != 4 or x.shape[-1] != 2 or x.shape[2] != len(js) or x.shape[0] == 0:
            raise EstimatorError(f"joints2d must be (T, {len(js)}, 2) or (T, P, {len(js)}, 2) pixels of {joint_set}, got {np.shape(joints2d)}")
        if confidence is None:
            c = np.isfinite(x).all(-1).astype(np.float64)
        else:
            c = np.asarray(confidence, np.float64)
            c = c[:, None] if c.ndim == 2 else c
            if c.shape != x.shape[:3]:
                raise EstimatorError(f"confidence must be {x.shape[:3] if np.ndim(joints2d) == 4 else x.shape[:1] + x.shape[2:3]}, got {np.shape(confidence)}")
        camera = _check_camera(K)
        if not (np.isfinite(fps) and fps > 0):
            raise EstimatorError(f"fps must be positive, got {fps}")
        T, P = x.shape[:2]
        kp = np.empty((T, P, 17, 2))
        conf = np.empty((T, P, 17))
        for p in range(P):
            kp[:, p], conf[:, p] = to_lifter_joints(x[:, p], np.nan_to_num(c[:, p]), joint_set, self.config.keypoint_map)
        usable = np.isfinite(kp).all(-1) & (conf >= self.config.position.min_confidence)
        valid = usable.sum(-1) >= self.config.position.min_joints
        dead = [p for p in range(P) if not valid[:, p].any()]
        if dead:
            raise EstimatorError(f"person {dead[0]} has no frame with {self.config.position.min_joints} usable keypoints (NaN-only or zero-confidence track)")
        Kmat = camera.K.double().numpy() if isinstance(camera, Camera) else camera
        if image_size is None:
            image_size = (int(round(2 * Kmat[0, 2] + 1)), int(round(2 * Kmat[1, 2] + 1)))
        inputs = (kp, conf, valid, camera, float(fps), tuple(image_size), (x, np.nan_to_num(c), joint_set))
        seq = self._estimate(*inputs)
        if self.config.adapt != "off":
            # flows are read per pair (a lazy sequence such as adapt_cues' stays lazy: a video's full-resolution flow is GBs)
            seq = self._adapt(seq, [None] * T if masks is None else list(masks), [None] * (T - 1) if flows is None else flows, inputs)
        if frame_index is not None:
            seq = dataclasses.replace(seq, frame_index=np.asarray(frame_index, np.int64))
        return seq

    # -------------------------------------------------------------- the 3D stages
    def _estimate(self, kp, conf, valid, camera, fps: float, image_size, own=None, rel3d=None) -> PoseSequence:
        """(T, P, 17, 2) h36m17 pixels, (T, P, 17), (T, P) valid -> PoseSequence, one track per person.

        ``own``: the 2D as it came, ``(x (T, P, J, 2), confidence (T, P, J), joint_set)``, for a
        detector lifter of that set (:meth:`lifter_for`); None: the h36m17 points are lifted.
        ``rel3d``: (h36m17 (T, 17, 3), anny (T, J, 3)) root-relative 3D of the one person (the
        motion model's), used in place of the lifter's."""
        from simpose.body.joints import get_joint_set
        from simpose.camera import Camera

        T, P = valid.shape
        out = {k: [] for k in ("joints3d", "valid", "pose", "glob", "trans", "shape")}
        timings: dict[str, float] = {}
        for p in range(P):
            lifter_2d = (own[0][:, p], own[1][:, p], own[2]) if own is not None else None
            j3d, v, fit, t = self.lift_and_fit(kp[:, p], conf[:, p], valid[:, p], camera, fps, lifter_2d, rel3d)
            for k, s in t.items():
                timings[k] = timings.get(k, 0.0) + s
            out["joints3d"].append(j3d)
            out["valid"].append(v)
            out["pose"].append(fit.pose_rotvecs)
            out["glob"].append(fit.global_rotvecs)
            out["trans"].append(fit.trans)
            out["shape"].append(np.where(v[:, None], fit.shape_params[None], np.nan))
        st = lambda k: np.stack(out[k], 1)  # noqa: E731  (T, P, ...)
        v = st("valid")
        kp, conf = kp.copy(), conf.copy()
        kp[~v], conf[~v] = np.nan, 0.0
        K = camera.K.double().numpy() if isinstance(camera, Camera) else np.asarray(camera, np.float64)
        extra = {}
        if own is not None and own[2] != JOINT_SET:  # the detector's own keypoints, kept for a re-estimate
            x_own, c_own = np.array(own[0], np.float32), np.array(own[1], np.float32)
            x_own[~v], c_own[~v] = np.nan, 0.0
            extra = {"keypoints": x_own, "keypoint_confidence": c_own, "keypoint_set": own[2]}
        return PoseSequence(
            joints3d=st("joints3d").astype(np.float32), joints2d=kp.astype(np.float32), confidence=conf.astype(np.float32), valid=v,
            joint_set=JOINT_SET, joint_names=tuple(get_joint_set(JOINT_SET).names),
            body_pose_rotvecs=st("pose").astype(np.float32), body_global_rotvecs=st("glob").astype(np.float32),
            body_trans=st("trans").astype(np.float32), body_shape=st("shape").astype(np.float32),
            K=K, image_size=tuple(int(s) for s in image_size), fps=float(fps), frame_index=np.arange(T, dtype=np.int64), timings=timings,
            **extra,
        )  # fmt: skip

    def _lifter_input(self, kp, conf, lifter_2d=None):
        """(lifter, x (T, J, 2), confidence (T, J), joint_set): the network that lifts one person's
        2D and the 2D it takes (:meth:`lift_and_fit`'s ``lifter_2d`` rule)."""
        if lifter_2d is not None and self.lifter_for(lifter_2d[2]) is not self.lifter:
            return (self.lifter_for(lifter_2d[2]), *lifter_2d)
        return self.lifter, kp, conf, JOINT_SET

    def lift_and_fit(self, kp, conf, valid, camera, fps: float, lifter_2d=None, rel3d=None):
        """The 3D stages for one person (module docstring, steps 2-5).

        Args:
            kp, conf: (T, 17, 2) h36m17 pixels and (T, 17) confidences (:func:`to_lifter_joints`).
            valid: (T,) frames with the person. camera: (3, 3) K or a Camera. fps: frame rate.
            lifter_2d: ``(x (T, J, 2), confidence (T, J), joint_set)``: the 2D as it came; the
                lifter of :meth:`lifter_for` its set lifts it when that is a detector lifter;
                None: the h36m17 points are lifted.
            rel3d: (h36m17 (T, 17, 3), anny (T, J, 3)) root-relative 3D from another model (the
                motion model) in place of the lifter's; None: lifted.
        Returns:
            joints3d (T, 17, 3) float64 camera-frame metres (NaN where not valid), valid (T,)
            (frames whose translation could not be solved dropped), the
            :class:`~simpose.body.fit.BodyFit`, and the seconds of each stage.
        """
        from simpose.adapt.selftrain import fine_tune
        from simpose.body.fit import body_joints

        cfg = self.config
        timings = {"refine": 0.0, "self_train": 0.0}
        tick = time.perf_counter()
        lifter, x_in, c_in, set_in = self._lifter_input(kp, conf, lifter_2d)
        if rel3d is not None:  # NaN on invalid frames, as lift gives
            h36m_rel, anny_rel = (np.where(valid[:, None, None], np.asarray(r, np.float64), np.nan) for r in rel3d)
        else:
            h36m_rel, anny_rel = lift(lifter, x_in, c_in, valid, camera, fps, set_in)
        timings["lifter"] = time.perf_counter() - tick

        tick = time.perf_counter()
        placed, valid = self._place(h36m_rel, kp, conf, valid, camera, fps, timings)
        timings["position"] = time.perf_counter() - tick - timings["refine"]
        tick = time.perf_counter()
        fit, joints3d = self._fit_body(anny_rel, placed, kp, conf, valid, camera, fps)
        timings["body_fit"] = time.perf_counter() - tick
        if cfg.self_train:
            tock = time.perf_counter()
            st = cfg.self_train_config
            kp_in, conf_in = lifter_inputs(x_in, c_in, valid)
            for r in range(st.rounds):  # the refined track and its body teach the lifter, which lifts it again
                targets = {"h36m17": placed, "anny": body_joints(self.body, fit, "anny")}  # NaN frames do not count
                lifter = fine_tune(lifter, kp_in, targets, conf_in, camera, set_in, st.steps, st.lr, st.max_frames, seed=r, fps=fps)
                h36m_rel, anny_rel = lift(lifter, x_in, c_in, valid, camera, fps, set_in)
                placed, valid = self._place(h36m_rel, kp, conf, valid, camera, fps, {"refine": 0.0})
                fit, joints3d = self._fit_body(anny_rel, placed, kp, conf, valid, camera, fps)
            timings["self_train"] = time.perf_counter() - tock
        if cfg.body:
            valid = valid & fit.valid
        else:
            joints3d = placed
        return joints3d, valid, fit, timings

    def _place(self, h36m_rel, kp, conf, valid, camera, fps: float, timings: dict):
        """Root-relative h36m17 -> camera frame: closed-form smoothed translation, then (``refine``)
        the refinement. Returns (T, 17, 3) camera-frame metres and the valid frames (those whose
        translation was solved); adds the refinement's seconds to ``timings["refine"]``."""
        from simpose.adapt.refine import refine_sequence
        from simpose.camera import image_to_normalised
        from simpose.track.position import smooth_translation, solve_translation

        cfg = self.config
        valid = valid.copy()
        xy = image_to_normalised(kp, camera)
        trans = solve_translation(h36m_rel, xy, conf, np.eye(3), cfg.position)
        valid &= np.isfinite(trans).all(-1)
        trans = smooth_translation(np.where(valid[:, None], trans, np.nan), fps, cfg.position)
        joints3d = h36m_rel + trans[:, None]
        joints3d[~valid] = np.nan
        if cfg.refine:
            tock = time.perf_counter()
            # Invalid frames have NaN poses and translations: the refinement leaves them out (NaN).
            joints3d = refine_sequence(h36m_rel, xy, conf, fps, config=cfg.refine_config, trans=trans)
            timings["refine"] += time.perf_counter() - tock
        return joints3d, valid

    def _fit_body(self, anny_rel, placed, kp, conf, valid, camera, fps: float):
        """The body of one track: closed form on the lifter's native joints, placed (through the
        body's own h36m17 joints) on the position stage's, then aligned (:mod:`simpose.body.align`).
        Returns the :class:`~simpose.body.fit.BodyFit` and its (T, 17, 3) h36m17 joints."""
        import torch

        from simpose.body.align import align_body
        from simpose.body.fit import fit_pose, fit_shape
        from simpose.body.rig import JointRig
        from simpose.camera import image_to_normalised

        # the shape from the placed joints' bone lengths (after the refinement they are the lengths
        # that meet the 2D rays), the pose in closed form from the lifter's native joints
        shape = fit_shape(self.body, placed, valid, joint_set=JOINT_SET)
        fit = fit_pose(self.body, anny_rel, shape, valid)  # root at the origin
        rig = JointRig.build(self.body, fit.shape_params, JOINT_SET)
        ok = fit.valid
        T = len(ok)
        rel = np.full((T, 17, 3), np.nan)
        if ok.any():
            with torch.no_grad():
                rel[ok] = rig(torch.as_tensor(fit.pose_rotvecs[ok]), torch.as_tensor(fit.global_rotvecs[ok])).numpy()
        # the translation that puts the body's own h36m17 joints best on the placed ones
        diff = placed - rel
        seen = np.isfinite(diff).all(-1).any(-1)  # frames without a person have no joint to average
        trans = np.full((T, 3), np.nan)
        trans[seen] = np.nanmean(diff[seen], axis=1)
        ok = ok & np.isfinite(trans).all(-1)
        trans[~ok] = np.nan
        pose, glob = fit.pose_rotvecs.copy(), fit.global_rotvecs.copy()
        pose[~ok], glob[~ok] = np.nan, np.nan
        fit = dataclasses.replace(fit, pose_rotvecs=pose, global_rotvecs=glob, trans=trans, valid=ok)
        xy = image_to_normalised(kp, camera) if self.config.align_2d else None
        fit = align_body(rig, fit, xy, conf, fps, target3d=placed, config=self.config.align)
        joints = np.full((T, 17, 3), np.nan)
        if fit.valid.any():
            v = fit.valid
            with torch.no_grad():
                joints[v] = rig(*(torch.as_tensor(a[v]) for a in (fit.pose_rotvecs, fit.global_rotvecs, fit.trans))).numpy()
        return fit, joints
