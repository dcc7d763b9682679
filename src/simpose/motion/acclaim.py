"""Acclaim ASF/AMC motion files (the CMU and HDM05 databases' native format), read as BVH clips.

An ASF file is a skeleton: bones with a rest ``direction`` (unit vector, world frame), a
``length``, a local frame ``axis`` (Euler angles with an order, e.g. ``0 0 20 XYZ``) and
``dof`` (the rotations an AMC frame gives, in order); a ``:hierarchy`` of parents. An AMC file
is one block per frame: the frame number, then per bone its dof values (the root: ``TX TY TZ
RX RY RZ`` in the root's ``order``). There is no frame rate in the files: CMU and HDM05 record
at 120 Hz (HDM05's names end in ``_120.amc``).

Conventions (those of the CMU database's own viewer and the common parsers):

* Euler angles: an axis order ``XYZ`` (or a dof list ``rx ry rz``) means the rotation about x is
  applied first: ``R = Rz @ Ry @ Rx``.
* A bone's local rotation is ``L = C M C^-1``: ``C`` its ``axis`` frame, ``M`` its dof rotation.
  Its world rotation is ``W = W_parent @ L`` (the root's: ``C_root M_root C_root^-1`` with
  ``C_root`` from ``orientation``); it starts at its parent's end and ends at
  ``start + length * W @ direction``.
* Lengths: ``:units length u`` means a file length ``x`` is ``x / u`` inches (CMU's and HDM05's
  ``0.45``). :func:`amc_to_bvh` converts to metres. Angles: ``:units angle deg`` or ``rad``.

:func:`amc_to_bvh` writes the motion as a :class:`~simpose.motion.bvh.BvhClip` in metres, one
BVH joint per bone at the bone's start, rotated by the bone's world rotation, so that BVH forward
kinematics puts every bone end where the Acclaim rules do (tested), and the rest of simpose
(resampling, retargeting with :data:`simpose.motion.retarget.ACCLAIM`, the motion library) takes
it as any BVH. Each joint's channels are ``Zrotation Yrotation Xrotation`` (the root's also
``Xposition Yposition Zposition``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import numpy as np

from simpose.motion.bvh import BvhClip, BvhSkeleton, euler_to_rotmat, rotmat_to_euler

__all__ = ["AcclaimError", "AsfSkeleton", "parse_asf", "read_asf", "parse_amc", "amc_to_bvh", "read_amc", "find_asf", "world_rotations", "bone_ends", "INCH_M"]

INCH_M = 0.0254
_AXES = "XYZ"


class AcclaimError(ValueError):
    """A malformed ASF or AMC file. The message names the file (and line)."""


@dataclasses.dataclass(frozen=True, eq=False)
class AsfSkeleton:
    """An ASF skeleton, bones in depth-first order from the root (index 0, ``"root"``).

    Attributes:
        names: J bone names. parents: J parent indices (-1 for the root), ``parents[j] < j``.
        directions: (J, 3) unit rest directions, world frame (the root's: zero).
        lengths: (J,) file units (the root's: 0).
        axes: (J, 3) the local frames' Euler angles, in ``angle_unit``; axis_orders: J strings
            like ``"XYZ"``.
        dofs: J tuples of dof names (``"rx"``, ``"ry"``, ``"rz"``; the root's: ``"tx"`` ...
            ``"rz"`` in its ``order``).
        length_unit: the ``:units length`` value (file units per inch).
        angle_unit: ``"deg"`` or ``"rad"``.
        root_position: (3,) file units.
        source: the file, for messages.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    directions: np.ndarray
    lengths: np.ndarray
    axes: np.ndarray
    axis_orders: tuple[str, ...]
    dofs: tuple[tuple[str, ...], ...]
    length_unit: float = 0.45
    angle_unit: str = "deg"
    root_position: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3))
    source: str = "<string>"

    @property
    def n_bones(self) -> int:
        return len(self.names)

    @property
    def units_to_m(self) -> float:
        """Metres per file length unit."""
        return INCH_M / self.length_unit


def _euler(angles: np.ndarray, order: str, unit: str) -> np.ndarray:
    """(..., 3) angles about x, y, z -> rotations applying ``order[0]`` first: ``R_{o2} R_{o1} R_{o0}``."""
    deg = np.asarray(angles, np.float64) if unit == "deg" else np.degrees(angles)
    # euler_to_rotmat(a, "ZYX") = Rz(a0) Ry(a1) Rx(a2): the order reversed, angles picked per axis
    rev = order[::-1]
    return euler_to_rotmat(deg[..., [_AXES.index(a) for a in rev]], rev)


