"""The machinery of procedural motion: joint limits, named angles, keyframe tracks, grounding, floor contacts.

:mod:`simpose.motion.procedural` builds its families of motions (sitting, kneeling, lying, ...)
from these; its module docstring gives the sign conventions of the rotation vectors and the
why of each step:

- named anatomical angles in degrees (``DOFS``; :func:`angles_to_rotvecs`) within the body's
  joint limits (:func:`clamp_pose`);
- a keyframe track (:class:`KeyTrack`: keys, timing, body tilt, supports) rendered to a motion
  with ease-in/ease-out between keys (:func:`render_track`);
- the root following the pose so that the body rests on the floor with its supports planted
  (:func:`ground_motion`), and a keyframe angle solved so that two parts touch the floor
  (:func:`touch_floor`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging

import numpy as np
import torch

from simpose.body.model import JOINT_LIMITS_DEG, POSE_BONES, POSE_LIMITS_RAD, BodyModel
from simpose.geometry import rodrigues, rotmat_to_rotvec
from simpose.motion.retarget import MotionClip

logger = logging.getLogger(__name__)

__all__ = [
    "LIMITS_DEG", "LIMITS_RAD", "DOFS", "SIDED_DOFS", "LEG_NAMES", "HOLD", "KeyTrack", "angles_to_rotvecs", "both_sides",
    "clamp_pose", "render_track", "ground_motion", "touch_floor",
]  # fmt: skip

_X, _Y, _Z = np.eye(3)


# The body model's table (its z and elbow ranges were corrected from what this module found).
LIMITS_DEG = JOINT_LIMITS_DEG


LIMITS_RAD: np.ndarray = POSE_LIMITS_RAD  # (19, 3, 2) lower, upper, radians


def clamp_pose(pose_rotvecs: np.ndarray) -> np.ndarray:
    """Clamp (..., 19, 3) rotation vectors component-wise to :data:`LIMITS_RAD`."""
    return np.clip(pose_rotvecs, LIMITS_RAD[..., 0], LIMITS_RAD[..., 1])


_ELBOW_HINGE = np.array([-0.7433, 0.6674, -0.0468])  # left elbow flexion axis at the reference


_UPPERARM_AXIS = np.array([0.6687, 0.7433, -0.0203])  # left upper arm, shoulder -> elbow


_FOREARM_AXIS = np.array([0.5106, 0.5207, -0.6842])  # left forearm, elbow -> wrist


_REF_SHOULDER_ABD = 42.0  # anny's A-pose, degrees


_REF_ELBOW_FLEX = 42.0


# name -> ([(bone, unit axis (left side for sided names), share)], reference value). Sided names
# take ".L"/".R" when used. A bone's rotation is the product, in this table's order (the first
# name outermost), of the rotations by (angle - reference) * share about each axis: a thigh is
# turned about its own axis, then abducted, then flexed; an upper arm twisted, then abducted in
# the frontal plane, then flexed forwards; a forearm pronated, then flexed about the elbow hinge.
DOFS: dict[str, tuple[list[tuple[str, np.ndarray, float]], float]] = {
    "spine_flex": ([("spine05", _X, 0.4), ("spine03", _X, 0.35), ("spine01", _X, 0.25)], 0.0),
    "spine_bend": ([("spine05", _Z, 0.4), ("spine03", _Z, 0.35), ("spine01", _Z, 0.25)], 0.0),
    "spine_twist": ([("spine05", -_Y, 0.4), ("spine03", -_Y, 0.35), ("spine01", -_Y, 0.25)], 0.0),
    "neck_flex": ([("neck01", _X, 0.6), ("head", _X, 0.4)], 0.0),
    "neck_tilt": ([("neck01", _Z, 0.6), ("head", _Z, 0.4)], 0.0),
    "neck_turn": ([("neck01", -_Y, 0.7), ("head", -_Y, 0.3)], 0.0),
    "clav_elev": ([("clavicle", -_Z, 1.0)], 0.0),
    "clav_prot": ([("clavicle", _Y, 1.0)], 0.0),
    "shoulder_flex": ([("upperarm01", -_X, 1.0)], 0.0),
    "shoulder_abd": ([("upperarm01", -_Z, 1.0)], _REF_SHOULDER_ABD),
    "shoulder_rot": ([("upperarm01", _UPPERARM_AXIS, 1.0)], 0.0),
    "elbow_flex": ([("lowerarm01", _ELBOW_HINGE, 1.0)], _REF_ELBOW_FLEX),
    "forearm_twist": ([("lowerarm01", _FOREARM_AXIS, 1.0)], 0.0),
    "wrist_flex": ([("wrist", _X, 1.0)], 0.0),
    "wrist_dev": ([("wrist", _Z, 1.0)], 0.0),
    "hip_flex": ([("upperleg01", -_X, 1.0)], 0.0),
    "hip_abd": ([("upperleg01", -_Z, 1.0)], 0.0),
    "hip_rot": ([("upperleg01", -_Y, 1.0)], 0.0),
    "knee_flex": ([("lowerleg01", _X, 1.0)], 0.0),
    "ankle_flex": ([("foot", _X, 1.0)], 0.0),
    "ankle_roll": ([("foot", _Z, 1.0)], 0.0),
}  # fmt: skip


SIDED_DOFS = {n for n, (parts, _) in DOFS.items() if not parts[0][0].startswith(("spine", "neck", "head"))}


_MIRROR = np.array([1.0, -1.0, -1.0])


_BONE_INDEX = {b: i for i, b in enumerate(POSE_BONES)}


_KNOWN = frozenset(k for n in DOFS for k in ((n + ".L", n + ".R") if n in SIDED_DOFS else (n,)))


def _rotmat_to_rotvec(R: np.ndarray) -> np.ndarray:
    return rotmat_to_rotvec(np.asarray(R, np.float64))


def angles_to_rotvecs(angles: dict[str, float]) -> np.ndarray:
    """Pose rotation vectors from named joint angles.

    Args:
        angles: degrees by name: a central name of :data:`DOFS` (``"spine_flex"``) or a sided one
            with ``.L``/``.R`` (``"knee_flex.L"``). Missing names take their anatomical neutral
            (0: arms along the body, elbows straight), not anny's A-pose.
    Returns:
        (19, 3) rotation vectors of ``POSE_BONES``, radians, not clamped.
    """
    unknown = set(angles) - _KNOWN
    if unknown:
        raise ValueError(f"unknown joint angles {sorted(unknown)}; known: {', '.join(DOFS)} (sided ones with .L/.R)")
    rotmats = np.broadcast_to(np.eye(3), (len(POSE_BONES), 3, 3)).copy()
    for name, (parts, ref) in DOFS.items():
        for key in (name + ".L", name + ".R") if name in SIDED_DOFS else (name,):
            delta = np.radians(angles.get(key, 0.0) - ref)
            if delta == 0.0:
                continue
            right = key.endswith(".R")
            for bone, axis, share in parts:
                b = _BONE_INDEX[bone + key[-2:] if name in SIDED_DOFS else bone]
                rotmats[b] = rotmats[b] @ rodrigues(delta * share * (axis * _MIRROR if right else axis))
    return _rotmat_to_rotvec(rotmats)


def both_sides(**angles: float) -> dict[str, float]:
    """Angles by name; a name ending in ``_`` sets both sides (``knee_flex_=90``)."""
    out = {}
    for k, v in angles.items():
        if k.endswith("_"):
            out[k[:-1] + ".L"] = out[k[:-1] + ".R"] = v
        else:
            out[k] = v
    return out


def _flat_feet(angles: dict[str, float], tilt_x: float = 0.0) -> dict[str, float]:
    """Set both ankles (flexion, roll) so that the soles lie level, as at the reference pose.

    With ``M`` the world rotation of the shank (body tilt, thigh, knee), the foot's own rotation
    ``M^T R_y(psi)`` leaves the sole level whatever way it points (``psi``); written as
    ``R_x(flex) R_z(roll) R_y(yaw)``, the ankle takes the flexion and the roll and the yaw is dropped.
    """
    from scipy.spatial.transform import Rotation

    out = dict(angles)
    rotvecs = angles_to_rotvecs({k: v for k, v in angles.items() if k.startswith(("hip_", "knee_"))})
    tilt = rodrigues(np.radians([tilt_x, 0.0, 0.0]))
    for s, sign in ((".L", 1.0), (".R", -1.0)):
        thigh, shank = (rodrigues(rotvecs[_BONE_INDEX[b + s]]) for b in ("upperleg01", "lowerleg01"))
        M = tilt @ thigh @ shank
        flex, roll, _ = Rotation.from_matrix(M.T).as_euler("XZY", degrees=True)
        out["ankle_flex" + s], out["ankle_roll" + s] = flex, sign * roll
    return out


LEG_NAMES = ("hip_", "knee_", "ankle_")


_MAX_SPEED_DEG = 60.0  # mean angular speed between keys, at most (degrees per second)


HOLD = "hold"  # support: the root keeps its horizontal place (a chair carries the pelvis)


@dataclasses.dataclass
class KeyTrack:
    """Keyframes on a timeline: times (s), named angles (deg), body tilt (deg, rotation vector),
    and the support of the move into each key: body parts that stay planted (``_regions`` names),
    ``HOLD``, or None for whatever touches the floor."""

    rng: np.random.Generator
    times: list[float] = dataclasses.field(default_factory=list)
    angles: list[dict[str, float]] = dataclasses.field(default_factory=list)
    tilts: list[np.ndarray] = dataclasses.field(default_factory=list)
    supports: list = dataclasses.field(default_factory=list)
    max_speed: float = _MAX_SPEED_DEG

    def to(
        self, angles, dur: float, tilt=(0.0, 0.0, 0.0), jitter: float = 3.0, support=None, leg_jitter=None, feet=None
    ) -> KeyTrack:
        """Move to a pose in ``dur`` seconds, or slower: no angle turns faster than ``max_speed``
        (deg/s) on average. Angles get N(0, jitter) degrees of variation (N(0, leg_jitter) for the
        legs); then, unless ``feet`` is None, the soles are levelled and plantarflexed by ``feet``
        degrees (one number, or one per side (L, R): tiptoe, the ball of a foot)."""
        leg_jitter = jitter if leg_jitter is None else leg_jitter
        a = {}
        for k, v in angles.items():
            sd = leg_jitter if k.startswith(LEG_NAMES) else jitter
            a[k] = v + (self.rng.normal(0.0, sd) if sd else 0.0)
        tilt = np.asarray(tilt, dtype=np.float64)
        if feet is not None:
            a = _flat_feet(a, tilt[0])
            for side, extra in zip((".L", ".R"), np.broadcast_to(feet, 2)):
                a["ankle_flex" + side] += extra
        if self.times:
            prev = self.angles[-1]
            change = max(abs(a.get(k, 0.0) - prev.get(k, 0.0)) for k in {*a, *prev})
            change = max(change, np.abs(tilt - self.tilts[-1]).max())
            self.times.append(self.times[-1] + max(dur, change / self.max_speed))
        else:
            self.times.append(0.0)
        self.angles.append(a)
        self.tilts.append(tilt)
        self.supports.append(support)
        return self

    def hold(self, dur: float, jitter: float = 2.5, support="same") -> KeyTrack:
        """Stay in the last pose for ``dur`` seconds, the trunk, head and arms drifting a little."""
        base, tilt = self.angles[-1], self.tilts[-1]
        support = self.supports[-1] if support == "same" else support
        n = max(1, int(round(dur / self.rng.uniform(0.8, 1.6))))
        for _ in range(n):
            a = {k: v + (0.0 if k.startswith(LEG_NAMES) else self.rng.normal(0.0, jitter)) for k, v in base.items()}
            for k in ("neck_turn", "neck_flex"):  # look around
                a[k] = a.get(k, 0.0) + self.rng.normal(0.0, 3 * jitter)
            self.to(a, dur / n, tilt, jitter=0.0, support=support)
        return self


def _smoothstep_interp(times: np.ndarray, values: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Ease-in/ease-out between keys: (K, ...) values at increasing times -> (T, ...)."""
    k = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    span = np.maximum(times[k + 1] - times[k], 1e-9)
    s = np.clip((t - times[k]) / span, 0.0, 1.0)
    w = (s * s * (3.0 - 2.0 * s)).reshape((-1,) + (1,) * (values.ndim - 1))
    return (1.0 - w) * values[k] + w * values[k + 1]


