"""``poses.npz`` and ``poses.json``: the per-frame result of ``simpose run``, written atomically.

Layout (T frames, P people, J joints of ``joint_set``; NaN wherever ``valid`` is False):

==================== ============================ =============================================
key                  shape, dtype                 meaning
==================== ============================ =============================================
joints3d             (T, P, J, 3) float32         camera frame, metres (x right, y down, z fwd)
joints2d             (T, P, J, 2) float32         the detector's keypoints in ``joint_set``
                                                  (BlazePose mapped by simpose.models.keypoint_map),
                                                  pixels (centres at integers, K's convention)
confidence           (T, P, J) float32            detector confidence in [0, 1] (0: invalid)
valid                (T, P) bool                  person p found in frame t
joint_set            () str                       e.g. ``"h36m17"``
joint_names          (J,) str
body_pose_rotvecs    (T, P, 19, 3) float32        body model pose (``POSE_BONES``), radians
body_global_rotvecs  (T, P, 3) float32            body orientation, camera frame
body_trans           (T, P, 3) float32            body root (pelvis) position, camera frame, m
body_shape           (T, P, 6) float32            phenotype (``SHAPE_NAMES``), one per track
K                    (3, 3) float64               intrinsics, pixels
image_size           (2,) int64                   width, height
fps                  () float64                   frames per second of the video
frame_index          (T,) int64                   index of each frame in the video
complete             () bool                      False: an interrupted run (frames done so far)
keypoints            (T, P, K, 2) float32         optional: the detector's own keypoints as they
                                                  came (e.g. BlazePose-33; the detector lifter's
                                                  input), pixels, K's convention; NaN: invalid
keypoint_confidence  (T, P, K) float32            optional: their confidence
keypoint_set         () str                       optional: their joint set
track_ids            (P,) int64                   optional: the 2D tracker's id of each person
                                                  column (``simpose run --people all``)
==================== ============================ =============================================

``poses.json`` holds the same keys, arrays as nested lists, NaN as ``null``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from simpose._files import atomic_open

__all__ = ["POSE_KEYS", "OPTIONAL_POSE_KEYS", "write_poses", "read_poses", "to_json_tree"]

POSE_KEYS = (
    "joints3d", "joints2d", "confidence", "valid", "joint_set", "joint_names", "body_pose_rotvecs",
    "body_global_rotvecs", "body_trans", "body_shape", "K", "image_size", "fps", "frame_index", "complete",
)  # fmt: skip


# Written where the run has them (``simpose adapt`` re-lifts them as the run did); older files lack them.
OPTIONAL_POSE_KEYS = ("keypoints", "keypoint_confidence", "keypoint_set", "track_ids")


def _atomic(path: Path, write) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as f:
        write(f)
    return path


def to_json_tree(arrays: dict[str, np.ndarray]) -> dict:
    """Arrays -> JSON-ready values (lists, NaN/inf -> None, 6 decimals for floats)."""
    out = {}
    for k, v in arrays.items():
        a = np.asarray(v)
        if a.dtype.kind == "f":
            a = np.round(a.astype(np.float64), 6)
            obj = np.where(np.isfinite(a), a, np.nan).astype(object)
            obj[~np.isfinite(a)] = None
            out[k] = obj.tolist()
        else:
            out[k] = a.tolist()
    return out


def write_poses(out_dir: str | os.PathLike, arrays: dict[str, np.ndarray], json_too: bool = True) -> list[Path]:
    """Write ``poses.npz`` (and ``poses.json``) into ``out_dir``, each atomically.

    Args:
        out_dir: the run folder (created).
        arrays: every key of ``POSE_KEYS``.
        json_too: also write ``poses.json``.
    Returns:
        The paths written.
    Raises:
        KeyError: a key of ``POSE_KEYS`` is missing.
    """
    missing = [k for k in POSE_KEYS if k not in arrays]
    if missing:
        raise KeyError(f"poses need {missing}")
    out_dir = Path(out_dir)
    arrays = {k: np.asarray(arrays[k]) for k in POSE_KEYS + OPTIONAL_POSE_KEYS if k in arrays}
    paths = [_atomic(out_dir / "poses.npz", lambda f: np.savez_compressed(f, **arrays))]
    if json_too:
        text = json.dumps(to_json_tree(arrays), separators=(",", ":"), allow_nan=False).encode()
        paths.append(_atomic(out_dir / "poses.json", lambda f: f.write(text)))
    return paths


def read_poses(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read ``poses.npz`` or ``poses.json`` back into arrays (JSON ``null`` -> NaN)."""
    path = Path(path)
    if path.suffix == ".json":
        tree = json.loads(path.read_text())
        out = {}
        for k, v in tree.items():
            if k in ("joint_set", "joint_names", "keypoint_set"):
                out[k] = np.asarray(v)
            elif k in ("valid", "complete"):
                out[k] = np.asarray(v, bool)
            elif k in ("image_size", "frame_index", "track_ids"):
                out[k] = np.asarray(v, np.int64)
            else:
                out[k] = np.asarray(_nulls_to_nan(v), np.float64)
        return out
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _nulls_to_nan(v):
    if isinstance(v, list):
        return [_nulls_to_nan(x) for x in v]
    return np.nan if v is None else v