def parse_asf(text: str, source: str = "<string>") -> AsfSkeleton:
    """Parse an ASF skeleton.

    Raises:
        AcclaimError: a missing section, an unknown bone in the hierarchy, bad numbers, a dof
            other than rx/ry/rz on a bone.
    """
    sections: dict[str, list[tuple[int, str]]] = {}
    current = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(":"):
            key, _, rest = line[1:].partition(" ")
            current = key.lower()
            sections.setdefault(current, [])
            if rest.strip():
                sections[current].append((n, rest.strip()))
        elif current is not None:
            sections[current].append((n, line))
    for need in ("root", "bonedata", "hierarchy"):
        if need not in sections:
            raise AcclaimError(f"{source}: no :{need} section (not an ASF file?)")

    def num(tokens: list[str], n: int, what: str) -> np.ndarray:
        try:
            return np.array([float(t) for t in tokens], np.float64)
        except ValueError:
            raise AcclaimError(f"{source}:{n}: bad numbers for {what}: {' '.join(tokens)}") from None

    length_unit, angle_unit = 1.0, "deg"
    for n, line in sections.get("units", []):
        k, *v = line.split()
        if k == "length" and v:
            length_unit = float(num(v[:1], n, "length unit")[0])
        elif k == "angle" and v:
            angle_unit = v[0].lower()[:3]
    if angle_unit not in ("deg", "rad") or not length_unit > 0:
        raise AcclaimError(f"{source}: units must be length > 0 and angle deg|rad, got {length_unit}, {angle_unit}")

    root = {k: v for k, *v in (line.split() for _, line in sections["root"])}
    order = tuple(t.lower() for t in root.get("order", "TX TY TZ RX RY RZ".split()))
    if sorted(order) != ["rx", "ry", "rz", "tx", "ty", "tz"]:
        raise AcclaimError(f"{source}: the root order must list TX TY TZ RX RY RZ once each, got {order}")
    root_axis = "".join(root.get("axis", ["XYZ"])).upper()
    root_pos = num(root.get("position", ["0", "0", "0"]), 0, "root position")
    root_ori = num(root.get("orientation", ["0", "0", "0"]), 0, "root orientation")

    bones: dict[str, dict] = {}
    bone: dict | None = None
    for n, line in sections["bonedata"]:
        k, *v = line.split()
        if k == "begin":
            bone = {"line": n, "dof": ()}
        elif k == "end":
            if bone is None or "name" not in bone:
                raise AcclaimError(f"{source}:{n}: a bone without a name")
            for need in ("direction", "length"):
                if need not in bone:
                    raise AcclaimError(f"{source}:{bone['line']}: bone {bone['name']!r} has no {need}")
            bones[bone["name"]] = bone
            bone = None
        elif bone is None:
            raise AcclaimError(f"{source}:{n}: {k!r} outside a begin/end block")
        elif k == "name":
            bone["name"] = v[0]
        elif k == "direction":
            bone["direction"] = num(v, n, "direction")
        elif k == "length":
            bone["length"] = float(num(v[:1], n, "length")[0])
        elif k == "axis":
            bone["axis"] = num(v[:3], n, "axis")
            bone["order"] = (v[3] if len(v) > 3 else "XYZ").upper()
        elif k == "dof":
            dof = tuple(t.lower() for t in v)
            if any(d not in ("rx", "ry", "rz") for d in dof) or len(set(dof)) != len(dof):
                raise AcclaimError(f"{source}:{n}: bone {bone.get('name')!r}: only rx, ry, rz dofs are read, got {' '.join(v)}")
            bone["dof"] = dof

    children: dict[str, list[str]] = {}
    for n, line in sections["hierarchy"]:
        parent, *kids = line.split()
        if parent in ("begin", "end"):
            continue
        for name in [parent, *kids]:
            if name != "root" and name not in bones:
                raise AcclaimError(f"{source}:{n}: hierarchy names bone {name!r}, which :bonedata lacks")
        children.setdefault(parent, []).extend(kids)
    names, parents = ["root"], [-1]
    stack = [(c, 0) for c in reversed(children.get("root", []))]
    while stack:
        name, p = stack.pop()
        if name in names:
            raise AcclaimError(f"{source}: bone {name!r} appears twice in the hierarchy")
        names.append(name)
        parents.append(p)
        stack.extend((c, len(names) - 1) for c in reversed(children.get(name, [])))
    directions = np.zeros((len(names), 3))
    lengths = np.zeros(len(names))
    axes = np.zeros((len(names), 3))
    orders, dofs = [root_axis], [order]
    axes[0] = root_ori
    for j, name in enumerate(names[1:], 1):
        b = bones[name]
        d = np.asarray(b["direction"], np.float64)
        if d.shape != (3,) or not np.linalg.norm(d) > 0:
            raise AcclaimError(f"{source}:{b['line']}: bone {name!r}: direction must be 3 numbers, not all zero")
        directions[j] = d / np.linalg.norm(d)
        lengths[j] = b["length"]
        axes[j] = b.get("axis", np.zeros(3))
        orders.append(b.get("order", "XYZ"))
        dofs.append(b["dof"])
    for o in orders:
        if sorted(o) != list(_AXES):
            raise AcclaimError(f"{source}: axis order must be a permutation of XYZ, got {o!r}")
    return AsfSkeleton(tuple(names), tuple(parents), directions, lengths, axes, tuple(orders), tuple(dofs),
                       length_unit, angle_unit, root_pos, source)  # fmt: skip


