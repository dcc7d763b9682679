"""Synthetic training data for the 2D-to-3D lifter: a joint cache, then cameras and noise on the fly.

Nothing here touches real data. Two stages:

1. :func:`build_joint_cache` (once, resumable): motion from the CMU mocap (every ``mb`` BVH,
   resampled to 50 fps and retargeted onto the body) and from the procedural generator
   (:mod:`simpose.motion.procedural`: sitting, crouching, kneeling, lying, phoning, ...) and
   grafts of the two (a procedural posture's legs with a mocap window's neck, head and arms:
   :func:`~simpose.motion.procedural.graft_upper_body`), posed on random bodies
   (:func:`~simpose.body.model.sample_shape`; a new body every ``chunk_frames`` frames of mocap,
   one per procedural or grafted clip). Each job writes one ``.npz`` part with the
   world-frame joints (simpose frame: y down, floor y = 0, metres) of ``h36m17`` and of the
   native ``anny`` set; parts are written atomically and existing parts are skipped, so an
   interrupted build resumes. The resolved config is saved as ``cache_config.json``.
2. :class:`WindowSampler` (every training step): picks windows of ``RF`` frames, changes the
   body's proportions (:func:`scale_bones`: each bone group lengthened or shortened at random,
   left and right alike, both output sets consistently), mirrors half of them, puts a random
   camera around the person (:class:`CameraConfig`), projects, degrades the 2D with
   :mod:`simpose.models.noise`, and normalises it exactly as the lifter does at test time
   (:func:`simpose.models.lifter_input.normalize_keypoints`).

Why proportions are randomised: the bodies come from one body model, whose skeleton (where its
joints sit, how long its torso is against its legs) is one particular convention; real people
and other datasets' skeletons differ by several percent per segment. A network that only ever
saw the body model's proportions reads any deviation as foreshortening, i.e. as a tilt in depth.
With the proportions varied it has to read them from the 2D instead.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
from pathlib import Path

import numpy as np

from simpose._files import atomic_open
from simpose.body.joints import get_joint_set
from simpose.models.lifter_input import (
    INPUT_SET,
    OUTPUT_SETS,
    clip_scale,
    frame_sizes,
    normalize_keypoints,
    output_flip_permutation,
    pelvis_view_rotations,
    to_pelvis_view,
)
from simpose.models.noise import NoiseConfig, apply_detector_noise

logger = logging.getLogger(__name__)

__all__ = [
    "CacheConfig",
    "CameraConfig",
    "SamplerConfig",
    "build_joint_cache",
    "load_joint_cache",
    "cache_sets",
    "JointCache",
    "WindowSampler",
    "median_proportion_factors",
    "set_anchors",
    "Batch",
    "GRAFT_WEIGHTS",
    "BONE_GROUPS",
    "bone_tree",
    "scale_bones",
    "group_lengths",
    "skeleton_size",
]

# Procedural families and how often each is drawn: the sitting/crouching/kneeling families the
# mocap lacks are favoured.
PROCEDURAL_WEIGHTS: dict[str, float] = {
    "sit_chair": 3.0, "sit_down_stand_up": 2.0, "sit_floor": 1.5, "crouch": 1.0, "kneel": 1.0,
    "pick_up": 1.0, "reach": 1.0, "lie_down_get_up": 0.5, "phone": 1.5, "eat": 1.5, "random": 1.0,
}  # fmt: skip
# The postures a graft keeps the legs of (the ones the mocap lacks), and how often each is drawn.
GRAFT_WEIGHTS: dict[str, float] = {"sit_chair": 3.0, "sit_down_stand_up": 2.0, "sit_floor": 1.5, "crouch": 1.0, "kneel": 1.0}


@dataclasses.dataclass(frozen=True)
class CacheConfig:
    """How the joint cache is built.

    Attributes:
        mocap_dir: folder searched recursively for ``*.bvh`` (None: ``shared/mocap/cmu/mb``).
        fps: frame rate of the cache (Human3.6M's 50).
        max_clip_frames: mocap clips are cut to this many frames (after resampling).
        chunk_frames: a mocap clip gets a new random body every this many frames.
        n_procedural: number of procedural clips.
        procedural_frames: frames per procedural clip.
        n_grafted: number of grafted clips (:func:`~simpose.motion.procedural.graft_upper_body`):
            a seated, crouching or kneeling procedural posture (:data:`GRAFT_WEIGHTS`) with the
            neck, head and arms (half of them also the spine) of a random window of a random
            mocap clip. They count as procedural motion in the sampler. Off in the recipe: a
            1500-step pilot with 400 of them was not better on held-out synthetic motion
            (``benchmarks/lifter_synthetic.py --held-out``: 64.1 / 42.7 mm vs 63.2 / 42.1).
        children, elders: fractions of children and elders among the bodies (``sample_shape``).
            No children by default: the lifter cannot see metric size (its input is scale
            normalised), so its metres come from a prior on body size; that prior is meant for
            adults, and a few children only blur it (a child's pose lifted by it comes out
            adult-sized, which protocol #2's Procrustes alignment forgives).
        seed: the same seed gives the same cache.
        workers: processes.
        extra_sets: joint sets stored besides ``OUTPUT_SETS`` (a lifter's 2D set that is not an
            output set: ``"blazepose33"``, BlazePose's landmarks from the body's regressors).
    """

    mocap_dir: str | None = None
    fps: float = 50.0
    max_clip_frames: int = 1500
    chunk_frames: int = 500
    n_procedural: int = 800
    procedural_frames: int = 300
    n_grafted: int = 0
    children: float = 0.0
    elders: float = 0.15
    seed: int = 0
    workers: int = 2
    extra_sets: tuple[str, ...] = ()


def cache_sets(cfg: CacheConfig) -> tuple[str, ...]:
    """The joint sets a cache's parts hold, in the order of :attr:`JointCache.joints`' axis."""
    return tuple(OUTPUT_SETS) + tuple(s for s in cfg.extra_sets if s not in OUTPUT_SETS)


@functools.lru_cache(maxsize=8)  # every grafted part draws its donor from the same folder
def _mocap_files(cfg: CacheConfig) -> tuple[Path, ...]:
    if cfg.mocap_dir is None:
        from simpose.data.paths import shared_dir

        shared = shared_dir()
        if shared is None:
            raise FileNotFoundError("no shared/ folder: pass CacheConfig(mocap_dir=...) with the CMU BVH files")
        root = shared / "mocap" / "cmu" / "mb"
    else:
        root = Path(cfg.mocap_dir)
    files = tuple(sorted(root.rglob("*.bvh")))
    if not files:
        raise FileNotFoundError(f"{root}: no .bvh files")
    return files


def _jobs(cfg: CacheConfig) -> list[tuple[str, str, int]]:
    """(part name, source, index) for every part of the cache."""
    jobs = [(f"cmu_{p.stem}", str(p), i) for i, p in enumerate(_mocap_files(cfg))]
    jobs += [(f"proc_{i:04d}_{f}", f, 10_000 + i) for i, f in enumerate(_draw_families(PROCEDURAL_WEIGHTS, cfg.n_procedural, [cfg.seed, 7]))]
    jobs += [(f"proc_g{i:04d}_{f}", f, 20_000 + i) for i, f in enumerate(_draw_families(GRAFT_WEIGHTS, cfg.n_grafted, [cfg.seed, 11]))]
    return jobs


def _draw_families(weights: dict[str, float], n: int, seed: list[int]) -> list[str]:
    """n family names drawn with the given relative weights (the same seed, the same list)."""
    families = sorted(weights)
    w = np.array([weights[f] for f in families])
    return [families[k] for k in np.random.default_rng(seed).choice(len(families), n, p=w / w.sum())]


def _save_atomic(path: Path, **arrays) -> None:
    with atomic_open(path) as f:
        np.savez(f, **arrays)


_BODY = None


def _body():
    global _BODY
    if _BODY is None:
        import torch

        from simpose.body.model import BodyModel

        torch.set_num_threads(1)
        _BODY = BodyModel()
    return _BODY


def _posed_joints(body, motion, shape_params: np.ndarray, sets: tuple[str, ...] = OUTPUT_SETS) -> dict[str, np.ndarray]:
    import torch

    sp = torch.as_tensor(shape_params, dtype=body.dtype).reshape(1, 6)
    args = [torch.as_tensor(a) for a in (motion.pose_rotvecs, motion.global_rotvecs, motion.trans)]
    with torch.no_grad():
        # the output sets exact; an extra (2D) set with its regressors cut to 64 vertices each
        # (BodyModel.forward_joints: 0.3 mm on average, 12x faster for BlazePose's landmarks)
        return {
            js: body.forward_joints(js, args[0], sp, args[1], args[2], max_vertices=None if js in OUTPUT_SETS else 64).numpy().astype(np.float32)
            for js in sets
        }


def _part_done(path: Path, sets: tuple[str, ...]) -> bool:
    """A part exists and holds every set (a part of a cache built without an extra set is redone)."""
    if not path.exists():
        return False
    try:
        with np.load(path) as z:
            return all(js in z.files for js in sets)
    except (OSError, ValueError):
        return False


def _donor(cfg: CacheConfig, rng: np.random.Generator, body, n_frames: int):
    """A random window of ``n_frames`` of a random mocap clip (at ``cfg.fps``), retargeted."""
    from simpose.motion.bvh import resample_clip
    from simpose.motion.bvh_read import read_bvh
    from simpose.motion.retarget import retarget

    files = _mocap_files(cfg)
    for _ in range(20):
        clip = resample_clip(read_bvh(files[rng.integers(len(files))]), cfg.fps)
        if len(clip.motion) > n_frames + 1:
            break
    else:
        raise ValueError(f"no mocap clip of more than {n_frames + 1} frames found in 20 draws")
    a = int(rng.integers(1, len(clip.motion) - n_frames + 1))
    # Frame 0 (the T-pose, which retarget drops) stays first.
    clip = dataclasses.replace(clip, motion=np.concatenate([clip.motion[:1], clip.motion[a : a + n_frames]]))
    return retarget(clip, body)


def _build_part(cfg: CacheConfig, out: Path, job: tuple[str, str, int]) -> str:
    name, source, index = job
    path = out / f"{name}.npz"
    sets = cache_sets(cfg)
    if _part_done(path, sets):
        return name
    from simpose.body.model import sample_shape

    body = _body()
    rng = np.random.default_rng([cfg.seed, index])
    segments, shapes, joints = [], [], {js: [] for js in sets}
    if name.startswith("cmu_"):
        from simpose.motion.bvh import resample_clip
        from simpose.motion.bvh_read import read_bvh
        from simpose.motion.retarget import retarget

        clip = resample_clip(read_bvh(source), cfg.fps)
        clip = dataclasses.replace(clip, motion=clip.motion[: cfg.max_clip_frames + 1])  # +1: retarget drops frame 0
        motion = retarget(clip, body)
        pieces = [(s, min(s + cfg.chunk_frames, motion.n_frames)) for s in range(0, motion.n_frames, cfg.chunk_frames)]
        if len(pieces) > 1 and pieces[-1][1] - pieces[-1][0] < cfg.chunk_frames // 5:  # merge a short tail
            pieces[-2:] = [(pieces[-2][0], pieces[-1][1])]
        motions = [(motion.slice(a, b), sample_shape(1, rng, cfg.children, cfg.elders)[0]) for a, b in pieces]
    else:
        from simpose.motion.procedural import generate, graft_upper_body

        shape = sample_shape(1, rng, cfg.children, cfg.elders)[0]
        motion = generate(source, cfg.procedural_frames, cfg.fps, rng, body, shape)
        if name.startswith("proc_g"):
            motion = graft_upper_body(motion, _donor(cfg, rng, body, motion.n_frames), spine=bool(rng.random() < 0.5))
        motions = [(motion, shape)]
    start = 0
    for motion, shape in motions:
        posed = _posed_joints(body, motion, shape, sets)
        for js in sets:
            joints[js].append(posed[js])
        segments.append((start, start + motion.n_frames))
        shapes.append(shape)
        start += motion.n_frames
    _save_atomic(
        path,
        segments=np.asarray(segments, dtype=np.int64),
        shape_params=np.asarray(shapes),
        source=np.asarray(source),
        **{js: np.concatenate(v) for js, v in joints.items()},
    )
    return name


def _work(args) -> str:
    cfg, out, job = args
    try:
        return _build_part(cfg, out, job)
    except Exception as exc:  # noqa: BLE001 - one bad clip must not stop the build; it is logged
        logger.warning("cache part %s failed: %s: %s", job[0], type(exc).__name__, exc)
        return f"FAILED {job[0]}: {exc}"


def build_joint_cache(out: str | Path, cfg: CacheConfig = CacheConfig(), progress: bool = True, only: tuple[str, ...] | None = None) -> Path:
    """Build (or complete) the joint cache in ``out``; finished parts are kept.

    Args:
        out: cache folder (created).
        cfg: what to build.
        progress: show a rich progress bar.
        only: build just the parts whose names start with one of these (None: all).
    Returns:
        The folder.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cache_config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=1))
    sets = cache_sets(cfg)
    jobs = [j for j in _jobs(cfg) if (only is None or j[0].startswith(tuple(only))) and not _part_done(out / f"{j[0]}.npz", sets)]
    if not jobs:
        return out
    # Long jobs first so that the workers finish together.
    jobs.sort(key=lambda j: -os.path.getsize(j[1]) if j[0].startswith("cmu_") else 0)
    logger.info("joint cache: %d parts to build in %s", len(jobs), out)
    args = [(cfg, out, j) for j in jobs]
    bar = None
    if progress:
        from rich.progress import track

        bar = lambda it: track(it, total=len(args), description="joint cache")  # noqa: E731
    if cfg.workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(cfg.workers) as pool:
            results = pool.imap_unordered(_work, args)
            for _ in bar(results) if bar else results:
                pass
    else:
        for a in bar(args) if bar else args:
            _work(a)
    return out


