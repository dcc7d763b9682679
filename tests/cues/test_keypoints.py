"""2D keypoints: MediaPipe against Human3.6M ground truth, no invented people, joint-set conversion."""

import sys

import numpy as np
import pytest

from simpose.body.joints import get_joint_set
from simpose.cues.errors import CueError
from simpose.cues.keypoints import KeypointConfig, Keypoints2D, detect_keypoints

BLAZE = get_joint_set("blazepose33")
H36M = get_joint_set("h36m17")
CHECKED = ["left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_knee", "right_knee"]


def test_h36m_frame_matches_ground_truth(mediapipe, h36m_sample):
    image, gt, box_side = h36m_sample
    kp, masks = detect_keypoints([image], KeypointConfig(static_image_mode=True))
    assert kp.valid.shape == (1, 1) and kp.valid[0, 0]
    assert kp.image_size == (image.shape[1], image.shape[0])
    h36m = kp.to_joint_set("h36m17")
    pred = h36m.keypoints[0, 0]
    idx = H36M.indices(CHECKED)
    err = np.linalg.norm(pred[idx] - gt[idx], axis=-1) / box_side
    assert err.max() < 0.15, dict(zip(CHECKED, err.round(3)))
    for left, right in [("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")]:  # not mirrored
        p, gl, gr = pred[H36M.index(left)], gt[H36M.index(left)], gt[H36M.index(right)]
        assert np.linalg.norm(p - gl) < np.linalg.norm(p - gr)
    assert (h36m.confidence[0, 0, idx] > 0.5).all()
    # the mask covers the person: most ground-truth joints fall on it, and it is not the whole image
    m = masks[0, 0]
    assert m.shape == image.shape[:2] and m.dtype == bool and 0.02 < m.mean() < 0.5
    on_mask = [m[int(round(y)), int(round(x))] for x, y in gt[idx]]
    assert np.mean(on_mask) >= 0.8
    # MediaPipe's own 3D: metres, hip-centred (the hips' midpoint near the origin), a human scale
    world = kp.world[0, 0]
    hips = world[BLAZE.indices(["left_hip", "right_hip"])]
    assert np.linalg.norm(hips.mean(0)) < 0.05
    shoulder_width = np.linalg.norm(world[BLAZE.index("left_shoulder")] - world[BLAZE.index("right_shoulder")])
    assert 0.2 < shoulder_width < 0.5


def test_blank_frames_find_nobody(mediapipe):
    grey = np.full((120, 160, 3), 128, np.uint8)
    kp, masks = detect_keypoints([grey, grey], KeypointConfig(static_image_mode=True))
    assert kp.keypoints.shape == (2, 1, 33, 2)
    assert not kp.valid.any()
    assert np.isnan(kp.keypoints).all() and np.isnan(kp.world).all()
    assert (kp.confidence == 0).all()
    assert masks.shape == (2, 1, 120, 160) and not masks.any()
    assert np.isnan(kp.boxes()).all()


def test_bad_frames_are_refused(mediapipe):
    with pytest.raises(CueError, match="uint8"):
        detect_keypoints([np.zeros((8, 8, 3), np.float32)])
    with pytest.raises(CueError, match="differs"):
        detect_keypoints([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8)])
    with pytest.raises(CueError, match="no frames"):
        detect_keypoints([])


def test_missing_mediapipe_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # makes `import mediapipe` raise ImportError
    with pytest.raises(CueError, match=r"pip install 'simpose\[mediapipe\]'"):
        detect_keypoints([np.zeros((8, 8, 3), np.uint8)])


def _synthetic(T=3, P=2) -> Keypoints2D:
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 100, (T, P, len(BLAZE), 2)).astype(np.float32)
    conf = rng.uniform(0.2, 1, (T, P, len(BLAZE))).astype(np.float32)
    valid = np.ones((T, P), bool)
    valid[1, 0] = False
    kp[1, 0] = np.nan
    conf[1, 0] = 0
    world = rng.normal(size=(T, P, len(BLAZE), 3)).astype(np.float32)
    return Keypoints2D(kp, conf, valid, (100, 100), "blazepose33", world)


def test_conversion_to_h36m_and_coco():
    kp = _synthetic()
    h = kp.to_joint_set("h36m17")
    assert h.joint_set == "h36m17" and h.keypoints.shape == (3, 2, 17, 2) and h.world.shape == (3, 2, 17, 3)
    src = lambda name: kp.keypoints[..., BLAZE.index(name), :]  # noqa: E731
    conf = lambda name: kp.confidence[..., BLAZE.index(name)]  # noqa: E731
    np.testing.assert_allclose(h.keypoints[..., H36M.index("pelvis"), :], (src("left_hip") + src("right_hip")) / 2, rtol=1e-6)
    np.testing.assert_array_equal(h.confidence[..., H36M.index("pelvis")], np.minimum(conf("left_hip"), conf("right_hip")))
    np.testing.assert_array_equal(h.keypoints[..., H36M.index("left_knee"), :], src("left_knee"))
    assert np.isnan(h.keypoints[1, 0]).all() and not h.valid[1, 0] and (h.confidence[1, 0] == 0).all()
    # every coco17 joint has a BlazePose source; mpi_inf_3dhp17's head top has none: NaN, confidence 0
    coco = kp.to_joint_set("coco17")
    assert np.isfinite(coco.keypoints[0]).all()
    mpi = kp.to_joint_set("mpi_inf_3dhp17")
    top = get_joint_set("mpi_inf_3dhp17").index("head_top")
    assert np.isnan(mpi.keypoints[..., top, :]).all() and (mpi.confidence[..., top] == 0).all()
    with pytest.raises(ValueError, match="no source"):
        kp.to_joint_set("mpi_inf_3dhp17", strict=True)


def test_boxes_and_validation():
    kp = _synthetic()
    boxes = kp.boxes()
    assert boxes.shape == (3, 2, 4)
    assert np.isnan(boxes[1, 0]).all()
    np.testing.assert_allclose(boxes[0, 1, :2], kp.keypoints[0, 1].min(0))
    np.testing.assert_allclose(boxes[0, 1, 2:], kp.keypoints[0, 1].max(0))
    with pytest.raises(ValueError, match="keypoints must be"):
        Keypoints2D(kp.keypoints[..., :17, :], kp.confidence, kp.valid, (100, 100))
    with pytest.raises(ValueError, match="valid must be bool"):
        Keypoints2D(kp.keypoints, kp.confidence, kp.valid.astype(int), (100, 100))
