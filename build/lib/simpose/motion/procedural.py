"""Procedural motion: what the CMU mocap lacks (sitting, kneeling, lying, everyday hand poses).

Sign conventions of the pose rotation vectors, checked by running the body forward (simpose axes:
x = the body's left, y down, z backwards for a body facing -z; LEFT side given, the right side
mirrors it with the y and z components negated):

============== ======================================= =====================================
bone           +x                                      other axes
============== ======================================= =====================================
spine05/03/01  flexion (bends the trunk forward)       +z bends to the left, +y turns right
neck01, head   flexion (chin down)                     +z tilts to the left, +y turns right
clavicle.L     (axial, small)                          -z elevates (shrug), +y protracts
upperarm01.L   extension (arm backwards); -x flexion   -z abducts (raises the arm sideways);
                                                       +y swings it forwards
lowerarm01.L   (part of the hinge)                     flexion is about h = (-0.743, 0.667,
                                                       -0.047): +y and -x together
upperleg01.L   extension (thigh backwards); -x flexion -z abducts, -y rotates externally
lowerleg01.L   knee flexion (the shank swings back)    +-y, +-z: small tibial play
foot.L         plantarflexion (toes down)              +y turns the toes inwards, +z inverts
                                                       (the sole's outer edge down)
============== ======================================= =====================================

A global rotation about +x tilts the body forwards; -90 deg of it lays the body on its back.

anny's reference pose is an A-pose: the arms hang 42 deg out from the sides with the elbows
already flexed 42 deg, the knees 8.6 deg. The named angles below (``DOFS``) count from the
anatomical position instead: ``shoulder_abd = 0`` puts the arm along the body, ``elbow_flex = 0``
straightens it.

Joint limits: ``JOINT_LIMITS_DEG`` of :mod:`simpose.body.model`, whose z ranges of the left
clavicle, upper arm and thigh and whose elbow box were corrected from the directions above, and
widened where everyday poses need it (arm overhead, hip flexion 125 deg, a flexed thigh turned
out for cross-legged sitting).

Motion: every family is a list of keyframes (named angles in degrees with random jitter, a body
tilt, random timing) on a timeline; poses are interpolated with an ease-in/ease-out between keys
(zero velocity at each key, C1; a monotone cubic for random motion), with no angle faster than
60 deg/s on average, and clamped to the limits. Holds drift a little (the trunk, arms and head move
by a few degrees). Where a pose rests on two parts (a knee and the other foot, buttocks and feet)
one angle of the keyframe is solved so that both touch the floor. The root follows the pose
(:func:`ground_motion`): each frame the body is lowered until its lowest vertex touches the floor
(y = 0), and it moves horizontally so that the vertices touching the floor keep their place (the
feet stay planted while a person sits down, the buttocks while lying back). A chair or table is
implicit: a seated body rests on its feet with the thighs level, which puts the pelvis at about
knee height.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Callable

import numpy as np
import roma
import torch

from simpose.body.model import JOINT_LIMITS_DEG, POSE_BONES, POSE_LIMITS_RAD, BodyModel
from simpose.motion.retarget import MotionClip

logger = logging.getLogger(__name__)

__all__ = [
    "LIMITS_DEG",
    "LIMITS_RAD",
    "DOFS",
    "FAMILIES",
    "angles_to_rotvecs",
    "clamp_pose",
    "generate",
    "random_motion",
    "ground_motion",
    "GRAFT_BONES",
    "graft_upper_body",
]

# --------------------------------------------------------------------------------------- limits

# The body model's table (its z and elbow ranges were corrected from what this module found).
LIMITS_DEG = JOINT_LIMITS_DEG


LIMITS_RAD: np.ndarray = POSE_LIMITS_RAD  # (19, 3, 2) lower, upper, radians


def clamp_pose(pose_rotvecs: np.ndarray) -> np.ndarray:
    """Clamp (..., 19, 3) rotation vectors component-wise to :data:`LIMITS_RAD`."""
    return np.clip(pose_rotvecs, LIMITS_RAD[..., 0], LIMITS_RAD[..., 1])


# ----------------------------------------------------------------------------- named angles

_X, _Y, _Z = np.eye(3)
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
_SIDED = {n for n, (parts, _) in DOFS.items() if not parts[0][0].startswith(("spine", "neck", "head"))}
_MIRROR = np.array([1.0, -1.0, -1.0])
_BONE_INDEX = {b: i for i, b in enumerate(POSE_BONES)}
_KNOWN = frozenset(k for n in DOFS for k in ((n + ".L", n + ".R") if n in _SIDED else (n,)))


def _rotvec_to_rotmat(r: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors -> (..., 3, 3) rotation matrices (Rodrigues)."""
    r = np.asarray(r, dtype=np.float64)
    theta = np.linalg.norm(r, axis=-1)[..., None, None]
    k = r / np.maximum(theta[..., 0], 1e-300)
    K = np.zeros(r.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    K[..., 1, 0], K[..., 2, 0], K[..., 2, 1] = k[..., 2], -k[..., 1], k[..., 0]
    return np.eye(3) + np.sin(theta) * K + (1.0 - np.cos(theta)) * (K @ K)


def _rotmat_to_rotvec(R: np.ndarray) -> np.ndarray:
    return roma.rotmat_to_rotvec(torch.as_tensor(R, dtype=torch.float64)).numpy()


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
        for key in (name + ".L", name + ".R") if name in _SIDED else (name,):
            delta = np.radians(angles.get(key, 0.0) - ref)
            if delta == 0.0:
                continue
            right = key.endswith(".R")
            for bone, axis, share in parts:
                b = _BONE_INDEX[bone + key[-2:] if name in _SIDED else bone]
                rotmats[b] = rotmats[b] @ _rotvec_to_rotmat(delta * share * (axis * _MIRROR if right else axis))
    return _rotmat_to_rotvec(rotmats)


def _both(**angles: float) -> dict[str, float]:
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
    tilt = _rotvec_to_rotmat(np.radians([tilt_x, 0.0, 0.0]))
    for s, sign in ((".L", 1.0), (".R", -1.0)):
        thigh, shank = (_rotvec_to_rotmat(rotvecs[_BONE_INDEX[b + s]]) for b in ("upperleg01", "lowerleg01"))
        M = tilt @ thigh @ shank
        flex, roll, _ = Rotation.from_matrix(M.T).as_euler("XZY", degrees=True)
        out["ankle_flex" + s], out["ankle_roll" + s] = flex, sign * roll
    return out


# ------------------------------------------------------------------------------- keyframes

_LEG_NAMES = ("hip_", "knee_", "ankle_")
_MAX_SPEED_DEG = 60.0  # mean angular speed between keys, at most (degrees per second)
HOLD = "hold"  # support: the root keeps its horizontal place (a chair carries the pelvis)


@dataclasses.dataclass
class _Track:
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
    ) -> _Track:
        """Move to a pose in ``dur`` seconds, or slower: no angle turns faster than ``max_speed``
        (deg/s) on average. Angles get N(0, jitter) degrees of variation (N(0, leg_jitter) for the
        legs); then, unless ``feet`` is None, the soles are levelled and plantarflexed by ``feet``
        degrees (one number, or one per side (L, R): tiptoe, the ball of a foot)."""
        leg_jitter = jitter if leg_jitter is None else leg_jitter
        a = {}
        for k, v in angles.items():
            sd = leg_jitter if k.startswith(_LEG_NAMES) else jitter
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

    def hold(self, dur: float, jitter: float = 2.5, support="same") -> _Track:
        """Stay in the last pose for ``dur`` seconds, the trunk, head and arms drifting a little."""
        base, tilt = self.angles[-1], self.tilts[-1]
        support = self.supports[-1] if support == "same" else support
        n = max(1, int(round(dur / self.rng.uniform(0.8, 1.6))))
        for _ in range(n):
            a = {k: v + (0.0 if k.startswith(_LEG_NAMES) else self.rng.normal(0.0, jitter)) for k, v in base.items()}
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