@dataclasses.dataclass(frozen=True)
class JointCache:
    """All parts of a joint cache, concatenated.

    Attributes:
        joints: (N, J_h36m17 + J_anny (+ J_extra), 3) float32 world frame metres, the sets of
            ``OUTPUT_SETS`` (then ``sets[2:]``) side by side.
        segments: (S, 2) start, stop of each continuous piece (one body, one motion).
        procedural: (S,) bool, whether the segment is procedural motion.
    """

    joints: np.ndarray
    segments: np.ndarray
    procedural: np.ndarray
    sets: tuple[str, ...] = OUTPUT_SETS

    def set_slice(self, name: str) -> slice:
        """Where set ``name`` lies on the joint axis."""
        start = 0
        for s in self.sets:
            n = len(get_joint_set(s))
            if s == name:
                return slice(start, start + n)
            start += n
        raise KeyError(f"joint set {name!r} not in this joint cache ({', '.join(self.sets)}): build it with CacheConfig(extra_sets=({name!r},))")


def load_joint_cache(
    folder: str | Path, exclude: tuple[str, ...] = (), only: tuple[str, ...] | None = None, sets: tuple[str, ...] = OUTPUT_SETS
) -> JointCache:
    """Read the parts of a cache folder.

    Args:
        folder: the cache folder.
        exclude: part-name prefixes to leave out (``"cmu_09_"``: CMU subject 9; ``"proc_0008_"``).
        only: part-name prefixes to keep (None: all); with ``exclude`` this splits a cache into a
            training and a held-out part by motion (subjects, procedural clips).
        sets: the joint sets to read (``OUTPUT_SETS`` first: :func:`cache_sets`).
    """
    folder = Path(folder)
    parts = sorted(p for p in folder.glob("*.npz") if ".tmp" not in p.name)
    parts = [p for p in parts if not p.name.startswith(tuple(exclude)) and (only is None or p.name.startswith(tuple(only)))]
    if not parts:
        raise FileNotFoundError(f"{folder}: no cache parts{' selected' if exclude or only else ''} (build them with build_joint_cache)")
    joints, segments, procedural, offset = [], [], [], 0
    for p in parts:
        with np.load(p) as z:
            missing = [js for js in sets if js not in z.files]
            if missing:
                raise KeyError(f"{p}: no joints of {missing} (build the cache with CacheConfig(extra_sets={tuple(missing)}))")
            joints.append(np.concatenate([z[js] for js in sets], axis=1))
            segments.append(z["segments"] + offset)
            procedural += [p.name.startswith("proc_")] * len(z["segments"])
            offset += len(joints[-1])
    return JointCache(np.concatenate(joints), np.concatenate(segments), np.asarray(procedural), tuple(sets))


