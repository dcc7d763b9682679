"""BVH (Biovision Hierarchy) motion: the skeleton and clip records, Euler angles, forward kinematics.

Reading: :mod:`simpose.motion.bvh_read`; writing: :mod:`simpose.motion.bvh_write`.

Conventions (the same as Blender's ``io_anim_bvh`` importer and exporter):

* Angles are Euler angles in degrees. A joint whose channels list
  ``Zrotation Yrotation Xrotation`` has the local rotation ``Rz(a) @ Ry(b) @ Rx(c)``:
  elementary right-handed rotations multiplied in the listed order (intrinsic).
* A joint's local transform is a translation followed by that rotation. The translation
  is the joint's OFFSET; a position channel (``Xposition`` ...) *replaces* the OFFSET
  component on its axis (Blender applies ``channel - OFFSET`` as a pose delta, so the
  channel value is the translation). For a root with OFFSET 0 0 0, as in every CMU file,
  this is the same as adding.
* World transform: ``parent_world @ local``, i.e.
  ``p_j = p_parent + R_parent @ t_j`` and ``R_j = R_parent @ r_j``.
* Lengths are in file units (CMU ``mb/``: 0.056444 m per unit). Time in seconds.

Dimension letters: T frames, J joints, C channels per frame, E end sites.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, field

import numpy as np

from simpose.motion.resample import resample_linear, resample_rotmats

__all__ = [
    "POSITION_CHANNELS", "ROTATION_CHANNELS", "CANONICAL_CHANNELS", "BvhClip", "BvhError", "BvhSkeleton", "FkResult",
    "check_rotation_order", "decode_rotmats", "decode_translations", "encode_motion", "euler_to_rotmat",
    "forward_kinematics", "resample_clip", "rotmat_to_euler",
]  # fmt: skip

log = logging.getLogger(__name__)

POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
_AXIS = {"X": 0, "Y": 1, "Z": 2}
# Channel names as written in files vary in case ("XROTATION"); map to canonical names.
# channel name in any case -> its canonical spelling (readers accept any case)
CANONICAL_CHANNELS = {c.lower(): c for c in POSITION_CHANNELS + ROTATION_CHANNELS}


class BvhError(ValueError):
    """A malformed BVH file. The message reads ``<source>:<line>: <problem>``."""

    def __init__(self, problem: str, source: str, line: int | None = None) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {problem}")
        self.problem = problem
        self.source = source
        self.line = line


# --------------------------------------------------------------------------- Euler angles


def check_rotation_order(order: str) -> str:
    """``order`` (e.g. ``"ZYX"``) if it is a string of the axes X, Y, Z; else ValueError."""
    if not isinstance(order, str) or not order or any(a not in _AXIS for a in order):
        raise ValueError(
            f"rotation order must be a non-empty string of the upper-case axes X, Y, Z "
            f"(intrinsic, as listed in a BVH file), got {order!r}"
        )
    return order


def _elementary(axis: str, angles_rad: np.ndarray) -> np.ndarray:
    """(..., 3, 3) right-handed rotation about one coordinate axis."""
    c, s = np.cos(angles_rad), np.sin(angles_rad)
    out = np.zeros(angles_rad.shape + (3, 3), dtype=np.float64)
    i = _AXIS[axis]
    j, k = (i + 1) % 3, (i + 2) % 3
    out[..., i, i] = 1.0
    out[..., j, j] = c
    out[..., k, k] = c
    out[..., j, k] = -s
    out[..., k, j] = s
    return out


def euler_to_rotmat(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """Rotation matrices from intrinsic Euler angles, as BVH channels define them.

    Args:
        angles_deg: (..., K) angles in degrees, one per letter of ``order``.
        order: K upper-case axis letters in channel order, e.g. ``"ZYX"`` for
            ``Zrotation Yrotation Xrotation``. Any length, repeats allowed.

    Returns:
        (..., 3, 3) float64 ``R = R_{order[0]}(a0) @ R_{order[1]}(a1) @ ...``, the same as
        ``scipy.spatial.transform.Rotation.from_euler(order, angles, degrees=True)``.
    """
    order = check_rotation_order(order)
    angles = np.radians(np.asarray(angles_deg, dtype=np.float64))
    if angles.ndim < 1 or angles.shape[-1] != len(order):
        raise ValueError(f"angles_deg must be (..., {len(order)}) for order {order!r}, got {angles.shape}")
    out = _elementary(order[0], angles[..., 0])
    for n in range(1, len(order)):
        out = out @ _elementary(order[n], angles[..., n])
    return out


def rotmat_to_euler(rotmats: np.ndarray, order: str) -> np.ndarray:
    """Intrinsic Euler angles of rotation matrices; the inverse of :func:`euler_to_rotmat`.

    Args:
        rotmats: (..., 3, 3) rotation matrices.
        order: three distinct upper-case axes (Tait-Bryan), e.g. ``"ZYX"``.

    Returns:
        (..., 3) float64 angles in degrees: the middle one in [-90, 90], the others in
        (-180, 180]. At gimbal lock (middle angle +-90) the last angle is set to 0.
    """
    order = check_rotation_order(order)
    if len(order) != 3 or len(set(order)) != 3:
        raise ValueError(f"rotmat_to_euler needs three distinct axes, got {order!r}")
    r = np.asarray(rotmats, dtype=np.float64)
    if r.ndim < 2 or r.shape[-2:] != (3, 3):
        raise ValueError(f"rotmats must be (..., 3, 3), got {r.shape}")
    i, j, k = (_AXIS[a] for a in order)
    # R = Ri(a) Rj(b) Rk(c). s = +1 for cyclic orders (XYZ, YZX, ZXY), -1 otherwise.
    s = 1.0 if (j - i) % 3 == 1 else -1.0
    sin_b = s * r[..., i, k]
    cos_b = np.hypot(r[..., i, i], r[..., i, j])
    b = np.arctan2(sin_b, cos_b)
    a = np.arctan2(-s * r[..., j, k], r[..., k, k])
    c = np.arctan2(-s * r[..., i, j], r[..., i, i])
    locked = cos_b < 1e-9
    if np.any(locked):
        # R = Ri(a) Rj(+-90deg) with c := 0; column j of R is Ri(a) e_j.
        a = np.where(locked, np.arctan2(s * r[..., k, j], r[..., j, j]), a)
        c = np.where(locked, 0.0, c)
    return np.degrees(np.stack([a, b, c], axis=-1))


# --------------------------------------------------------------------------- records


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class BvhSkeleton:
    """The HIERARCHY of a BVH file, joints in file (depth-first) order.

    Attributes:
        names: J joint names (End Sites are not joints).
        parents: J parent indices, -1 for the root; ``parents[j] < j``.
        offsets: (J, 3) float64 OFFSET of each joint from its parent, file units.
        channels: J tuples of canonical channel names (``"Xposition"``, ``"Zrotation"``,
            ...) in file order; their concatenation is the column layout of a frame.
        end_sites: J entries, the End Site OFFSET (3,) float64 below that joint, or None.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    end_sites: tuple[np.ndarray | None, ...]
    _starts: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = tuple(str(n) for n in self.names)
        parents = tuple(int(p) for p in self.parents)
        offsets = _readonly(self.offsets)
        channels = tuple(tuple(CANONICAL_CHANNELS.get(str(c).lower(), str(c)) for c in ch) for ch in self.channels)
        end_sites = tuple(None if e is None else _readonly(e) for e in self.end_sites)
        n = len(names)
        if n == 0:
            raise ValueError("a skeleton needs at least one joint")
        if len(set(names)) != n:
            raise ValueError(f"joint names must be unique: {names}")
        if len(parents) != n or len(channels) != n or len(end_sites) != n:
            raise ValueError("names, parents, channels and end_sites must all have J entries")
        if offsets.shape != (n, 3):
            raise ValueError(f"offsets must be ({n}, 3), got {offsets.shape}")
        if parents[0] != -1 or any(not 0 <= p < j for j, p in enumerate(parents[1:], 1)):
            raise ValueError(f"parents must be -1 for joint 0 and 0 <= parents[j] < j otherwise: {parents}")
        for name, ch in zip(names, channels):
            bad = [c for c in ch if c not in CANONICAL_CHANNELS.values()]
            if bad or len(set(ch)) != len(ch):
                raise ValueError(f"joint {name!r}: bad or repeated channels {ch}")
        for e in end_sites:
            if e is not None and e.shape != (3,):
                raise ValueError(f"end site offsets must be (3,), got {e.shape}")
        starts = tuple(itertools.accumulate((len(c) for c in channels), initial=0))[:-1]
        for attr, value in [("names", names), ("parents", parents), ("offsets", offsets),
                            ("channels", channels), ("end_sites", end_sites), ("_starts", starts)]:
            object.__setattr__(self, attr, value)

    @property
    def n_joints(self) -> int:
        """J."""
        return len(self.names)

    @property
    def n_channels(self) -> int:
        """C, the number of values in one frame."""
        return sum(len(c) for c in self.channels)

    @property
    def channel_starts(self) -> tuple[int, ...]:
        """Column of each joint's first channel in a frame row."""
        return self._starts

    @property
    def rotation_orders(self) -> tuple[str, ...]:
        """Per joint, the axes of its rotation channels in order (``"ZYX"``; ``""`` if none)."""
        return tuple("".join(c[0] for c in ch if c in ROTATION_CHANNELS) for ch in self.channels)

    def index(self, name: str) -> int:
        """Index of the joint called ``name`` (``KeyError`` if there is none)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no joint named {name!r}") from None


@dataclass(frozen=True, eq=False)
class FkResult:
    """World-space joints from :func:`forward_kinematics`.

    Attributes:
        positions: (..., J, 3) joint positions, file units, world (BVH) frame.
        global_rotmats: (..., J, 3, 3) joint orientations in the world frame.
        end_site_positions: (..., E, 3) End Site positions, file units.
        end_site_joints: E joint indices, the joint each End Site hangs from.
    """

    positions: np.ndarray
    global_rotmats: np.ndarray
    end_site_positions: np.ndarray
    end_site_joints: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class BvhClip:
    """A parsed BVH file: skeleton plus raw channel values.

    Attributes:
        skeleton: the hierarchy.
        motion: (T, C) float64 raw channel values in file order (degrees, file units).
        frame_time: seconds per frame (> 0).
        source: where it came from (file path or a label), used in messages.
    """

    skeleton: BvhSkeleton
    motion: np.ndarray
    frame_time: float
    source: str = "<memory>"

    def __post_init__(self) -> None:
        motion = _readonly(self.motion)
        if motion.ndim != 2 or motion.shape[1] != self.skeleton.n_channels:
            raise ValueError(f"motion must be (T, {self.skeleton.n_channels}), got {motion.shape}")
        if not np.all(np.isfinite(motion)):
            raise ValueError("motion contains NaN or inf")
        ft = float(self.frame_time)
        if not math.isfinite(ft) or ft <= 0:
            raise ValueError(f"frame_time must be a finite positive number of seconds, got {ft}")
        object.__setattr__(self, "motion", motion)
        object.__setattr__(self, "frame_time", ft)
        object.__setattr__(self, "source", str(self.source))

    @property
    def n_frames(self) -> int:
        """T."""
        return int(self.motion.shape[0])

    @property
    def fps(self) -> float:
        """Frames per second, ``1 / frame_time``."""
        return 1.0 / self.frame_time

    @property
    def nominal_fps(self) -> float:
        """``fps`` rounded to a whole number when within a relative 1e-4 of it, else ``fps``.

        Headers store the frame time to a few digits (CMU: ``.0083333``, i.e. 120.0005 fps);
        this recovers the intended rate for resampling.
        """
        rounded = round(self.fps)
        return float(rounded) if rounded > 0 and abs(self.fps - rounded) <= 1e-4 * rounded else self.fps

    @property
    def duration_s(self) -> float:
        """``n_frames * frame_time`` in seconds (the header convention)."""
        return self.n_frames * self.frame_time

    def local_rotmats(self) -> np.ndarray:
        """(T, J, 3, 3) rotation of each joint relative to its parent."""
        return decode_rotmats(self.skeleton, self.motion)

    def local_translations(self) -> np.ndarray:
        """(T, J, 3) translation of each joint from its parent, file units."""
        return decode_translations(self.skeleton, self.motion)

    def root_positions(self) -> np.ndarray:
        """(T, 3) root position in the world frame, file units."""
        return self.local_translations()[:, 0]

    def forward_kinematics(self) -> FkResult:
        """World positions and orientations of every frame; see :func:`forward_kinematics`."""
        trans = self.local_translations()
        return forward_kinematics(self.skeleton, self.local_rotmats(), trans[:, 0], trans)


# --------------------------------------------------------------------------- channels <-> arrays


def decode_rotmats(skeleton: BvhSkeleton, motion: np.ndarray) -> np.ndarray:
    """Local joint rotations from raw channel values.

    Args:
        skeleton: the hierarchy giving the column layout.
        motion: (T, C) raw channel values, angles in degrees.

    Returns:
        (T, J, 3, 3) float64 local rotations; identity for joints without rotation channels.
    """
    motion = np.asarray(motion, dtype=np.float64)
    n_frames = motion.shape[0]
    out = np.broadcast_to(np.eye(3), (n_frames, skeleton.n_joints, 3, 3)).copy()
    groups: dict[str, tuple[list[int], list[list[int]]]] = {}
    for j, (ch, start) in enumerate(zip(skeleton.channels, skeleton.channel_starts)):
        cols = [start + n for n, c in enumerate(ch) if c in ROTATION_CHANNELS]
        if cols:
            order = "".join(ch[c - start][0] for c in cols)
            groups.setdefault(order, ([], []))[0].append(j)
            groups[order][1].append(cols)
    for order, (joints, cols) in groups.items():  # one vectorised call per rotation order
        out[:, joints] = euler_to_rotmat(motion[:, np.asarray(cols)], order)
    return out


def decode_translations(skeleton: BvhSkeleton, motion: np.ndarray) -> np.ndarray:
    """Local joint translations: OFFSETs with position channels replacing their axes.

    Args:
        skeleton: the hierarchy giving the column layout.
        motion: (T, C) raw channel values, file units.

    Returns:
        (T, J, 3) float64 translation of each joint from its parent, file units.
    """
    motion = np.asarray(motion, dtype=np.float64)
    out = np.broadcast_to(skeleton.offsets, (motion.shape[0], skeleton.n_joints, 3)).copy()
    for j, (ch, start) in enumerate(zip(skeleton.channels, skeleton.channel_starts)):
        for n, c in enumerate(ch):
            if c in POSITION_CHANNELS:
                out[:, j, _AXIS[c[0]]] = motion[:, start + n]
    return out


def encode_motion(
    skeleton: BvhSkeleton, local_rotmats: np.ndarray, local_translations: np.ndarray
) -> np.ndarray:
    """Raw channel values for a skeleton's own channel layout; inverse of the decoders.

    Args:
        skeleton: the hierarchy; every joint with rotation channels must have exactly
            three distinct ones.
        local_rotmats: (T, J, 3, 3) local rotations.
        local_translations: (T, J, 3) local translations, file units (only the axes with
            a position channel are used).

    Returns:
        (T, C) float64 channel values, angles in degrees.
    """
    local_rotmats = np.asarray(local_rotmats, dtype=np.float64)
    local_translations = np.asarray(local_translations, dtype=np.float64)
    n_frames, n_joints = local_rotmats.shape[:2]
    if local_rotmats.shape != (n_frames, skeleton.n_joints, 3, 3):
        raise ValueError(f"local_rotmats must be (T, {skeleton.n_joints}, 3, 3), got {local_rotmats.shape}")
    if local_translations.shape != (n_frames, n_joints, 3):
        raise ValueError(f"local_translations must be ({n_frames}, {n_joints}, 3), got {local_translations.shape}")
    out = np.zeros((n_frames, skeleton.n_channels), dtype=np.float64)
    orders = skeleton.rotation_orders
    for j, (ch, start) in enumerate(zip(skeleton.channels, skeleton.channel_starts)):
        if orders[j]:
            if len(orders[j]) != 3:
                raise ValueError(f"joint {skeleton.names[j]!r}: cannot encode a rotation in channels {ch}")
            angles = rotmat_to_euler(local_rotmats[:, j], orders[j])
        for n, c in enumerate(ch):
            if c in POSITION_CHANNELS:
                out[:, start + n] = local_translations[:, j, _AXIS[c[0]]]
            else:
                out[:, start + n] = angles[:, orders[j].index(c[0])]
    return out


# --------------------------------------------------------------------------- kinematics


def forward_kinematics(
    skeleton: BvhSkeleton | BvhClip,
    local_rotmats: np.ndarray,
    root_positions: np.ndarray,
    local_translations: np.ndarray | None = None,
) -> FkResult:
    """World joint positions and orientations.

    Args:
        skeleton: the hierarchy (or a clip, whose skeleton is used).
        local_rotmats: (..., J, 3, 3) rotations relative to the parent.
        root_positions: (..., 3) root position, file units, world frame.
        local_translations: optional (..., J, 3) per-joint translations from the parent,
            file units (for joints with position channels); the skeleton OFFSETs when
            None. Its root entry is ignored in favour of ``root_positions``.

    Returns:
        :class:`FkResult` with positions (..., J, 3), global rotmats (..., J, 3, 3) and
        End Site positions (..., E, 3), all float64, world frame, file units.
    """
    skel = skeleton.skeleton if isinstance(skeleton, BvhClip) else skeleton
    rot = np.asarray(local_rotmats, dtype=np.float64)
    root = np.asarray(root_positions, dtype=np.float64)
    n = skel.n_joints
    if rot.ndim < 3 or rot.shape[-3:] != (n, 3, 3):
        raise ValueError(f"local_rotmats must be (..., {n}, 3, 3), got {rot.shape}")
    batch = rot.shape[:-3]
    if root.shape != batch + (3,):
        raise ValueError(f"root_positions must be {batch + (3,)}, got {root.shape}")
    if local_translations is None:
        trans = np.broadcast_to(skel.offsets, batch + (n, 3))
    else:
        trans = np.asarray(local_translations, dtype=np.float64)
        if trans.shape != batch + (n, 3):
            raise ValueError(f"local_translations must be {batch + (n, 3)}, got {trans.shape}")
    glob_r = np.empty_like(rot)
    glob_p = np.empty(batch + (n, 3), dtype=np.float64)
    glob_r[..., 0, :, :] = rot[..., 0, :, :]
    glob_p[..., 0, :] = root
    for j in range(1, n):  # parents[j] < j: parents are done before their children
        p = skel.parents[j]
        glob_r[..., j, :, :] = glob_r[..., p, :, :] @ rot[..., j, :, :]
        glob_p[..., j, :] = glob_p[..., p, :] + (glob_r[..., p, :, :] @ trans[..., j, :, None])[..., 0]
    ends = tuple(j for j, e in enumerate(skel.end_sites) if e is not None)
    if ends:
        off = np.stack([skel.end_sites[j] for j in ends])  # (E, 3)
        idx = list(ends)
        end_p = glob_p[..., idx, :] + (glob_r[..., idx, :, :] @ off[:, :, None])[..., 0]
    else:
        end_p = np.zeros(batch + (0, 3), dtype=np.float64)
    return FkResult(positions=glob_p, global_rotmats=glob_r, end_site_positions=end_p, end_site_joints=ends)


# --------------------------------------------------------------------------- resampling


def resample_clip(clip: BvhClip, target_fps: float, src_fps: float | None = None) -> BvhClip:
    """Resample a clip to ``target_fps`` keeping its skeleton and channel layout.

    Rotations are slerped, translations (root and any position channels) interpolated
    linearly; see :mod:`simpose.motion.resample`. Angles are re-encoded from the
    rotations, so they may differ from the input by multiples of 360 or by the
    equivalent Euler solution while describing the same rotations.

    Args:
        clip: input clip; every joint with rotation channels needs three distinct ones.
        target_fps: output frame rate, frames per second.
        src_fps: input frame rate; ``clip.nominal_fps`` when None (so a CMU clip counts
            as exactly 120 fps and 120 -> 30 keeps every 4th frame).

    Returns:
        A new :class:`BvhClip` with ``frame_time = 1 / target_fps``.
    """
    src = clip.nominal_fps if src_fps is None else float(src_fps)
    rot = resample_rotmats(clip.local_rotmats(), src, target_fps)
    trans = resample_linear(clip.local_translations(), src, target_fps)
    motion = encode_motion(clip.skeleton, rot, trans)
    log.debug("resampled %s from %.3f to %.3f fps: %d -> %d frames",
              clip.source, src, target_fps, clip.n_frames, motion.shape[0])
    return BvhClip(skeleton=clip.skeleton, motion=motion, frame_time=1.0 / float(target_fps), source=clip.source)