def _render(
    track: _Track,
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
    tilt = _rotvec_to_rotmat(_smoothstep_interp(times, np.radians(np.stack(track.tilts)), t))
    heading = _rotvec_to_rotmat(np.array([0.0, rng.uniform(-np.pi, np.pi), 0.0]))
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


# --------------------------------------------------------------------------------- grounding


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


# ------------------------------------------------------------------------------- contacts


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


def _touch(
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


# ------------------------------------------------------------------------------- families
# A family builds a _Track from the rng; ``ctx`` (body, shape) lets it put two supports on the
# floor at once. All angles are degrees; ``u`` is rng.uniform.

_FEET = ("feet.L", "feet.R")


@dataclasses.dataclass(frozen=True)
class _Ctx:
    body: BodyModel
    shape_params: np.ndarray | None

    def touch(self, angles, tilt, move, parts, span=(-30.0, 30.0), flat=False):
        return _touch(self.body, self.shape_params, angles, np.asarray(tilt, dtype=np.float64), move, parts, span, flat)


def _side(rng) -> tuple[str, str]:
    return (".L", ".R") if rng.random() < 0.5 else (".R", ".L")


def _stand(rng) -> dict[str, float]:
    """Standing at ease (use with ``feet=0``)."""
    u = rng.uniform
    a = _both(shoulder_abd_=u(5, 14), elbow_flex_=u(5, 25), hip_abd_=u(0, 6), knee_flex_=u(0, 6))
    a.update(spine_flex=u(-3, 6), neck_flex=u(-5, 10))
    return a


def _seated_legs(rng, tilt: float) -> dict[str, float]:
    """Thighs 75-88 deg forwards of hanging down (whatever the pelvis tilt), shanks from 15 deg
    tucked under to 20 deg forwards: a seat at about knee height."""
    u = rng.uniform
    thigh = u(75, 88)
    return _both(hip_flex_=thigh + tilt, knee_flex_=thigh + u(-20, 15), hip_abd_=u(3, 15), hip_rot_=u(-8, 8))


def _seated_arms(rng) -> dict[str, float]:
    u = rng.uniform
    kind = rng.integers(3)
    if kind == 0:  # hands on the thighs
        return _both(shoulder_flex_=u(15, 35), shoulder_abd_=u(5, 15), elbow_flex_=u(50, 75))
    if kind == 1:  # hands in the lap
        return _both(shoulder_flex_=u(5, 20), shoulder_abd_=u(5, 12), elbow_flex_=u(80, 100), shoulder_rot_=u(20, 40))
    return _both(shoulder_flex_=u(0, 15), shoulder_abd_=u(15, 25), elbow_flex_=u(80, 95))  # armrests


def _chair_pose(rng) -> tuple[dict[str, float], float]:
    """Seated on an (implicit) chair, both feet down: legs symmetric, use with ``leg_jitter=0, feet=0``."""
    tilt = rng.uniform(-8, 3)
    a = {**_seated_legs(rng, tilt), **_seated_arms(rng), "spine_flex": rng.uniform(-5, 15), "neck_flex": rng.uniform(-5, 15)}
    return a, tilt


def _sit_chair(rng, ctx) -> _Track:
    """Sitting on a chair, changing posture now and then."""
    tr = _Track(rng)
    for _ in range(3):
        a, tilt = _chair_pose(rng)
        if rng.random() < 0.3:  # a gesture
            s, _ = _side(rng)
            a.update({"shoulder_flex" + s: rng.uniform(30, 60), "elbow_flex" + s: rng.uniform(60, 100)})
        tr.to(a, rng.uniform(0.8, 2.0), tilt=(tilt, 0, 0), support=HOLD, leg_jitter=0.0, feet=0.0)
        tr.hold(rng.uniform(1.0, 3.0))
    return tr


def _floor_pose(rng, ctx) -> tuple[dict[str, float], np.ndarray]:
    u = rng.uniform
    kind = rng.integers(3)
    lean = {"tilt": 1.0, "spine_flex": -1.0}  # tilt the pelvis, keep the trunk's direction
    if kind == 0:  # cross-legged, hands in the lap
        a = _both(hip_flex_=u(85, 95), hip_abd_=u(38, 48), hip_rot_=u(60, 72), knee_flex_=u(138, 145))
        a.update(_both(shoulder_flex_=u(15, 30), shoulder_abd_=u(5, 15), elbow_flex_=u(60, 90)), spine_flex=u(40, 50))
        return ctx.touch(a, (-30.0, 0, 0), lean, ("seat", "feet.L"), (-20.0, 20.0))
    if kind == 1:  # knees up, arms around them
        return _knees_up(rng, ctx, _both(shoulder_flex_=u(40, 60), shoulder_abd_=u(5, 15), elbow_flex_=u(40, 70)))
    # legs forward, hands on the floor beside the hips
    a = _both(hip_flex_=u(80, 95), knee_flex_=u(0, 25), hip_abd_=u(5, 15), ankle_flex_=u(10, 30))
    a.update(_both(shoulder_flex_=u(-10, 15), shoulder_abd_=u(10, 25), elbow_flex_=5.0), spine_flex=u(5, 20))
    a, tilt = ctx.touch(a, (-5.0, 0, 0), {"hip_flex.L": 1.0, "hip_flex.R": 1.0}, ("seat", "feet.L"), (-20.0, 20.0))
    return ctx.touch(a, tilt, {"elbow_flex.L": 1.0, "elbow_flex.R": 1.0}, ("hands", "seat"), (0.0, 70.0))


def _knees_up(rng, ctx, arms: dict[str, float]) -> tuple[dict[str, float], np.ndarray]:
    """Sitting on the floor, knees up, feet flat: the pelvis rolled back, the trunk up, the knees
    bent as far as lets the feet and the buttocks rest on the floor together."""
    u = rng.uniform
    tilt = u(-30, -20)
    a = _both(hip_flex_=u(115, 122), knee_flex_=110.0, hip_abd_=u(5, 15))
    a.update(arms, spine_flex=-tilt + u(0, 10))
    move = {"knee_flex.L": 1.0, "knee_flex.R": 1.0}
    return ctx.touch(a, (tilt, 0, 0), move, ("seat", "feet.L"), (-40.0, 30.0), flat=True)


def _sit_floor(rng, ctx) -> _Track:
    """Sitting on the floor: cross-legged, knees up or legs forward."""
    tr = _Track(rng)
    for i in range(2):
        a, tilt = _floor_pose(rng, ctx)
        if i:  # rearranging the legs, the feet sliding on the floor: rest on both half way
            prev, prev_tilt = tr.angles[-1], tr.tilts[-1]
            mid = {k: 0.5 * (a.get(k, 0.0) + prev.get(k, 0.0)) for k in {*a, *prev}}
            lean = {"tilt": 1.0, "spine_flex": -1.0}
            mid, mid_tilt = ctx.touch(mid, 0.5 * (tilt + prev_tilt), lean, ("seat", "feet.L"), (-15.0, 15.0))
            tr.to(mid, rng.uniform(0.8, 1.2), tilt=mid_tilt, jitter=0.0, support=("seat",))
        tr.to(a, rng.uniform(0.8, 1.2), tilt=tilt, jitter=0.0, support=("seat",)).hold(rng.uniform(1.5, 4.0))
    return tr


def _sit_down_stand_up(rng, ctx) -> _Track:
    """Standing, sitting down on a chair, sitting, standing up."""
    u = rng.uniform
    stand = _stand(rng)
    sit, tilt = _chair_pose(rng)
    half = {k: v * u(0.5, 0.7) for k, v in sit.items() if k.startswith(_LEG_NAMES)}
    lean = {**stand, **half, "spine_flex": u(15, 30), **_both(shoulder_flex_=u(10, 50))}
    rise = {**sit, "spine_flex": u(20, 35), **_both(shoulder_flex_=u(20, 60))}
    tr = _Track(rng).to(stand, 0.0, feet=0.0).hold(u(0.5, 1.5))
    tr.to(lean, u(0.6, 1.0), tilt=(15, 0, 0), support=_FEET, leg_jitter=0.0, feet=0.0)
    tr.to(sit, u(0.6, 1.0), tilt=(tilt, 0, 0), support=_FEET, leg_jitter=0.0, feet=0.0).hold(u(1.0, 3.0), support=HOLD)
    tr.to(rise, u(0.5, 0.9), tilt=(20, 0, 0), support=HOLD, leg_jitter=0.0, feet=0.0)
    tr.to(lean, u(0.5, 0.8), tilt=(15, 0, 0), support=_FEET, leg_jitter=0.0, feet=0.0)
    return tr.to(_stand(rng), u(0.5, 0.9), support=_FEET, leg_jitter=0.0, feet=0.0).hold(u(0.5, 2.0))


def _crouch_pose(rng) -> tuple[dict[str, float], float, float]:
    """A squat: (angles, body tilt, plantarflexion beyond level feet)."""
    u = rng.uniform
    if rng.random() < 0.5:  # heels down
        tilt, toes = u(8, 20), 0.0
        a = _both(hip_flex_=u(100, 110), knee_flex_=u(120, 135), hip_abd_=u(10, 25))
    else:  # on the toes
        tilt, toes = u(5, 15), u(20, 35)
        a = _both(hip_flex_=u(95, 105), knee_flex_=u(135, 145), hip_abd_=u(10, 25))
    f, e = [(u(30, 70), u(20, 60)), (u(45, 60), u(10, 30)), (u(60, 85), u(0, 10))][rng.integers(3)]
    a.update(_both(shoulder_flex_=f, elbow_flex_=e, shoulder_abd_=u(5, 20)), spine_flex=u(15, 35), neck_flex=u(-20, 5))
    return a, tilt, toes


def _crouch(rng, ctx) -> _Track:
    """Crouching down (heels down or on the toes) and getting up."""
    u = rng.uniform
    a, tilt, toes = _crouch_pose(rng)
    tr = _Track(rng).to(_stand(rng), 0.0, feet=0.0).hold(u(0.3, 1.5))
    tr.to(a, u(0.8, 1.4), tilt=(tilt, 0, 0), support=_FEET, leg_jitter=0.0, feet=toes).hold(u(1.0, 3.0))
    return tr.to(_stand(rng), u(0.8, 1.4), support=_FEET, feet=0.0).hold(u(0.5, 2.0))


def _kneel_legs(ctx, a: dict[str, float], tilt, side: str) -> tuple[dict[str, float], np.ndarray]:
    """Turn a kneeling leg about the hip until its knee and its toes both touch the floor."""
    return ctx.touch(a, tilt, {"hip_flex" + side: 1.0}, ("shin" + side, "feet" + side), (-30.0, 30.0))


def _one_knee(rng, ctx, front: str, back: str) -> tuple[dict[str, float], np.ndarray]:
    u = rng.uniform
    hip = u(85, 100)
    a = {"hip_flex" + front: hip, "knee_flex" + front: hip + u(-5, 10), "hip_abd" + front: u(0, 10)}
    a["ankle_flex" + front] = hip - a["knee_flex" + front]
    a.update({"hip_flex" + back: u(-10, 5), "knee_flex" + back: u(90, 110), "ankle_flex" + back: u(-15, 45)})
    a.update(_both(shoulder_abd_=u(5, 15), shoulder_flex_=u(0, 30), elbow_flex_=u(10, 60)), spine_flex=u(0, 15))
    a, tilt = _kneel_legs(ctx, a, (u(-5, 5), 0, 0), back)
    move = {"hip_flex" + front: 1.0, "knee_flex" + front: 1.0}
    return ctx.touch(a, tilt, move, ("feet" + front, "shin" + back), (-25.0, 25.0))


def _kneel(rng, ctx) -> _Track:
    """Going down on one knee, sometimes both (upright or sitting on the heels), and back up."""
    u = rng.uniform
    front, back = _side(rng)
    one, tilt = _one_knee(rng, ctx, front, back)
    stand = _stand(rng)
    step = {**stand, "hip_flex" + front: u(45, 60), "knee_flex" + front: u(50, 70), "knee_flex" + back: u(10, 25)}
    step["spine_flex"] = u(5, 15)
    ball = (0.0, u(10, 25)) if back == ".R" else (u(10, 25), 0.0)  # the back foot on its ball
    lunge = {**one, "knee_flex" + back: u(30, 50), "hip_flex" + back: u(-25, -10), "ankle_flex" + back: u(10, 30)}
    tr = _Track(rng).to(stand, 0.0, feet=0.0).hold(u(0.3, 1.5))
    tr.to(step, u(0.5, 0.8), support=("feet" + back,), feet=ball)
    tr.to(one, u(0.8, 1.2), tilt=tilt, jitter=0.0, support=("feet" + back, "shin" + back))
    if rng.random() < 0.5:  # both knees: upright or sitting on the heels
        t2 = u(-5, 5)
        if rng.random() < 0.5:
            two = _both(hip_flex_=u(-5, 10), knee_flex_=u(90, 110), ankle_flex_=u(-15, 45), spine_flex=u(0, 10))
        else:
            two = _both(hip_flex_=u(50, 60), knee_flex_=u(140, 145), ankle_flex_=u(-25, 45), spine_flex=u(5, 20) - t2)
        two.update(_both(shoulder_flex_=u(10, 35), shoulder_abd_=u(5, 15), elbow_flex_=u(20, 80)))
        two, t2 = _kneel_legs(ctx, two, (t2, 0, 0), ".L")
        two, t2 = _kneel_legs(ctx, two, t2, ".R")
        # the front foot comes off the floor (knee bent up) before the thigh goes down, and back
        hf, kf, af = ("hip_flex" + front, "knee_flex" + front, "ankle_flex" + front)
        lift_a = {**one, hf: one[hf] + u(10, 20), kf: one[kf] + u(20, 30), af: one[af] - u(0, 10)}
        lift_b = {**lift_a, hf: two[hf] + u(15, 25), kf: u(135, 145), af: u(25, 40)}
        on_knee = dict(jitter=0.0, support=("shin" + back,))
        tr.to(lift_a, u(0.4, 0.6), tilt=tilt, **on_knee).to(lift_b, u(0.4, 0.6), tilt=t2, **on_knee)
        tr.to(two, u(0.4, 0.6), tilt=t2, **on_knee).hold(u(1.0, 3.0))
        tr.to(lift_b, u(0.4, 0.6), tilt=t2, **on_knee).to(lift_a, u(0.4, 0.6), tilt=tilt, **on_knee)
        tr.to(one, u(0.4, 0.6), tilt=tilt, **on_knee)
    else:
        tr.hold(u(1.0, 3.0))
    tr.to(lunge, u(0.6, 1.0), tilt=tilt, support=("feet" + front,), leg_jitter=0.0)
    # up on the front foot, the back leg stepping through: foot up behind, then forwards
    tuck = {**_stand(rng), "hip_flex" + back: u(-5, 10), "knee_flex" + back: u(85, 100), "knee_flex" + front: u(15, 30)}
    swing = {**_stand(rng), "hip_flex" + back: u(35, 50), "knee_flex" + back: u(60, 80), "knee_flex" + front: u(5, 20)}
    tr.to(tuck, u(0.5, 0.8), support=("feet" + front,), feet=0.0).to(swing, u(0.4, 0.6), support=("feet" + front,), feet=0.0)
    return tr.to(_stand(rng), u(0.4, 0.7), support=("feet" + front,), feet=0.0).hold(u(0.5, 2.0))


def _pick_up(rng, ctx) -> _Track:
    """Bending (stooping or squatting) to pick something up with one or both hands."""
    u = rng.uniform
    if rng.random() < 0.6:  # stoop
        tilt = u(10, 25)
        bend = _both(hip_flex_=u(70, 90), knee_flex_=u(10, 35), hip_abd_=u(3, 12))
        bend["spine_flex"] = u(35, 60)
    else:  # squat
        tilt = u(10, 20)
        bend = _both(hip_flex_=u(95, 110), knee_flex_=u(110, 130), hip_abd_=u(10, 25))
        bend["spine_flex"] = u(25, 40)
    s, o = _side(rng)
    both_hands = rng.random() < 0.4
    for side in (s, o) if both_hands else (s,):
        bend.update({"shoulder_flex" + side: u(60, 100), "elbow_flex" + side: u(0, 20), "shoulder_abd" + side: u(5, 15)})
    if not both_hands:
        bend.update({"shoulder_flex" + o: u(0, 40), "elbow_flex" + o: u(10, 60), "shoulder_abd" + o: u(5, 20)})
    bend["neck_flex"] = u(-15, 15)
    carry = _stand(rng)
    carry.update({"shoulder_flex" + s: u(10, 30), "elbow_flex" + s: u(60, 100)})
    tr = _Track(rng).to(_stand(rng), 0.0, feet=0.0).hold(u(0.3, 1.5))
    tr.to(bend, u(0.8, 1.4), tilt=(tilt, 0, 0), support=_FEET, feet=0.0).hold(u(0.2, 0.8))
    return tr.to(carry, u(0.8, 1.4), support=_FEET, feet=0.0).hold(u(0.5, 2.0))


def _arm(side: str, flex: float, abd: float, elbow: float) -> dict[str, float]:
    return {"shoulder_flex" + side: flex, "shoulder_abd" + side: abd, "elbow_flex" + side: elbow}


def _reach(rng, ctx) -> _Track:
    """Reaching up (sometimes on tiptoe), forwards or sideways, with one or both arms."""
    u = rng.uniform
    tr = _Track(rng).to(_stand(rng), 0.0, feet=0.0).hold(u(0.3, 1.0))
    for _ in range(3):
        a = _stand(rng)
        s, _o = _side(rng)
        sides = (".L", ".R") if rng.random() < 0.35 else (s,)
        kind = rng.integers(3)
        tilt = 0.0
        for side in sides:
            if kind == 0:  # up
                a.update(_arm(side, u(150, 170), u(0, 20), u(0, 15)), spine_flex=u(-10, 0), neck_flex=u(-30, -10))
            elif kind == 1:  # forward
                a.update(_arm(side, u(75, 100), u(0, 15), u(0, 20)), spine_flex=u(10, 35), neck_flex=u(-10, 0))
                tilt = u(0, 15)
            else:  # sideways, the trunk leaning with the arm
                a.update(_arm(side, u(0, 20), u(80, 105), u(0, 15)))
                a["spine_bend"] = (1 if side == ".L" else -1) * u(5, 20) if len(sides) == 1 else 0.0
        toes = u(15, 25) if kind == 0 and rng.random() < 0.4 else 0.0  # on tiptoe
        tr.to(a, u(0.6, 1.2), tilt=(tilt, 0, 0), support=_FEET, feet=toes).hold(u(0.4, 1.5))
        tr.to(_stand(rng), u(0.6, 1.2), support=_FEET, feet=0.0).hold(u(0.3, 1.0))
    return tr


def _lying(rng, ctx) -> tuple[dict[str, float], np.ndarray]:
    """On the back: legs straight or a knee bent (foot flat), arms by the sides, on the belly or behind the head."""
    u = rng.uniform
    a = _both(hip_flex_=u(0, 5), knee_flex_=u(0, 10), ankle_flex_=u(20, 35), hip_abd_=u(0, 12))
    arms = rng.integers(3)
    if arms == 0:
        a.update(_both(shoulder_abd_=u(10, 30), elbow_flex_=u(0, 20)))
    elif arms == 1:
        a.update(_both(shoulder_flex_=u(20, 40), shoulder_abd_=u(5, 15), elbow_flex_=u(80, 110), shoulder_rot_=u(20, 40)))
    tilt = np.array([-90.0, 0, 0])
    if arms == 2:  # hands under the head
        a.update(_both(shoulder_flex_=u(140, 150), shoulder_abd_=u(20, 40), elbow_flex_=u(110, 140)))
        a, tilt = ctx.touch(a, tilt, {"shoulder_flex.L": 1.0, "shoulder_flex.R": 1.0}, ("hands", "back"), (-40.0, 15.0))
    if rng.random() < 0.4:
        s, _ = _side(rng)
        hip = u(35, 50)
        a.update({"hip_flex" + s: hip, "knee_flex" + s: 2 * hip + u(0, 10), "ankle_flex" + s: 0.0})
        return ctx.touch(a, tilt, {"hip_flex" + s: 1.0, "knee_flex" + s: 2.0}, ("feet" + s, "back"), (-15.0, 15.0))
    return a, tilt


def _side_lying(rng, down: str, up: str) -> tuple[dict[str, float], np.ndarray]:
    u = rng.uniform
    a = _both(hip_flex_=u(30, 60), knee_flex_=u(40, 80), ankle_flex_=u(10, 30))
    a.update({"shoulder_flex" + down: u(70, 100), "elbow_flex" + down: u(30, 90)})
    a.update({"shoulder_flex" + up: u(10, 40), "elbow_flex" + up: u(10, 40), "spine_flex": u(5, 15)})
    roll = _rotvec_to_rotmat(np.radians([0.0, 0.0, 90.0 if down == ".L" else -90.0]))
    return a, np.degrees(_rotmat_to_rotvec(roll @ _rotvec_to_rotmat(np.radians([-90.0, 0, 0]))))


def _lie_down_get_up(rng, ctx) -> _Track:
    """Standing, crouching, sitting on the floor, lying on the back (perhaps rolling onto a side), and back up."""
    u = rng.uniform
    crouch, ctilt, toes = _crouch_pose(rng)
    sit, stilt = _knees_up(rng, ctx, _both(shoulder_flex_=u(30, 50), shoulder_abd_=u(5, 15), elbow_flex_=u(20, 60)))
    lie, ltilt = _lying(rng, ctx)
    tr = _Track(rng).to(_stand(rng), 0.0, feet=0.0).hold(u(0.5, 1.5))
    tr.to(crouch, u(1.0, 1.5), tilt=(ctilt, 0, 0), support=_FEET, leg_jitter=0.0, feet=toes)
    tr.to(sit, u(1.0, 1.5), tilt=stilt, jitter=0.0, support=_FEET)
    tr.to(lie, u(1.2, 2.0), tilt=ltilt, jitter=0.0, support=("seat",)).hold(u(1.0, 3.0))
    if rng.random() < 0.35:  # roll onto a side and back
        side, tilt = _side_lying(rng, *_side(rng))
        tr.to(side, u(1.0, 1.6), tilt=tilt).hold(u(1.0, 3.0)).to(lie, u(1.0, 1.6), tilt=ltilt, jitter=0.0).hold(u(0.5, 1.5))
    tr.to(sit, u(1.2, 2.0), tilt=stilt, jitter=0.0, support=("seat",))
    tr.to(crouch, u(1.0, 1.5), tilt=(ctilt, 0, 0), support=_FEET, leg_jitter=0.0, feet=toes)
    return tr.to(_stand(rng), u(1.0, 1.5), support=_FEET, feet=0.0).hold(u(0.5, 1.5))


def _phone(rng, ctx) -> _Track:
    """A phone call: a hand to the ear, standing or seated."""
    u = rng.uniform
    seated = rng.random() < 0.3
    base, tilt = _chair_pose(rng) if seated else (_stand(rng), 0.0)
    support = HOLD if seated else None
    s, _ = _side(rng)
    call = dict(base)
    call.update({"shoulder_flex" + s: u(72, 90), "shoulder_abd" + s: u(18, 32), "shoulder_rot" + s: u(10, 25)})
    call.update({"elbow_flex" + s: u(142, 145), "wrist_flex" + s: u(0, 20), "clav_elev" + s: u(5, 15)})
    call["neck_tilt"] = (1 if s == ".L" else -1) * u(5, 15)
    kw = dict(tilt=(tilt, 0, 0), support=support, leg_jitter=0.0, feet=0.0)
    tr = _Track(rng).to(base, 0.0, **kw).hold(u(0.3, 1.5))
    tr.to(call, u(0.8, 1.4), **kw).hold(u(2.0, 6.0))
    return tr.to(base, u(0.8, 1.2), **kw).hold(u(0.5, 2.0))


def _eat(rng, ctx) -> _Track:
    """Eating at a table: seated, the forearms on the table, a hand going to the mouth."""
    u = rng.uniform
    tilt = u(0, 5)
    table = {**_seated_legs(rng, tilt), "spine_flex": u(10, 25), "neck_flex": u(0, 15)}
    table.update(_both(shoulder_flex_=u(25, 45), shoulder_abd_=u(10, 20), elbow_flex_=u(70, 100)))
    s, _ = _side(rng)
    kw = dict(tilt=(tilt, 0, 0), support=HOLD, leg_jitter=0.0, feet=0.0)
    tr = _Track(rng).to(table, 0.0, **kw).hold(u(0.5, 2.0))
    for _ in range(4):
        bite = dict(table)
        bite.update({"shoulder_flex" + s: u(68, 80), "shoulder_abd" + s: u(0, 12), "shoulder_rot" + s: u(35, 50)})
        bite.update({"elbow_flex" + s: u(115, 125), "wrist_flex" + s: u(-30, 0), "neck_flex": table["neck_flex"] + u(0, 10)})
        tr.to(bite, u(0.6, 1.0), **kw).hold(u(0.2, 0.6), jitter=1.0)
        tr.to(table, u(0.6, 1.0), **kw).hold(u(1.0, 3.0))
    return tr


# Ranges (degrees) of the random poses: a comfortable part of each joint's range.
_RANDOM_RANGES: dict[str, tuple[float, float]] = {
    "spine_flex": (-10, 35), "spine_bend": (-15, 15), "spine_twist": (-20, 20),
    "neck_flex": (-20, 30), "neck_turn": (-45, 45), "neck_tilt": (-15, 15),
    "clav_elev": (-5, 15), "clav_prot": (-10, 10),
    "shoulder_flex": (-30, 130), "shoulder_abd": (0, 100), "shoulder_rot": (-40, 40),
    "elbow_flex": (5, 130), "forearm_twist": (-40, 40), "wrist_flex": (-30, 30), "wrist_dev": (-15, 15),
    "hip_flex": (-10, 20), "hip_abd": (-3, 12), "hip_rot": (-15, 15), "knee_flex": (0, 25),
}  # fmt: skip


def _random_pose(rng) -> dict[str, float]:
    a = {}
    for name, (lo, hi) in _RANDOM_RANGES.items():
        for key in (name + ".L", name + ".R") if name in _SIDED else (name,):
            a[key] = lo + (hi - lo) * rng.beta(2.0, 2.0)
    if rng.random() < 0.3:  # one leg lifted
        s, _ = _side(rng)
        a.update({"hip_flex" + s: rng.uniform(20, 70), "knee_flex" + s: rng.uniform(20, 90)})
    return a


def random_motion(
    n_frames: int, fps: float, rng: np.random.Generator, body: BodyModel, shape_params: np.ndarray | None = None
) -> MotionClip:
    """Random poses within the limits, smoothly interpolated.

    Keyframes every 0.5-1.5 s (longer where the pose changes a lot, so no joint turns faster than
    ~45 deg/s on average) are drawn per joint angle from Beta(2, 2) over a comfortable part of its
    range (:data:`_RANDOM_RANGES`; legs near standing, sometimes one leg lifted), interpolated by
    a monotone cubic (PCHIP) in rotation-vector space and clamped to :data:`LIMITS_DEG`.

    Args:
        n_frames: T. fps: frames per second. rng: the only source of randomness.
        body: the body model (grounding). shape_params: (6,) or None for the average body.
    Returns:
        MotionClip (T frames, on the floor, random heading), ``source = "procedural:random"``.
    """
    tr = _Track(rng, max_speed=45.0).to(_random_pose(rng), 0.0, jitter=0.0, feet=0.0)
    while tr.times[-1] < (n_frames - 1) / fps + 1.5:
        tr.to(_random_pose(rng), rng.uniform(0.5, 1.5), jitter=0.0, feet=0.0)
    return _render(tr, n_frames, fps, rng, body, shape_params, "procedural:random", smooth="pchip")


def _family(build: Callable[[np.random.Generator, _Ctx], _Track], name: str):
    def generate_family(
        n_frames: int, fps: float, rng: np.random.Generator, body: BodyModel, shape_params: np.ndarray | None = None
    ) -> MotionClip:
        track = build(rng, _Ctx(body, shape_params))
        return _render(track, n_frames, fps, rng, body, shape_params, f"procedural:{name}")

    generate_family.__name__ = name
    generate_family.__doc__ = (build.__doc__ or name) + " (n_frames, fps, rng, body, shape_params) -> MotionClip."
    return generate_family


# --------------------------------------------------------------------------------- grafting

# The bones a graft takes from the donor: neck, head, shoulders and arms (spine05..01 optionally).
GRAFT_BONES: tuple[str, ...] = POSE_BONES[3:13]
_SPINE_BONES: tuple[str, ...] = POSE_BONES[0:3]


def graft_upper_body(base: MotionClip, donor: MotionClip, spine: bool = False) -> MotionClip:
    """The base's legs, root path and orientation with the donor's neck, head and arms.

    Why: the mocap has many arm and head motions but no sitting, crouching or kneeling, and the
    procedural families have those postures but only a few keyframed arm motions; grafted, a
    seated or kneeling body gestures, reaches and dances with its arms as real people do. The
    base's grounding stays valid because the floor contacts of these postures (feet, knees,
    buttocks) hang off the legs and root, which are the base's.

    Args:
        base: the motion whose legs, root and orientation are kept (T frames).
        donor: at least T frames (the first T are used), local rotations of the same bones.
        spine: also take the donor's spine bones (the trunk then bends as the donor's did,
            instead of the base's posture's lean).
    Returns:
        MotionClip of T frames, the base's everything but the grafted bones, clamped to the limits;
        ``source`` names both.
    """
    T = base.n_frames
    if donor.n_frames < T:
        raise ValueError(f"graft needs a donor of at least {T} frames, got {donor.n_frames}")
    bones = GRAFT_BONES + (_SPINE_BONES if spine else ())
    idx = [POSE_BONES.index(b) for b in bones]
    pose = base.pose_rotvecs.copy()
    pose[:, idx] = donor.pose_rotvecs[:T, idx]
    return dataclasses.replace(base, pose_rotvecs=clamp_pose(pose), source=f"{base.source}+{donor.source}")


# name -> (n_frames, fps, rng, body, shape_params=None) -> MotionClip
FAMILIES: dict[str, Callable[..., MotionClip]] = {
    "random": random_motion,
    **{
        name: _family(build, name)
        for name, build in (
            ("sit_chair", _sit_chair),
            ("sit_floor", _sit_floor),
            ("sit_down_stand_up", _sit_down_stand_up),
            ("crouch", _crouch),
            ("kneel", _kneel),
            ("pick_up", _pick_up),
            ("reach", _reach),
            ("lie_down_get_up", _lie_down_get_up),
            ("phone", _phone),
            ("eat", _eat),
        )
    },
}


def generate(
    family: str,
    n_frames: int,
    fps: float,
    rng: np.random.Generator,
    body: BodyModel,
    shape_params: np.ndarray | None = None,
) -> MotionClip:
    """A procedural motion of one family.

    The family's keyframes (named joint angles with random variation, random timing) are laid on
    a timeline, held where the clip is longer than the motion, and a random window of
    ``n_frames`` is taken (a short clip shows part of the motion); the body gets a random heading
    and a root path that follows the pose (:func:`ground_motion`).

    Args:
        family: a name of :data:`FAMILIES`.
        n_frames: T >= 1. fps: frames per second.
        rng: numpy Generator, the only source of randomness (the same seed gives the same clip).
        body: the body model. shape_params: (6,) phenotype in [0, 1]; None = the average body.
    Returns:
        MotionClip: pose_rotvecs (T, 19, 3) within :data:`LIMITS_DEG`, global_rotvecs (T, 3),
        trans (T, 3) metres, world frame, y down, floor at y = 0.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown motion family {family!r}; known: {', '.join(FAMILIES)}")
    if n_frames < 1 or not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"need n_frames >= 1 and fps > 0, got {n_frames}, {fps}")
    return FAMILIES[family](n_frames, float(fps), rng, body, shape_params)