# ------------------------------------------------------------------------------ on the fly

# Proportion augmentation. The bone groups whose lengths vary independently (left and right
# together); every joint of the union of ``OUTPUT_SETS`` hangs off a parent in one tree whose
# backbone is the native ``anny`` skeleton, so the h36m17 joints move with the anny bones they
# sit on and the two output sets stay consistent.
BONE_GROUPS: tuple[str, ...] = ("torso", "neck", "head", "shoulder", "upper_arm", "forearm", "hip", "thigh", "shin", "foot")

# anny joint -> group of the bone that ends at it (its offset from its parent).
_ANNY_GROUP = {
    "spine05": "torso", "spine03": "torso", "spine01": "torso", "neck01": "torso", "head": "neck", "head_top": "head",
    "clavicle": "shoulder", "upperarm01": "shoulder", "lowerarm01": "upper_arm", "wrist": "forearm", "hand_tip": "forearm",
    "upperleg01": "hip", "lowerleg01": "thigh", "foot": "shin", "toe": "foot",
}  # fmt: skip
# h36m17 joint -> (anny joint it hangs off, group of that offset). Joints that coincide with an
# anny joint (knees, ankles, shoulders, ...) have a zero offset and follow it exactly.
_H36M_ANCHOR = {
    "pelvis": ("root", "hip"), "hip": ("upperleg01", "hip"), "knee": ("lowerleg01", "thigh"), "ankle": ("foot", "shin"),
    "spine": ("root", "torso"), "thorax": ("neck01", "torso"), "neck_nose": ("head", "neck"), "head": ("head", "head"),
    "shoulder": ("upperarm01", "shoulder"), "elbow": ("lowerarm01", "upper_arm"), "wrist": ("wrist", "forearm"),
}  # fmt: skip


