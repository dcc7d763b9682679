"""Training the motion network: a resumed run reaches the same weights as an uninterrupted one."""

import json

import numpy as np
import torch

from simpose.body.joints import get_joint_set
from simpose.models.motion_net import OUTPUT_SETS
from simpose.train.motion import MotionTrainConfig, load_motion_clips, sample_windows, train_motion

S = 16  # the crop side of the motion_caches fixture (tests/conftest.py)
J_OUT = sum(len(get_joint_set(s).names) for s in OUTPUT_SETS)


def test_windows_stay_in_their_clip(motion_caches):
    crops = motion_caches()
    data = load_motion_clips(crops, [1, 2])
    x, y = sample_windows(data, 5, np.random.default_rng(0), 64)
    assert x["flow"].shape == (64, 5, 4, S, S) and x["keypoints"].shape == (64, 5, 33, 3) and y.shape == (64, J_OUT, 3)
    torch.testing.assert_close(y[:, 0], torch.zeros(64, 3))  # relative to the pelvis
    # each window's frames come from one clip: the first frame of a clip (no incoming flow) only at a window's start
    exists = x["flow"][:, :, 2, 0, 0]
    assert torch.all(exists[:, 1:] >= exists[:, :-1])


def test_resume_equals_uninterrupted(tmp_path, motion_caches):
    crops = motion_caches()
    config = MotionTrainConfig(inputs=("rgb", "flow", "keypoints"), window=3, steps=6, batch=4, save_every=2, warmup=2)
    full = torch.load(train_motion(crops, tmp_path / "full", config), weights_only=True)
    train_motion(crops, tmp_path / "cut", config, stop_after=3)  # interrupted after step 3 (checkpoint at 3)
    resumed = torch.load(train_motion(crops, tmp_path / "cut", config), weights_only=True)
    assert full.keys() == resumed.keys()
    for k in full:
        torch.testing.assert_close(resumed[k], full[k], rtol=0, atol=0)
    card = json.loads((tmp_path / "cut" / "motion.json").read_text())
    assert card["input"]["inputs"] == ["rgb", "flow", "keypoints"] and card["window"] == 3 and card["crop"]["size"] == S
