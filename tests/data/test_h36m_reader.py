"""Human3.6M readers: the real S9/S11 ground truth against the README, and bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from helpers_data import COCO17_SYMMETRY, write_positions_2d
from simpose.body.joints import get_joint_set
from simpose.camera import Camera
from simpose.data.h36m import CAMERA_ORDER, H36M_ACTIONS, load_h36m, load_h36m_frames, load_positions_2d
from simpose.data.records import DatasetError

# From shared/benchmarks/h36m/README.md, written out here independently of the reader.
README_SUBSET = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]


def readme_projection(X_world_m: np.ndarray, cam: dict) -> tuple[np.ndarray, np.ndarray]:
    """The formula of cameras.json's ``projection`` field, in plain numpy: (camera-frame m, pixels)."""
    R = np.asarray(cam["R_world_to_cam"])
    T = np.asarray(cam["T_cam_center_world_mm"]) / 1000.0
    Xc = (X_world_m - T) @ R.T
    x, y = Xc[..., 0] / Xc[..., 2], Xc[..., 1] / Xc[..., 2]
    k1, k2, k3 = cam["radial_distortion_k1k2k3"]
    p1, p2 = cam["tangential_distortion_p1p2_h36m_order"]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    tan = p1 * y + p2 * x
    xd, yd = x * (radial + tan) + p2 * r2, y * (radial + tan) + p1 * r2
    (fx, fy), (cx, cy) = cam["focal_length_px"], cam["center_px"]
    return Xc, np.stack([fx * xd + cx, fy * yd + cy], axis=-1)


@pytest.fixture(scope="module")
def sequences(h36m_benchmark_dir):
    return load_h36m(h36m_benchmark_dir)


def test_counts_match_readme(sequences):
    assert len(sequences) == (29 + 29) * 4
    assert sum(s.num_frames for s in sequences) == 519_852
    assert sum(s.num_frames for s in sequences if s.camera_index == 0) == 129_963
    assert {s.subject for s in sequences} == {"S9", "S11"}
    assert {s.action for s in sequences} == set(H36M_ACTIONS) and len(H36M_ACTIONS) == 15
    s = sequences[0]
    assert s.joints3d.shape == (s.num_frames, 1, 17, 3) and s.joints2d.shape == (s.num_frames, 1, 17, 2)
    assert s.valid.all() and s.fps == 50 and s.joint_set == "h36m17"
    assert not any(s.take == "Directions" for s in sequences if s.subject == "S11")


def test_ground_truth_equals_readme_formula(sequences, h36m_benchmark_dir):
    raw = np.load(h36m_benchmark_dir / "data_3d_h36m_test.npz", allow_pickle=True)["positions_3d"].item()
    cams = json.loads((h36m_benchmark_dir / "cameras.json").read_text())["cameras"]
    by_name = {s.name: s for s in sequences}
    rng = np.random.default_rng(0)
    for subject, take, ci in [("S9", "Walking 1", 0), ("S11", "Phoning 3", 3), ("S9", "Discussion 2", 2), ("S11", "Sitting", 1)]:
        seq = by_name[f"{subject}/{take}/{CAMERA_ORDER[ci]}"]
        assert seq.take == take and seq.camera_index == ci and seq.action == take.split(" ")[0]
        cam = next(c for c in cams[subject] if c["id"] == CAMERA_ORDER[ci])
        frames = rng.choice(seq.num_frames, size=5, replace=False)
        X = raw[subject][take][frames][:, README_SUBSET].astype(np.float64)
        Xc, uv = readme_projection(X, cam)
        np.testing.assert_allclose(seq.joints3d[frames, 0], Xc, atol=2e-6)
        np.testing.assert_allclose(seq.joints2d[frames, 0], uv, atol=2e-3)


def test_bone_lengths_are_constant_and_people_in_front(sequences):
    js = get_joint_set("h36m17")
    child = np.arange(1, len(js))
    parent = np.array(js.parents[1:])
    for seq in sequences:
        j = seq.joints3d[:, 0].astype(np.float64)
        bones = np.linalg.norm(j[:, child] - j[:, parent], axis=-1)  # (T, 16)
        assert bones.std(axis=0).max() < 1e-3, seq.name
        assert (j[..., 2] > 1.0).all(), seq.name


def test_real_frames_2d_equals_distorted_projection(real_dir):
    samples = load_h36m_frames(real_dir / "h36m")
    assert len(samples) == 4
    for s in samples:
        (person,) = s.people
        X = torch.from_numpy(person.joints3d)
        distorted = s.camera.project_camera(X).numpy()
        pinhole = dataclass_without_distortion(s.camera).project_camera(X).numpy()
        err = np.abs(distorted - person.joints2d).max()
        assert err < 0.01, (s.image_id, err)  # README: pinhole is off by ~1 px
        assert np.abs(pinhole - person.joints2d).max() > 0.5
        image = s.load_image()
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert s.meta["subject"] in ("S1", "S5", "S7", "S8") and s.frame_index >= 1


def dataclass_without_distortion(camera: Camera) -> Camera:
    return Camera(K=camera.K, R=camera.R, t=camera.t, image_size=camera.image_size)


