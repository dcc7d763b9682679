"""Pseudo-label adaptation: the fine-tuned copy learns the targets it is given, and only those."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simpose.adapt.selftrain import fine_tune
from simpose.body.joints import get_joint_set
from simpose.models.lifter import Lifter

K = np.array([[1000.0, 0.0, 319.5], [0.0, 1000.0, 239.5], [0.0, 0.0, 1.0]])
H36M = get_joint_set("h36m17")


@pytest.fixture(scope="module")
def lifter():
    return Lifter.from_pretrained()


@pytest.fixture(scope="module")
def walk():
    """(T, 17, 2) pixels of a person turning in front of the camera: a rest pose rotated about
    the vertical, 4 m away, arms and legs swinging."""
    T = 80
    rest = np.array(
        [[0, 0, 0], [-0.13, 0, 0], [-0.13, 0.45, 0], [-0.13, 0.9, 0], [0.13, 0, 0], [0.13, 0.45, 0], [0.13, 0.9, 0],
         [0, -0.25, 0], [0, -0.5, 0], [0, -0.6, -0.05], [0, -0.72, 0], [0.18, -0.48, 0], [0.2, -0.2, 0], [0.22, 0.05, 0],
         [-0.18, -0.48, 0], [-0.2, -0.2, 0], [-0.22, 0.05, 0]]
    )  # fmt: skip
    t = np.arange(T) / 50.0
    X = np.repeat(rest[None], T, 0)
    swing = 0.25 * np.sin(2 * np.pi * t)
    for knee, ankle, sign in ((2, 3, 1), (5, 6, -1), (12, 13, -1), (15, 16, 1)):
        X[:, ankle, 2] += sign * swing * (0.9 if ankle in (3, 6) else 0.5)
        X[:, knee, 2] += sign * swing * 0.45
    yaw = 0.8 * t
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    X = np.stack([c * X[..., 0] + s * X[..., 2], X[..., 1], -s * X[..., 0] + c * X[..., 2]], -1)
    X = X + np.array([0.2, 0.1, 4.0])
    return (X @ K.T)[..., :2] / X[..., 2:3]


def _yawed(joints: np.ndarray, degrees: float) -> np.ndarray:
    """Root-relative joints turned about the camera's vertical axis."""
    a = np.radians(degrees)
    R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rel = joints - joints[:, :1]
    return rel @ R.T


def _bn_stats(net) -> list[torch.Tensor]:
    return [m.running_mean.clone() for m in net.modules() if isinstance(m, torch.nn.BatchNorm1d)]


def test_fine_tuned_copy_learns_its_targets_and_leaves_the_original(lifter, walk):
    before = lifter.predict(walk, camera=K)
    stats = _bn_stats(lifter.net)
    target = _yawed(before, 25.0)  # a pose the lifter does not give: every frame turned 25 degrees
    err0 = np.linalg.norm(before - target, axis=-1).mean()
    adapted = fine_tune(lifter, walk, {"h36m17": target}, camera=K, steps=40, lr=1e-3)
    after = adapted.predict(walk, camera=K)
    err1 = np.linalg.norm((after - after[:, :1]) - target, axis=-1).mean()
    assert err1 < 0.5 * err0, (err0, err1)  # 48 -> 20 mm here
    np.testing.assert_array_equal(lifter.predict(walk, camera=K), before)  # the original is untouched
    for a, b in zip(stats, _bn_stats(adapted.net)):  # statistics of training kept
        torch.testing.assert_close(a, b)


def test_frames_without_targets_teach_nothing(lifter, walk):
    before = lifter.predict(walk, camera=K)
    nan = np.full((len(walk), 17, 3), np.nan)
    adapted = fine_tune(lifter, walk, {"h36m17": nan}, camera=K, steps=5, lr=1e-3)
    np.testing.assert_array_equal(adapted.predict(walk, camera=K), before)


def test_target_of_the_wrong_shape_is_refused(lifter, walk):
    with pytest.raises(ValueError, match="targets"):
        fine_tune(lifter, walk, {"h36m17": np.zeros((len(walk), 16, 3))}, camera=K)


def test_fine_tune_at_another_frame_rate_trains_on_the_resampled_track(lifter, walk):
    """At 25 fps the copy trains on the track resampled to the lifter's 50 fps, with the targets
    resampled alike, and learns them at the video's own frames."""
    video = walk[::2]  # the same motion filmed at 25 fps
    before = lifter.predict(video, camera=K, fps=25.0)
    target = _yawed(before, 25.0)
    err0 = np.linalg.norm(before - target, axis=-1).mean()
    adapted = fine_tune(lifter, video, {"h36m17": target}, camera=K, steps=40, lr=1e-3, fps=25.0)
    after = adapted.predict(video, camera=K, fps=25.0)
    err1 = np.linalg.norm((after - after[:, :1]) - target, axis=-1).mean()
    assert err1 < 0.5 * err0, (err0, err1)
    with pytest.raises(ValueError, match="targets"):  # targets are per frame of the video, not of the resampled copy
        fine_tune(lifter, video, {"h36m17": np.zeros((len(walk), 17, 3))}, camera=K, fps=25.0)
