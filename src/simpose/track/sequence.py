"""``PoseSequence``: every person's 3D motion in a video, in memory, and its ``poses.npz`` files.

The record :class:`simpose.track.estimator.Estimator` returns and ``simpose run`` / ``simpose
adapt`` save (:mod:`simpose.export.poses` holds the file layout), and the error the estimator
raises for input it cannot use (``EstimatorError``, a ``ValueError``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

__all__ = ["EstimatorError", "PoseSequence", "JOINT_SET"]


JOINT_SET = "h36m17"


class EstimatorError(ValueError):
    """Input the estimator cannot turn into motion (bad shapes or camera, unknown joint set, no person)."""


# ------------------------------------------------------------------------------ records
@dataclasses.dataclass(frozen=True, eq=False)
class PoseSequence:
    """Every person's motion in a video: what ``poses.npz`` holds (:mod:`simpose.export.poses`).

    T frames, P people, J joints of ``joint_set``; NaN (confidence 0) wherever ``valid`` is False.

    Attributes:
        joints3d: (T, P, J, 3) float32 metres, camera frame (x right, y down, z forward),
            regressed from the fitted body.
        joints2d: (T, P, J, 2) float32 the detections in ``joint_set``, pixels (K's convention).
        confidence: (T, P, J) float32 detector confidence in [0, 1].
        valid: (T, P) bool person p found (and placed) in frame t.
        joint_set: e.g. ``"h36m17"``; joint_names: its (J,) names.
        body_pose_rotvecs: (T, P, 19, 3) float32 radians (``POSE_BONES``).
        body_global_rotvecs: (T, P, 3) float32; body_trans: (T, P, 3) float32 metres, camera frame.
        body_shape: (T, P, 6) float32 phenotype (``SHAPE_NAMES``), one per track.
        K: (3, 3) float64 intrinsics, pixels. image_size: (width, height).
        fps: frames per second. frame_index: (T,) int64 frame of the video of each row.
        complete: False if the keypoint stage was stopped early (rows cover the frames done).
        timings: stage -> seconds (not saved). fov_assumed: no focal or FOV was given (not saved).
        keypoints, keypoint_confidence, keypoint_set: the detector's own keypoints as they came
            ((T, P, K, 2) pixels, (T, P, K); NaN / 0 where not valid) and their set, when they
            are another set than ``joint_set`` (the detector lifter's input); else None.
        track_ids: (P,) int64 the 2D tracker's id of each person column (``people="all"``);
            None where the people are not tracks of a multi-person detector (one main person,
            or 2D given as it is).
    """

    joints3d: np.ndarray
    joints2d: np.ndarray
    confidence: np.ndarray
    valid: np.ndarray
    joint_set: str
    joint_names: tuple[str, ...]
    body_pose_rotvecs: np.ndarray
    body_global_rotvecs: np.ndarray
    body_trans: np.ndarray
    body_shape: np.ndarray
    K: np.ndarray
    image_size: tuple[int, int]
    fps: float
    frame_index: np.ndarray
    complete: bool = True
    timings: dict = dataclasses.field(default_factory=dict, compare=False)
    fov_assumed: bool = False
    keypoints: np.ndarray | None = None
    keypoint_confidence: np.ndarray | None = None
    keypoint_set: str | None = None
    track_ids: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        return int(self.joints3d.shape[0])

    @property
    def num_people(self) -> int:
        return int(self.joints3d.shape[1])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The ``poses.npz`` content (:data:`simpose.export.poses.POSE_KEYS`)."""
        f32 = lambda x: np.asarray(x, np.float32)  # noqa: E731
        return {
            "joints3d": f32(self.joints3d), "joints2d": f32(self.joints2d), "confidence": f32(self.confidence),
            "valid": np.asarray(self.valid, bool), "joint_set": np.array(self.joint_set), "joint_names": np.array(self.joint_names),
            "body_pose_rotvecs": f32(self.body_pose_rotvecs), "body_global_rotvecs": f32(self.body_global_rotvecs),
            "body_trans": f32(self.body_trans), "body_shape": f32(self.body_shape), "K": np.asarray(self.K, np.float64),
            "image_size": np.asarray(self.image_size, np.int64), "fps": np.array(float(self.fps)),
            "frame_index": np.asarray(self.frame_index, np.int64), "complete": np.array(bool(self.complete)),
            **({} if self.keypoints is None else {
                "keypoints": f32(self.keypoints), "keypoint_confidence": f32(self.keypoint_confidence), "keypoint_set": np.array(self.keypoint_set),
            }),
            **({} if self.track_ids is None else {"track_ids": np.asarray(self.track_ids, np.int64)}),
        }  # fmt: skip

    @staticmethod
    def from_arrays(arrays: dict[str, np.ndarray]) -> PoseSequence:
        """From the ``poses.npz`` content (:func:`simpose.export.poses.read_poses`)."""
        from simpose.export.poses import POSE_KEYS

        missing = [k for k in POSE_KEYS if k not in arrays]
        if missing:
            raise EstimatorError(f"not the poses.npz layout: missing {missing}")
        a = arrays
        return PoseSequence(
            joints3d=np.asarray(a["joints3d"], np.float32), joints2d=np.asarray(a["joints2d"], np.float32),
            confidence=np.asarray(a["confidence"], np.float32), valid=np.asarray(a["valid"], bool),
            joint_set=str(a["joint_set"]), joint_names=tuple(str(n) for n in a["joint_names"]),
            body_pose_rotvecs=np.asarray(a["body_pose_rotvecs"], np.float32), body_global_rotvecs=np.asarray(a["body_global_rotvecs"], np.float32),
            body_trans=np.asarray(a["body_trans"], np.float32), body_shape=np.asarray(a["body_shape"], np.float32),
            K=np.asarray(a["K"], np.float64), image_size=tuple(int(v) for v in np.asarray(a["image_size"])),
            fps=float(a["fps"]), frame_index=np.asarray(a["frame_index"], np.int64), complete=bool(a["complete"]),
            **({} if "keypoints" not in a else {
                "keypoints": np.asarray(a["keypoints"], np.float32), "keypoint_confidence": np.asarray(a["keypoint_confidence"], np.float32),
                "keypoint_set": str(a["keypoint_set"]),
            }),
            **({} if "track_ids" not in a else {"track_ids": np.asarray(a["track_ids"], np.int64)}),
        )  # fmt: skip

    def save(self, out_dir: str | os.PathLike, json: bool = True) -> list[Path]:
        """Write ``poses.npz`` (and ``poses.json``) into ``out_dir``, atomically; the paths written."""
        from simpose.export.poses import write_poses

        return write_poses(out_dir, self.to_arrays(), json_too=json)

    @staticmethod
    def load(path: str | os.PathLike) -> PoseSequence:
        """Read a run folder's ``poses.npz`` (or a ``poses.npz`` / ``poses.json`` file)."""
        from simpose.export.poses import read_poses

        path = Path(path)
        if path.is_dir():
            path = path / "poses.npz"
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file")
        return PoseSequence.from_arrays(read_poses(path))

    def body_fit(self, person: int = 0):
        """The :class:`~simpose.body.fit.BodyFit` of one person (float64; NaN where not valid)."""
        from simpose.body.fit import BodyFit

        valid = np.asarray(self.valid[:, person], bool)
        shape = self.body_shape[valid, person]
        shape = shape[0] if len(shape) else np.full(self.body_shape.shape[-1], 0.5)
        f64 = lambda x: np.asarray(x[:, person], np.float64)  # noqa: E731
        return BodyFit(f64(self.body_pose_rotvecs), f64(self.body_global_rotvecs), f64(self.body_trans), np.asarray(shape, np.float64), valid)
