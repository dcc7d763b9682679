"""Training the motion network: a resumed run reaches the same weights as an uninterrupted one."""

import json

import numpy as np
import torch

from simpose.body.joints import get_joint_set
from simpose.models.motion_net import OUTPUT_SETS
from simpose.synth.detcache import FORMAT, det_path, encode_record
from simpose.synth.motion_crops import MANIFEST, crops_path
from simpose.train.motion import MotionTrainConfig, load_motion_clips, sample_windows, train_motion

T, S, P = 12, 16, 1
J_OUT = sum(len(get_joint_set(s).names) for s in OUTPUT_SETS)
CROP = {"size": S, "pad": 0.2, "smooth": 5, "flow": {"preset": "medium", "restrict_to_person": True, "pad": 0.15}}


def _fake_caches(tmp_path, clips=3):
    """A detector cache and its motion crops of random clips (the files' layout, random content)."""
    det, crops = tmp_path / "det", tmp_path / "crops"
    det.mkdir()
    crops.mkdir()
    (det / "detcache.json").write_text(json.dumps({"format": FORMAT, "detector_version": "fake", "scene": {"fps": 30.0}}))
    (crops / MANIFEST).write_text(json.dumps({"detcache": str(det), "detector_version": "fake", "scene": {"fps": 30.0}, "crop": CROP}))
    rng = np.random.default_rng(0)
    for i in range(clips):
        j3 = {s: rng.normal(0, 0.3, (T, P, len(get_joint_set(s).names), 3)) + [0, 0, 4] for s in OUTPUT_SETS}
        root = j3["h36m17"][:, :, :1]
        arrays = {
            "det/keypoints": rng.uniform(0, 100, (T, 33, 2)).astype(np.float16), "det/confidence": rng.uniform(0, 1, (T, 33)).astype(np.float16),
            "det/valid": np.ones(T, bool), "det/world": np.zeros((T, 33, 3), np.float16), "det/person": np.zeros(T, np.int8),
            "gt/root3d": root[:, :, 0].astype(np.float32),
            "camera/K": np.eye(3), "camera/R": np.tile(np.eye(3, dtype=np.float32), (T, 1, 1)), "camera/t": np.zeros((T, 3), np.float32),
        }  # fmt: skip
        for s, j in j3.items():
            arrays |= {f"gt/{s}/joints2d": np.zeros((*j.shape[:3], 2), np.float16), f"gt/{s}/joints3d_rel": (j - root).astype(np.float16),
                       f"gt/{s}/occlusion": np.zeros(j.shape[:3], np.uint8)}  # fmt: skip
        meta = {"format": FORMAT, "joint_sets": list(OUTPUT_SETS), "keypoint_set": "blazepose33", "fps": 30.0, "clip_index": i}
        det_path(det, i).write_bytes(encode_record(arrays, meta))
        boxes = np.tile(np.float32([50, 50, 80]), (T, 1))
        flow = rng.normal(0, 1, (T - 1, S, S, 2)).astype(np.float16)
        rec = {"boxes": boxes, "rgb": rng.integers(0, 255, (T, S, S, 3), dtype=np.uint8), "flow_dis": flow, "flow_gt": flow}
        crops_path(crops, i).write_bytes(encode_record(rec, {"clip_index": i}))
    return crops


def test_windows_stay_in_their_clip(tmp_path):
    crops = _fake_caches(tmp_path)
    data = load_motion_clips(crops, [1, 2])
    x, y = sample_windows(data, 5, np.random.default_rng(0), 64)
    assert x["flow"].shape == (64, 5, 3, S, S) and x["keypoints"].shape == (64, 5, 33, 3) and y.shape == (64, J_OUT, 3)
    torch.testing.assert_close(y[:, 0], torch.zeros(64, 3))  # relative to the pelvis
    # each window's frames come from one clip: the first frame of a clip (no incoming flow) only at a window's start
    exists = x["flow"][:, :, 2, 0, 0]
    assert torch.all(exists[:, 1:] >= exists[:, :-1])


def test_resume_equals_uninterrupted(tmp_path):
    crops = _fake_caches(tmp_path)
    config = MotionTrainConfig(inputs=("rgb", "flow", "keypoints"), window=3, steps=6, batch=4, save_every=2, warmup=2)
    full = torch.load(train_motion(crops, tmp_path / "full", config), weights_only=True)
    train_motion(crops, tmp_path / "cut", config, stop_after=3)  # interrupted after step 3 (checkpoint at 3)
    resumed = torch.load(train_motion(crops, tmp_path / "cut", config), weights_only=True)
    assert full.keys() == resumed.keys()
    for k in full:
        torch.testing.assert_close(resumed[k], full[k], rtol=0, atol=0)
    card = json.loads((tmp_path / "cut" / "motion.json").read_text())
    assert card["input"]["inputs"] == ["rgb", "flow", "keypoints"] and card["window"] == 3 and card["crop"]["size"] == S
