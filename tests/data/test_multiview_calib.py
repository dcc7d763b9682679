"""Calibration readers of synchronised camera rigs: the real pose2sim files, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simpose.data.multiview_calib import read_calib_json, read_calibration, read_qca
from simpose.data.records import DatasetError


@pytest.fixture(scope="module")
def pose2sim(real_dir):
    path = real_dir / "pose2sim"
    if not (path / "calib.json").is_file() or not (path / "Calib.qca.txt").is_file():
        pytest.skip(f"{path} lacks calib.json / Calib.qca.txt")
    return path


def test_qca_reader_reproduces_calib_json(pose2sim):
    """calib.json was converted from Calib.qca.txt by other code: both readers must agree."""
    ref, qca = read_calib_json(pose2sim / "calib.json"), read_qca(pose2sim / "Calib.qca.txt")
    assert list(ref) == list(qca) == ["cam01", "cam02", "cam03", "cam04"]
    for name in ref:
        a, b = ref[name], qca[name]
        np.testing.assert_allclose(b.K, a.K, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(b.R, a.R, atol=1e-12)
        np.testing.assert_allclose(b.t, a.t, atol=1e-9)
        np.testing.assert_allclose(b.dist, a.dist, atol=1e-12)
        assert a.image_size == b.image_size == (1088, 1920)


def test_calib_json_centres_match_its_own_field(pose2sim):
    """``cam_center_world_m`` is stored apart from R and t: ``-R^T t`` must give it back."""
    raw = json.loads((pose2sim / "calib.json").read_text())
    for name, cam in read_calib_json(pose2sim / "calib.json").items():
        np.testing.assert_allclose(cam.center, raw[name]["cam_center_world_m"], atol=1e-9)


def test_qca_cameras_see_the_force_plate(pose2sim):
    """The world origin lies on the force plate where the person stands: in front of every QTM
    camera (positive depth, the y/z flip done right) and inside its image; world z is up, so
    the camera's image 'up' (-y) points along +z."""
    for cam in read_qca(pose2sim / "Calib.qca.txt").values():
        x_cam = cam.t  # R @ 0 + t
        assert x_cam[2] > 1.0
        u, v, w = cam.K @ x_cam
        assert 0 < u / w < cam.image_size[0] and 0 < v / w < cam.image_size[1]
        up_in_world = cam.R.T @ np.array([0.0, -1.0, 0.0])
        assert up_in_world[2] > 0.7


def test_camera_record_projects_like_the_matrix(pose2sim):
    cam = read_calib_json(pose2sim / "calib.json")["cam02"]
    X = np.array([[0.1, -0.2, 1.0], [0.5, 0.3, 0.2]])
    x = (cam.projection @ np.c_[X, np.ones(2)].T).T
    import torch

    pix = cam.camera().project(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(pix, x[:, :2] / x[:, 2:], atol=1e-9)


def test_bad_calibrations_are_clear(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        read_calib_json(tmp_path / "missing.json")
    (tmp_path / "calib.json").write_text(json.dumps({"cam01": {"K": np.eye(3).tolist(), "R_world2cam": np.eye(3).tolist()}}))
    with pytest.raises(DatasetError, match="t_world2cam_m"):
        read_calib_json(tmp_path / "calib.json")
    bad_rot = {"K": np.eye(3).tolist(), "R_world2cam": (2 * np.eye(3)).tolist(), "t_world2cam_m": [0, 0, 1], "image_size": [10, 10]}
    (tmp_path / "calib.json").write_text(json.dumps({"cam01": bad_rot}))
    with pytest.raises(DatasetError, match="rotation"):
        read_calib_json(tmp_path / "calib.json")
    (tmp_path / "c.qca.txt").write_text("<calibration><cameras><camera serial='a'><fov_video left='0'/></camera></cameras></calibration>")
    with pytest.raises(DatasetError, match="lacks"):
        read_qca(tmp_path / "c.qca.txt")
    (tmp_path / "d.qca.txt").write_text("not xml")
    with pytest.raises(DatasetError, match="XML"):
        read_qca(tmp_path / "d.qca.txt")
    with pytest.raises(DatasetError, match="unknown calibration format"):
        read_calibration(tmp_path / "calib.yaml")