def render_track(
    track: KeyTrack,
    n_frames: int,
    fps: float,
    rng: np.random.Generator,
    body: BodyModel,
    shape_params: np.ndarray | None,
    source: str,
    smooth: str = "ease",
) -> MotionClip:
    """Sample a track at ``fps`` in a random window of ``n_frames``, add a heading, ground it."""
    duration = (n_frames - 1) / fps
    if track.times[-1] < duration:
        track.hold(duration - track.times[-1] + 1e-6)
    t0 = rng.uniform(0.0, track.times[-1] - duration)
    t = t0 + np.arange(n_frames) / fps
    times = np.asarray(track.times)
    poses = np.stack([angles_to_rotvecs(a) for a in track.angles])  # (K, 19, 3)
    if smooth == "pchip":
        from scipy.interpolate import PchipInterpolator

        pose_rotvecs = PchipInterpolator(times, poses, axis=0)(t)
    else:
        pose_rotvecs = _smoothstep_interp(times, poses, t)
    # Tilts stay within 120 deg of upright (< pi), where lerping rotation vectors is well behaved.
    tilt = rodrigues(_smoothstep_interp(times, np.radians(np.stack(track.tilts)), t))
    heading = rodrigues(np.array([0.0, rng.uniform(-np.pi, np.pi), 0.0]))
    regions = _regions(body)
    support = []
    for k in np.clip(np.searchsorted(times, t, side="right"), 1, len(times) - 1):  # the key moved to
        names = track.supports[k]
        if names is None:
            support.append(None)
        else:
            names = () if names == HOLD else names
            support.append(np.concatenate([regions[n] for n in names]) if names else np.zeros(0, dtype=np.int64))
    motion = MotionClip(
        pose_rotvecs=clamp_pose(pose_rotvecs),
        global_rotvecs=_rotmat_to_rotvec(heading @ tilt),
        trans=np.zeros((n_frames, 3)),
        fps=float(fps),
        source=source,
        shape_params=None if shape_params is None else np.asarray(shape_params, dtype=np.float64).reshape(6),
    )
    return ground_motion(motion, body, support=support)