# A 2D set that is not an output set (BlazePose's surface landmarks) follows the native joint
# it sits on when :func:`scale_bones` changes the proportions: it is moved as that joint is.
_BLAZEPOSE_ANCHOR = {
    "nose": "head", "eye_inner": "head", "eye": "head", "eye_outer": "head", "ear": "head", "mouth": "head",
    "shoulder": "upperarm01", "elbow": "lowerarm01", "wrist": "wrist", "pinky": "hand_tip", "index": "hand_tip",
    "thumb": "wrist", "hip": "upperleg01", "knee": "lowerleg01", "ankle": "foot", "heel": "foot", "foot_index": "toe",
}  # fmt: skip


def set_anchors(joint_set: str) -> np.ndarray:
    """(J,) for each joint of ``joint_set`` (``"blazepose33"``) the ``anny`` joint it moves with
    under :func:`scale_bones` (index into the ``anny`` set)."""
    if joint_set != "blazepose33":
        raise ValueError(f"no anchors for joint set {joint_set!r}")
    anny = get_joint_set("anny")
    out = []
    for name in get_joint_set(joint_set).names:
        side = ".L" if name.startswith("left_") else ".R" if name.startswith("right_") else ""
        base = name.replace("left_", "").replace("right_", "")
        base = "mouth" if base.startswith("mouth") else base
        anchor = _BLAZEPOSE_ANCHOR[base]
        out.append(anny.index(anchor + ("" if anchor == "head" else side)))
    return np.asarray(out)


