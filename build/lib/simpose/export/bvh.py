"""``motion.bvh``: a fitted body's motion as a standard BVH file (plays in Blender).

Hierarchy: the body model's native joints (``anny`` set): the root (pelvis, with position and
rotation channels), the 19 posable bones, and the three tips (head top, hand tips, toes) as End
Sites. OFFSETs are the reference-pose joints of the track's fitted shape, so the file's FK
reproduces the body's native joints exactly (the joints follow a rigid tree; see
:mod:`simpose.body.fit`). Rest orientations are world-aligned, as BVH expects, and the local
rotations are the pose parameters themselves.

Axes and units: BVH (and Blender's importer) expect Y up, so the camera frame (y down, z forward)
is turned by 180 degrees about x: ``(x, y, z) -> (x, -y, -z)``; the camera sits at the origin
looking along -Z. Metres (Blender's default import scale 1 gives metres).

BVH needs a value for every frame: frames without a person hold the nearest valid frame's
pose (``poses.npz`` marks them invalid; the BVH cannot).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import roma
import torch

from simpose.body.fit import BodyFit, reference_joints
from simpose.body.joints import get_joint_set
from simpose.body.model import POSE_BONES, BodyModel
from simpose.motion.bvh import BvhSkeleton, write_bvh

__all__ = ["CAM_TO_BVH", "body_skeleton", "write_body_bvh"]

# camera frame (y down, z forward) -> BVH/Blender's Y-up frame
CAM_TO_BVH = np.diag([1.0, -1.0, -1.0])


def body_skeleton(body: BodyModel, shape_params: np.ndarray) -> tuple[BvhSkeleton, list[int]]:
    """The BVH skeleton of a body shape and, per BVH joint, its index in the ``anny`` set.

    Returns:
        skeleton (Y-up, metres) and ``joint_of``: BVH joint k is native joint ``joint_of[k]``.
    """
    js = get_joint_set("anny")
    ref = reference_joints(body, shape_params) @ CAM_TO_BVH.T
    kids = js.children
    tips = [j for j in range(len(js)) if not kids[j]]
    joint_of = [j for j in range(len(js)) if j not in tips]
    new = {j: k for k, j in enumerate(joint_of)}
    parents = tuple(-1 if js.parents[j] < 0 else new[js.parents[j]] for j in joint_of)
    offsets = np.stack([ref[j] - (ref[js.parents[j]] if js.parents[j] >= 0 else ref[j]) for j in joint_of])
    end_sites = []
    for j in joint_of:
        tip = [c for c in kids[j] if c in tips]
        end_sites.append(ref[tip[0]] - ref[j] if tip else None)
    channels = tuple(("Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation") if p < 0
                     else ("Zrotation", "Yrotation", "Xrotation") for p in parents)  # fmt: skip
    skel = BvhSkeleton(
        names=tuple(js.names[j] for j in joint_of), parents=parents, offsets=offsets, channels=channels, end_sites=tuple(end_sites)
    )
    return skel, joint_of


def _hold_nearest(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(T, ...) with invalid rows replaced by the nearest valid row (ties: the earlier)."""
    idx = np.flatnonzero(valid)
    t = np.arange(len(valid))
    pos = np.clip(np.searchsorted(idx, t), 1, len(idx) - 1) if len(idx) > 1 else np.zeros(len(t), int)
    if len(idx) > 1:
        left, right = idx[pos - 1], idx[pos]
        nearest = np.where(t - left <= right - t, left, right)
    else:
        nearest = np.full(len(t), idx[0])
    return x[nearest]


def write_body_bvh(path: str | os.PathLike, body: BodyModel, fit: BodyFit, fps: float) -> Path:
    """Write a :class:`~simpose.body.fit.BodyFit` as BVH (see the module docstring).

    Args:
        path: output ``.bvh`` (atomic write).
        body: the body model.
        fit: the fitted motion, camera frame.
        fps: frames per second.
    Returns:
        The path written.
    Raises:
        ValueError: no valid frame.
    """
    if not fit.valid.any():
        raise ValueError("no valid frame to write as BVH")
    skel, joint_of = body_skeleton(body, fit.shape_params)
    pose = _hold_nearest(fit.pose_rotvecs, fit.valid)
    glob = _hold_nearest(fit.global_rotvecs, fit.valid)
    trans = _hold_nearest(fit.trans, fit.valid)
    js = get_joint_set("anny")
    bone_of_joint = {js.index(b): i for i, b in enumerate(POSE_BONES)}
    R_pose = roma.rotvec_to_rotmat(torch.as_tensor(pose)).numpy()  # (T, 19, 3, 3)
    R_glob = roma.rotvec_to_rotmat(torch.as_tensor(glob)).numpy()
    T = len(trans)
    local = np.empty((T, len(joint_of), 3, 3))
    for k, j in enumerate(joint_of):
        local[:, k] = R_glob if js.parents[j] < 0 else R_pose[:, bone_of_joint[j]]
    C = CAM_TO_BVH
    local = C @ local @ C  # C is its own inverse
    return write_bvh(path, skel, local, trans @ C.T, frame_time=1.0 / fps)