def read_asf(path: str | os.PathLike) -> AsfSkeleton:
    """Read an ASF file (bytes outside UTF-8, as in HDM05's comments, are replaced)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as e:
        raise AcclaimError(f"{path}: cannot read ({e.strerror or e})") from e
    return parse_asf(text, str(path))


def parse_amc(text: str, skeleton: AsfSkeleton, source: str = "<string>") -> dict[str, np.ndarray]:
    """Parse AMC frames.

    Returns:
        bone name -> (T, len(dofs)) float64 values in file order (file units, ``angle_unit``);
        every bone with dofs, the root included.
    Raises:
        AcclaimError: no frames, a bone missing from a frame, a wrong number of values, an
        unknown bone.
    """
    want = {name: len(d) for name, d in zip(skeleton.names, skeleton.dofs) if d}
    frames: list[dict[str, list[float]]] = []
    line_of: list[int] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#:":
            continue
        tok = line.split()
        if len(tok) == 1 and tok[0].isdigit():
            frames.append({})
            line_of.append(n)
            continue
        if not frames:
            raise AcclaimError(f"{source}:{n}: bone values before the first frame number")
        name = tok[0]
        if name not in want:
            if name in skeleton.names:
                continue  # a bone without dofs may still be listed with nothing
            raise AcclaimError(f"{source}:{n}: unknown bone {name!r}")
        if len(tok) - 1 != want[name]:
            raise AcclaimError(f"{source}:{n}: bone {name!r} needs {want[name]} values, got {len(tok) - 1}")
        try:
            frames[-1][name] = [float(t) for t in tok[1:]]
        except ValueError:
            raise AcclaimError(f"{source}:{n}: bad numbers: {line}") from None
    if not frames:
        raise AcclaimError(f"{source}: no frames (not an AMC file?)")
    out = {}
    for name, k in want.items():
        rows = []
        for f, n in zip(frames, line_of):
            if name not in f:
                raise AcclaimError(f"{source}:{n}: frame lacks bone {name!r}")
            rows.append(f[name])
        out[name] = np.array(rows, np.float64).reshape(len(frames), k)
    return out


def _dof_rotation(values: np.ndarray, dofs: tuple[str, ...], unit: str) -> np.ndarray:
    """(T, 3, 3) rotation of a bone's rotation dofs, applied in the listed order."""
    T = len(values)
    R = np.broadcast_to(np.eye(3), (T, 3, 3)).copy()
    for k, d in enumerate(dofs):
        if d[0] != "r":
            continue
        angles = np.zeros((T, 3))
        angles[:, "xyz".index(d[1])] = values[:, k]
        R = _euler(angles, "XYZ", unit) @ R  # the later dof acts after: left-multiplied
    return R


