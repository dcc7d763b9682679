"""The mean-pose floor: it recovers the heading of its own pose seen from any side."""

import numpy as np
import torch

from simpose.camera import Camera
from simpose.eval.metrics import mpjpe
from simpose.models.baselines import MeanPoseLifter, _yaw_rotmats


def test_recovers_heading_of_the_mean_pose():
    lifter = MeanPoseLifter()
    yaws = np.radians([0.0, 37.0, 100.0, 181.0, 290.0])
    truth = np.einsum("nab,jb->nja", _yaw_rotmats(yaws), lifter.mean_pose)  # (5, 17, 3) root-relative
    cam = Camera.from_intrinsics(1000.0, (1000, 1000), dtype=torch.float64)
    joints2d = cam.project(torch.as_tensor(truth + np.array([0.0, 0.0, 5.0]))).numpy()
    pred = lifter.predict(joints2d)
    assert pred.shape == (5, 17, 3)
    # 72 headings: the nearest is at most 2.5 degrees off, a few millimetres at the limbs
    assert mpjpe(pred, truth).max() < 25.0
    # a wrong heading would be far worse
    assert mpjpe(pred[::-1], truth).max() > 100.0


def test_nan_keypoints_are_ignored_not_propagated():
    lifter = MeanPoseLifter()
    x = np.random.default_rng(0).normal(size=(3, 17, 2)) * 50 + 500
    x[1, 4] = np.nan
    assert np.isfinite(lifter.predict(x)).all()
