"""Writing BVH files: :class:`~simpose.motion.bvh.BvhClip` (or arrays) to text that Blender and
:func:`simpose.motion.bvh_read.read_bvh` read back, written atomically.

Conventions (angles, offsets, position channels): :mod:`simpose.motion.bvh`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from simpose._files import atomic_open
from simpose.motion.bvh import POSITION_CHANNELS, BvhClip, BvhSkeleton, check_rotation_order, encode_motion

__all__ = ["format_bvh", "write_bvh", "write_clip"]


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
    if len(rotation_order) != 3 or len(set(check_rotation_order(rotation_order))) != 3:
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
