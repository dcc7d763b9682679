"""Model-free baselines: the floor every learned model must beat.

``MeanPoseLifter``: the average synthetic pose (h36m17, root-relative, metres), turned about the
vertical axis to the heading that best explains the 2D keypoints under weak perspective. It uses
no real data: the mean pose comes from the body model driven by the motion library
(``python -m simpose.models.baselines`` rebuilds ``data/mean_pose_h36m17.json``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from simpose.body.joints import convert, get_joint_set

logger = logging.getLogger(__name__)

__all__ = ["MeanPoseLifter", "build_mean_pose", "MEAN_POSE_PATH"]

MEAN_POSE_PATH = Path(__file__).parent / "data" / "mean_pose_h36m17.json"


def _yaw_rotmats(yaws: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations about the y axis (vertical in the camera frame of an upright camera)."""
    c, s = np.cos(yaws), np.sin(yaws)
    R = np.zeros((len(yaws), 3, 3))
    R[:, 0, 0], R[:, 0, 2], R[:, 1, 1], R[:, 2, 0], R[:, 2, 2] = c, s, 1.0, -s, c
    return R


class MeanPoseLifter:
    """2D keypoints -> the mean pose, oriented by a weak-perspective heading search.

    Args:
        mean_pose: (17, 3) h36m17 root-relative mean pose in a body frame (y down, facing -z);
            loaded from the shipped file when None.
        n_yaws: headings tried (uniform over 360 degrees).
    """

    name = "mean-pose"
    joint_set = "h36m17"

    def __init__(self, mean_pose: np.ndarray | None = None, n_yaws: int = 72) -> None:
        if mean_pose is None:
            if not MEAN_POSE_PATH.exists():
                raise FileNotFoundError(f"{MEAN_POSE_PATH} is missing; build it with: python -m simpose.models.baselines")
            mean_pose = np.asarray(json.loads(MEAN_POSE_PATH.read_text())["joints"], dtype=np.float64)
        self.mean_pose = mean_pose - mean_pose[0]
        self.candidates = np.einsum("nab,jb->nja", _yaw_rotmats(np.linspace(0, 2 * np.pi, n_yaws, endpoint=False)), self.mean_pose)

    def predict(self, joints2d: np.ndarray, joint_set: str = "h36m17", confidence: np.ndarray | None = None, camera=None) -> np.ndarray:
        """Root-relative 3D from 2D.

        Args:
            joints2d: (T, J, 2) pixels in ``joint_set``.
            confidence: (T, J) in [0, 1], or None.
            camera: accepted for the lifters' common interface and not used (a weak-perspective
                fit in pixels needs no calibration).
        Returns:
            (T, 17, 3) h36m17, camera-frame axes, metres, pelvis at the origin.
        """
        x = convert(np.asarray(joints2d, dtype=np.float64), joint_set, "h36m17")
        w = np.ones(x.shape[:2]) if confidence is None else convert(confidence[..., None], joint_set, "h36m17")[..., 0]
        w = np.where(np.isfinite(x).all(-1), w, 0.0)
        x = np.nan_to_num(x)
        # Weak perspective: x ~ s * P(R X) + t; fit s, t in closed form per candidate, keep the best.
        Y = self.candidates[..., :2]  # (N, J, 2)
        wsum = w.sum(-1, keepdims=True)[..., None] + 1e-9  # (T, 1, 1)
        xm = (w[..., None] * x).sum(1, keepdims=True) / wsum  # (T, 1, 2)
        xc = x - xm  # (T, J, 2)
        Ym = np.einsum("tj,njc->tnc", w, Y) / wsum  # (T, N, 2)
        Yc = Y[None] - Ym[:, :, None]  # (T, N, J, 2)
        num = np.einsum("tj,tnjc,tjc->tn", w, Yc, xc)
        den = np.einsum("tj,tnjc,tnjc->tn", w, Yc, Yc) + 1e-12
        s = np.maximum(num / den, 0.0)
        resid = np.einsum("tj,tnjc->tn", w, (s[..., None, None] * Yc - xc[:, None]) ** 2)
        best = resid.argmin(1)
        return self.candidates[best]


def build_mean_pose(n_clips: int = 12, frames_per_clip: int = 64, seed: int = 0) -> np.ndarray:
    """The mean h36m17 root-relative pose of synthetic motion, facing -z (average adult body).

    Samples frames of the motion library (CMU mocap and procedural motion), drops each frame's
    global orientation (so the body stands upright facing -z) and averages the joints.
    """
    from simpose.body.model import BodyModel
    import torch

    from simpose.motion.library import MotionLibrary

    body = BodyModel()
    lib = MotionLibrary(body)
    rng = np.random.default_rng(seed)
    poses = []
    h36m = get_joint_set("h36m17")
    for _ in range(n_clips):
        clip = lib.sample(rng, n_frames=frames_per_clip, fps=30.0).motion
        with torch.no_grad():
            out = body(torch.as_tensor(clip.pose_rotvecs))  # no global orientation: facing -z
        joints = body.joints(out, "h36m17").numpy()
        poses.append(joints - joints[:, h36m.index("pelvis")][:, None])
    return np.concatenate(poses).mean(0)


if __name__ == "__main__":  # pragma: no cover - the build command of the shipped file
    pose = build_mean_pose()
    MEAN_POSE_PATH.parent.mkdir(parents=True, exist_ok=True)
    MEAN_POSE_PATH.write_text(
        json.dumps(
            {
                "joint_set": "h36m17",
                "units": "metres, body frame (y down, facing -z), pelvis at the origin",
                "command": "python -m simpose.models.baselines",
                "joints": np.round(pose, 5).tolist(),
            },
            indent=1,
        )
    )
    print(f"wrote {MEAN_POSE_PATH}")
