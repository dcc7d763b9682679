"""The detector cache: synthetic clips seen by the production 2D detector, with exact 3D labels.

``simpose synth --detect --out DIR`` renders clips with the synthetic engine
(:class:`simpose.synth.writer.ClipSynthesizer`: people, occluders, truncation, backgrounds,
motion blur, noise, JPEG) and runs MediaPipe BlazePose over each clip exactly as ``simpose run``
does (:func:`simpose.cues.detect.detect`, tracking mode over the clip, with ``RunConfig``'s
:class:`~simpose.cues.keypoints.KeypointConfig`). It keeps no images, only per frame:

* the detector's output: ``keypoints`` (T, 33, 2) BlazePose-33 pixels shifted by -0.5 px as
  ``simpose run`` shifts them (pixel centres at integers, the body model's cameras), the
  landmark ``confidence`` (T, 33) (the legacy API's visibility; it sets no presence), ``valid``
  (T,) whether it found a person, its ``world`` landmarks (T, 33, 3) metres, and ``person`` (T,)
  the rendered person it found (the one whose ground-truth BlazePose-33 2D lies nearest, by the
  median over the joints; -1 where it found none). It follows one person (its legacy API).
* the ground truth of every rendered person (P of them) in the joint sets of :data:`JOINT_SETS`
  (h36m17, the body's native ``anny`` set and ``blazepose33`` from the body's regressors):
  ``joints2d`` (T, P, J, 2) pixels, ``joints3d`` (T, P, J, 3) camera-frame metres, ``occlusion``
  (T, P, J) the reasons of :data:`simpose.synth.clip.OCCLUSION_CODES` (0 = visible), the camera
  (``K``, world ``camera_R``/``camera_t`` per frame) and the body parameters (world frame, y
  down, floor y = 0).

Storage (``det_XXXXXXX.npz`` per clip, deflated, fixed timestamps, written atomically): float16
where its precision is far below the quantity's own error: 2D pixels (error <= 0.125 px below
512 px; the detector's own error is several pixels), detector outputs, and 3D joints *relative
to the person's pelvis* (h36m17 joint 0, error <= 0.5 mm within 2 m of it) with the pelvis
itself in float32 (``root3d``). Body parameters and cameras are float32. ``meta`` holds the
detector's name and version, the joint sets and the clip's scene draws.

A cache folder has a manifest ``detcache.json`` (format, detector, joint sets, scene settings,
seed). A build into a folder made with other settings, or reading a cache (or one clip) with a
detector version or joint set other than the caller's, raises :class:`DetectorCacheError`.
Clip ``i`` is drawn from the dataset seed and ``i`` alone (as ``simpose synth``), so a build is
deterministic, shards (``--shard i/n``) partition it, and a re-run skips finished clips: a killed
build loses at most the clip it was on.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import time
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from simpose._files import atomic_open
from simpose.cues.keypoints import KeypointConfig
from simpose.cues.video import VideoSource
from simpose.synth.scene import SceneConfig

__all__ = [
    "F16_MAX",
    "FORMAT",
    "JOINT_SETS",
    "KEYPOINT_SET",
    "DetectorCacheError",
    "DetectorClip",
    "DetectorCache",
    "DetectorCacheBuilder",
    "build_detector_cache",
    "definition_gap",
    "detector_info",
    "detector_version",
    "det_path",
    "encode_record",
    "match_people",
    "read_detector_clip",
    "run_keypoint_config",
    "DETECT_SCENE_DEFAULTS",
]

logger = logging.getLogger(__name__)

FORMAT = 1
KEYPOINT_SET = "blazepose33"
JOINT_SETS = ("h36m17", "anny", "blazepose33")
_ROOT_SET, _ROOT_JOINT = "h36m17", 0  # the pelvis: 3D joints are stored relative to it
_MANIFEST = "detcache.json"
F16_MAX = 6e4  # float16 values are clipped to this (joints near the camera plane project far out)
# framing of real video for the cache (SceneConfig fields; the CLI's scene options add to these):
# wide phone lenses to short tele; the distance that fits everyone in view times 0.5-2 (a first
# build with 0.7-3 gave a median person of 165 px of 448 alone and 87 px among three: smaller than
# in most real video), so close-ups cut by the frame too; people off centre
DETECT_SCENE_DEFAULTS = {"focal_mm": (22.0, 85.0), "distance_scale": (0.5, 2.0), "off_centre": 0.35}


class DetectorCacheError(ValueError):
    """A detector cache that is missing, broken, or from another detector, joint set or setting."""


def run_keypoint_config() -> KeypointConfig:
    """The detector settings of ``simpose run`` (the default ``KeypointConfig``, as
    ``EstimatorConfig().keypoints``; a test holds them equal), masks off as in its 2D stage."""
    return dataclasses.replace(KeypointConfig(), segmentation=False)


def detector_info(config: KeypointConfig) -> dict:
    """The detector's name, library version and settings: what makes its output what it is."""
    from simpose.cues.keypoints import import_mediapipe

    mp = import_mediapipe()
    return {
        "name": "mediapipe.solutions.pose (BlazePose)",
        "version": str(getattr(mp, "__version__", "unknown")),
        "keypoint_set": KEYPOINT_SET,
        "static_image_mode": config.static_image_mode,
        "model_complexity": config.model_complexity,
        "smooth_landmarks": config.smooth_landmarks,
        "min_detection_confidence": config.min_detection_confidence,
        "min_tracking_confidence": config.min_tracking_confidence,
    }