def world_rotations(skeleton: AsfSkeleton, values: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """World rotations of every bone and the root position (file units).

    Returns:
        (T, J, 3, 3) world rotations ``W``, (T, 3) root position.
    """
    T = len(next(iter(values.values())))
    W = np.zeros((T, skeleton.n_bones, 3, 3))
    root_dofs = skeleton.dofs[0]
    rv = values.get("root", np.zeros((T, 6)))
    pos = np.stack([rv[:, root_dofs.index(a)] for a in ("tx", "ty", "tz")], -1) + skeleton.root_position
    for j, (name, p) in enumerate(zip(skeleton.names, skeleton.parents)):
        C = _euler(skeleton.axes[j], skeleton.axis_orders[j], skeleton.angle_unit)
        dofs = skeleton.dofs[j]
        M = _dof_rotation(values[name], dofs, skeleton.angle_unit) if dofs else np.broadcast_to(np.eye(3), (T, 3, 3))
        L = C @ M @ C.T
        W[:, j] = L if p < 0 else W[:, p] @ L
    return W, pos


def bone_ends(skeleton: AsfSkeleton, values: dict[str, np.ndarray]) -> np.ndarray:
    """(T, J, 3) world position of every bone's end (the root's: its position), file units —
    the Acclaim forward kinematics, for tests and checks."""
    W, pos = world_rotations(skeleton, values)
    ends = np.zeros(W.shape[:2] + (3,))
    for j, p in enumerate(skeleton.parents):
        start = pos if p < 0 else ends[:, p]
        ends[:, j] = start + skeleton.lengths[j] * (W[:, j] @ skeleton.directions[j])
    return ends


def amc_to_bvh(skeleton: AsfSkeleton, values: dict[str, np.ndarray], fps: float, source: str = "<amc>") -> BvhClip:
    """An AMC motion as a BVH clip in metres (module docstring).

    Args:
        skeleton: the ASF. values: :func:`parse_amc`'s output. fps: frames per second.
    Returns:
        :class:`BvhClip`: joint j = bone j at its start; offset = the parent bone's vector
        ``length * direction`` (metres); End Sites at the ends of leaf bones.
    """
    if not fps > 0:
        raise AcclaimError(f"{source}: fps must be positive, got {fps}")
    W, pos = world_rotations(skeleton, values)
    J = skeleton.n_bones
    u = skeleton.units_to_m
    vec = skeleton.lengths[:, None] * skeleton.directions * u  # (J, 3) each bone's rest vector, metres
    parents = skeleton.parents
    offsets = np.stack([np.zeros(3) if p < 0 else vec[p] for p in parents])
    has_child = {p for p in parents if p >= 0}
    end_sites = tuple(None if j in has_child else vec[j] for j in range(J))
    W_par = np.stack([np.broadcast_to(np.eye(3), W[:, 0].shape) if p < 0 else W[:, p] for p in parents], 1)
    local = np.swapaxes(W_par, -1, -2) @ W  # (T, J, 3, 3)
    angles = rotmat_to_euler(local, "ZYX")  # (T, J, 3) degrees, Rz Ry Rx
    rot = ("Zrotation", "Yrotation", "Xrotation")
    channels = tuple((("Xposition", "Yposition", "Zposition") + rot) if j == 0 else rot for j in range(J))
    motion = np.concatenate([pos * u, angles.reshape(len(angles), -1)], axis=1)
    skel = BvhSkeleton(skeleton.names, parents, offsets, channels, end_sites)
    return BvhClip(skel, motion, 1.0 / fps, source)


_RATE = re.compile(r"_(\d+)$")


def read_amc(path: str | os.PathLike, skeleton: AsfSkeleton | str | os.PathLike | None = None, fps: float | None = None) -> BvhClip:
    """Read an AMC file as a BVH clip in metres (:func:`amc_to_bvh`).

    Args:
        path: the ``.amc`` file.
        skeleton: its ASF (parsed or a path); None: :func:`find_asf`.
        fps: frames per second; None: the number the name ends in (HDM05: ``..._120.amc``), else
            120 (the CMU and HDM05 rate).
    Raises:
        AcclaimError: unreadable or malformed files, no ASF found.
    """
    path = Path(path)
    if not isinstance(skeleton, AsfSkeleton):
        skeleton = read_asf(skeleton if skeleton is not None else find_asf(path))
    if fps is None:
        m = _RATE.search(path.stem)
        fps = float(m.group(1)) if m and 10 <= int(m.group(1)) <= 1000 else 120.0
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as e:
        raise AcclaimError(f"{path}: cannot read ({e.strerror or e})") from e
    return amc_to_bvh(skeleton, parse_amc(text, skeleton, str(path)), fps, str(path))


def find_asf(amc: str | os.PathLike, levels: int = 2) -> Path:
    """The ASF of an AMC file: in its folder or up to ``levels`` folders above, the ``.asf`` whose
    name (without suffix) is the longest prefix of the AMC's name (CMU: ``09.asf`` for
    ``09_07.amc``; HDM05: ``HDM_bd.asf`` for ``HDM_bd_squat1Reps_001_120.amc``)."""
    amc = Path(amc)
    folder = amc.parent
    for _ in range(levels + 1):
        found = [f for f in folder.glob("*.asf") if amc.stem.startswith(f.stem)]
        if found:
            return max(found, key=lambda f: len(f.stem))
        if folder.parent == folder:
            break
        folder = folder.parent
    raise AcclaimError(f"{amc}: no .asf skeleton whose name starts the AMC's name in its folder or {levels} above")
