"""3DPW reader: the official ``sequenceFiles/<split>/<sequence>.pkl`` files.

Each file is a Python 2 pickle (read with ``latin1``) holding, per person p of P and frame t of T
(30 fps, one row per image ``imageFiles/<sequence>/image_<img_frame_ids[t]:05d>.jpg``):

- ``sequence`` (str), ``genders`` (P,) ``'m'``/``'f'``;
- ``poses`` (P, T, 72) SMPL axis-angle, the root orientation relative to the world frame;
  ``betas`` (P, 10) SMPL shape; ``trans`` (P, T, 3) world metres;
- ``jointPositions`` (P, T, 72): the 24 SMPL joints in world metres;
- ``poses2d`` (P, T, 3, 18): OpenPose detections (x, y, confidence) in the COCO-18 layout;
- ``cam_poses`` (T, 4, 4) world-to-camera extrinsics (the camera moves), ``cam_intrinsics``
  (3, 3); ``campose_valid`` (P, T): frames where the camera pose and the person fit are valid;
- ``img_frame_ids`` (T,), plus fields not read here (``v_template_clothed``, ``texture_maps``...).

Per-person fields are lists of arrays in the official files; stacked arrays are accepted too.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from simpose.body.joints import get_joint_set
from simpose.camera import Camera
from simpose.data._checks import array, check_finite, existing, load_pickle, require_keys
from simpose.data.records import DatasetError, Sequence

logger = logging.getLogger(__name__)

__all__ = ["OPENPOSE18_NAMES", "FPS", "IMAGE_SIZE", "load_3dpw", "load_3dpw_sequence", "openpose18_to_coco17"]

# OpenPose's COCO-18 output layout (the order of the 18 columns of poses2d), named with the
# canonical joint names of simpose.body.joints. Mapping to coco17 is by name: 'neck' is dropped.
OPENPOSE18_NAMES: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)  # fmt: skip
FPS = 30.0
# 3DPW's images are 1080 x 1920 (portrait phone video); (width, height).
IMAGE_SIZE = (1080, 1920)
_KEYS = ("sequence", "poses", "betas", "trans", "poses2d", "jointPositions", "cam_poses", "cam_intrinsics", "campose_valid")


def openpose18_to_coco17() -> np.ndarray:
    """(17,) index into the OpenPose COCO-18 layout of each coco17 joint (by name)."""
    return np.array([OPENPOSE18_NAMES.index(name) for name in get_joint_set("coco17").names])


def load_3dpw(root: str | Path, split: str = "test", image_size: tuple[int, int] = IMAGE_SIZE) -> list[Sequence]:
    """All sequences of a split, sorted by name.

    Args:
        root: the 3DPW folder (with ``sequenceFiles/`` and, optionally, ``imageFiles/``).
        split: ``"train"``, ``"validation"`` or ``"test"``.
        image_size: (width, height) of the images.
    Returns:
        One :class:`Sequence` per file, see :func:`load_3dpw_sequence`.
    """
    folder = existing(Path(root) / "sequenceFiles" / split, "folder")
    files = sorted(folder.glob("*.pkl"))
    if not files:
        raise DatasetError(f"{folder}: no .pkl sequence files")
    return [load_3dpw_sequence(f, image_root=Path(root) / "imageFiles", image_size=image_size) for f in files]


def load_3dpw_sequence(path: str | Path, image_root: str | Path | None = None, image_size: tuple[int, int] = IMAGE_SIZE) -> Sequence:
    """One official 3DPW sequence file.

    Args:
        path: ``sequenceFiles/<split>/<sequence>.pkl``.
        image_root: folder holding ``<sequence>/image_XXXXX.jpg``; defaults to the ``imageFiles``
            folder beside ``sequenceFiles``.
        image_size: (width, height) of the images.
    Returns:
        A Sequence with ``joints3d`` (T, P, 24, 3) smpl24, metres, camera frame of each frame;
        ``joints2d`` (T, P, 17, 2) coco17 pixels from the OpenPose detections (NaN where the
        confidence is 0) with ``joints2d_confidence`` (T, P, 17); ``valid`` (T, P) =
        ``campose_valid``; ``camera`` one per frame (batch dims (T,)); ``frame_indices`` =
        ``img_frame_ids``; ``body_params``: ``model`` ``"smpl"``, ``genders`` (P,),
        ``rotvecs`` (T, P, 24, 3) axis-angle with the root relative to the world frame,
        ``shape_params`` (P, 10), ``trans_world`` (T, P, 3) metres.
    """
    path = Path(path)
    data = load_pickle(path)
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a dict (an official 3DPW sequence file), got {type(data).__name__}")
    require_keys(data, _KEYS, path)
    joints_world = array(data["jointPositions"], path, "jointPositions", (None, None, 72))
    P, T = joints_world.shape[:2]
    valid = array(data["campose_valid"], path, "campose_valid", (P, T), dtype=np.float64).astype(bool)
    rotvecs = array(data["poses"], path, "poses", (P, T, 72))
    shape_params = array(data["betas"], path, "betas", (P, None))
    if shape_params.shape[1] > 10:  # some releases store 300 coefficients; SMPL uses the first 10
        shape_params = shape_params[:, :10]
    trans = array(data["trans"], path, "trans", (P, T, 3))
    poses2d = array(data["poses2d"], path, "poses2d", (P, T, 3, len(OPENPOSE18_NAMES)))
    cam_poses = array(data["cam_poses"], path, "cam_poses", (T, 4, 4))
    K = array(data["cam_intrinsics"], path, "cam_intrinsics", (3, 3))
    genders = tuple(str(g) for g in data.get("genders", ("",) * P))
    if len(genders) != P:
        raise DatasetError(f"{path}: {len(genders)} genders for {P} people")
    for key, values in (("cam_poses", cam_poses), ("cam_intrinsics", K)):
        check_finite(values, path, key)
    joints_world = joints_world.reshape(P, T, 24, 3)
    check_finite(joints_world, path, "jointPositions", where=valid)
    check_finite(poses2d, path, "poses2d")

    R, t = cam_poses[:, :3, :3], cam_poses[:, :3, 3]  # X_c = R X_w + t
    joints_cam = np.einsum("tab,ptjb->tpja", R, joints_world) + t[:, None, None, :]
    to_coco = openpose18_to_coco17()
    xy = poses2d[:, :, :2, to_coco].transpose(1, 0, 3, 2)  # (T, P, 17, 2)
    confidence = poses2d[:, :, 2, to_coco].transpose(1, 0, 2)  # (T, P, 17)
    joints2d = np.where((confidence > 0)[..., None], xy, np.nan)

    name = str(data["sequence"])
    frame_ids = data.get("img_frame_ids")
    frame_indices = np.arange(T) if frame_ids is None else array(frame_ids, path, "img_frame_ids", (T,), dtype=np.int64)
    image_root = path.parents[2] / "imageFiles" if image_root is None else Path(image_root)
    as_t = lambda x: torch.from_numpy(np.ascontiguousarray(x))  # noqa: E731
    try:
        camera = Camera(K=as_t(np.broadcast_to(K, (T, 3, 3))), R=as_t(R), t=as_t(t), image_size=tuple(image_size))
    except ValueError as exc:
        raise DatasetError(f"{path}: bad camera ({exc})") from exc
    return Sequence(
        name=name,
        dataset="3dpw",
        joint_set="smpl24",
        joint_set_2d="coco17",
        valid=valid.T.copy(),
        joints3d=joints_cam,
        joints2d=joints2d,
        joints2d_confidence=confidence,
        camera=camera,
        fps=FPS,
        frame_indices=frame_indices,
        image_pattern=str(image_root / name / "image_{:05d}.jpg"),
        body_params={
            "model": "smpl",
            "genders": genders,
            "rotvecs": rotvecs.reshape(P, T, 24, 3).transpose(1, 0, 2, 3),
            "shape_params": shape_params,
            "trans_world": trans.transpose(1, 0, 2),
        },
        meta={"file": str(path)},
    )
