"""Retargeting BVH motion onto the body model's rig.

Method (direction matching, shape independent): for every posable bone ``b`` of the body model,
a BVH joint ``c`` drives it. In both skeletons the bone has a rest direction (the BVH's
zero-rotation pose, the body model's reference pose). ``A_b`` is the smallest rotation taking the
body's rest direction onto the BVH's; the body bone's world rotation at frame t is then
``G_b(t) = W_c(t) A_b``, where ``W_c`` is the BVH joint's world rotation, so the body's bone points
where the BVH bone points, with the BVH bone's twist. Local rotations follow as
``G_parent^T G_b``. The root path is scaled by the ratio of the body's leg length to the BVH
skeleton's, so a longer-legged body takes longer strides and the feet slide no more than in the
source; the clip is then put on the floor (y = 0, y down).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import roma
import torch

from simpose.body.model import POSE_BONES, BodyModel
from simpose.body.fit import min_rotation
from simpose.motion.bvh import BvhClip, forward_kinematics

logger = logging.getLogger(__name__)

__all__ = ["MotionClip", "RetargetMap", "CMU_MB", "CMU_DAZ", "ACCLAIM", "retarget", "load_joint_map", "foot_sliding", "RetargetError"]


class RetargetError(ValueError):
    """A BVH skeleton that cannot drive the body (unknown joint names, missing bones)."""


@dataclasses.dataclass(frozen=True)
class MotionClip:
    """Body-model motion, simpose world frame (y down, floor at y = 0), metres and radians.

    Attributes:
        pose_rotvecs: (T, 19, 3) local rotation vectors of ``POSE_BONES``.
        global_rotvecs: (T, 3) body orientation.
        trans: (T, 3) root (pelvis) position.
        fps: frames per second.
        source: where the motion came from (file, generator family).
        shape_params: (6,) the body shape the root path was scaled for, or None.
    """

    pose_rotvecs: np.ndarray
    global_rotvecs: np.ndarray
    trans: np.ndarray
    fps: float
    source: str = ""
    shape_params: np.ndarray | None = None

    def __post_init__(self) -> None:
        T = self.pose_rotvecs.shape[0]
        if self.pose_rotvecs.shape != (T, len(POSE_BONES), 3) or self.global_rotvecs.shape != (T, 3) or self.trans.shape != (T, 3):
            raise ValueError(
                f"MotionClip shapes must be (T,{len(POSE_BONES)},3), (T,3), (T,3); got {self.pose_rotvecs.shape}, "
                f"{self.global_rotvecs.shape}, {self.trans.shape}"
            )
        for name in ("pose_rotvecs", "global_rotvecs", "trans"):
            if not np.isfinite(getattr(self, name)).all():
                raise ValueError(f"MotionClip.{name} of {self.source or 'a clip'} contains NaN or inf")

    @property
    def n_frames(self) -> int:
        return int(self.pose_rotvecs.shape[0])

    def slice(self, start: int, stop: int) -> MotionClip:
        return dataclasses.replace(
            self, pose_rotvecs=self.pose_rotvecs[start:stop], global_rotvecs=self.global_rotvecs[start:stop], trans=self.trans[start:stop]
        )


@dataclasses.dataclass(frozen=True)
class RetargetMap:
    """How a BVH skeleton drives the body model.

    Attributes:
        bones: pose bone -> (driving BVH joint, BVH joint or ``"JOINT/end"`` End Site at the bone's tail).
        root: the BVH root joint (its rotation is the body's orientation, its path the body's).
        legs: (hip, knee, ankle) BVH joints of one leg, for the length ratio.
        units_to_m: file units to metres.
        up: the BVH up axis, "y" or "z"; forward: the axis the zero-rotation pose faces, e.g. "+z".
    """

    bones: dict[str, tuple[str, str]]
    root: str
    legs: tuple[str, str, str]
    units_to_m: float
    up: str = "y"
    forward: str = "+z"


def _sided(left: dict[str, tuple[str, str]], l2r: tuple[str, str]) -> dict[str, tuple[str, str]]:
    out = dict(left)
    a, b = l2r
    for k, (d, t) in left.items():
        out[k.replace(".L", ".R")] = (d.replace(a, b), t.replace(a, b))
    return out


# cgspeed MotionBuilder-friendly CMU skeleton (shared/mocap/cmu/mb, 31 joints).
CMU_MB = RetargetMap(
    bones={
        "spine05": ("LowerBack", "Spine"),
        "spine03": ("Spine", "Spine1"),
        "spine01": ("Spine1", "Neck1"),
        "neck01": ("Neck1", "Head"),
        "head": ("Head", "Head/end"),
        **_sided(
            {
                "clavicle.L": ("LeftShoulder", "LeftArm"),
                "upperarm01.L": ("LeftArm", "LeftForeArm"),
                "lowerarm01.L": ("LeftForeArm", "LeftHand"),
                "wrist.L": ("LeftHand", "LeftHandIndex1"),
                "upperleg01.L": ("LeftUpLeg", "LeftLeg"),
                "lowerleg01.L": ("LeftLeg", "LeftFoot"),
                "foot.L": ("LeftFoot", "LeftToeBase"),
            },
            ("Left", "Right"),
        ),
    },
    root="Hips",
    legs=("LeftUpLeg", "LeftLeg", "LeftFoot"),
    units_to_m=(1.0 / 0.45) * 2.54 / 100.0,
)

# cgspeed Daz-friendly CMU skeleton (shared/mocap/cmu/daz, 43 joints, roughly centimetres).
CMU_DAZ = RetargetMap(
    bones={
        "spine05": ("abdomen", "chest"),
        "spine03": ("abdomen", "chest"),
        "spine01": ("chest", "neck"),
        "neck01": ("neck", "head"),
        "head": ("head", "head/end"),
        **_sided(
            {
                "clavicle.L": ("lCollar", "lShldr"),
                "upperarm01.L": ("lShldr", "lForeArm"),
                "lowerarm01.L": ("lForeArm", "lHand"),
                "wrist.L": ("lHand", "lMid1"),
                "upperleg01.L": ("lThigh", "lShin"),
                "lowerleg01.L": ("lShin", "lFoot"),
                "foot.L": ("lFoot", "lFoot/end"),
            },
            ("l", "r"),
        ),
    },
    root="hip",
    legs=("lThigh", "lShin", "lFoot"),
    units_to_m=0.01,
)

# Acclaim ASF/AMC skeletons (CMU's and HDM05's own files, read by simpose.motion.acclaim: one BVH
# joint per bone at the bone's start, lengths already in metres). CMU's neck has two bones
# (lowerneck, upperneck); the body's neck bone follows their sum.
_ACCLAIM_LEFT = {
    "clavicle.L": ("lclavicle", "lhumerus"),
    "upperarm01.L": ("lhumerus", "lradius"),
    "lowerarm01.L": ("lradius", "lwrist"),
    "wrist.L": ("lhand", "lfingers"),
    "upperleg01.L": ("lfemur", "ltibia"),
    "lowerleg01.L": ("ltibia", "lfoot"),
    "foot.L": ("lfoot", "ltoes"),
}
ACCLAIM = RetargetMap(
    bones={
        "spine05": ("lowerback", "upperback"),
        "spine03": ("upperback", "thorax"),
        "spine01": ("thorax", "lowerneck"),
        "neck01": ("lowerneck", "head"),
        "head": ("head", "head/end"),
        **_ACCLAIM_LEFT,
        # the right side: the leading "l" of each bone name becomes "r" (not every "l" in it)
        **{k.replace(".L", ".R"): ("r" + d[1:], "r" + t[1:]) for k, (d, t) in _ACCLAIM_LEFT.items()},
    },
    root="root",
    legs=("lfemur", "ltibia", "lfoot"),
    units_to_m=1.0,
)

# The body model's bone tails (native joints) that match the maps' tails.
_BODY_TAIL = {
    "spine05": "spine03", "spine03": "spine01", "spine01": "neck01", "neck01": "head", "head": "head_top",
    "clavicle.L": "upperarm01.L", "upperarm01.L": "lowerarm01.L", "lowerarm01.L": "wrist.L", "wrist.L": "hand_tip.L",
    "upperleg01.L": "lowerleg01.L", "lowerleg01.L": "foot.L", "foot.L": "toe.L",
}  # fmt: skip
_BODY_TAIL.update({k.replace(".L", ".R"): v.replace(".L", ".R") for k, v in _BODY_TAIL.items() if k.endswith(".L")})


def _axes_to_simpose(up: str, forward: str) -> np.ndarray:
    """3x3 rotation from a BVH's axes to simpose's (y down, the zero pose facing -z)."""
    axes = {"x": np.array([1.0, 0, 0]), "y": np.array([0, 1.0, 0]), "z": np.array([0, 0, 1.0])}
    u = axes[up]
    f = axes[forward[-1]] * (-1.0 if forward[0] == "-" else 1.0)
    left = np.cross(u, f)  # the body's left for a body facing f with up u
    src = np.stack([left, u, f])  # rows: source vectors
    dst = np.stack([np.array([1.0, 0, 0]), np.array([0, -1.0, 0]), np.array([0, 0, -1.0])])
    return dst.T @ src  # maps src[i] -> dst[i]


def load_joint_map(path: str | Path, base: RetargetMap = CMU_MB) -> RetargetMap:
    """A :class:`RetargetMap` from a JSON file.

    The file holds ``{"bones": {pose_bone: [driving_joint, tail_joint]}, "root": ..., "legs": [...],
    "units_to_m": ..., "up": "y", "forward": "+z"}``; missing keys come from ``base``.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RetargetError(f"{path}: cannot read the joint map: {exc}") from exc
    unknown = set(data.get("bones", {})) - set(POSE_BONES)
    if unknown:
        raise RetargetError(f"{path}: unknown body bones {sorted(unknown)}; valid: {', '.join(POSE_BONES)}")
    bones = {**base.bones, **{k: tuple(v) for k, v in data.get("bones", {}).items()}}
    return RetargetMap(
        bones=bones,
        root=data.get("root", base.root),
        legs=tuple(data.get("legs", base.legs)),
        units_to_m=float(data.get("units_to_m", base.units_to_m)),
        up=data.get("up", base.up),
        forward=data.get("forward", base.forward),
    )


def _mirror_joint(name: str, skel) -> str:
    """The other side's joint of a BVH joint name (Left/Right, l/r prefixes)."""
    for a, b in (("Left", "Right"), ("Right", "Left"), ("l", "r"), ("r", "l")):
        if name.startswith(a) and b + name[len(a):] in skel.names:
            return b + name[len(a):]
    raise RetargetError(f"cannot find the other side of joint {name!r}")


def guess_map(clip: BvhClip) -> RetargetMap:
    """The built-in map whose joint names the clip has, or a clear error."""
    names = set(clip.skeleton.names)
    for m in (CMU_MB, CMU_DAZ, ACCLAIM):
        if m.root in names and all(d in names for d, _ in m.bones.values()):
            return m
    raise RetargetError(
        f"{clip.source}: unknown skeleton (joints: {', '.join(clip.skeleton.names[:8])}, ...); "
        "pass a joint-name map (--joint-map map.json) naming the BVH joint that drives each body bone"
    )


def retarget(
    clip: BvhClip,
    body: BodyModel,
    shape_params: np.ndarray | None = None,
    joint_map: RetargetMap | None = None,
    skip_first_frame: bool = True,
    align_hips: bool = False,
) -> MotionClip:
    """Drive the body model with a BVH clip.

    Args:
        clip: a parsed BVH clip.
        body: the body model.
        shape_params: (6,) body shape whose proportions set the root-path scale; None = average.
        joint_map: which BVH joint drives which body bone; guessed for the CMU skeletons.
        skip_first_frame: drop frame 0 (the cgspeed files start with a T-pose).
        align_hips: place the body so that the middle of its hip joints follows the source's
            (scaled); False: its root follows the source's root. The two roots need not be the
            same point of the pelvis (an Acclaim root sits ~10 cm above the hip joints): standing,
            the floor fit absorbs the difference, but once the body turns (lying down) it
            becomes a height error (~10-15 cm on HDM05's lying takes). False keeps the BVH results
            of earlier versions.
    Returns:
        MotionClip at the clip's frame rate, on the floor, in the simpose world frame.
    """
    jm = joint_map or guess_map(clip)
    skel = clip.skeleton
    missing = sorted({d for d, _ in jm.bones.values()} - set(skel.names) | ({jm.root} - set(skel.names)))
    if missing:
        raise RetargetError(f"{clip.source}: joints {missing} of the joint map are not in the BVH skeleton")
    if clip.n_frames < 2 and skip_first_frame:
        raise RetargetError(f"{clip.source}: needs at least 2 frames (frame 0 is the T-pose), has {clip.n_frames}")

    P = _axes_to_simpose(jm.up, jm.forward)
    fk = clip.forward_kinematics()
    rest = forward_kinematics(skel, np.broadcast_to(np.eye(3), (skel.n_joints, 3, 3)), np.zeros(3))

    def rest_point(name: str) -> np.ndarray:
        if name.endswith("/end"):
            j = skel.index(name[:-4])
            if j not in rest.end_site_joints:
                raise RetargetError(f"{clip.source}: joint {name[:-4]!r} has no End Site")
            return rest.end_site_positions[rest.end_site_joints.index(j)]
        return rest.positions[skel.index(name)]

    sp = torch.full((1, 6), 0.5, dtype=body.dtype) if shape_params is None else torch.as_tensor(shape_params, dtype=body.dtype).reshape(1, 6)
    with torch.no_grad():
        ref = body(shape_params=sp).joints[0].numpy()  # native joints at the reference pose, simpose frame
    from simpose.body.joints import get_joint_set

    native = get_joint_set("anny")
    body_dirs = np.stack([ref[native.index(_BODY_TAIL[b])] - ref[native.index(b)] for b in POSE_BONES])
    bvh_dirs = np.stack([P @ (rest_point(t) - rest_point(d)) for d, t in (jm.bones[b] for b in POSE_BONES)])
    if (np.linalg.norm(bvh_dirs, axis=-1) < 1e-9).any():
        bad = [b for b, v in zip(POSE_BONES, bvh_dirs) if np.linalg.norm(v) < 1e-9]
        raise RetargetError(f"{clip.source}: zero-length rest bones for {bad}; choose other tail joints in the map")
    A = min_rotation(body_dirs, bvh_dirs)  # (19, 3, 3)

    frames = slice(1, None) if skip_first_frame else slice(None)
    W = fk.global_rotmats[frames]  # (T, J, 3, 3) BVH axes
    Ws = P @ W @ P.T  # simpose axes
    drive = [skel.index(jm.bones[b][0]) for b in POSE_BONES]
    G = Ws[:, drive] @ A  # (T, 19, 3, 3)
    G_root = Ws[:, skel.index(jm.root)]

    parents = body.pose_bone_parents
    G_par = np.stack([G[:, p] if p >= 0 else G_root for p in parents], axis=1)
    local = np.swapaxes(G_par, -1, -2) @ G
    pose_rotvecs = roma.rotmat_to_rotvec(torch.as_tensor(local)).numpy()
    global_rotvecs = roma.rotmat_to_rotvec(torch.as_tensor(G_root)).numpy()

    # Root path, scaled to the body's legs.
    hip, knee, ankle = (rest.positions[skel.index(n)] for n in jm.legs)
    bvh_leg = (np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee)) * jm.units_to_m
    body_leg = np.linalg.norm(ref[native.index("lowerleg01.L")] - ref[native.index("upperleg01.L")]) + np.linalg.norm(
        ref[native.index("foot.L")] - ref[native.index("lowerleg01.L")]
    )
    scale = body_leg / bvh_leg
    hips = (fk.positions[frames, skel.index(jm.root)] * jm.units_to_m) @ P.T * scale
    motion = MotionClip(
        pose_rotvecs=pose_rotvecs,
        global_rotvecs=global_rotvecs,
        trans=np.zeros_like(hips),
        fps=clip.fps,
        source=clip.source,
        shape_params=None if shape_params is None else np.asarray(shape_params, dtype=np.float64).reshape(6),
    )
    # Horizontal path: where the scaled source's feet touch the ground, the body's feet go there
    # too (a weighted least-squares root per frame, weights = closeness of each foot to the
    # ground), so the stance foot stays planted as in the source; in flight the scaled hips rule.
    ankles = [skel.index(jm.legs[2]), skel.index(_mirror_joint(jm.legs[2], skel))]
    src_feet = (fk.positions[frames][:, ankles] * jm.units_to_m) @ P.T * scale  # (T, 2, 3)
    at_origin = body_joints(motion, body)  # (T, J, 3) the body's joints with zero translation
    rel_feet = at_origin[:, [native.index("foot.L"), native.index("foot.R")]]
    if align_hips:
        legs = [skel.index(jm.legs[0]), skel.index(_mirror_joint(jm.legs[0], skel))]
        src_hips = (fk.positions[frames][:, legs].mean(1) * jm.units_to_m) @ P.T * scale
        hips = src_hips - at_origin[:, [native.index("upperleg01.L"), native.index("upperleg01.R")]].mean(1)
    height = src_feet[..., 1].max() - src_feet[..., 1]  # y down: height above the lowest ankle
    w = np.exp(-height / 0.02)  # (T, 2)
    eps = 1e-3
    target = eps * hips + np.einsum("tf,tfc->tc", w, src_feet - rel_feet)
    trans = target / (eps + w.sum(-1, keepdims=True))
    trans[:, 1] = hips[:, 1]
    motion = dataclasses.replace(motion, trans=trans)
    return put_on_floor(motion, body)


