"""BVH (Biovision Hierarchy) motion files: read, forward kinematics, write.

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
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simpose._files import atomic_open
from simpose.motion.resample import resample_linear, resample_rotmats

__all__ = [
    "POSITION_CHANNELS",
    "ROTATION_CHANNELS",
    "BvhClip",
    "BvhError",
    "BvhSkeleton",
    "FkResult",
    "decode_rotmats",
    "decode_translations",
    "encode_motion",
    "euler_to_rotmat",
    "format_bvh",
    "forward_kinematics",
    "parse_bvh",
    "read_bvh",
    "resample_clip",
    "rotmat_to_euler",
    "write_bvh",
    "write_clip",
]

log = logging.getLogger(__name__)

POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
_AXIS = {"X": 0, "Y": 1, "Z": 2}
# Channel names as written in files vary in case ("XROTATION"); map to canonical names.
_CANONICAL = {c.lower(): c for c in POSITION_CHANNELS + ROTATION_CHANNELS}


class BvhError(ValueError):
    """A malformed BVH file. The message reads ``<source>:<line>: <problem>``."""

    def __init__(self, problem: str, source: str, line: int | None = None) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {problem}")
        self.problem = problem
        self.source = source
        self.line = line


# --------------------------------------------------------------------------- Euler angles


def _check_order(order: str) -> str:
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
    order = _check_order(order)
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
    order = _check_order(order)
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
        channels = tuple(tuple(_CANONICAL.get(str(c).lower(), str(c)) for c in ch) for ch in self.channels)
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
            bad = [c for c in ch if c not in _CANONICAL.values()]
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


# --------------------------------------------------------------------------- reading


def _number(tok: str, what: str, source: str, line: int) -> float:
    try:
        value = float(tok)
    except ValueError:
        raise BvhError(f"{what}: expected a number, found {tok!r}", source, line) from None
    if not math.isfinite(value):
        raise BvhError(f"{what}: value {tok!r} is not finite", source, line)
    return value


def _parse_hierarchy(tokens: list[tuple[str, int]], source: str) -> BvhSkeleton:
    """Build the skeleton from ``(token, line)`` pairs of the HIERARCHY section."""
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float] | None] = []
    channels: list[tuple[str, ...] | None] = []
    end_sites: list[np.ndarray | None] = []
    end_offset: list[float] | None = None
    # Stack of open braces: (kind "joint"/"end", joint index, line of the '{').
    stack: list[tuple[str, int, int]] = []
    pending: tuple[str, int, int] | None = None  # a node waiting for its '{'
    i = 1  # tokens[0] is HIERARCHY
    n_tok = len(tokens)

    def take(count: int, what: str, line: int) -> list[str]:
        if i + count > n_tok:
            raise BvhError(f"{what}: expected {count} more value(s) before MOTION", source, line)
        return [t for t, _ in tokens[i:i + count]]

    while i < n_tok:
        tok, line = tokens[i]
        key = tok.upper()
        i += 1
        if pending is not None and tok != "{":
            raise BvhError(f"expected '{{' after {pending[0]} declared at line {pending[2]}, found {tok!r}", source, line)
        if key in ("ROOT", "JOINT"):
            name_toks = []
            while i < n_tok and tokens[i][1] == line and tokens[i][0] != "{":
                name_toks.append(tokens[i][0])
                i += 1
            if not name_toks:
                raise BvhError(f"{key} without a name", source, line)
            name = " ".join(name_toks)
            if key == "ROOT" and (stack or names):
                raise BvhError("a second ROOT (only one skeleton per file is supported)" if names
                               else "ROOT inside another joint", source, line)
            if key == "JOINT" and not stack:
                raise BvhError(f"JOINT {name!r} outside the ROOT's braces", source, line)
            if stack and stack[-1][0] == "end":
                raise BvhError(f"JOINT {name!r} inside an End Site", source, line)
            if name in names:
                raise BvhError(f"duplicate joint name {name!r}", source, line)
            names.append(name)
            parents.append(stack[-1][1] if stack else -1)
            offsets.append(None)
            channels.append(None)
            end_sites.append(None)
            pending = ("joint", len(names) - 1, line)
        elif key == "END":
            if i >= n_tok or tokens[i][0].upper() != "SITE":
                raise BvhError("'End' not followed by 'Site'", source, line)
            i += 1
            if not stack or stack[-1][0] != "joint":
                raise BvhError("End Site outside a joint", source, line)
            if end_sites[stack[-1][1]] is not None:
                raise BvhError(f"joint {names[stack[-1][1]]!r} has more than one End Site", source, line)
            end_offset = None
            pending = ("end", stack[-1][1], line)
        elif tok == "{":
            if pending is None:
                raise BvhError("unexpected '{'", source, line)
            stack.append((pending[0], pending[1], line))
            pending = None
        elif tok == "}":
            if not stack:
                raise BvhError("unbalanced '}' (no open '{')", source, line)
            kind, j, _ = stack.pop()
            if kind == "end":
                if end_offset is None:
                    raise BvhError(f"End Site of joint {names[j]!r} has no OFFSET", source, line)
                end_sites[j] = np.asarray(end_offset)
            elif offsets[j] is None:
                raise BvhError(f"joint {names[j]!r} has no OFFSET", source, line)
        elif key == "OFFSET":
            if not stack:
                raise BvhError("OFFSET outside a joint", source, line)
            kind, j, _ = stack[-1]
            values = [_number(t, "OFFSET", source, line) for t in take(3, "OFFSET", line)]
            i += 3
            label = f"End Site of {names[j]!r}" if kind == "end" else f"joint {names[j]!r}"
            if (end_offset if kind == "end" else offsets[j]) is not None:
                raise BvhError(f"{label} has a second OFFSET", source, line)
            if kind == "end":
                end_offset = values
            else:
                offsets[j] = values
        elif key == "CHANNELS":
            if not stack or stack[-1][0] != "joint":
                raise BvhError("CHANNELS outside a joint (End Sites have none)", source, line)
            j = stack[-1][1]
            count_tok = take(1, "CHANNELS", line)[0]
            i += 1
            if not count_tok.isdigit() or int(count_tok) > 6:
                raise BvhError(f"CHANNELS count must be an integer 0..6, found {count_tok!r}", source, line)
            raw = take(int(count_tok), "CHANNELS", line)
            i += int(count_tok)
            chans = []
            for c in raw:
                if c.lower() not in _CANONICAL:
                    raise BvhError(f"unknown channel name {c!r} (expected one of "
                                   f"{', '.join(POSITION_CHANNELS + ROTATION_CHANNELS)})", source, line)
                chans.append(_CANONICAL[c.lower()])
            if len(set(chans)) != len(chans):
                raise BvhError(f"repeated channel in {raw}", source, line)
            if channels[j] is not None:
                raise BvhError(f"joint {names[j]!r} has a second CHANNELS line", source, line)
            channels[j] = tuple(chans)
        else:
            raise BvhError(f"unexpected token {tok!r} in HIERARCHY", source, line)
    last_line = tokens[-1][1]
    if pending is not None:
        raise BvhError(f"{pending[0]} declared at line {pending[2]} has no '{{'", source, pending[2])
    if stack:
        kind, j, opened = stack[-1]
        what = f"End Site of {names[j]!r}" if kind == "end" else f"joint {names[j]!r}"
        raise BvhError(f"unbalanced braces: '{{' of {what} opened at line {opened} is never closed "
                       f"(HIERARCHY ends at line {last_line})", source, opened)
    if not names:
        raise BvhError("HIERARCHY has no joints (no ROOT)", source, last_line)
    return BvhSkeleton(names=tuple(names), parents=tuple(parents), offsets=np.asarray(offsets),
                       channels=tuple(c or () for c in channels), end_sites=tuple(end_sites))


def _header_value(lines: list[str], k: int, label: str, source: str) -> tuple[str, int]:
    """Value after ``label`` on the next non-blank line from ``k``; returns (value, index)."""
    while k < len(lines) and not lines[k].strip():
        k += 1
    if k >= len(lines):
        raise BvhError(f"missing '{label}' line after MOTION (file truncated?)", source, len(lines))
    text = lines[k].strip()
    head, sep, rest = text.partition(":")
    if not sep or head.split() != label.split() or len(rest.split()) != 1:
        raise BvhError(f"expected '{label}: <value>', found {text[:60]!r}", source, k + 1)
    return rest.strip(), k


def parse_bvh(text: str, source: str = "<string>") -> BvhClip:
    """Parse BVH text (LF or CRLF line ends, spaces or tabs).

    Args:
        text: the whole file contents.
        source: name used in error messages and stored in the clip.

    Returns:
        The parsed :class:`BvhClip`.

    Raises:
        BvhError: for any malformed input; the message names ``source``, the line and
            the problem.
    """
    lines = text.lstrip("\ufeff").splitlines()
    first = next((n for n, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise BvhError("empty file", source)
    if lines[first].split()[0].upper() != "HIERARCHY":
        raise BvhError(f"missing HIERARCHY: file starts with {lines[first].strip()[:40]!r}", source, first + 1)
    motion_at = next((n for n, ln in enumerate(lines) if ln.split()[:1] in (["MOTION"], ["motion"])), None)
    if motion_at is None:
        raise BvhError("missing MOTION section (file truncated?)", source, len(lines))
    tokens = [(t, n + 1) for n in range(first, motion_at) for t in lines[n].split()]
    skeleton = _parse_hierarchy(tokens, source)

    frames_tok, k = _header_value(lines, motion_at + 1, "Frames", source)
    if not frames_tok.isdigit():
        raise BvhError(f"Frames must be a non-negative integer, found {frames_tok!r}", source, k + 1)
    n_frames = int(frames_tok)
    time_tok, k = _header_value(lines, k + 1, "Frame Time", source)
    frame_time = _number(time_tok, "Frame Time", source, k + 1)
    if frame_time <= 0:
        raise BvhError(f"Frame Time must be > 0 seconds, found {time_tok!r}", source, k + 1)

    n_ch = skeleton.n_channels
    rows, row_lines = [], []
    for n in range(k + 1, len(lines)):
        toks = lines[n].split()
        if toks:
            rows.append(toks)
            row_lines.append(n + 1)
    if len(rows) < n_frames:
        last = row_lines[-1] if row_lines else k + 1
        raise BvhError(f"truncated: header says Frames: {n_frames} but there are only {len(rows)} "
                       f"data rows (last at line {last})", source, last)
    if len(rows) > n_frames:
        raise BvhError(f"{len(rows)} data rows but header says Frames: {n_frames}", source, row_lines[n_frames])
    for toks, line in zip(rows, row_lines):
        if len(toks) != n_ch:
            hint = " (file truncated?)" if line == row_lines[-1] and len(toks) < n_ch else ""
            raise BvhError(f"expected {n_ch} values on a frame row, found {len(toks)}{hint}", source, line)
    try:
        motion = np.array(list(itertools.chain.from_iterable(rows)), dtype=np.float64).reshape(n_frames, n_ch)
    except ValueError:
        for toks, line in zip(rows, row_lines):  # slow path, only to locate the culprit
            for t in toks:
                _number(t, "frame value", source, line)
        raise  # pragma: no cover - numpy and float() disagree
    bad = ~np.isfinite(motion)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise BvhError(f"non-finite value {rows[r][c]!r} in column {c}", source, row_lines[r])
    return BvhClip(skeleton=skeleton, motion=motion, frame_time=frame_time, source=source)


def read_bvh(path: str | os.PathLike) -> BvhClip:
    """Read a ``.bvh`` file.

    Args:
        path: file to read.

    Returns:
        The parsed :class:`BvhClip`; ``source`` is the path.

    Raises:
        FileNotFoundError: the path does not exist. ``ValueError``: the path is empty.
        BvhError: the file is not valid BVH (message: ``<path>:<line>: <problem>``).
    """
    if not str(path):
        raise ValueError("read_bvh: empty path")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"BVH file not found: {path}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return parse_bvh(text, source=str(path))


# --------------------------------------------------------------------------- writing


def _dfs_order(parents: tuple[int, ...]) -> list[int]:
    children: list[list[int]] = [[] for _ in parents]
    for j, p in enumerate(parents[1:], 1):
        children[p].append(j)
    order, todo = [], [0]
    while todo:
        j = todo.pop()
        order.append(j)
        todo.extend(reversed(children[j]))
    return order


def format_bvh(clip: BvhClip, offset_decimals: int = 6, value_decimals: int = 8) -> str:
    """BVH text for a clip, channels written as they are (no re-encoding).

    Args:
        clip: skeleton in depth-first order (as parsed) and raw motion.
        offset_decimals: digits after the point for OFFSETs.
        value_decimals: digits after the point for frame values. 8 keeps FK positions
            within 1e-7 of the unrounded ones for a 150-unit tall skeleton (6 gives ~2e-6).

    Returns:
        The file contents, LF line ends.
    """
    skel = clip.skeleton
    if _dfs_order(skel.parents) != list(range(skel.n_joints)):
        raise ValueError("skeleton joints must be in depth-first order to be written as BVH")
    for name in skel.names:
        if not name.strip() or any(c in name for c in "{}\r\n") or name != name.strip():
            raise ValueError(f"joint name {name!r} cannot be written to a BVH file")
    f = f"{{:.{offset_decimals}f}}"
    fv = f"{{:.{value_decimals}f}}"
    out = ["HIERARCHY"]
    depth_of = [0] * skel.n_joints
    open_stack: list[int] = []

    def close_until(parent: int) -> None:
        while open_stack and open_stack[-1] != parent:
            open_stack.pop()
            out.append("\t" * len(open_stack) + "}")

    for j, name in enumerate(skel.names):
        close_until(skel.parents[j])
        depth_of[j] = len(open_stack)
        ind = "\t" * depth_of[j]
        out.append(f"{ind}{'ROOT' if j == 0 else 'JOINT'} {name}")
        out.append(f"{ind}{{")
        out.append(f"{ind}\tOFFSET " + " ".join(f.format(v) for v in skel.offsets[j]))
        out.append(f"{ind}\tCHANNELS {len(skel.channels[j])}" + "".join(f" {c}" for c in skel.channels[j]))
        if skel.end_sites[j] is not None:
            out += [f"{ind}\tEnd Site", f"{ind}\t{{",
                    f"{ind}\t\tOFFSET " + " ".join(f.format(v) for v in skel.end_sites[j]), f"{ind}\t}}"]
        open_stack.append(j)
    close_until(-1)
    out += ["MOTION", f"Frames: {clip.n_frames}", f"Frame Time: {clip.frame_time:.8g}"]
    values = np.round(clip.motion, value_decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    out += [" ".join(map(fv.format, row)) for row in values.tolist()]
    return "\n".join(out) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def write_clip(
    path: str | os.PathLike, clip: BvhClip, offset_decimals: int = 6, value_decimals: int = 8
) -> Path:
    """Write a clip's channels unchanged, atomically (temp file in the same folder, then replace).

    Args:
        path: output file; its folder must exist.
        clip: what to write; see :func:`format_bvh` for the decimals.

    Returns:
        The path written.
    """
    path = Path(path)
    _write_atomic(path, format_bvh(clip, offset_decimals, value_decimals))
    return path


def write_bvh(
    path: str | os.PathLike,
    skeleton: BvhSkeleton,
    local_rotmats: np.ndarray,
    root_positions: np.ndarray,
    frame_time: float,
    rotation_order: str = "ZYX",
    offset_decimals: int = 6,
    value_decimals: int = 8,
) -> Path:
    """Write motion as a standard BVH file (plays in Blender), atomically.

    The root gets ``Xposition Yposition Zposition`` plus three rotation channels, every
    other joint three rotation channels, in ``rotation_order``. The root OFFSET is the
    skeleton's, and the position channels hold ``root_positions`` (Blender's
    convention). Position channels of non-root joints in ``skeleton`` are not written
    (those joints keep their OFFSET). Joints are written in depth-first order (children
    in index order), which is the skeleton's order whenever it came from a BVH file.

    Args:
        path: output file; its folder must exist.
        skeleton: names, parents, OFFSETs and End Sites to write.
        local_rotmats: (T, J, 3, 3) rotations relative to the parent.
        root_positions: (T, 3) root position, file units, world frame.
        frame_time: seconds per frame.
        rotation_order: three distinct axes, e.g. ``"ZYX"`` -> ``Zrotation Yrotation Xrotation``.
        offset_decimals: digits after the point for OFFSETs.
        value_decimals: digits after the point for frame values (angles, positions).

    Returns:
        The path written.
    """
    if len(rotation_order) != 3 or len(set(_check_order(rotation_order))) != 3:
        raise ValueError(f"rotation_order must be three distinct axes, got {rotation_order!r}")
    rot = np.asarray(local_rotmats, dtype=np.float64)
    root = np.asarray(root_positions, dtype=np.float64)
    n_frames = rot.shape[0] if rot.ndim == 4 else -1
    if rot.shape != (n_frames, skeleton.n_joints, 3, 3) or root.shape != (n_frames, 3):
        raise ValueError(f"need local_rotmats (T, {skeleton.n_joints}, 3, 3) and root_positions (T, 3), "
                         f"got {rot.shape} and {root.shape}")
    order = _dfs_order(skeleton.parents)
    new_index = {old: new for new, old in enumerate(order)}
    rot_ch = tuple(f"{a}rotation" for a in rotation_order)
    std = BvhSkeleton(
        names=tuple(skeleton.names[j] for j in order),
        parents=tuple(-1 if skeleton.parents[j] < 0 else new_index[skeleton.parents[j]] for j in order),
        offsets=skeleton.offsets[order],
        channels=tuple(POSITION_CHANNELS + rot_ch if j == 0 else rot_ch for j in order),
        end_sites=tuple(skeleton.end_sites[j] for j in order),
    )
    trans = np.broadcast_to(std.offsets, (n_frames, std.n_joints, 3)).copy()
    trans[:, 0] = root
    motion = encode_motion(std, rot[:, order], trans)
    clip = BvhClip(skeleton=std, motion=motion, frame_time=frame_time, source=str(path))
    return write_clip(path, clip, offset_decimals, value_decimals)


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
