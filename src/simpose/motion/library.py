"""The motion library: mocap clips and procedural families, sampled as body motions.

``MotionLibrary.sample(rng, n_frames, fps)`` picks a source (a BVH clip with probability
``mocap_weight``, else a procedural family of :mod:`simpose.motion.procedural`), draws a body shape
(:func:`simpose.body.model.sample_shape`), takes a random window of ``n_frames`` at ``fps``, mirrors
it left/right with probability ``mirror_prob``, turns it by a random heading about the vertical
through its start, moves the start above the origin and puts it on the floor. The same seed gives
the same samples.

Mocap clips are read and retargeted once per clip, with the average body shape, at
``retarget_fps`` (default 30 fps, to keep retargeting cheap; the BVH is resampled first), and kept in
a bounded LRU cache. For another shape the root path is scaled by the ratio of that body's leg
length to the average body's (as :func:`simpose.motion.retarget.retarget` scales the source to the
body) and the clip is re-grounded with that body: local joint rotations do not depend on the shape.
A clip shorter than the window is padded by holding its last frame (looping would jump).

Mocap files are BVH (``*.bvh``) or Acclaim ASF/AMC (``*.amc``, read by :mod:`simpose.motion.acclaim`
with the ``.asf`` skeleton beside or above them). By default the library holds the shared CMU
subset (``shared/mocap/cmu/mb``, BVH) and the HDM05 subset (``shared/mocap/hdm05``, 148 ASF/AMC
takes at 120 Hz: lying down on the floor and getting up, bending down to the floor, squats,
reaching up high, crouched sneaking). A mocap sample picks one file uniformly from all of them.
HDM05 is licensed CC BY-SA 3.0: M. Müller, T. Röder, M. Clausen, B. Eberhardt, B. Krüger,
A. Weber, "Documentation Mocap Database HDM05", Technical Report CG-2007-2, Universität Bonn,
2007; anything trained on it must say so in its card. AMC takes are retargeted with
``align_hips`` (:func:`~simpose.motion.retarget.retarget`): the Acclaim root sits ~10 cm above the
hip joints, which standing costs nothing but lying down would leave the standing part of a take
floating ~10-15 cm over the floor fitted to the lying part.

Without a motions folder (a user's clone has no ``shared/``) the library samples procedural motion
only.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import roma
import torch

from simpose.body.model import POSE_BONES, BodyModel, sample_shape
from simpose.motion.bvh import resample_clip
from simpose.motion.bvh_read import read_bvh
from simpose.motion.procedural import FAMILIES, generate
from simpose.motion.resample import resample_linear, resample_rotmats
from simpose.motion.retarget import MotionClip, put_on_floor, retarget

logger = logging.getLogger(__name__)

__all__ = [
    "MOCAP_SUFFIXES",
    "default_motion_dirs",
    "read_mocap",
    "LibraryConfig",
    "MotionLibrary",
    "SampledClip",
    "default_motions_dir",
    "mirror_motion",
    "rotate_heading",
]


def default_motions_dir() -> Path | None:
    """The CMU BVH subset in the project's shared folder (``$SIMPOSE_SHARED`` or ``../shared``
    beside the repository) when present, else None."""
    env = os.environ.get("SIMPOSE_SHARED")
    shared = Path(env) if env else Path(__file__).resolve().parents[3].parent / "shared"
    path = shared / "mocap" / "cmu" / "mb"
    return path if path.is_dir() else None


def default_motion_dirs() -> list[Path]:
    """The default mocap folders that exist: the CMU BVH subset (:func:`default_motions_dir`) and
    the HDM05 ASF/AMC subset (``shared/mocap/hdm05``)."""
    cmu = default_motions_dir()
    env = os.environ.get("SIMPOSE_SHARED")
    shared = Path(env) if env else Path(__file__).resolve().parents[3].parent / "shared"
    hdm05 = shared / "mocap" / "hdm05"
    return [d for d in (cmu, hdm05 if hdm05.is_dir() else None) if d is not None]


MOCAP_SUFFIXES = (".bvh", ".amc")


def read_mocap(path: str | Path):
    """A BVH or Acclaim AMC file as a :class:`~simpose.motion.bvh.BvhClip` (AMC: metres, its
    ASF found by :func:`simpose.motion.acclaim.find_asf`)."""
    path = Path(path)
    if path.suffix.lower() == ".amc":
        from simpose.motion.acclaim import read_amc

        return read_amc(path)
    return read_bvh(path)


@dataclasses.dataclass(frozen=True)
class LibraryConfig:
    """How the library mixes and prepares its motions.

    Attributes:
        motions_dir: folder (or folders) searched recursively for ``*.bvh`` and ``*.amc``; None =
            :func:`default_motion_dirs` (CMU and HDM05), or procedural motion only when those are absent.
        mocap_weight: probability of a mocap clip when there is mocap (the rest is procedural).
        family_weights: relative weight of each procedural family; None = all of ``FAMILIES`` equally.
        mirror_prob: probability of a left/right mirrored sample.
        cache_size: retargeted clips kept in memory.
        retarget_fps: rate at which BVH clips are retargeted and cached; None = their own rate.
            Sampling at a higher rate interpolates.
    """

    motions_dir: str | Path | Sequence[str | Path] | None = None
    mocap_weight: float = 0.5
    family_weights: Mapping[str, float] | None = None
    mirror_prob: float = 0.5
    cache_size: int = 32
    retarget_fps: float | None = 30.0


@dataclasses.dataclass(frozen=True)
class SampledClip:
    """One sample of the library.

    Attributes:
        motion: (T frames) world frame, y down, on the floor, starting above the origin;
            ``motion.shape_params`` is ``shape_params``.
        shape_params: (6,) the body shape, ``SHAPE_NAMES`` order, in [0, 1].
        heading: radians, the turn about the vertical (y) axis applied by the sampler.
        mirrored: whether left and right were swapped.
        source: ``"mocap:<file>@<start s>"`` or ``"procedural:<family>"``.
    """

    motion: MotionClip
    shape_params: np.ndarray
    heading: float
    mirrored: bool
    source: str


# ----------------------------------------------------------------------------- pure functions

_OTHER_SIDE = {".L": ".R", ".R": ".L"}
_MIRROR_PERM = [POSE_BONES.index(b[:-2] + _OTHER_SIDE[b[-2:]] if b[-2:] in _OTHER_SIDE else b) for b in POSE_BONES]
_FLIP_ROTVEC = np.array([1.0, -1.0, -1.0])  # rotation vectors under the reflection x -> -x


def mirror_motion(motion: MotionClip) -> MotionClip:
    """Reflect a motion across the x = 0 plane (the body's left-right axis at zero orientation).

    A reflection ``M = diag(-1, 1, 1)`` maps a rotation ``R`` to ``M R M``, whose rotation vector is
    ``(x, -y, -z)``; left and right bones swap. The body, being left-right symmetric, then has its
    joints at the reflected positions with left and right names swapped.

    Args:
        motion: pose_rotvecs (T, 19, 3), global_rotvecs (T, 3), trans (T, 3).
    Returns:
        the mirrored motion (same fps, source, shape).
    """
    return dataclasses.replace(
        motion,
        pose_rotvecs=motion.pose_rotvecs[:, _MIRROR_PERM] * _FLIP_ROTVEC,
        global_rotvecs=motion.global_rotvecs * _FLIP_ROTVEC,
        trans=motion.trans * np.array([-1.0, 1.0, 1.0]),
    )


def _rotvecs_to_rotmats(r: np.ndarray) -> np.ndarray:
    return roma.rotvec_to_rotmat(torch.as_tensor(r, dtype=torch.float64)).numpy()


def _rotmats_to_rotvecs(R: np.ndarray) -> np.ndarray:
    return roma.rotmat_to_rotvec(torch.as_tensor(R, dtype=torch.float64)).numpy()


def rotate_heading(motion: MotionClip, heading: float, center: np.ndarray | None = None) -> MotionClip:
    """Turn a motion about the vertical axis through ``center``.

    Args:
        motion: the motion, world frame (y down).
        heading: radians, right-handed about +y (down).
        center: (3,) a point on the axis; None = the first frame's root position.
    Returns:
        the motion with ``global_rotvecs`` and ``trans`` turned; every body point turns rigidly
        about the axis (the body rotates about its root, and the root moves with the path).
    """
    R = _rotvecs_to_rotmats(np.array([0.0, heading, 0.0]))
    c = motion.trans[0] if center is None else np.asarray(center, dtype=np.float64)
    glob = _rotmats_to_rotvecs(R @ _rotvecs_to_rotmats(motion.global_rotvecs))
    return dataclasses.replace(motion, global_rotvecs=glob, trans=(motion.trans - c) @ R.T + c)


def _window(motion: MotionClip, start_s: float, n_frames: int, fps: float) -> MotionClip:
    """``n_frames`` at ``fps`` from ``start_s`` seconds on (slerp/linear), the last frame held past the end."""
    first = min(int(np.floor(start_s * motion.fps)), motion.n_frames - 1)
    need = int(np.ceil((n_frames - 1) * motion.fps / fps)) + 2
    part = motion.slice(first, first + need)
    pose = resample_rotmats(_rotvecs_to_rotmats(part.pose_rotvecs), motion.fps, fps)[:n_frames]
    glob = resample_rotmats(_rotvecs_to_rotmats(part.global_rotvecs), motion.fps, fps)[:n_frames]
    trans = resample_linear(part.trans, motion.fps, fps)[:n_frames]
    pad = n_frames - len(trans)
    if pad > 0:
        pose, glob, trans = (np.concatenate([a, np.repeat(a[-1:], pad, axis=0)]) for a in (pose, glob, trans))
    return dataclasses.replace(
        motion, pose_rotvecs=_rotmats_to_rotvecs(pose), global_rotvecs=_rotmats_to_rotvecs(glob), trans=trans, fps=float(fps)
    )


def _leg_length(body: BodyModel, shape_params: np.ndarray | None) -> float:
    """Hip-knee plus knee-ankle length of the left leg at the reference pose, metres."""
    from simpose.body.joints import get_joint_set

    sp = None if shape_params is None else torch.as_tensor(shape_params, dtype=body.dtype).reshape(1, 6)
    with torch.no_grad():
        J = body(shape_params=sp).joints[0].numpy()
    a = get_joint_set("anny")
    hip, knee, ankle = (J[a.index(n)] for n in ("upperleg01.L", "lowerleg01.L", "foot.L"))
    return float(np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee))


# ------------------------------------------------------------------------------------ library


class MotionLibrary:
    """Mocap clips from BVH / ASF-AMC folders plus the procedural families, sampled as body motions.

    Args:
        body: the body model (retargeting, grounding).
        config: :class:`LibraryConfig`.
    Raises:
        ValueError: a motions folder that does not exist or holds no ``.bvh`` or ``.amc`` file; unknown family
            names or weights that are not positive.
    """

    def __init__(self, body: BodyModel, config: LibraryConfig = LibraryConfig()) -> None:
        self.body = body
        self.config = config
        if config.motions_dir is None:
            folders = default_motion_dirs()
        elif isinstance(config.motions_dir, (str, os.PathLike)):
            folders = [Path(config.motions_dir)]
        else:
            folders = [Path(f) for f in config.motions_dir]
        self.files: list[Path] = []
        self._folder_of: dict[Path, Path] = {}
        for folder in folders:
            if not folder.is_dir():
                raise ValueError(f"motions folder {folder} does not exist")
            found = sorted(f for f in folder.rglob("*") if f.suffix.lower() in MOCAP_SUFFIXES and f.is_file())
            if not found:
                raise ValueError(f"motions folder {folder} holds no .bvh or .amc files (searched recursively)")
            self.files += found
            self._folder_of.update({f: folder for f in found})
        if not folders:
            logger.info("no mocap folder (shared/mocap/cmu/mb absent): sampling procedural motion only")
        self.folders = folders
        self.folder = folders[0] if folders else None
        weights = dict(config.family_weights) if config.family_weights is not None else {f: 1.0 for f in FAMILIES}
        unknown = set(weights) - set(FAMILIES)
        if unknown:
            raise ValueError(f"unknown motion families {sorted(unknown)}; known: {', '.join(FAMILIES)}")
        w = np.array(list(weights.values()), dtype=np.float64)
        if len(w) == 0 or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"family weights must be >= 0 with a positive sum, got {weights}")
        self.families: tuple[str, ...] = tuple(weights)
        self._family_p = w / w.sum()
        if not 0.0 <= config.mocap_weight <= 1.0 or not 0.0 <= config.mirror_prob <= 1.0:
            raise ValueError("mocap_weight and mirror_prob must lie in [0, 1]")
        self._cache: collections.OrderedDict[Path, MotionClip] = collections.OrderedDict()
        self._avg_leg: float | None = None

    def __repr__(self) -> str:
        where = ", ".join(str(f) for f in self.folders) or None
        return f"MotionLibrary({len(self.files)} mocap clips from {where}, families {', '.join(self.families)})"

    def source_name(self, path: Path) -> str:
        """A mocap file's name in sources: relative to its folder (prefixed with the folder's
        name when the library has several)."""
        folder = self._folder_of.get(path)
        if folder is None:
            return str(path)
        rel = str(path.relative_to(folder))
        return f"{folder.name}/{rel}" if len(self.folders) > 1 else rel

    def mocap_clip(self, index: int) -> MotionClip:
        """The ``index``-th mocap file retargeted to the average body (cached, LRU)."""
        path = self.files[index]
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        clip = read_mocap(path)
        fps = self.config.retarget_fps
        if fps is not None and clip.nominal_fps > fps:
            clip = resample_clip(clip, fps)
        # the cgspeed BVH files start with a T-pose, AMC files with the motion; AMC: hips aligned
        # (module docstring; BVH clips keep their earlier retargeting, bit for bit)
        amc = path.suffix.lower() == ".amc"
        motion = retarget(clip, self.body, skip_first_frame=not amc, align_hips=amc)
        motion = dataclasses.replace(motion, source=self.source_name(path))
        self._cache[path] = motion
        while len(self._cache) > max(self.config.cache_size, 1):
            self._cache.popitem(last=False)
        return motion

    def sample(self, rng: np.random.Generator, n_frames: int, fps: float) -> SampledClip:
        """A random motion of ``n_frames`` frames at ``fps`` on a random body.

        Args:
            rng: numpy Generator, the only source of randomness.
            n_frames: T >= 1. fps: frames per second.
        Returns:
            :class:`SampledClip`.
        """
        if n_frames < 1 or not np.isfinite(fps) or fps <= 0:
            raise ValueError(f"need n_frames >= 1 and fps > 0, got {n_frames}, {fps}")
        shape = sample_shape(1, rng)[0]
        if self.files and rng.random() < self.config.mocap_weight:
            base = self.mocap_clip(int(rng.integers(len(self.files))))
            span = (base.n_frames - 1) / base.fps - (n_frames - 1) / fps
            start = rng.uniform(0.0, span) if span > 0 else 0.0
            motion = _window(base, start, n_frames, fps)
            if self._avg_leg is None:
                self._avg_leg = _leg_length(self.body, None)
            scale = _leg_length(self.body, shape) / self._avg_leg
            motion = dataclasses.replace(motion, trans=motion.trans * scale, shape_params=shape)
            source, regrounded = f"mocap:{base.source}@{start:.2f}s", False
        else:
            family = self.families[rng.choice(len(self.families), p=self._family_p)]
            motion = generate(family, n_frames, fps, rng, self.body, shape)
            source, regrounded = f"procedural:{family}", True
        mirrored = bool(rng.random() < self.config.mirror_prob)
        if mirrored:
            motion = mirror_motion(motion)
        heading = float(rng.uniform(-np.pi, np.pi))
        motion = rotate_heading(motion, heading)
        motion = dataclasses.replace(motion, trans=motion.trans - motion.trans[0] * np.array([1.0, 0.0, 1.0]))
        if not regrounded:  # procedural motion is already on the floor for its shape
            motion = put_on_floor(motion, self.body)
        return SampledClip(motion=motion, shape_params=shape, heading=heading, mirrored=mirrored, source=source)