def _posed_vertices(body: BodyModel, pose_rotvecs, global_rotvecs, shape_params, batch: int = 64):
    """Yield (start, (B, V, 3) vertices with the root at the origin) over the frames, numpy."""
    sp = None if shape_params is None else torch.as_tensor(shape_params, dtype=body.dtype).reshape(1, 6)
    with torch.no_grad():
        for s in range(0, len(pose_rotvecs), batch):
            out = body(torch.as_tensor(pose_rotvecs[s : s + batch]), sp, torch.as_tensor(global_rotvecs[s : s + batch]))
            yield s, out.vertices.numpy()


def _planted_step(w: np.ndarray, disp: np.ndarray, slip: float = 0.01, iters: int = 4) -> np.ndarray:
    """The common displacement (2,) of the contact vertices: a mean weighted by contact ``w``,
    re-weighted so that vertices leaving with another motion (a foot lifting off) stop counting."""
    weights = w
    for _ in range(iters):
        step = weights @ disp / weights.sum()
        weights = w * np.exp(-np.sum((disp - step) ** 2, axis=-1) / (2 * slip**2))
        if weights.sum() < 1e-9:
            break
    return step


def ground_motion(
    motion: MotionClip,
    body: BodyModel,
    contact_height: float = 0.02,
    support: list[np.ndarray | None] | None = None,
) -> MotionClip:
    """Root path from the pose alone: on the floor, the contact points planted.

    Each frame the root is lowered until the body's lowest vertex touches the floor (y = 0), so
    nothing goes below it and something always rests on it. Horizontally, the root moves so that
    the vertices near the floor keep their place from one frame to the next (their common
    displacement, weighted by ``exp(-height / contact_height)`` and robust to vertices that move
    otherwise, e.g. a foot lifting off, is cancelled): the feet stay put while a person crouches,
    the buttocks while the person lies back.

    Args:
        motion: its poses, orientations and shape are used; ``trans[0]``'s x, z is the start.
        body: the body model.
        contact_height: metres; how near the floor a vertex counts as touching it.
        support: optional, per frame: vertex indices allowed to carry the body (None: all; an
            empty array: the root keeps its horizontal place, as on a chair). Where none of them
            touches the floor, all vertices are used.
    Returns:
        the motion with a new ``trans`` (T, 3), metres, world frame (y down).
    """
    T = motion.n_frames
    trans = np.zeros((T, 3))
    trans[0, [0, 2]] = motion.trans[0, [0, 2]]
    prev = None
    for s, V in _posed_vertices(body, motion.pose_rotvecs, motion.global_rotvecs, motion.shape_params):
        low = V[:, :, 1].max(axis=1)  # y down: the lowest point has the largest y
        trans[s : s + len(V), 1] = -low
        height = low[:, None] - V[:, :, 1]  # (B, V) >= 0
        for i in range(len(V)):
            f = s + i
            if prev is not None:
                w = np.exp(-0.5 * (height[i] + prev[1]) / contact_height)
                sel = None if support is None else support[f]
                if sel is None or (len(sel) and w[sel].sum() < 1e-3):
                    sel = slice(None)
                step = _planted_step(w[sel], V[i][sel][:, [0, 2]] - prev[0][sel]) if len(w[sel]) else np.zeros(2)
                trans[f, [0, 2]] = trans[f - 1, [0, 2]] - step
            prev = (V[i][:, [0, 2]], height[i])
    return dataclasses.replace(motion, trans=trans)