def detector_version(info: dict) -> str:
    """One string that names a detector and its settings, e.g.
    ``mediapipe-0.10.14/blazepose33/complexity1/tracking/smooth``; a lifter's card records it."""
    mode = "image" if info["static_image_mode"] else "tracking"
    smooth = "/smooth" if info["smooth_landmarks"] else ""
    return f"mediapipe-{info['version']}/{info['keypoint_set']}/complexity{info['model_complexity']}/{mode}{smooth}"


def det_path(out: str | Path, index: int) -> Path:
    """The file of clip ``index`` of a detector cache in ``out``."""
    return Path(out) / f"det_{index:07d}.npz"


class _ClipSource(VideoSource):
    """Frames of a rendered clip held in memory, as a :class:`VideoSource` for the run's 2D stage."""

    def __init__(self, rgb: np.ndarray, fps: float, name: str) -> None:
        self.path = Path(name)
        self.fps = float(fps)
        self.n_frames = len(rgb)
        self.n_frames_exact = True
        self.size = (int(rgb.shape[2]), int(rgb.shape[1]))
        self._rgb = rgb

    def frames(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        end = self.n_frames if end is None else min(end, self.n_frames)
        for i in range(start, end):
            yield i, self._rgb[i]


def match_people(keypoints: np.ndarray, valid: np.ndarray, gt2d: np.ndarray) -> np.ndarray:
    """Which rendered person the detector found in each frame.

    Args:
        keypoints: (T, J, 2) detected pixels. valid: (T,) bool, found.
        gt2d: (T, P, J, 2) ground-truth pixels of the same joints.
    Returns:
        (T,) int8: the person whose joints lie nearest (median distance over the joints), -1 where
        nothing was found.
    """
    d = np.linalg.norm(keypoints[:, None] - gt2d, axis=-1)  # (T, P, J)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: frames without a detection
        med = np.nanmedian(d, axis=-1)
    med = np.where(np.isfinite(med), med, np.inf)
    out = np.argmin(med, axis=1).astype(np.int8)
    out[~np.asarray(valid, bool)] = -1
    return out


def _f16(a: np.ndarray) -> np.ndarray:
    """float16, finite values clipped to its range (joints near the camera plane project far away)."""
    a = np.asarray(a, np.float64)
    return np.clip(a, -F16_MAX, F16_MAX).astype(np.float16)


def encode_record(arrays: dict[str, np.ndarray], meta: dict) -> bytes:
    """The npz bytes (deflated, fixed timestamps: equal records give equal bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        items = dict(arrays)
        items["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
        for name, a in items.items():
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as g:
                np.lib.format.write_array(g, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


@dataclasses.dataclass(frozen=True, eq=False)
class DetectorClip:
    """One clip of a detector cache (T frames, P rendered people), read back as float32.

    Attributes:
        keypoints: (T, 33, 2) detected BlazePose-33 pixels (centres at integers); NaN where not found.
        confidence: (T, 33) landmark visibility, 0 where not found. valid: (T,) bool.
        world: (T, 33, 3) the detector's world landmarks, metres (hip-centred, y down).
        person: (T,) int8 rendered person the detection belongs to, -1 none.
        joints2d, joints3d, occlusion: joint set -> (T, P, J, 2) pixels, (T, P, J, 3)
            camera-frame metres, (T, P, J) uint8 occlusion codes (0 = visible).
        K: (3, 3). camera_R: (T, 3, 3), camera_t: (T, 3) world -> camera.
        body: ``pose_rotvecs`` (T, P, 19, 3), ``global_rotvecs`` (T, P, 3), ``trans`` (T, P, 3)
            world frame, ``shape_params`` (P, 6).
        meta: the clip's settings and draws (detector, joint sets, seed, motions, ...).
    """

    keypoints: np.ndarray
    confidence: np.ndarray
    valid: np.ndarray
    world: np.ndarray
    person: np.ndarray
    joints2d: dict
    joints3d: dict
    occlusion: dict
    K: np.ndarray
    camera_R: np.ndarray
    camera_t: np.ndarray
    body: dict
    meta: dict

    @property
    def num_frames(self) -> int:
        return len(self.valid)

    def found_person(self, joint_set: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ground truth of the person the detector found, frame by frame (the lifter's targets).

        Args:
            joint_set: one of the stored sets.
        Returns:
            joints2d (T, J, 2) pixels, joints3d (T, J, 3) camera-frame metres, occlusion (T, J)
            uint8; NaN (occlusion 255) in frames where the detector found nobody.
        """
        if joint_set not in self.joints2d:
            raise DetectorCacheError(f"joint set {joint_set!r} not in this cache ({', '.join(self.joints2d)})")
        t = np.arange(self.num_frames)
        p = np.maximum(self.person, 0).astype(np.int64)
        found = self.person >= 0
        j2 = np.where(found[:, None, None], self.joints2d[joint_set][t, p], np.nan).astype(np.float32)
        j3 = np.where(found[:, None, None], self.joints3d[joint_set][t, p], np.nan).astype(np.float32)
        occ = np.where(found[:, None], self.occlusion[joint_set][t, p], 255).astype(np.uint8)
        return j2, j3, occ


def _check(meta: dict, where: str, detector: str | None, joint_set: str | None) -> None:
    if meta.get("format") != FORMAT:
        raise DetectorCacheError(f"{where}: detector cache format {meta.get('format')}, this simpose reads {FORMAT}")
    if detector is not None and meta.get("detector_version") != detector:
        raise DetectorCacheError(
            f"{where}: built with detector {meta.get('detector_version')!r}, expected {detector!r}: rebuild the cache with that detector"
        )
    if joint_set is not None and joint_set not in meta.get("joint_sets", ()) and joint_set != meta.get("keypoint_set"):
        raise DetectorCacheError(f"{where}: holds joint sets {meta.get('joint_sets')}, not {joint_set!r}")


def read_detector_clip(path: str | Path, detector: str | None = None, joint_set: str | None = None) -> DetectorClip:
    """Read one clip file of a detector cache.

    Args:
        path: a ``det_XXXXXXX.npz``.
        detector: the :func:`detector_version` the caller expects, or None (any).
        joint_set: a joint set the caller needs, or None.
    Raises:
        DetectorCacheError: unreadable file, or another format, detector or joint set.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
        meta = json.loads(a.pop("meta").tobytes().decode())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise DetectorCacheError(f"{path}: not a readable detector cache clip ({e})") from e
    _check(meta, str(path), detector, joint_set)
    f32 = lambda x: np.asarray(x, np.float32)  # noqa: E731
    root = a["gt/root3d"].astype(np.float32)
    sets = meta["joint_sets"]
    return DetectorClip(
        keypoints=f32(a["det/keypoints"]),
        confidence=f32(a["det/confidence"]),
        valid=a["det/valid"].astype(bool),
        world=f32(a["det/world"]),
        person=a["det/person"].astype(np.int8),
        joints2d={s: f32(a[f"gt/{s}/joints2d"]) for s in sets},
        joints3d={s: f32(a[f"gt/{s}/joints3d_rel"]) + root[:, :, None] for s in sets},
        occlusion={s: a[f"gt/{s}/occlusion"] for s in sets},
        K=a["camera/K"].astype(np.float64),
        camera_R=f32(a["camera/R"]),
        camera_t=f32(a["camera/t"]),
        body={k.split("/", 1)[1]: f32(v) for k, v in a.items() if k.startswith("body/")},
        meta=meta,
    )


class DetectorCache:
    """A detector cache folder, checked against what the caller needs.

    Args:
        folder: the cache (with ``detcache.json``).
        detector: expected :func:`detector_version`, or None. joint_set: a set the caller needs, or None.
    Raises:
        DetectorCacheError: no manifest, or another format, detector or joint set.
    """

    def __init__(self, folder: str | Path, detector: str | None = None, joint_set: str | None = None) -> None:
        self.folder = Path(folder)
        manifest = self.folder / _MANIFEST
        if not manifest.is_file():
            raise DetectorCacheError(f"{self.folder}: not a detector cache (no {_MANIFEST}); build one with simpose synth --detect")
        try:
            self.manifest = json.loads(manifest.read_text())
        except ValueError as e:
            raise DetectorCacheError(f"{manifest}: broken manifest ({e})") from e
        _check(self.manifest, str(self.folder), detector, joint_set)
        self.detector, self.joint_set = detector, joint_set

    @property
    def files(self) -> list[Path]:
        """The finished clip files, in index order."""
        return sorted(self.folder.glob("det_*.npz"))

    def __iter__(self) -> Iterator[DetectorClip]:
        for f in self.files:
            yield read_detector_clip(f, self.detector or self.manifest["detector_version"], self.joint_set)


class DetectorCacheBuilder:
    """Renders a clip and runs the run's 2D stage on it; one per process.

    Args:
        config: the scene settings. motions, backgrounds, motion_cache: as
            :class:`~simpose.synth.writer.ClipSynthesizer`. keypoints: detector settings
            (default: ``simpose run``'s).
    """

    def __init__(self, config: SceneConfig, motions=None, backgrounds=None, motion_cache=None, keypoints: KeypointConfig | None = None):
        from simpose.synth.writer import ClipSynthesizer

        self.config = config
        self.keypoints = run_keypoint_config() if keypoints is None else dataclasses.replace(keypoints, segmentation=False)
        self.info = detector_info(self.keypoints)
        self.version = detector_version(self.info)
        self.synth = ClipSynthesizer(config, motions, backgrounds, motion_cache)

    def close(self) -> None:
        self.synth.rasterizer.close()

    def render(self, seed: int, index: int) -> dict:
        """The synthetic clip dict of clip ``index`` (:meth:`ClipSynthesizer.make`)."""
        return self.synth.make(seed, index)

    def detect(self, clip: dict) -> tuple[dict, dict]:
        """Run the detector on a rendered clip; returns (arrays, meta) of its cache record."""
        from simpose.cues.detect import detect

        meta_in = clip["meta"]
        source = _ClipSource(clip["rgb"], self.config.fps, f"synthetic clip {meta_in['clip_index']}")
        det = detect(source, self.keypoints)  # the stage simpose run runs (no cue cache)
        kp = det.keypoints
        pix = kp.keypoints[:, 0].astype(np.float64) - 0.5  # as simpose run: pixel centres at integers
        gt2d = {s: np.asarray(clip["joints2d"][s], np.float64) for s in JOINT_SETS}
        gt3d = {s: np.asarray(clip["joints3d"][s], np.float64) for s in JOINT_SETS}
        root = gt3d[_ROOT_SET][:, :, _ROOT_JOINT]
        valid = kp.valid[:, 0]
        arrays = {
            "det/keypoints": _f16(pix),
            "det/confidence": kp.confidence[:, 0].astype(np.float16),
            "det/valid": valid.astype(bool),
            "det/world": _f16(kp.world[:, 0]),
            "det/person": match_people(pix, valid, gt2d[KEYPOINT_SET]),
            "gt/root3d": root.astype(np.float32),
        }
        for s in JOINT_SETS:
            arrays[f"gt/{s}/joints2d"] = _f16(gt2d[s])
            arrays[f"gt/{s}/joints3d_rel"] = _f16(gt3d[s] - root[:, :, None])
            arrays[f"gt/{s}/occlusion"] = np.asarray(clip["occlusion"][s], np.uint8)
        K = np.asarray(clip["K"], np.float64)
        arrays["camera/K"] = K[0]
        arrays["camera/R"] = np.asarray(meta_in["camera_R"], np.float32)
        arrays["camera/t"] = np.asarray(meta_in["camera_t"], np.float32)
        for k, v in clip["body"].items():
            arrays[f"body/{k}"] = np.asarray(v, np.float32)
        meta = {
            "format": FORMAT,
            "detector": self.info,
            "detector_version": self.version,
            "keypoint_set": KEYPOINT_SET,
            "joint_sets": list(JOINT_SETS),
            "pixel_convention": "pixel centres at integers (MediaPipe's edge-origin output - 0.5, as simpose run)",
            "root": f"{_ROOT_SET}[{_ROOT_JOINT}]",
            **{k: meta_in[k] for k in ("seed", "clip_index", "motion_sources", "fps", "focal_mm", "truncated", "background", "degradations")},
            "occluders": len(meta_in["occluders"]),
            "occlusion_codes": meta_in["occlusion_codes"],
            "size": int(clip["rgb"].shape[1]),
            "people": len(clip["body"]["shape_params"]),
            "versions": meta_in["versions"],
        }
        return arrays, meta

    def make(self, seed: int, index: int) -> bytes:
        """The file bytes of clip ``index``."""
        return encode_record(*self.detect(self.render(seed, index)))


def _manifest(config: SceneConfig, builder_info: dict, version: str, seed: int, motions, backgrounds) -> dict:
    from simpose.motion.library import default_motion_dirs

    return {
        "format": FORMAT,
        "detector": builder_info,
        "detector_version": version,
        "keypoint_set": KEYPOINT_SET,
        "joint_sets": list(JOINT_SETS),
        "seed": int(seed),
        "motions": str(motions) if motions else None,
        # what the library samples (the defaults change as the library grows: CMU, then HDM05)
        "motion_folders": [str(motions)] if motions else [str(d) for d in default_motion_dirs()],
        "backgrounds": str(backgrounds) if backgrounds else None,
        "scene": json.loads(json.dumps(dataclasses.asdict(config))),
    }


def build_detector_cache(
    out: str | Path,
    clips: int,
    frames: int,
    size: int,
    seed: int = 0,
    people: int = 1,
    motions: str | Path | None = None,
    backgrounds: str | Path | None = None,
    shard: tuple[int, int] = (0, 1),
    fps: float = 30.0,
    options: dict | None = None,
    keypoints: KeypointConfig | None = None,
    progress: bool = True,
    engine: str = "local",
    address: str | None = None,
    workers: int = 1,
) -> list[Path]:
    """Build (or resume) clips ``shard[0], shard[0] + shard[1], ...`` below ``clips`` of a detector cache.

    Args:
        out: the cache folder (created). clips: total clips. frames: T per clip (>= 40 for
            the lifter's windows). size: S pixels. seed: dataset seed. people: at most P per clip.
        motions, backgrounds: as ``simpose synth``. shard: (i, n). fps: frame rate.
        options: further :class:`SceneConfig` fields; :data:`DETECT_SCENE_DEFAULTS` apply where
            not given. keypoints: detector settings (default: ``simpose run``'s).
        progress: a rich progress bar (the log also gets a line per clip with the rate).
        engine: ``"local"`` (this process) or ``"ray"`` (one Ray task per clip,
            :mod:`simpose.cluster`; the same files). address: the Ray cluster to join (None:
            start one on this machine with ``workers`` CPUs). workers: CPUs of that one.
    Returns:
        The files of this shard.
    Raises:
        ValueError: bad sizes or options. DetectorCacheError: ``out`` holds a cache built with
        other settings or another detector. CueError: mediapipe missing. ClusterError (a
        ValueError): Ray missing, the cluster unreachable, clips that failed every retry.
    """
    from simpose.cluster import check_engine
    from simpose.synth.writer import shard_indices, single_threaded_math

    check_engine(engine, address)
    if size <= 0 or clips < 0 or frames < 1 or people < 1:
        raise ValueError(f"need size > 0, clips >= 0, frames >= 1, people >= 1; got {size}, {clips}, {frames}, {people}")
    indices = shard_indices(shard, clips)
    i, n = shard
    opts = {**DETECT_SCENE_DEFAULTS, **(options or {})}
    unknown = set(opts) - {f.name for f in dataclasses.fields(SceneConfig)}
    if unknown:
        raise ValueError(f"unknown scene options {sorted(unknown)}")
    config = SceneConfig(size=size, frames=frames, fps=fps, people=people, **opts)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kp_config = run_keypoint_config() if keypoints is None else dataclasses.replace(keypoints, segmentation=False)
    info = detector_info(kp_config)
    manifest = _manifest(config, info, detector_version(info), seed, motions, backgrounds)
    path = out / _MANIFEST
    old_clips = 0
    if path.is_file():
        old = json.loads(path.read_text())
        diff = sorted(k for k in set(old) | set(manifest) if k != "clips" and old.get(k) != manifest.get(k))
        if diff:
            raise DetectorCacheError(f"{out} holds a detector cache built with other {', '.join(diff)}; use another --out")
        old_clips = int(old.get("clips", 0))
    with atomic_open(path, "w") as f:  # "clips": the largest count any build of this cache asked for
        f.write(json.dumps({**manifest, "clips": max(clips, old_clips)}, indent=2))
    todo = [k for k in indices if not det_path(out, k).is_file()]
    logger.info("detector cache %s: %d clips in shard %d/%d, %d already done", out, len(indices), i, n, len(indices) - len(todo))
    if not todo:
        return [det_path(out, k) for k in indices]
    if engine == "ray":
        _build_ray(out, todo, seed, config, motions, backgrounds, kp_config, address, workers, progress)
        return [det_path(out, k) for k in indices]
    import torch
    from rich.progress import Progress

    threads = single_threaded_math()
    builder = DetectorCacheBuilder(config, motions, backgrounds, out / ".motion_cache", kp_config)
    try:
        start, done_frames, done_bytes = time.perf_counter(), 0, 0
        with Progress(disable=not progress) as bar:
            task = bar.add_task("detector cache", total=len(todo))
            for k in todo:
                data = builder.make(seed, k)
                with atomic_open(det_path(out, k)) as f:
                    f.write(data)
                done_frames += frames
                done_bytes += len(data)
                bar.advance(task)
                rate = done_frames / (time.perf_counter() - start)
                logger.info("clip %d written: %.1f frames/s, %.0f bytes/frame", k, rate, done_bytes / done_frames)
    finally:
        builder.close()
        torch.set_num_threads(threads)
    return [det_path(out, k) for k in indices]


def _ray_clip(config: SceneConfig, motions: str | None, backgrounds: str | None, motion_cache: str | None,
              keypoints: KeypointConfig, seed: int, index: int) -> bytes:  # fmt: skip
    """A Ray task (:mod:`simpose.cluster`): the file bytes of clip ``index``, by this worker
    process's builder (made on its first task)."""
    from simpose.cluster import process_cached
    from simpose.synth.writer import single_threaded_math

    def make() -> DetectorCacheBuilder:
        single_threaded_math()
        return DetectorCacheBuilder(config, motions, backgrounds, motion_cache, keypoints)

    builder = process_cached(("detcache", config, motions, backgrounds, motion_cache, keypoints), make, DetectorCacheBuilder.close)
    return builder.make(seed, index)


def _build_ray(out: Path, todo: list[int], seed: int, config: SceneConfig, motions, backgrounds, keypoints: KeypointConfig,
               address: str | None, workers: int, progress: bool) -> None:  # fmt: skip
    """The clips ``todo`` as Ray tasks; this process writes each file as its bytes arrive."""
    from rich.progress import Progress

    from simpose.cluster import run_tasks

    # absolute paths (a worker's folder is not this one); the motion cache only on this machine
    motions = str(Path(motions).resolve()) if motions else None
    backgrounds = str(Path(backgrounds).resolve()) if backgrounds else None
    cache = str((out / ".motion_cache").resolve()) if address is None else None
    with Progress(disable=not progress) as bar:
        task = bar.add_task("detector cache", total=len(todo))

        def write(job: tuple, data: bytes) -> None:
            with atomic_open(det_path(out, job[-1])) as f:
                f.write(data)
            bar.advance(task)

        jobs = [(config, motions, backgrounds, cache, keypoints, seed, k) for k in todo]
        run_tasks(_ray_clip, jobs, write, address=address, num_cpus=workers)


def definition_gap(clips: Iterable[DetectorClip], threshold: float = 0.2) -> dict:
    """The detector's error on the renders against the body's own BlazePose-33 joints.

    Over frames where the detector found a person, against that person's ground truth, on the
    joints visible in the render (occlusion code 0). Torso size: the mean of the two
    shoulder-to-opposite-hip diagonals of the ground truth 2D.

    Returns:
        dict: ``frames``, ``found`` (share of frames with a detection), ``joint_names``,
        ``error_pct`` (33,) mean error in % of the torso diagonal, ``pck`` (33,) PCK@threshold
        torso in %, ``count`` (33,), and their joint-weighted means ``error_pct_mean``, ``pck_mean``;
        ``error_pct_median`` (33,) and ``error_pct_median_all`` (medians: the mean has a long
        tail of failures such as left-right swaps).
    """
    from simpose.body.joints import get_joint_set

    names = list(get_joint_set(KEYPOINT_SET).names)
    ls, rs, lh, rh = (names.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
    err_sum, hits, count = np.zeros(len(names)), np.zeros(len(names)), np.zeros(len(names))
    every: list[np.ndarray] = []  # (n, 33) relative errors, NaN where not counted
    frames = found = 0
    for c in clips:
        frames += c.num_frames
        t = np.flatnonzero(c.valid & (c.person >= 0))
        found += len(t)
        if not len(t):
            continue
        p = c.person[t].astype(np.int64)
        gt = c.joints2d[KEYPOINT_SET][t, p].astype(np.float64)  # (n, 33, 2)
        vis = c.occlusion[KEYPOINT_SET][t, p] == 0
        torso = 0.5 * (np.linalg.norm(gt[:, ls] - gt[:, rh], axis=-1) + np.linalg.norm(gt[:, rs] - gt[:, lh], axis=-1))
        rel = np.linalg.norm(c.keypoints[t].astype(np.float64) - gt, axis=-1) / np.maximum(torso, 1e-6)[:, None]
        ok = vis & np.isfinite(rel)
        every.append(np.where(ok, rel, np.nan))
        err_sum += np.where(ok, rel, 0).sum(0)
        hits += (ok & (rel <= threshold)).sum(0)
        count += ok.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        err = 100 * err_sum / count
        pck = 100 * hits / count
    total = max(count.sum(), 1)
    allrel = np.concatenate(every) if every else np.full((0, len(names)), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # joints never seen
        med = 100 * np.nanmedian(allrel, axis=0) if len(allrel) else np.full(len(names), np.nan)
        med_all = float(100 * np.nanmedian(allrel)) if np.isfinite(allrel).any() else float("nan")
    return {
        "frames": int(frames),
        "found": found / max(frames, 1),
        "joint_names": names,
        "error_pct": err,
        "pck": pck,
        "count": count.astype(int),
        "error_pct_mean": float(100 * err_sum.sum() / total),
        "pck_mean": float(100 * hits.sum() / total),
        "error_pct_median": med,
        "error_pct_median_all": med_all,
    }
