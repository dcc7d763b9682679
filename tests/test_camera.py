"""Camera: projection against the Human3.6M formula and values, round trips, gradients."""

import json

import numpy as np
import pytest
import torch

from simpose.camera import Camera, distort, undistort


def _h36m_reference(X_world_m, cam):
    """The projection formula of shared/benchmarks/h36m/cameras.json, written independently in numpy."""
    R = np.array(cam["R_world_to_cam"])
    T = np.array(cam["T_cam_center_world_mm"]) / 1000.0
    Xc = (X_world_m - T) @ R.T
    x, y = Xc[:, 0] / Xc[:, 2], Xc[:, 1] / Xc[:, 2]
    k1, k2, k3 = cam["radial_distortion_k1k2k3"]
    p1, p2 = cam["tangential_distortion_p1p2_h36m_order"]
    r2 = x**2 + y**2
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    tan = p1 * y + p2 * x
    xd = x * (radial + tan) + p2 * r2
    yd = y * (radial + tan) + p1 * r2
    (fx, fy), (cx, cy) = cam["focal_length_px"], cam["center_px"]
    return np.stack([fx * xd + cx, fy * yd + cy], axis=1)


def test_h36m_projection_matches_formula(shared):
    cams = json.loads((shared / "benchmarks/h36m/cameras.json").read_text())["cameras"]
    data = np.load(shared / "benchmarks/h36m/data_3d_h36m_test.npz", allow_pickle=True)["positions_3d"].item()
    X = data["S9"]["Walking"][::200].reshape(-1, 3).astype(np.float64)
    for cam in cams["S9"] + cams["S11"]:
        c = Camera.from_h36m(cam)
        ours = c.project(torch.as_tensor(X)).numpy()
        np.testing.assert_allclose(ours, _h36m_reference(X, cam), atol=1e-9)
        assert c.image_size == (cam["res_w"], cam["res_h"])
        np.testing.assert_allclose(c.position.numpy(), np.array(cam["T_cam_center_world_mm"]) / 1000.0, atol=1e-12)


def test_h36m_quaternion_convention(shared):
    """cameras.json's VideoPose3D quaternion (cam-to-world) agrees with our R."""
    import roma

    cam = json.loads((shared / "benchmarks/h36m/cameras.json").read_text())["cameras"]["S11"][2]
    q = torch.tensor(cam["orientation_quat_wxyz_cam_to_world"], dtype=torch.float64)
    R_c2w = roma.unitquat_to_rotmat(q[[1, 2, 3, 0]])  # roma takes xyzw
    np.testing.assert_allclose(R_c2w.T.numpy(), Camera.from_h36m(cam).R.numpy(), atol=1e-9)


def test_pinhole_formula_and_unproject_roundtrip():
    cam = Camera.from_intrinsics((500.0, 520.0), (640, 480), center=(320.0, 240.0), dtype=torch.float64)
    X = torch.tensor([[0.1, -0.2, 2.0], [0.0, 0.0, 5.0], [-1.0, 0.5, 3.0]], dtype=torch.float64)
    uv = cam.project(X)
    expected = torch.stack([500 * X[:, 0] / X[:, 2] + 320, 520 * X[:, 1] / X[:, 2] + 240], -1)
    torch.testing.assert_close(uv, expected)
    torch.testing.assert_close(cam.unproject(uv, X[:, 2]), X)


def test_distortion_inverse_and_world_roundtrip():
    gen = torch.Generator().manual_seed(0)
    dist = torch.tensor([-0.2, 0.24, -0.003, -0.0014, -0.001], dtype=torch.float64)
    xy = (torch.rand(100, 2, generator=gen, dtype=torch.float64) - 0.5) * 0.8
    torch.testing.assert_close(undistort(distort(xy, dist), dist), xy, atol=1e-10, rtol=0)
    import roma

    R = roma.rotvec_to_rotmat(torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64))
    cam = Camera(K=torch.eye(3, dtype=torch.float64), R=R, t=torch.tensor([0.1, 0.2, 3.0], dtype=torch.float64), image_size=(10, 10), dist=dist)
    X = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(cam.camera_to_world(cam.world_to_camera(X)), X)
    Xc = cam.world_to_camera(X)
    torch.testing.assert_close(cam.unproject(cam.project(X), Xc[:, 2]), Xc, atol=1e-9, rtol=0)


def test_batched_cameras_and_gradcheck():
    cams = Camera(
        K=torch.eye(3, dtype=torch.float64).repeat(4, 1, 1) * torch.tensor([500.0, 500.0, 1.0], dtype=torch.float64)[:, None],
        R=torch.eye(3, dtype=torch.float64).repeat(4, 1, 1),
        t=torch.zeros(4, 3, dtype=torch.float64),
        image_size=(100, 100),
        dist=torch.tensor([0.01, 0.0, 0.0, 0.001, 0.001], dtype=torch.float64).repeat(4, 1),
    )
    X = torch.rand(4, 5, 3, dtype=torch.float64) + torch.tensor([0, 0, 2.0], dtype=torch.float64)
    assert cams.project(X).shape == (4, 5, 2)
    X.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: cams.project(x), (X,))


def test_from_fov_and_bad_input():
    cam = Camera.from_fov(90.0, (200, 100))
    assert cam.focal[0].item() == pytest.approx(100.0)
    with pytest.raises(ValueError, match="field of view"):
        Camera.from_fov(0.0, (10, 10))
    with pytest.raises(ValueError, match="NaN"):
        Camera(K=torch.full((3, 3), float("nan")), R=torch.eye(3), t=torch.zeros(3), image_size=(4, 4))
    with pytest.raises(ValueError, match="image_size"):
        Camera.from_intrinsics(100.0, (0, 10))
