"""``run_video``: a video in, the main person's (or everyone's) 3D motion out (the library behind ``simpose run``).

:meth:`simpose.track.estimator.Estimator.estimate_video` does the work (its module docstring lists
the stages, each timed in ``RunResult.timings``; ``setup``: loading the lifter and body model and
their first calls, once per process); this module writes what it returns:
``poses.npz``/``poses.json``/``motion.bvh`` (:mod:`simpose.export`), ``run_config.json`` (the
settings and the weights used: path and sha256), then the views: ``overlay.mp4``,
``skeleton3d.mp4``, ``summary.png`` (:mod:`simpose.viz`), drawn on the frames the 2D stage
decoded where they fit in :data:`~simpose.cues.video.KEEP_BYTES` (a video is decoded once).

Frames where the person is not found stay invalid (NaN) in every output except the BVH (which
needs a value per frame; see :mod:`simpose.export.bvh`).

With ``people="all"`` (``--people all``) every tracked person is a column of ``poses.npz``
(``track_ids`` names them); one person writes ``motion.bvh`` as the main-person run does, several
write ``motion_<id>.bvh`` (and ``meshes_<id>/``) per track; the overlay and the 3D view draw every
track in its own colour with its id; ``summary.png`` shows every track.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import threading
import time
from pathlib import Path

import numpy as np

from simpose._files import staged_folder
from simpose.adapt.selftrain import SelfTrainConfig
from simpose.cues.keypoints import KeypointConfig, import_mediapipe
from simpose.track.estimator import Estimator
from simpose.track.inputs import (
    DEFAULT_FOV,
    FOCAL_RANGE,
    FOV_RANGE,
    FPS_RANGE,
    camera_matrix,
    default_cache_dir,
    main_person,
    to_lifter_joints,
    validate_options,
)
from simpose.track.sequence import JOINT_SET, EstimatorError, PoseSequence
from simpose.track.position import PositionConfig

__all__ = [
    "RunConfig", "RunResult", "RunError", "run_video", "adapt_run", "default_cache_dir", "main_person", "camera_matrix", "DEFAULT_FOV",
    "to_lifter_joints", "JOINT_SET", "validate_run_config", "check_out_dir", "RunInterrupted", "FPS_RANGE", "FOV_RANGE",
    "FOCAL_RANGE",
]  # fmt: skip

log = logging.getLogger(__name__)

# Input that ``simpose run`` cannot turn into motion (no person found, bad options).
RunError = EstimatorError


class RunInterrupted(KeyboardInterrupt):
    """A Ctrl-C (or SIGTERM) while the views were written: ``out_dir`` holds the run's poses,
    BVH and settings, without views."""

    def __init__(self, out_dir: Path) -> None:
        super().__init__(str(out_dir))
        self.out_dir = out_dir


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
            (:mod:`simpose.models.keypoint_map`); False: renamed as they are.
        detector_lifter: lift BlazePose's own landmarks with the detector lifter
            (``EstimatorConfig.detector_lifter``); False: the h36m17 lifter on mapped points.
        refine: the test-time refinement of :mod:`simpose.adapt.refine` (constant bone lengths,
            joints on their 2D rays); False: the lifter's pose as it is.
        self_train: after the refinement, fine-tune a copy of the lifter on the refined track
            and lift and refine again (:mod:`simpose.adapt.selftrain`; needs ``refine``). Off
            by default: more accurate, but ~8 ms per frame on 2 cores, more than the 3D stages'
            speed budget.
        self_train_config: its settings.
        align_2d: optimise the fitted body's pose and translation against the detected 2D
            (confidence-weighted), so the skeleton and the mesh, which are one, land on the person
            in the image (:mod:`simpose.body.align`).
        cache_dir: cue cache folder ('' for none).
        lifter_weights: an h36m17 lifter checkpoint; None: the shipped weights.
        detector_weights: a detector (blazepose33) lifter checkpoint; None: the shipped one.
        views: also write overlay.mp4, skeleton3d.mp4 and summary.png.
        mesh_every: also write ``meshes/mesh_XXXXXX.obj`` for every n-th valid frame (0: none).
        json: also write poses.json.
        max_side: the overlay video's larger side at most this many pixels.
        progress: rich progress bars.
        people: ``"main"`` (the main person, MediaPipe's single-person Pose) or ``"all"``
            (everyone, :mod:`simpose.cues.people`); ``EstimatorConfig.people``.
        max_people: with ``"all"``, the most-seen tracks kept (``EstimatorConfig.max_people``).
        adapt: ``"params"``: the body optimised against the video's keypoints, person masks and
            optical flow; ``"weights"``: the same losses back-propagated into a copy of the lifter
            (``EstimatorConfig.adapt``); ``"off"``: neither.
        adapt_with: ``"all"`` cues or ``"keypoints"`` only (``EstimatorConfig.adapt_with``).
        motion_weights: a motion model in place of the lifter (``EstimatorConfig.motion_weights``); '': the lifter.
    """

    focal: float | None = None
    fov: float | None = None
    start: int = 0
    end: int | None = None
    fps: float | None = None
    keypoints: KeypointConfig = KeypointConfig()
    position: PositionConfig = PositionConfig()
    keypoint_map: bool = True
    detector_lifter: bool = True
    refine: bool = True
    self_train: bool = False
    self_train_config: SelfTrainConfig = SelfTrainConfig()
    align_2d: bool = True
    cache_dir: str = dataclasses.field(default_factory=lambda: str(default_cache_dir()))  # read when a config is made
    lifter_weights: str | None = None
    detector_weights: str | None = None
    views: bool = True
    mesh_every: int = 0
    json: bool = True
    max_side: int = 1280
    progress: bool = False
    people: str = "main"
    max_people: int = 8
    adapt: str = "off"
    adapt_with: str = "all"
    motion_weights: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def estimator_settings(self) -> dict:
        """The fields that are :class:`~simpose.track.estimator.EstimatorConfig`'s, for ``Estimator.from_pretrained``."""
        from simpose.track.estimator import EstimatorConfig

        names = {f.name for f in dataclasses.fields(EstimatorConfig)}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name in names}


