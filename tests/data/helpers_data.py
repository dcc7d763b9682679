"""Writers of small files in the exact layouts of the official dataset releases (for reader tests)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

# OpenPose COCO-18 output order, from the OpenPose documentation (written out independently of
# simpose.data.pw3d): the index of each coco17 joint in it.
OPENPOSE18_INDEX_OF_COCO17 = [0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10]


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def make_3dpw(P: int = 2, T: int = 5, seed: int = 0) -> dict:
    """A 3DPW sequence dict in the official layout (per-person lists of arrays)."""
    rng = np.random.default_rng(seed)
    cam_poses = np.tile(np.eye(4), (T, 1, 1))
    for t in range(T):
        cam_poses[t, :3, :3] = random_rotation(rng)
        cam_poses[t, :3, 3] = rng.normal(size=3) * 0.3
    joints_world = []
    for p in range(P):
        # place people ~4 m in front of each frame's camera: X_w = R^T (X_c - t)
        X_c = rng.normal(size=(T, 24, 3)) * 0.4 + np.array([0.5 * p, 0.0, 4.0])
        X_w = np.einsum("tba,tjb->tja", cam_poses[:, :3, :3], X_c - cam_poses[:, None, :3, 3])
        joints_world.append(X_w.reshape(T, 72))
    poses2d = []
    for p in range(P):
        a = np.zeros((T, 3, 18))
        a[:, 0, :] = 1000.0 * p + 100.0 * np.arange(T)[:, None] + np.arange(18)  # x encodes (p, t, k)
        a[:, 1, :] = np.arange(18) + 0.5
        a[:, 2, :] = 0.9
        poses2d.append(a)
    if P > 1 and T > 3:
        poses2d[1][3, 2, 15] = 0.0  # person 1, frame 3: OpenPose joint 15 (left eye) not detected
    valid = [np.ones(T, dtype=bool) for _ in range(P)]
    if T > 1:
        valid[0][1] = False
    return {
        "sequence": "courtyard_test_00",
        "genders": ["m", "f"][:P],
        "betas": [rng.normal(size=10) for _ in range(P)],
        "betas_clothed": [rng.normal(size=10) for _ in range(P)],
        "v_template_clothed": [rng.normal(size=(6890, 3)).astype(np.float32) for _ in range(P)],
        "poses": [rng.normal(size=(T, 72)) * 0.2 for _ in range(P)],
        "poses_60Hz": [rng.normal(size=(2 * T, 72)) for _ in range(P)],
        "trans": [rng.normal(size=(T, 3)) for _ in range(P)],
        "trans_60Hz": [rng.normal(size=(2 * T, 3)) for _ in range(P)],
        "poses2d": poses2d,
        "jointPositions": joints_world,
        "cam_poses": cam_poses,
        "cam_intrinsics": np.array([[1961.9, 0.0, 540.0], [0.0, 1969.2, 960.0], [0.0, 0.0, 1.0]]),
        "campose_valid": valid,
        "img_frame_ids": np.arange(10, 10 + T),
        "texture_maps": [np.zeros((4, 4, 3), np.uint8) for _ in range(P)],
    }


def write_pickle(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=2)  # the official files are Python 2 pickles
    return path


# MPI-INF-3DHP test cameras in pixels, from the calibration's millimetre values (sensor,
# focal length, centre offset, pixel aspect y/x), written out here independently.
def k_3dhp(ts: str) -> tuple[np.ndarray, tuple[int, int]]:
    if ts in ("TS5", "TS6"):
        w, h, sx, sy, f, ox, oy, aspect = 1920, 1080, 10.0, 5.625, 8.770747185, -0.104908645, 0.104899704, 0.993236423
    else:
        w, h, sx, sy, f, ox, oy, aspect = 2048, 2048, 10.0, 10.0, 7.32506, -0.0322884, 0.0929296, 1.00044
    fx, cx = f * w / sx, (sx / 2 + ox) * w / sx
    fy, cy = f * h / sy * aspect, (sy / 2 + oy) * h / sy * aspect
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]]), (w, h)


def make_3dhp(ts: str, T: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    """annot_data.mat variables in h5py order: annot2 (T,1,17,2), annot3 (T,1,17,3) mm, ..."""
    rng = np.random.default_rng(seed)
    annot3 = rng.normal(size=(T, 1, 17, 3)) * 400.0 + np.array([0.0, 0.0, 4000.0])
    K, _ = k_3dhp(ts)
    uvw = annot3 @ K.T
    annot2 = uvw[..., :2] / uvw[..., 2:]
    valid = np.ones((T, 1))
    valid[2] = 0
    return {
        "annot2": annot2,
        "annot3": annot3,
        "univ_annot3": annot3 * 0.9,
        "valid_frame": valid,
        "activity_annotation": (np.arange(T) % 7 + 1).reshape(T, 1).astype(float),
    }


def write_3dhp_v5(path: Path, variables: dict[str, np.ndarray]) -> Path:
    """Save as MATLAB v5: MATLAB's own shapes (2x17x1xT ...), i.e. the h5py order reversed."""
    import scipy.io

    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {k: np.asarray(v).T for k, v in variables.items()})
    return path


def write_3dhp_v73(path: Path, variables: dict[str, np.ndarray]) -> Path:
    """Save as MATLAB v7.3: a 512-byte MATLAB header then HDF5 (h5py order)."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        for k, v in variables.items():
            f.create_dataset(k, data=v)
    with open(path, "r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 .")
    return path


H36M17_SYMMETRY = [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]  # VideoPose3D's h36m metadata
COCO17_SYMMETRY = [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]]  # VideoPose3D's detectron/coco metadata


def write_positions_2d(path: Path, positions: dict, layout: str = "h36m", num_joints: int = 17, symmetry=None) -> Path:
    """A ``data_2d_h36m_<name>.npz`` exactly as VideoPose3D's prepare scripts write it."""
    metadata = {"layout_name": layout, "num_joints": num_joints, "keypoints_symmetry": symmetry or H36M17_SYMMETRY}
    np.savez_compressed(path, positions_2d=positions, metadata=metadata)
    return path
