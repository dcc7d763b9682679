"""Record types: shape checks, the per-frame view of a sequence, and the shared-folder locator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simpose.camera import Camera
from simpose.data.paths import shared_dir
from simpose.data.records import DatasetError, PersonAnnotation, Sample, Sequence


def test_person_shapes_are_checked():
    PersonAnnotation(joint_set="coco17", joints2d=np.zeros((17, 2)), joints3d=None)
    PersonAnnotation(joint_set="smpl24", joint_set_2d="coco17", joints2d=np.zeros((17, 2)), joints3d=np.zeros((24, 3)))
    with pytest.raises(DatasetError, match=r"joints2d has shape \(16, 2\), expected \(17, 2\)"):
        PersonAnnotation(joint_set="coco17", joints2d=np.zeros((16, 2)))
    with pytest.raises(DatasetError, match="unknown joint set"):
        PersonAnnotation(joint_set="coco18")
    with pytest.raises(DatasetError, match="bbox_xywh"):
        PersonAnnotation(joint_set="coco17", bbox_xywh=np.zeros(3))


def test_sequence_shapes_are_checked():
    valid = np.ones((4, 2), dtype=bool)
    with pytest.raises(DatasetError, match=r"joints3d has shape \(4, 1, 17, 3\), expected \(4, 2, 17, 3\)"):
        Sequence(name="x", dataset="d", joint_set="h36m17", valid=valid, joints3d=np.zeros((4, 1, 17, 3)))
    with pytest.raises(DatasetError, match="bool"):
        Sequence(name="x", dataset="d", joint_set="h36m17", valid=np.ones((4, 2)))
    cam = Camera.from_intrinsics(500.0, (64, 48), dtype=torch.float64)
    moving = Camera(K=cam.K.expand(3, 3, 3), R=cam.R.expand(3, 3, 3), t=torch.zeros(3, 3, dtype=torch.float64), image_size=(64, 48))
    with pytest.raises(DatasetError, match="3 per-frame cameras for 4 frames"):
        Sequence(name="x", dataset="d", joint_set="h36m17", valid=valid, camera=moving)


def test_frame_view_of_a_moving_camera():
    rng = np.random.default_rng(0)
    T = 3
    R = torch.from_numpy(np.stack([np.linalg.qr(rng.normal(size=(3, 3)))[0] for _ in range(T)]))
    t = torch.from_numpy(rng.normal(size=(T, 3)))
    K = torch.tensor([[500.0, 0, 32], [0, 500.0, 24], [0, 0, 1]], dtype=torch.float64)
    cam = Camera(K=K, R=R, t=t, image_size=(64, 48))  # K shared, extrinsics per frame
    joints3d = rng.normal(size=(T, 1, 17, 3)) + [0, 0, 3]
    joints2d = rng.normal(size=(T, 1, 17, 2))
    joints2d[1, 0, 4] = np.nan
    seq = Sequence(name="x", dataset="d", joint_set="h36m17", valid=np.ones((T, 1), bool), joints3d=joints3d, joints2d=joints2d,
                   camera=cam, frame_indices=np.array([7, 8, 9]), image_pattern="/data/img_{:04d}.png")  # fmt: skip
    sample = seq.frame(1)
    assert isinstance(sample, Sample) and sample.frame_index == 8 and str(sample.image_path) == "/data/img_0008.png"
    assert torch.equal(sample.camera.R, R[1]) and torch.equal(sample.camera.K, K)
    (person,) = sample.people
    assert not person.joints2d_valid[4] and person.joints2d_valid.sum() == 16
    np.testing.assert_array_equal(person.joints3d, joints3d[1, 0])


def test_shared_dir_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMPOSE_SHARED", str(tmp_path))
    assert shared_dir() == tmp_path
    monkeypatch.setenv("SIMPOSE_SHARED", str(tmp_path / "missing"))
    found = shared_dir()
    assert found is None or (found.name == "shared" and found.is_dir())