@dataclasses.dataclass(frozen=True, eq=False)
class RunResult:
    """What a run produced.

    Attributes:
        out_dir: the run folder.
        paths: output name -> path written.
        n_frames: frames processed; n_valid: frames with a person found (any track).
        complete: False if the run was interrupted (the outputs cover the frames done).
        K: (3, 3) intrinsics used; fov_assumed: True if no focal/fov was given.
        fps: frames per second.
        timings: stage -> seconds (see the module docstring).
        arrays: the ``poses.npz`` content.
        n_people: person columns (tracks) in the result.
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
    n_people: int = 1


def validate_run_config(config: RunConfig, image_size: tuple[int, int] | None = None) -> None:
    """Check every option of a run against its plausible range before any slow stage
    (:func:`simpose.track.inputs.validate_options`, and the run's own).

    Args:
        config: the settings.
        image_size: (width, height) of the input, to check ``focal`` (None: checked later).
    Raises:
        RunError: naming the option, its value and the accepted range.
    """
    validate_options(config.focal, config.fov, config.fps, config.start, config.end, image_size)
    if config.mesh_every < 0 or config.max_side < 16:
        raise RunError(f"need --meshes-every >= 0 and max_side >= 16, got {config.mesh_every}, {config.max_side}")
    from simpose.track.estimator import EstimatorConfig, EstimatorError

    try:  # the estimator's own checks, one place; named here by the flags that set them
        EstimatorConfig().with_settings(**config.estimator_settings())
    except EstimatorError as e:
        raise RunError(re.sub(r"\b(max_people|people|adapt_with|adapt|self_train|refine|motion_weights)\b", lambda m: "--" + m[1].replace("_", "-"), str(e))) from None


def check_out_dir(out_dir: str | os.PathLike, input_path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> None:
    """The run folder may be new, empty or an earlier run's (a run replaces it as a whole, see
    :func:`simpose._files.staged_folder`); never the input's folder or the cache's, never a
    folder of other files.

    Raises:
        RunError: naming the folder and why.
    """
    out, src = Path(out_dir).resolve(), Path(input_path).resolve()
    if out.exists() and not out.is_dir():
        raise RunError(f"--out {out_dir}: is a file, not a folder")
    for a, b in ((out, src), (src, out)):
        if a == b or b in a.parents:
            raise RunError(f"--out {out_dir}: overlaps the input {input_path}; a run replaces its folder: choose another one")
    if cache_dir and (out == Path(cache_dir).resolve() or out in Path(cache_dir).resolve().parents):
        raise RunError(f"--out {out_dir}: holds the cue cache {cache_dir}; a run replaces its folder: choose another one")
    if out.is_dir():
        names = {p.name for p in out.iterdir()}
        if names and not names & {"run_config.json", "poses.npz"}:
            raise RunError(f"--out {out_dir}: holds other files, not a simpose run (a run replaces its folder): choose a new or empty one")


class _LoadingEstimator(Estimator):
    """An :class:`Estimator` whose weights and body model load in a background thread, so that
    :meth:`~Estimator.estimate_video`'s 2D stage (which needs only ``config``) overlaps the load.

    Any other attribute (``lifter``, ``body``, ``weights``, ``setup_s``) waits for the load and
    re-raises its error in the caller's thread. The settings are checked here, before the thread.
    """

    def __init__(self, weights, settings: dict, detector_weights=None) -> None:  # noqa: D107 (no Estimator.__init__: nothing is loaded yet)
        from simpose.track.estimator import EstimatorConfig

        self.config = EstimatorConfig().with_settings(**settings)
        self._loaded: list = []  # [Estimator] or [BaseException], set by the thread
        self._thread = threading.Thread(target=self._load, args=(weights, settings, detector_weights), name="simpose-load", daemon=True)
        self._thread.start()

    def _load(self, weights, settings: dict, detector_weights) -> None:
        try:
            self._loaded.append(Estimator.from_pretrained(weights, detector_weights=detector_weights, **settings))
        except BaseException as e:  # noqa: BLE001 (handed to the caller's thread by __getattr__)
            self._loaded.append(e)

    def __getattr__(self, name: str):
        if name in ("_thread", "_loaded"):  # not set yet (e.g. __init__ failed): no loop
            raise AttributeError(name)
        self._thread.join()
        loaded = self._loaded[0]
        if isinstance(loaded, BaseException):
            raise loaded
        return getattr(loaded, name)


def run_video(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: RunConfig = RunConfig(),
    *,
    stop: threading.Event | None = None,
    estimator: Estimator | None = None,
) -> RunResult:
    """Video (file, image folder or image) to the main person's (``config.people="all"``: everyone's) 3D motion and its views.

    Args:
        path: the input.
        out_dir: run folder (created); see the module docstring for what it gets.
        config: settings.
        stop: set it to end the keypoint stage early (the first Ctrl-C does, in the main
            thread); the run then finishes with the frames done and ``complete`` False.
        estimator: an :class:`~simpose.track.estimator.Estimator` to reuse (its settings win
            over ``config``'s estimator fields); None: one made from ``config``, loaded in a
            thread beside the 2D stage (its errors are raised here after that stage).
    Returns:
        :class:`RunResult`.
    Raises:
        VideoError: unreadable, corrupt, empty input, mixed image sizes.
        CueError: mediapipe missing.
        RunError: no person found; bad focal/fov/range.
    """
    from simpose.cues.video import KeptFrames, VideoFile, open_video

    validate_run_config(config)
    check_out_dir(out_dir, path, config.cache_dir)
    out_dir = Path(out_dir)
    source = open_video(path, fps=config.fps)
    if config.views and isinstance(source, VideoFile):  # the views draw on the frames the 2D stage decoded (memory allowing)
        source = KeptFrames(source)
    if estimator is None:  # loads (lifter, body model) while the 2D stage runs
        if config.people == "main":
            # the 2D stage's import first: beside the loading thread's torch import it shares the
            # GIL and the 2D stage, the run's critical path, would start ~1.5 s later; the load
            # then runs beside the frames, where MediaPipe's graph leaves the GIL free
            import_mediapipe()
        estimator = _LoadingEstimator(config.lifter_weights, config.estimator_settings(), config.detector_weights)
    seq = estimator.estimate_video(source, config.focal, config.fov, config.start, config.end, config.fps, stop=stop, progress=config.progress)
    timings = dict(seq.timings)
    body, fits = estimator.body, [seq.body_fit(p) for p in range(seq.num_people)]

    tick = time.perf_counter()
    arrays = seq.to_arrays()
    views_interrupted = False
    with staged_folder(out_dir) as work:  # one consistent set of files, swapped in when all are written
        paths = _write_outputs(work, seq, body, fits, config, estimator)
        timings["write_poses"] = time.perf_counter() - tick
        if config.views:
            from simpose.track.views import write_views

            tick = time.perf_counter()
            try:
                paths.update(write_views(work, source, seq.frame_index, arrays, body, fits, config, timings=timings))
            except KeyboardInterrupt:  # the poses are done: keep them (without any view), then stop
                views_interrupted = True
                for name in ("overlay.mp4", "skeleton3d.mp4", "summary.png"):
                    (work / name).unlink(missing_ok=True)
            timings["views"] = time.perf_counter() - tick
    if views_interrupted:
        raise RunInterrupted(out_dir)
    paths = {k: out_dir / Path(v).relative_to(work) for k, v in paths.items()}
    valid = seq.valid.any(1)
    return RunResult(out_dir, paths, len(valid), int(valid.sum()), seq.complete, seq.K, seq.fov_assumed, seq.fps, timings, arrays, seq.num_people)


def adapt_run(
    run_dir: str | os.PathLike, out_dir: str | os.PathLike, config: RunConfig = RunConfig(), *, estimator: Estimator | None = None
) -> RunResult:
    """Re-estimate a run's 3D from its own 2D with other settings (``simpose adapt``).

    Reads ``run_dir/poses.npz``, runs :meth:`~simpose.track.estimator.Estimator.estimate_keypoints`
    on its joints2d / confidence / joint set / K / fps (frame numbers and image size kept), and
    writes a new run folder as :func:`run_video` does, without the views (they need the video):
    poses.npz/json, motion.bvh, run_config.json (meshes with ``config.mesh_every``).

    Args:
        run_dir: a run folder (or its poses.npz). out_dir: the new run folder (not ``run_dir``).
        config: settings; its estimator fields (``refine``, ``self_train``, ...) are used.
        estimator: one to reuse (its settings win over ``config``'s); None: made from ``config``.
    Returns:
        :class:`RunResult` (``timings``: the 3D stages and ``write_poses``).
    Raises:
        FileNotFoundError: no poses.npz. RunError: a bad poses.npz or out folder.
    """
    src = PoseSequence.load(run_dir)
    check_out_dir(out_dir, Path(run_dir).parent if Path(run_dir).is_file() else run_dir)
    if estimator is None:
        estimator = Estimator.from_pretrained(config.lifter_weights, detector_weights=config.detector_weights, **config.estimator_settings())
    if src.keypoints is not None:  # the detector's own keypoints: lifted as the run lifted them
        seq = estimator.estimate_keypoints(src.keypoints, src.keypoint_confidence, src.keypoint_set, src.K, src.fps, src.image_size, src.frame_index)
    else:
        seq = estimator.estimate_keypoints(src.joints2d, src.confidence, src.joint_set, src.K, src.fps, src.image_size, src.frame_index)
    seq = dataclasses.replace(seq, complete=src.complete, track_ids=src.track_ids)
    timings = dict(seq.timings)
    tick = time.perf_counter()
    out_dir = Path(out_dir)
    with staged_folder(out_dir) as work:
        fits = [seq.body_fit(p) for p in range(seq.num_people)]
        paths = _write_outputs(work, seq, estimator.body, fits, config, estimator)
    timings["write_poses"] = time.perf_counter() - tick
    paths = {k: out_dir / Path(v).relative_to(work) for k, v in paths.items()}
    valid = seq.valid.any(1)
    return RunResult(out_dir, paths, len(valid), int(valid.sum()), seq.complete, seq.K, False, seq.fps, timings, seq.to_arrays(), seq.num_people)


def track_names(seq: PoseSequence) -> list[str]:
    """Per person column, the suffix of its files: "" for one person (``motion.bvh``, as a
    main-person run), else ``_<track id>`` (``motion_3.bvh``; the column index without ids)."""
    if seq.num_people == 1:
        return [""]
    ids = seq.track_ids if seq.track_ids is not None else np.arange(seq.num_people)
    return [f"_{int(i)}" for i in ids]


def _write_outputs(out_dir: Path, seq: PoseSequence, body, fits: list, config: RunConfig, estimator: Estimator) -> dict[str, Path]:
    """poses.npz/json, a BVH (and meshes) per person column (``fits``: one BodyFit each), run_config.json."""
    from simpose.export.bvh import write_body_bvh

    out_dir.mkdir(parents=True, exist_ok=True)
    written = seq.save(out_dir, json=config.json)
    paths = {p.name: p for p in written}
    for name, fit in zip(track_names(seq), fits):
        if seq.num_people > 1 and not fit.valid.any():  # a BVH needs a pose in some frame (a track the later stages could not place)
            log.warning("person%s: no frame placed, no motion%s.bvh", name, name)
            continue
        paths[f"motion{name}.bvh"] = write_body_bvh(out_dir / f"motion{name}.bvh", body, fit, seq.fps)
        if config.mesh_every > 0:
            from simpose.export.mesh import write_meshes

            meshes = write_meshes(out_dir / f"meshes{name}", body, fit, every=config.mesh_every)
            if meshes:
                paths[f"meshes{name}/"] = meshes[0].parent
    cfg = out_dir / "run_config.json"
    record = config.to_dict()
    record["estimator"] = dataclasses.asdict(estimator.config)  # the settings the estimate used
    record["weights"] = dataclasses.asdict(estimator.weights) if estimator.weights else None
    det = getattr(estimator, "detector_weights", None)
    record["detector_weights"] = dataclasses.asdict(det) if det is not None and estimator.config.detector_lifter else None
    cfg.write_text(json.dumps(record, indent=2))
    paths[cfg.name] = cfg
    return paths