def bone_tree() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tree over the union of ``OUTPUT_SETS`` used by :func:`scale_bones`.

    Returns:
        parent: (J,) parent of each union joint (-1: the root).
        group: (J,) index into ``BONE_GROUPS`` of the offset to the parent (-1: the root).
        order: (J,) the joints, parents before children.
    """
    if tuple(OUTPUT_SETS) != ("h36m17", "anny"):
        raise ValueError(f"bone_tree knows h36m17 + anny, not {OUTPUT_SETS}")
    h36m, anny = get_joint_set("h36m17"), get_joint_set("anny")
    n_h = len(h36m)
    parent = np.full(n_h + len(anny), -1, dtype=np.int64)
    group = np.full(n_h + len(anny), -1, dtype=np.int64)

    def base(name: str) -> str:
        return name.replace("left_", "").replace("right_", "").split(".")[0]

    for j, (name, p) in enumerate(zip(anny.names, anny.parents)):
        if p >= 0:
            parent[n_h + j], group[n_h + j] = n_h + p, BONE_GROUPS.index(_ANNY_GROUP[base(name)])
    side = {"left_": ".L", "right_": ".R"}
    for j, name in enumerate(h36m.names):
        anchor, g = _H36M_ANCHOR[base(name)]
        suffix = next((v for k, v in side.items() if name.startswith(k)), "")
        parent[j], group[j] = n_h + anny.index(anchor + suffix), BONE_GROUPS.index(g)
    order = [n_h + anny.root]
    while len(order) < len(parent):  # breadth-first: parents first
        order += [j for j in range(len(parent)) if parent[j] in order and j not in order]
    return parent, group, np.asarray(order)


def scale_bones(joints: np.ndarray, factors: np.ndarray, tree=None) -> np.ndarray:
    """Lengthen or shorten bone groups: every offset child - parent is multiplied by its group's factor.

    Args:
        joints: (B, ..., J, 3) the union of ``OUTPUT_SETS`` (metres).
        factors: (B, G) one factor per ``BONE_GROUPS`` entry (1: unchanged), the same for all
            frames of a sample (a person's bones do not change length).
        tree: :func:`bone_tree`'s output (computed when None).
    Returns:
        (B, ..., J, 3): the root stays where it was; each joint = its new parent + factor x its old offset.
    """
    parent, group, order = bone_tree() if tree is None else tree
    B = joints.shape[0]
    f = np.asarray(factors, dtype=joints.dtype).reshape((B,) + (1,) * (joints.ndim - 3) + (-1,))  # (B, ..., G)
    f = np.moveaxis(f, -1, 0)[..., None]  # (G, B, ..., 1)
    src = np.ascontiguousarray(np.moveaxis(joints, -2, 0))  # (J, B, ..., 3): one joint is one block
    out = src.copy()
    for j in order[1:]:
        out[j] = out[parent[j]] + f[group[j]] * (src[j] - src[parent[j]])
    return np.moveaxis(out, 0, -2)


def group_lengths(joints: np.ndarray, tree=None) -> np.ndarray:
    """(..., J, 3) union joints -> (..., G) the summed length of each ``BONE_GROUPS`` group's bones
    of the native skeleton (both sides), metres: the body's proportions as :func:`scale_bones` sees them."""
    parent, group, _ = bone_tree() if tree is None else tree
    n_h = len(get_joint_set(OUTPUT_SETS[0]))
    j = np.flatnonzero((parent >= 0) & (np.arange(len(parent)) >= n_h))
    bones = np.linalg.norm(joints[..., j, :] - joints[..., parent[j], :], axis=-1)  # (..., N)
    onehot = (group[j][:, None] == np.arange(len(BONE_GROUPS))[None]).astype(bones.dtype)  # (N, G)
    return bones @ onehot


def median_proportion_factors(cache: JointCache, tree=None) -> np.ndarray:
    """Per segment, the bone-group factors that give its body the cache's median proportions.

    A body's proportions are its bone-group lengths over its size (:func:`group_lengths`,
    :func:`skeleton_size`, on each segment's first frame); the median is taken per group over
    the segments.

    Returns:
        (S, G) factors for :func:`scale_bones` (S: segments, G: ``BONE_GROUPS``).
    """
    first = cache.joints[cache.segments[:, 0]]  # one frame per body
    ratio = group_lengths(first, tree) / skeleton_size(first[:, : len(get_joint_set(OUTPUT_SETS[0]))])[:, None]
    return np.median(ratio, axis=0)[None] / ratio


def skeleton_size(joints: np.ndarray) -> np.ndarray:
    """(..., J_in, 3) ``h36m17`` joints -> (...,) the sum of their bone lengths, metres (the
    person's size as the size prior sees it: pose-independent, unlike the extent)."""
    parents = np.asarray(get_joint_set(OUTPUT_SETS[0]).parents)
    return np.linalg.norm(joints[..., 1:, :] - joints[..., parents[1:], :], axis=-1).sum(-1)


@dataclasses.dataclass(frozen=True)
class CameraConfig:
    """Random cameras around the person (simpose world frame: y down, floor at y = 0).

    The ranges are generic, not any dataset's rig: from a phone held low or at chest height to
    a camera on a wall (0.3-3 m), from a room to across a hall (2-10 m), wide to normal lenses
    (35-80 degrees across the long side), the person roughly centred, a little roll.

    Attributes:
        fov_deg: (low, high) horizontal field of view across the larger image side, degrees.
        distance: (low, high) horizontal distance from the person's pelvis, metres.
        height: (low, high) camera height above the floor, metres.
        aim_jitter: std (metres, per axis) of the look-at point around the pelvis: the person is
            roughly, not exactly, in the middle of the image.
        roll_deg: std of the camera's roll, degrees.
        image_sizes: (width, height) choices, landscape, square and portrait.
        principal_jitter: std of the principal point around the image centre, fraction of the size.
    """

    fov_deg: tuple[float, float] = (35.0, 80.0)
    distance: tuple[float, float] = (2.0, 10.0)
    height: tuple[float, float] = (0.3, 3.0)
    aim_jitter: float = 0.35
    roll_deg: float = 4.0
    image_sizes: tuple[tuple[int, int], ...] = ((1920, 1080), (1280, 720), (1000, 1000), (1080, 1920), (720, 1280), (640, 480))
    principal_jitter: float = 0.01


@dataclasses.dataclass(frozen=True)
class SamplerConfig:
    """How training windows are drawn.

    Attributes:
        input_set: the 2D joint set the network sees (one of ``INPUT_SETS``; a set other than
            the first output set must be in the cache: ``CacheConfig.extra_sets``).
        receptive_field: frames per window (the network's RF).
        batch_size: windows per batch.
        procedural_fraction: share of windows from procedural motion (the rest: mocap).
        mirror_prob: probability of mirroring a window (left <-> right).
        clean_fraction: share of windows with exact 2D (no detector noise, confidence 1).
        noise_strength: (low, high) uniform range of the noise strength of the other windows.
        scale_span: (low, high) frames of the span over which the per-clip 2D size is taken
            (log-uniform; the span contains the window): mimics per-clip normalisation.
        scale_frames: frames drawn from that span to compute the size.
        bone_scale: half-width of the log-uniform range of each bone group's length factor
            (:func:`scale_bones`): factors in ``[exp(-b), exp(b)]``; 0 turns it off.
        bone_scale_prob: share of windows whose proportions are changed (the others keep the
            body model's own).
        bone_centre: (group, factor) pairs: bone groups lengthened in every window before the
            random factors, moving the centre of the proportions away from the body model's.
        median_proportions: before the random factors, every body's bone groups are scaled to
            the cache's median proportions (:func:`group_lengths` over the skeleton size), so the
            random factors vary one human-like skeleton instead of the body model's own, whose
            height parameter alone sets the thigh from 0.6 to 1.2 shins (5th-95th percentile of
            the cache's bodies; in adults the two are about equal, 0.245 and 0.246 of the stature in
            Winter's anthropometric table).
        size_sigma: std of the log of the person's size (the sum of the h36m17 bone lengths)
            around the cache's median: every window is scaled about its pelvis to a size drawn
            so, whatever the body's proportions (None: the body model's own sizes). Why: 2D
            keypoints do not show how big a person is, and anny's height parameter also changes
            proportions (taller bodies have much longer thighs), so a lifter trained on anny's
            sizes reads size from proportions and gets it wrong on people built differently;
            with the size drawn independently it keeps to the population's size, and adult
            stature varies by about 4-5% (std) within a sex, so 0.06 covers both sexes.
        speed: (low, high) range of a log-uniform playback speed per window ((1, 1): off): the
            window's frames are taken ``speed`` cache frames apart (linearly interpolated), so
            the same motion is seen slower and faster than it was recorded.
        pelvis_view: train in the lifter's pelvis-view virtual camera (every frame re-projected
            into a camera that looks at its pelvis, targets rotated into it), as the lifter
            predicts when it is given a camera (the training cameras aim at the pelvis only up
            to ``aim_jitter``, so without it the targets keep that small off-axis rotation).
    """

    input_set: str = INPUT_SET
    receptive_field: int = 27
    batch_size: int = 512
    procedural_fraction: float = 0.35
    mirror_prob: float = 0.5
    clean_fraction: float = 0.4
    noise_strength: tuple[float, float] = (0.2, 1.5)
    scale_span: tuple[int, int] = (27, 500)
    scale_frames: int = 24
    bone_scale: float = 0.25
    bone_scale_prob: float = 0.8
    bone_centre: tuple[tuple[str, float], ...] = ()
    median_proportions: bool = False
    size_sigma: float | None = 0.06
    speed: tuple[float, float] = (0.67, 1.5)
    pelvis_view: bool = True


@dataclasses.dataclass(frozen=True)
class Batch:
    """features: (B, RF, 3 J_in) float32 network input; targets: (B, 2, J_out, 3) float32 metres,
    camera axes, relative to the h36m17 pelvis (head 0: the window's centre frame, 1: its last)."""

    features: np.ndarray
    targets: np.ndarray


def _look_at(eye: np.ndarray, target: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """(B, 3) camera centres and look-at points, (B,) roll radians -> (B, 3, 3) world-to-camera R."""
    fwd = target - eye
    fwd /= np.linalg.norm(fwd, axis=-1, keepdims=True)
    down = np.broadcast_to(np.array([0.0, 1.0, 0.0]), fwd.shape)
    right = np.cross(down, fwd)
    right /= np.maximum(np.linalg.norm(right, axis=-1, keepdims=True), 1e-9)
    up_down = np.cross(fwd, right)
    c, s = np.cos(roll)[:, None], np.sin(roll)[:, None]
    x_cam = c * right + s * up_down
    y_cam = -s * right + c * up_down
    return np.stack([x_cam, y_cam, fwd], axis=1)


def draw_cameras(rng: np.random.Generator, cam: CameraConfig, p0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cameras as training draws them around (B, 3) pelvis points (world, Y down): a random
    direction, distance and height, aimed near the pelvis, slightly rolled.

    Returns:
        (B, 3) camera centres and (B, 3, 3) world-to-camera rotations (``X_c = R (X - eye)``).
    """
    B = len(p0)
    yaw = rng.uniform(0, 2 * np.pi, B)
    dist = rng.uniform(*cam.distance, B)
    eye = np.stack([p0[:, 0] + dist * np.sin(yaw), -rng.uniform(*cam.height, B), p0[:, 2] + dist * np.cos(yaw)], -1)
    target = p0 + rng.normal(0, cam.aim_jitter, (B, 3))
    return eye, _look_at(eye, target, np.radians(rng.normal(0, cam.roll_deg, B)))


class WindowSampler:
    """Draws training batches from a :class:`JointCache`: camera, projection, noise, normalisation.

    Args:
        cache: the joint cache.
        sampler: window drawing. camera: camera drawing. noise: the detector-noise model.
    """

    def __init__(
        self,
        cache: JointCache,
        sampler: SamplerConfig = SamplerConfig(),
        camera: CameraConfig = CameraConfig(),
        noise: NoiseConfig = NoiseConfig(),
    ) -> None:
        self.cache, self.cfg, self.cam, self.noise = cache, sampler, camera, noise
        lengths = (cache.segments[:, 1] - cache.segments[:, 0]).astype(np.float64)
        p = np.zeros(len(lengths))
        for group, share in ((cache.procedural, sampler.procedural_fraction), (~cache.procedural, 1 - sampler.procedural_fraction)):
            if group.any():
                p[group] = share * lengths[group] / lengths[group].sum()
        self.segment_p = p / p.sum()
        if cache.sets[: len(OUTPUT_SETS)] != tuple(OUTPUT_SETS):
            raise ValueError(f"the cache's sets {cache.sets} must start with the output sets {OUTPUT_SETS}")
        self.n_h = len(get_joint_set(OUTPUT_SETS[0]))  # h36m17: the person's size and the targets' root
        self.n_out = sum(len(get_joint_set(n)) for n in OUTPUT_SETS)
        self.input = cache.set_slice(sampler.input_set)
        self.input_set = sampler.input_set
        self.flip = output_flip_permutation()
        self.anchors = None
        if self.input.start >= self.n_out:  # an extra set: mirrored with its own permutation, moved with its anchors
            self.flip = np.concatenate([self.flip, self.input.start + np.asarray(get_joint_set(self.input_set).flip_permutation)])
            self.anchors = self.n_h + set_anchors(self.input_set)
        self.pelvis = get_joint_set(OUTPUT_SETS[0]).index("pelvis")
        self.tree = bone_tree()
        self.bone_centre = np.ones(len(BONE_GROUPS))
        for group, factor in sampler.bone_centre:
            self.bone_centre[BONE_GROUPS.index(group)] = factor
        first = cache.joints[cache.segments[:, 0]]  # one frame per body
        self.median_size = float(np.median(skeleton_size(first[:, : self.n_h])))
        # Per segment: the factors that give its body the median proportions (1 when off).
        self.to_median = median_proportion_factors(cache, self.tree) if sampler.median_proportions else np.ones((len(cache.segments), len(BONE_GROUPS)))

    def _draw(self, rng: np.random.Generator, B: int):
        """Windows (+ span frames for the size) in the camera frame: (B, RF + S, J_in, 3), targets
        (B, 2, J_out, 3), and which samples are usable (all window joints in front of the camera)."""
        cfg, RF = self.cfg, self.cfg.receptive_field
        seg_index = rng.choice(len(self.segment_p), B, p=self.segment_p)
        seg = self.cache.segments[seg_index]
        start, stop = seg[:, :1], seg[:, 1:]
        t = rng.integers(start[:, 0], stop[:, 0])[:, None]
        win = np.clip(t - RF // 2 + np.arange(RF)[None], start, stop - 1)
        lo, hi = np.log(cfg.scale_span[0]), np.log(cfg.scale_span[1])
        span = np.exp(rng.uniform(lo, hi, (B, 1))).astype(np.int64)
        first = t + RF // 2 - (rng.random((B, 1)) * np.maximum(span - RF, 0)).astype(np.int64) - span + 1
        extra = np.clip(first + (rng.random((B, cfg.scale_frames)) * span).astype(np.int64), start, stop - 1)
        idx = np.concatenate([win, extra], axis=1)  # (B, RF + S)
        mirror = rng.random(B) < cfg.mirror_prob
        if cfg.speed != (1.0, 1.0):  # drawn only when on, so runs without it draw what they drew before
            speed = np.exp(rng.uniform(np.log(cfg.speed[0]), np.log(cfg.speed[1]), (B, 1)))
            at = np.clip(t + speed * (np.arange(RF)[None] - RF // 2), start, stop - 1)  # (B, RF) float frames
            lo_f = np.floor(at).astype(np.int64)
            w = (at - lo_f).astype(np.float32)[..., None, None]
            hi_f = np.minimum(lo_f + 1, stop - 1)
            window = (1 - w) * self.cache.joints[lo_f] + w * self.cache.joints[hi_f]
            joints = np.concatenate([window, self.cache.joints[extra]], axis=1)
        else:
            joints = self.cache.joints[idx]  # (B, RF + S, J_out, 3) world, float32; window first
        # Drawn even when off, so that the rest of the stream does not depend on the setting.
        factors = np.exp(cfg.bone_scale * rng.uniform(-1.0, 1.0, (B, len(BONE_GROUPS))))
        factors = np.where(rng.random((B, 1)) < cfg.bone_scale_prob, factors, 1.0) * self.bone_centre * self.to_median[seg_index]
        if cfg.bone_scale > 0 or cfg.bone_centre or cfg.median_proportions:
            scaled = scale_bones(joints[..., : self.n_out, :], factors, self.tree)
            if self.anchors is not None:  # the extra set moves with its anchors
                extra = joints[..., self.input, :] + (scaled[..., self.anchors, :] - joints[..., self.anchors, :])
                joints = np.concatenate([scaled, extra], axis=-2)
            else:
                joints = scaled
        size = rng.normal(0.0, 1.0, B)  # drawn even when off (see above)
        if cfg.size_sigma is not None:
            current = skeleton_size(joints[:, RF // 2, : self.n_h])
            k = (self.median_size * np.exp(cfg.size_sigma * size) / current).astype(np.float32)[:, None, None, None]
            p = joints[:, RF // 2 : RF // 2 + 1, self.pelvis : self.pelvis + 1]
            joints = p + k * (joints - p)
        joints = np.where(mirror[:, None, None, None], joints[:, :, self.flip], joints)
        joints[..., 0] *= np.where(mirror, -1.0, 1.0).astype(np.float32)[:, None, None]
        X = joints[:, :, self.input]  # (B, RF + S, J_in, 3)
        Y = joints[:, [RF // 2, RF - 1], : self.n_out]  # (B, 2, J_out, 3)
        # Camera around the pelvis of the window's centre frame.
        eye, R = draw_cameras(rng, self.cam, joints[:, RF // 2, self.pelvis].astype(np.float64))
        Rt = R.transpose(0, 2, 1).astype(np.float32)
        eye32 = eye.astype(np.float32)[:, None]
        Xc = np.matmul(X.reshape(B, -1, 3) - eye32, Rt).reshape(X.shape)
        Yc = np.matmul(Y.reshape(B, -1, 3) - eye32, Rt).reshape(Y.shape)
        ok = Xc[:, :RF, :, 2].min(axis=(1, 2)) > 0.3
        return Xc, Yc, ok

    def sample(self, rng: np.random.Generator) -> Batch:
        """One batch of ``batch_size`` windows."""
        cfg, c, RF = self.cfg, self.cam, self.cfg.receptive_field
        B = cfg.batch_size
        parts, n = [], 0
        while n < B:
            Xc, Yc, ok = self._draw(rng, B)
            parts.append((Xc[ok], Yc[ok]))
            n += int(ok.sum())
        Xc = np.concatenate([p[0] for p in parts])[:B]  # (B, RF + S, J_in, 3) camera frame
        Y = np.concatenate([p[1] for p in parts])[:B]
        sizes = np.asarray(c.image_sizes, dtype=np.float64)[rng.integers(0, len(c.image_sizes), B)]  # (B, 2)
        fov = np.radians(rng.uniform(*c.fov_deg, B))
        f = sizes.max(-1) / 2.0 / np.tan(fov / 2.0)
        pp = (sizes - 1) / 2.0 + rng.normal(0, c.principal_jitter, (B, 2)) * sizes
        K = np.zeros((B, 3, 3))
        K[:, 0, 0] = K[:, 1, 1] = f
        K[:, :2, 2] = pp
        K[:, 2, 2] = 1.0
        z = np.maximum(Xc[..., 2:], 1e-3)
        uv = Xc[..., :2] / z * f[:, None, None, None] + pp[:, None, None]
        strength = np.where(rng.random(B) < cfg.clean_fraction, 0.0, rng.uniform(*cfg.noise_strength, B))
        uv_win, conf_win = apply_detector_noise(uv[:, :RF], self.input_set, rng, self.noise, image_size=sizes, strength=strength)
        inside = ((uv[:, RF:] >= 0) & (uv[:, RF:] < sizes[:, None, None])).all(-1)
        uv = np.concatenate([uv_win, uv[:, RF:]], axis=1)
        conf = np.concatenate([conf_win, inside.astype(np.float64)], axis=1)
        conf = np.where(Xc[..., 2] > 0.1, conf, 0.0)
        if cfg.pelvis_view:
            xy = (uv - pp[:, None, None]) / f[:, None, None, None]
            R = pelvis_view_rotations(xy, conf, self.input_set)  # (B, RF + S, 3, 3)
            feats, _ = normalize_keypoints(to_pelvis_view(xy, R), conf, None, scale=np.ones(B), joint_set=self.input_set)
            Y = np.einsum("bhij,bhkj->bhki", R[:, [RF // 2, RF - 1]], Y)
        else:
            feats, _ = normalize_keypoints(uv, conf, K, scale=np.ones(B), joint_set=self.input_set)
        scale = clip_scale(frame_sizes(feats[..., :2], feats[..., 2], self.input_set))  # (B,) over window + span frames
        feats = feats[:, :RF].copy()
        feats[..., :2] /= scale[:, None, None, None].astype(np.float32)
        Y = Y - Y[:, :, self.pelvis : self.pelvis + 1]
        return Batch(features=feats.reshape(B, RF, -1), targets=Y.astype(np.float32))
