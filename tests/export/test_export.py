"""poses.npz/json round trips; the BVH's forward kinematics reproduce the fitted body."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from simpose.body.fit import body_joints, fit_pose
from simpose.body.joints import get_joint_set
from simpose.body.model import POSE_LIMITS_RAD
from simpose.export.bvh import CAM_TO_BVH, write_body_bvh
from simpose.export.poses import POSE_KEYS, read_poses, write_poses
from simpose.motion.bvh_read import read_bvh


def _arrays(T: int = 5) -> dict:
    rng = np.random.default_rng(0)
    valid = np.ones((T, 1), bool)
    valid[2] = False
    a = {
        "joints3d": rng.normal(size=(T, 1, 17, 3)).astype(np.float32),
        "joints2d": rng.normal(size=(T, 1, 17, 2)).astype(np.float32),
        "confidence": rng.random((T, 1, 17)).astype(np.float32),
        "valid": valid,
        "joint_set": np.array("h36m17"),
        "joint_names": np.array(get_joint_set("h36m17").names),
        "body_pose_rotvecs": rng.normal(size=(T, 1, 19, 3)).astype(np.float32),
        "body_global_rotvecs": rng.normal(size=(T, 1, 3)).astype(np.float32),
        "body_trans": rng.normal(size=(T, 1, 3)).astype(np.float32),
        "body_shape": rng.random((T, 1, 6)).astype(np.float32),
        "K": np.eye(3),
        "image_size": np.array([640, 480]),
        "fps": np.array(25.0),
        "frame_index": np.arange(T),
        "complete": np.array(True),
    }
    for k in ("joints3d", "joints2d", "body_pose_rotvecs", "body_trans"):
        a[k][2] = np.nan
    return a


def test_npz_and_json_round_trip_with_nan(tmp_path):
    a = _arrays()
    write_poses(tmp_path, a)
    z = read_poses(tmp_path / "poses.npz")
    j = read_poses(tmp_path / "poses.json")
    json.loads((tmp_path / "poses.json").read_text())  # strict JSON: NaN written as null
    assert "NaN" not in (tmp_path / "poses.json").read_text()
    for k in POSE_KEYS:
        if a[k].dtype.kind == "f":
            np.testing.assert_allclose(z[k], a[k], equal_nan=True)
            np.testing.assert_allclose(j[k], a[k], atol=1e-6, equal_nan=True)
        else:
            np.testing.assert_array_equal(z[k], a[k])
            np.testing.assert_array_equal(j[k], a[k])
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temporary files


def test_missing_keys_are_refused(tmp_path):
    a = _arrays()
    del a["valid"]
    with pytest.raises(KeyError, match="valid"):
        write_poses(tmp_path, a)


def test_bvh_fk_equals_the_body_and_invalid_frames_hold(body, tmp_path):
    rng = np.random.default_rng(1)
    T = 6
    pose = rng.uniform(0.5 * POSE_LIMITS_RAD[..., 0], 0.5 * POSE_LIMITS_RAD[..., 1], (T, 19, 3))
    shape = np.array([0.3, 0.5, 0.6, 0.4, 0.7, 0.5])
    joints = body.forward_joints(
        "anny", torch.as_tensor(pose), torch.as_tensor(shape)[None], torch.as_tensor(rng.normal(0, 0.5, (T, 3))),
        torch.as_tensor(rng.normal(0, 0.3, (T, 3)) + [0, 0, 3]),
    ).numpy()  # fmt: skip
    joints[3] = np.nan
    fit = fit_pose(body, joints, shape)
    clip = read_bvh(write_body_bvh(tmp_path / "m.bvh", body, fit, fps=30.0))
    assert clip.n_frames == T and abs(clip.fps - 30.0) < 1e-6 and clip.skeleton.n_joints == 20
    fk = clip.forward_kinematics()
    names = get_joint_set("anny").names
    idx = [names.index(n) for n in clip.skeleton.names]
    ref = body_joints(body, fit) @ CAM_TO_BVH.T
    ok = fit.valid
    np.testing.assert_allclose(fk.positions[ok], ref[ok][:, idx], atol=1e-4)
    # End Sites carry the tips (head top, hand tips, toes)
    tips = [names.index(n) for n in ("head_top", "hand_tip.L", "hand_tip.R", "toe.L", "toe.R")]
    assert fk.end_site_positions.shape[1] == 5
    np.testing.assert_allclose(np.sort(fk.end_site_positions[0, :, 1]), np.sort(ref[0, tips, 1]), atol=0.02)
    # the frame without a person holds its nearest valid neighbour (BVH needs every frame)
    np.testing.assert_allclose(fk.positions[3], fk.positions[2], atol=1e-6)


def test_obj_meshes_follow_the_fit(body, tmp_path):
    from simpose.body.fit import body_vertices
    from simpose.export.mesh import write_meshes, write_obj

    shape = np.full(6, 0.5)
    joints = body.forward_joints("anny", torch.zeros(3, 19, 3, dtype=torch.float64), torch.as_tensor(shape)[None],
                                 trans=torch.tensor([[0.0, 0.0, 3.0]] * 3, dtype=torch.float64)).numpy()  # fmt: skip
    joints[1] = np.nan
    fit = fit_pose(body, joints, shape)
    paths = write_meshes(tmp_path, body, fit)
    assert [p.name for p in paths] == ["mesh_000000.obj", "mesh_000002.obj"]
    lines = paths[0].read_text().splitlines()
    v = np.array([list(map(float, l.split()[1:])) for l in lines if l.startswith("v ")])
    f = np.array([list(map(int, l.split()[1:])) for l in lines if l.startswith("f ")])
    assert f.min() == 1 and f.max() == len(v) == body.num_vertices and len(f) == body.faces.shape[0]
    np.testing.assert_allclose(v, body_vertices(body, fit, np.array([0]))[0] @ CAM_TO_BVH.T, atol=1e-5)
    with pytest.raises(ValueError, match="NaN"):
        write_obj(tmp_path / "bad.obj", np.full((3, 3), np.nan), np.array([[0, 1, 2]]))