def body_joints(motion: MotionClip, body: BodyModel, joint_set: str = "anny", batch: int = 256) -> np.ndarray:
    """(T, J, 3) joints of a motion, world frame metres."""
    sp = None if motion.shape_params is None else torch.as_tensor(motion.shape_params, dtype=body.dtype)[None]
    out = []
    with torch.no_grad():
        for s in range(0, motion.n_frames, batch):
            e = min(s + batch, motion.n_frames)
            # joints only: skins just the vertices the regressor reads (same numbers as a full forward)
            joints = body.forward_joints(
                joint_set,
                torch.as_tensor(motion.pose_rotvecs[s:e]),
                sp,
                torch.as_tensor(motion.global_rotvecs[s:e]),
                torch.as_tensor(motion.trans[s:e]),
            )
            out.append(joints.numpy())
    return np.concatenate(out)


def put_on_floor(motion: MotionClip, body: BodyModel) -> MotionClip:
    """Shift a motion vertically so its lowest foot point over the clip (2nd percentile) is at y = 0."""
    feet = body_joints(motion, body, "blazepose33")
    names = ("left_heel", "right_heel", "left_foot_index", "right_foot_index")
    from simpose.body.joints import get_joint_set

    idx = get_joint_set("blazepose33").indices(names)
    lowest = feet[:, idx, 1].max(axis=1)  # y is down: the largest y is the lowest point
    floor = np.percentile(lowest, 98)
    trans = motion.trans.copy()
    trans[:, 1] -= floor
    return dataclasses.replace(motion, trans=trans)


def foot_sliding(feet: np.ndarray, fps: float, contact_height: float = 0.03) -> float:
    """Mean horizontal speed (m/s) of foot points while they touch the floor.

    Args:
        feet: (T, F, 3) foot points (heels, toes), world frame, y down, floor at y = 0.
        fps: frame rate.
        contact_height: a point touches the floor when less than this above it (metres).
    Returns:
        the mean over contact frames of the horizontal speed (0 for a perfectly planted foot).
    """
    height = -feet[:, :, 1]
    contact = (height[1:] < contact_height) & (height[:-1] < contact_height)
    step = np.linalg.norm((feet[1:] - feet[:-1])[..., [0, 2]], axis=-1) * fps
    if not contact.any():
        return 0.0
    return float(step[contact].mean())