@functools.lru_cache(maxsize=4)
def _regions(body: BodyModel) -> dict[str, np.ndarray]:
    """Vertex indices of body parts, by each vertex's most weighted bone."""
    a = body.anny
    dom = a.vertex_bone_indices.gather(1, a.vertex_bone_weights.argmax(1, keepdim=True))[:, 0].numpy()
    label = np.array(body.bone_labels)[dom]
    parts = {
        "feet.L": lambda n: n == "foot.L" or (n.startswith("toe") and n.endswith(".L")),
        "feet.R": lambda n: n == "foot.R" or (n.startswith("toe") and n.endswith(".R")),
        "shin.L": lambda n: n.startswith("lowerleg0") and n.endswith(".L"),
        "shin.R": lambda n: n.startswith("lowerleg0") and n.endswith(".R"),
        "seat": lambda n: n in ("root", "spine05", "pelvis.L", "pelvis.R", "upperleg01.L", "upperleg01.R"),
        "back": lambda n: n.startswith("spine") or n in ("root", "pelvis.L", "pelvis.R"),
        "hands": lambda n: n.startswith(("wrist", "finger", "metacarpal")),
    }
    return {k: np.nonzero([f(n) for n in label])[0] for k, f in parts.items()}


def touch_floor(
    body: BodyModel,
    shape_params: np.ndarray | None,
    angles: dict[str, float],
    tilt: np.ndarray,
    move: dict[str, float],
    parts: tuple[str, str],
    span: tuple[float, float] = (-30.0, 30.0),
    flat: bool = False,
) -> tuple[dict[str, float], np.ndarray]:
    """Change a pose along ``move`` (degrees per unit; key ``"tilt"`` tilts the body about x) until
    the lowest points of two body parts are level, so both rest on the floor; ``flat`` keeps the
    soles level on the way."""

    def apply(s: float) -> tuple[dict[str, float], np.ndarray]:
        a = dict(angles)
        for k, v in move.items():
            if k != "tilt":
                a[k] = a.get(k, 0.0) + s * v
        t = tilt + np.array([s * move.get("tilt", 0.0), 0.0, 0.0])
        return (_flat_feet(a, t[0]) if flat else a), t

    steps = np.linspace(span[0], span[1], 9)
    cands = [apply(s) for s in steps]
    pose = clamp_pose(np.stack([angles_to_rotvecs(a) for a, _ in cands]))
    glob = np.radians(np.stack([t for _, t in cands]))
    ((_, V),) = _posed_vertices(body, pose, glob, shape_params, batch=len(steps))
    reg = _regions(body)
    f = V[:, reg[parts[0]], 1].max(1) - V[:, reg[parts[1]], 1].max(1)  # > 0: part 0 is lower
    cross = np.nonzero(np.sign(f[:-1]) != np.sign(f[1:]))[0]
    if len(cross):
        i = cross[0]
        return apply(steps[i] + (steps[i + 1] - steps[i]) * f[i] / (f[i] - f[i + 1]))
    logger.debug("cannot rest %s and %s on the floor together along %s; closest: %.3f m", *parts, move, np.abs(f).min())
    return apply(steps[np.argmin(np.abs(f))])