def test_cameras_pkl_convention_agrees_with_cameras_json(real_dir, h36m_benchmark_dir):
    """cameras.pkl (R cam->world, T centre) and cameras.json describe the same S9 cameras."""
    import pickle

    from simpose.data.h36m import _camera_from_pkl

    pkl = pickle.loads((real_dir / "h36m" / "cameras.pkl").read_bytes())
    for entry in json.loads((h36m_benchmark_dir / "cameras.json").read_text())["cameras"]["S9"]:
        ours = _camera_from_pkl(pkl[("S9", entry["id"])], real_dir / "h36m" / "cameras.pkl", ("S9", entry["id"]))
        ref = Camera.from_h36m(entry)
        for a, b in ((ours.K, ref.K), (ours.R, ref.R), (ours.t, ref.t), (ours.dist, ref.dist)):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-9)


# ------------------------------------------------------------------ small files, bad input
@pytest.fixture
def tiny_root(tmp_path, h36m_benchmark_dir):
    shutil.copy(h36m_benchmark_dir / "cameras.json", tmp_path / "cameras.json")
    return tmp_path


def _write_3d(root, positions):
    np.savez(root / "data_3d_h36m_test.npz", positions_3d=positions)


def test_tiny_file_loads(tiny_root):
    rng = np.random.default_rng(1)
    _write_3d(tiny_root, {"S9": {"Walking 1": rng.normal(size=(5, 32, 3)).astype(np.float32) + [0, 0, 1]}})
    seqs = load_h36m(tiny_root, subjects=("S9",))
    assert [s.name for s in seqs] == [f"S9/Walking 1/{c}" for c in CAMERA_ORDER]
    assert all(s.action == "Walking" and s.num_frames == 5 for s in seqs)


@pytest.mark.parametrize(
    "positions, match",
    [
        ({"S9": {"Walking": np.full((5, 32, 3), np.nan)}}, "non-finite"),
        ({"S9": {"Walking": np.zeros((5, 31, 3))}}, r"shape \(5, 31, 3\)"),
        ({"S11": {"Walking": np.zeros((5, 32, 3))}}, "no subject 'S9'"),
    ],
)
def test_bad_3d_files(tiny_root, positions, match):
    _write_3d(tiny_root, positions)
    with pytest.raises(DatasetError, match=match) as info:
        load_h36m(tiny_root, subjects=("S9",))
    assert "data_3d_h36m_test.npz" in str(info.value)


def test_not_an_npz(tiny_root):
    (tiny_root / "data_3d_h36m_test.npz").write_text("hello")
    with pytest.raises(DatasetError, match="not a readable .npz"):
        load_h36m(tiny_root, subjects=("S9",))
    with pytest.raises(DatasetError, match="no such folder"):
        load_h36m(tiny_root / "missing")


# ------------------------------------------------------------------ 2D detections (VideoPose3D layout)
def test_positions_2d_roundtrip(tmp_path):
    rng = np.random.default_rng(2)
    positions = {"S9": {"Walking 1": [rng.normal(size=(7, 17, 2)).astype(np.float32) for _ in range(4)]},
                 "S11": {"Eating": [rng.normal(size=(3, 17, 2)).astype(np.float32) for _ in range(4)]}}  # fmt: skip
    out = load_positions_2d(write_positions_2d(tmp_path / "data_2d_h36m_gt.npz", positions), "h36m17")
    for subject, takes in positions.items():
        for take, per_camera in takes.items():
            assert len(out[subject][take]) == 4
            for a, b in zip(out[subject][take], per_camera):
                np.testing.assert_array_equal(a, b)
    coco = {"S9": {"Walking": [np.zeros((2, 17, 2)) for _ in range(4)]}}
    path = write_positions_2d(tmp_path / "data_2d_h36m_detectron.npz", coco, layout="coco", symmetry=COCO17_SYMMETRY)
    assert load_positions_2d(path, "coco17")["S9"]["Walking"][0].shape == (2, 17, 2)


def test_positions_2d_bad_input(tmp_path):
    ok = {"S9": {"Walking": [np.zeros((2, 17, 2)) for _ in range(4)]}}
    coco_file = write_positions_2d(tmp_path / "a.npz", ok, layout="coco", symmetry=COCO17_SYMMETRY)
    with pytest.raises(DatasetError, match="keypoints_symmetry"):
        load_positions_2d(coco_file, "h36m17")  # a COCO-layout file read as h36m17
    with pytest.raises(DatasetError, match="3 cameras"):
        load_positions_2d(write_positions_2d(tmp_path / "b.npz", {"S9": {"Walking": ok["S9"]["Walking"][:3]}}))
    with pytest.raises(DatasetError, match="16 joints"):
        load_positions_2d(write_positions_2d(tmp_path / "c.npz", ok, num_joints=16))
    np.savez(tmp_path / "d.npz", positions_2d=ok)
    with pytest.raises(DatasetError, match=r"d\.npz: missing \['metadata'\]"):
        load_positions_2d(tmp_path / "d.npz")
    bad_shape = {"S9": {"Walking": [np.zeros((2, 17, 3)) for _ in range(4)]}}
    with pytest.raises(DatasetError, match=r"shape \(2, 17, 3\)"):
        load_positions_2d(write_positions_2d(tmp_path / "e.npz", bad_shape))
