"""3DPW reader on a small file in the official layout (pickle, per-person lists, 2 people, 5 frames)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers_data import OPENPOSE18_INDEX_OF_COCO17, make_3dpw, write_pickle
from simpose.data.pw3d import load_3dpw, load_3dpw_sequence
from simpose.data.records import DatasetError


@pytest.fixture
def official(tmp_path):
    data = make_3dpw()
    root = tmp_path / "3DPW"
    path = write_pickle(root / "sequenceFiles" / "test" / "courtyard_test_00.pkl", data)
    return data, root, path


def test_joints_in_camera_frame(official):
    data, _, path = official
    seq = load_3dpw_sequence(path)
    P, T = 2, 5
    assert seq.joints3d.shape == (T, P, 24, 3) and seq.joint_set == "smpl24"
    for t in range(T):
        R, tr = data["cam_poses"][t][:3, :3], data["cam_poses"][t][:3, 3]
        for p in range(P):
            for j in (0, 7, 23):
                X_w = data["jointPositions"][p][t].reshape(24, 3)[j]
                np.testing.assert_allclose(seq.joints3d[t, p, j], R @ X_w + tr, atol=1e-12)
    assert (seq.joints3d[..., 2] > 0).all()
    # the per-frame camera maps the world joints to the same camera-frame joints
    world = torch.from_numpy(np.stack([d.reshape(T, 24, 3) for d in data["jointPositions"]], axis=1))  # (T, P, 24, 3)
    np.testing.assert_allclose(seq.camera.world_to_camera(world.reshape(T, P * 24, 3)).numpy().reshape(T, P, 24, 3), seq.joints3d, atol=1e-12)


def test_valid_params_and_frames(official):
    data, root, path = official
    seq = load_3dpw_sequence(path)
    np.testing.assert_array_equal(seq.valid, np.stack(data["campose_valid"]).T)
    assert not seq.valid[1, 0] and seq.valid.sum() == 9
    bp = seq.body_params
    assert bp["genders"] == ("m", "f") and bp["model"] == "smpl"
    np.testing.assert_array_equal(bp["rotvecs"][3, 1], data["poses"][1][3].reshape(24, 3))
    np.testing.assert_array_equal(bp["shape_params"][1], data["betas"][1])
    np.testing.assert_array_equal(bp["trans_world"][4, 0], data["trans"][0][4])
    assert seq.fps == 30 and seq.name == "courtyard_test_00"
    assert seq.image_path(2) == root / "imageFiles" / "courtyard_test_00" / "image_00012.jpg"
    np.testing.assert_array_equal(seq.camera_at(2).K.numpy(), data["cam_intrinsics"])


def test_openpose18_to_coco17(official):
    _, _, path = official
    seq = load_3dpw_sequence(path)
    assert seq.joint_set_2d == "coco17" and seq.joints2d.shape == (5, 2, 17, 2)
    t, p = np.meshgrid(np.arange(5), np.arange(2), indexing="ij")
    source = seq.joints2d[..., 0] - (1000.0 * p + 100.0 * t)[..., None]  # x encodes the OpenPose index
    expected = np.broadcast_to(np.array(OPENPOSE18_INDEX_OF_COCO17, dtype=float), (5, 2, 17)).copy()
    left_eye = 1  # coco17 slot of left_eye; OpenPose index 15, set undetected at person 1, frame 3
    expected[3, 1, left_eye] = np.nan
    np.testing.assert_array_equal(source, expected)
    np.testing.assert_array_equal(seq.joints2d[..., 1] - 0.5, expected)  # y encodes it too
    assert seq.joints2d_confidence[3, 1, left_eye] == 0 and seq.joints2d_confidence[0, 0, left_eye] == pytest.approx(0.9)


def test_frame_view(official):
    _, _, path = official
    seq = load_3dpw_sequence(path)
    sample = seq.frame(1)  # person 0 is not valid in frame 1
    assert [p.track_id for p in sample.people] == [1]
    person = sample.people[0]
    np.testing.assert_array_equal(person.joints3d, seq.joints3d[1, 1])
    assert person.joint_set == "smpl24" and person.joint_set_2d == "coco17"
    assert sample.camera.R.shape == (3, 3) and sample.frame_index == 11


def test_split_folder(official):
    _, root, path = official
    write_pickle(root / "sequenceFiles" / "test" / "downtown_test_01.pkl", make_3dpw(P=1, T=3, seed=1) | {"sequence": "downtown_test_01"})
    seqs = load_3dpw(root, "test")
    assert [s.name for s in seqs] == ["courtyard_test_00", "downtown_test_01"]
    assert seqs[1].joints3d.shape == (3, 1, 24, 3)
    with pytest.raises(DatasetError, match="no such folder"):
        load_3dpw(root, "validation")


def test_bad_input(tmp_path):
    data = make_3dpw()
    with pytest.raises(DatasetError, match=r"missing \['jointPositions'\]") as info:
        load_3dpw_sequence(write_pickle(tmp_path / "a.pkl", {k: v for k, v in data.items() if k != "jointPositions"}))
    assert "a.pkl" in str(info.value)
    short = dict(data, poses2d=[x[:4] for x in data["poses2d"]])
    with pytest.raises(DatasetError, match=r"poses2d has shape \(2, 4, 3, 18\)"):
        load_3dpw_sequence(write_pickle(tmp_path / "b.pkl", short))
    nan = dict(data, jointPositions=[x.copy() for x in data["jointPositions"]])
    nan["jointPositions"][0][1, 5] = np.nan  # frame 1 of person 0 is not valid: allowed
    load_3dpw_sequence(write_pickle(tmp_path / "c.pkl", nan))
    nan["jointPositions"][0][2, 5] = np.nan
    with pytest.raises(DatasetError, match="jointPositions has 1 non-finite"):
        load_3dpw_sequence(write_pickle(tmp_path / "d.pkl", nan))
    (tmp_path / "e.pkl").write_text("not a pickle")
    with pytest.raises(DatasetError, match="not a readable pickle"):
        load_3dpw_sequence(tmp_path / "e.pkl")
    with pytest.raises(DatasetError, match="expected a dict"):
        load_3dpw_sequence(write_pickle(tmp_path / "f.pkl", [1, 2]))
