"""Human3.6M readers.

- :func:`load_h36m`: the mocap ground truth in the layout of the public 2D-to-3D lifting code
  (``data_3d_h36m*.npz`` + ``cameras.json``, see ``shared/benchmarks/h36m/README.md``), one
  :class:`~simpose.data.records.Sequence` per (subject, take, camera).
- :func:`load_positions_2d`: 2D detections in VideoPose3D's ``data_2d_h36m_<name>.npz`` layout.
- :func:`load_h36m_frames`: single frames with 2D/3D ground truth (``test_h36m_body3d.npz`` +
  ``cameras.pkl``, see ``shared/real/README.md``).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import torch

from simpose.body.joints import get_joint_set
from simpose.camera import Camera
from simpose.data._checks import array, check_finite, existing, load_json, load_npz, load_pickle, require_keys
from simpose.data.records import DatasetError, PersonAnnotation, Sample, Sequence

logger = logging.getLogger(__name__)

__all__ = ["H36M_MOCAP_INDEX", "H36M_ACTIONS", "CAMERA_ORDER", "FPS", "load_h36m", "load_positions_2d", "load_h36m_frames", "action_of_take"]

# The standard 17-joint subset of the 32 mocap joints (shared/benchmarks/h36m/README.md):
# h36m17 joint name -> index into the 32 joints of positions_3d. The one place these indices live.
H36M_MOCAP_INDEX: dict[str, int] = {
    "pelvis": 0, "right_hip": 1, "right_knee": 2, "right_ankle": 3,
    "left_hip": 6, "left_knee": 7, "left_ankle": 8,
    "spine": 12, "thorax": 13, "neck_nose": 14, "head": 15,
    "left_shoulder": 17, "left_elbow": 18, "left_wrist": 19,
    "right_shoulder": 25, "right_elbow": 26, "right_wrist": 27,
}  # fmt: skip
NUM_MOCAP_JOINTS = 32
# Camera order of cameras.json and of VideoPose3D's per-camera lists.
CAMERA_ORDER: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
FPS = 50.0
# The 15 actions (take names without their ' 1', ' 2' suffix), as spelt in the lifting-code files.
H36M_ACTIONS: tuple[str, ...] = (
    "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases",
    "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "WalkTogether", "Walking",
)  # fmt: skip

_DATA_FILES = ("data_3d_h36m_test.npz", "data_3d_h36m.npz")


def action_of_take(take: str) -> str:
    """``'Phoning 2'`` -> ``'Phoning'``: the take name without its numeric suffix."""
    return re.sub(r"\s+\d+$", "", take)


def _mocap_to_h36m17() -> np.ndarray:
    return np.array([H36M_MOCAP_INDEX[name] for name in get_joint_set("h36m17").names])


def load_h36m(
    root: str | Path,
    subjects: tuple[str, ...] = ("S9", "S11"),
    dtype: type[np.floating] = np.float32,
) -> list[Sequence]:
    """Human3.6M ground truth, one sequence per (subject, take, camera).

    Args:
        root: folder with ``data_3d_h36m_test.npz`` (or the full ``data_3d_h36m.npz``) and
            ``cameras.json`` (the layout of ``shared/benchmarks/h36m``).
        subjects: subjects to load, e.g. ``("S9", "S11")``.
        dtype: dtype of the returned arrays (computed in float64; float32 halves the memory of
            the 519,852 S9+S11 poses and keeps ~1e-4 px / 1e-6 m).
    Returns:
        Sequences sorted by subject, take, camera, each with ``joints3d`` (T, 1, 17, 3) metres in
        the camera frame, ``joints2d`` (T, 1, 17, 2) pixels projected with the camera's
        distortion, ``valid`` all True, ``camera`` from ``cameras.json``, ``fps`` 50,
        ``subject``, ``take`` (e.g. ``"Walking 1"``), ``action`` (``"Walking"``),
        ``camera_index`` (into :data:`CAMERA_ORDER`), ``meta["camera_id"]``.
    """
    root = existing(root, "folder")
    data_path = next((root / n for n in _DATA_FILES if (root / n).exists()), root / _DATA_FILES[0])
    positions = load_npz(data_path, ("positions_3d",))["positions_3d"]
    try:
        positions = positions.item()
    except ValueError:
        raise DatasetError(f"{data_path}: positions_3d must be a pickled dict {{subject: {{take: (N, 32, 3)}}}}, got array {positions.shape}") from None
    if not isinstance(positions, dict):
        raise DatasetError(f"{data_path}: positions_3d must be a dict {{subject: {{take: (N, 32, 3)}}}}, got {type(positions).__name__}")
    cameras = _load_cameras_json(root / "cameras.json", subjects)
    subset = _mocap_to_h36m17()
    sequences = []
    for subject in subjects:
        if subject not in positions:
            raise DatasetError(f"{data_path}: no subject {subject!r} (found {sorted(positions)})")
        for take in sorted(positions[subject]):
            key = f"positions_3d[{subject!r}][{take!r}]"
            world = array(positions[subject][take], data_path, key, (None, NUM_MOCAP_JOINTS, 3))
            check_finite(world, data_path, key)
            world17 = torch.from_numpy(world[:, subset])  # (T, 17, 3) world metres, float64
            T = world17.shape[0]
            for ci, cam in enumerate(cameras[subject]):
                joints_cam = cam.world_to_camera(world17)
                joints2d = cam.project_camera(joints_cam)
                sequences.append(
                    Sequence(
                        name=f"{subject}/{take}/{CAMERA_ORDER[ci]}",
                        dataset="h36m",
                        joint_set="h36m17",
                        valid=np.ones((T, 1), dtype=bool),
                        joints3d=joints_cam.numpy().astype(dtype)[:, None],
                        joints2d=joints2d.numpy().astype(dtype)[:, None],
                        camera=cam,
                        fps=FPS,
                        subject=subject,
                        action=action_of_take(take),
                        take=take,
                        camera_index=ci,
                        meta={"camera_id": CAMERA_ORDER[ci]},
                    )
                )
    logger.info("Human3.6M: %d sequences, %d poses", len(sequences), sum(s.num_frames for s in sequences))
    return sequences


def _load_cameras_json(path: Path, subjects: tuple[str, ...]) -> dict[str, list[Camera]]:
    """Per subject, the 4 cameras in :data:`CAMERA_ORDER`."""
    data = load_json(path)
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a JSON object with 'cameras'")
    require_keys(data, ("cameras",), path)
    order = tuple(data.get("camera_order", CAMERA_ORDER))
    if order != CAMERA_ORDER:
        raise DatasetError(f"{path}: camera_order {order} differs from the standard {CAMERA_ORDER}")
    out = {}
    for subject in subjects:
        entries = data["cameras"].get(subject)
        if entries is None:
            raise DatasetError(f"{path}: no cameras for subject {subject!r}")
        by_id = {str(e.get("id")): e for e in entries}
        require_keys(by_id, CAMERA_ORDER, path, f"the cameras of {subject}")
        try:
            out[subject] = [Camera.from_h36m(by_id[cid]) for cid in CAMERA_ORDER]
        except (KeyError, ValueError, TypeError) as exc:
            raise DatasetError(f"{path}: bad camera entry for {subject} ({type(exc).__name__}: {exc})") from exc
    return out


def load_positions_2d(path: str | Path, joint_set: str = "h36m17") -> dict[str, dict[str, list[np.ndarray]]]:
    """2D keypoints in VideoPose3D's ``data_2d_h36m_<name>.npz`` layout.

    The file holds ``positions_2d`` (a pickled ``{subject: {take: [array (N, J, 2) per camera]}}``,
    cameras in :data:`CAMERA_ORDER`) and ``metadata`` (``layout_name``, ``num_joints``,
    ``keypoints_symmetry`` = [left indices, right indices]). The joint count and the left/right
    symmetry must agree with ``joint_set``, which catches a file in another layout.

    Args:
        path: the ``.npz`` file.
        joint_set: joint set of the keypoints, e.g. ``"h36m17"`` or ``"coco17"``.
    Returns:
        ``{subject: {take: [array (N, J, 2) pixels, one per camera in CAMERA_ORDER]}}``.
    """
    js = get_joint_set(joint_set)
    z = load_npz(path, ("positions_2d", "metadata"))
    path = Path(path)
    try:
        positions, metadata = z["positions_2d"].item(), z["metadata"].item()
    except ValueError:
        raise DatasetError(f"{path}: positions_2d and metadata must be pickled dicts") from None
    if not isinstance(positions, dict) or not isinstance(metadata, dict):
        raise DatasetError(f"{path}: positions_2d and metadata must be dicts")
    require_keys(metadata, ("num_joints",), path, "metadata")
    if int(metadata["num_joints"]) != len(js):
        raise DatasetError(f"{path}: metadata says {metadata['num_joints']} joints (layout {metadata.get('layout_name')!r}), joint set {js.name!r} has {len(js)}")
    if "keypoints_symmetry" in metadata:
        left, right = (sorted(int(i) for i in side) for side in metadata["keypoints_symmetry"])
        want_left = sorted(a for a, _ in js.left_right_pairs)
        want_right = sorted(b for _, b in js.left_right_pairs)
        if (left, right) != (want_left, want_right):
            raise DatasetError(
                f"{path}: keypoints_symmetry {[left, right]} (layout {metadata.get('layout_name')!r}) does not match joint set {js.name!r} {[want_left, want_right]}"
            )
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject, takes in positions.items():
        out[subject] = {}
        for take, per_camera in takes.items():
            if len(per_camera) != len(CAMERA_ORDER):
                raise DatasetError(f"{path}: {subject} {take!r} has {len(per_camera)} cameras, expected {len(CAMERA_ORDER)}")
            out[subject][take] = [
                array(x, path, f"positions_2d[{subject!r}][{take!r}][{ci}]", (None, len(js), 2), dtype=np.float32)
                for ci, x in enumerate(per_camera)
            ]
    return out


def load_h36m_frames(root: str | Path) -> list[Sample]:
    """Single Human3.6M frames with ground truth: ``test_h36m_body3d.npz`` + ``cameras.pkl``.

    ``cameras.pkl`` maps (subject, camera id) to ``R`` (camera-to-world rotation), ``T`` (camera
    centre in the world, metres), ``f``, ``c``, ``k`` (k1 k2 k3), ``p`` (p1 p2), ``w``, ``h``;
    world to camera is ``X_cam = R^T (X_world - T)``.

    Args:
        root: the folder (``shared/real/h36m``); image paths in the file are relative to it.
    Returns:
        One sample per frame: ``camera`` with the Human3.6M distortion, one person with
        ``joints3d`` (17, 3) camera frame metres, ``joints2d`` (17, 2) pixels of the distorted
        image, ``bbox_xywh`` the square person box (side = scale * 200 px);
        ``frame_index`` the number in the image file name; ``meta``: ``subject``, ``take``
        (``"Directions 1"``), ``action`` (``"Directions"``), ``camera_id``.
    """
    root = existing(root, "folder")
    npz_path = root / "test_h36m_body3d.npz"
    z = load_npz(npz_path, ("imgname", "center", "scale", "part", "S"))
    n = len(z["imgname"])
    part = array(z["part"], npz_path, "part", (n, 17, 3))
    joints3d = array(z["S"], npz_path, "S", (n, 17, 4))
    center = array(z["center"], npz_path, "center", (n, 2))
    scale = array(z["scale"], npz_path, "scale", (n,))
    for key, values in (("part", part), ("S", joints3d), ("center", center), ("scale", scale)):
        check_finite(values, npz_path, key)
    cam_path = root / "cameras.pkl"
    cameras = load_pickle(cam_path)
    if not isinstance(cameras, dict):
        raise DatasetError(f"{cam_path}: expected a dict keyed by (subject, camera id)")
    samples = []
    for i, rel in enumerate(z["imgname"]):
        rel = str(rel)
        match = re.fullmatch(r"(S\d+)/\1_(.+)\.(\d+)/.*_(\d+)\.\w+", rel)
        if match is None:
            raise DatasetError(f"{npz_path}: image name {rel!r} is not <S>/<S>_<take>.<camera id>/<...>_<frame>.jpg")
        subject, take, camera_id, number = match.groups()  # take as in the file name: 'Directions_1'
        take = take.replace("_", " ")
        entry = cameras.get((subject, camera_id))
        if entry is None:
            raise DatasetError(f"{cam_path}: no camera ({subject!r}, {camera_id!r}) for {rel}")
        camera = _camera_from_pkl(entry, cam_path, (subject, camera_id))
        side = float(scale[i]) * 200.0
        person = PersonAnnotation(
            joint_set="h36m17",
            joints2d=part[i, :, :2].copy(),
            joints2d_valid=part[i, :, 2] > 0,
            joints3d=joints3d[i, :, :3].copy(),
            bbox_xywh=np.array([center[i, 0] - side / 2, center[i, 1] - side / 2, side, side]),
        )
        samples.append(
            Sample(
                dataset="h36m",
                image_path=root / rel,
                people=(person,),
                frame_index=int(number),
                sequence=f"{subject}/{take}/{camera_id}",
                image_id=rel,
                image_size=camera.image_size,
                camera=camera,
                meta={"subject": subject, "take": take, "action": action_of_take(take), "camera_id": camera_id},
            )
        )
    return samples


def _camera_from_pkl(entry: dict, path: Path, key: tuple[str, str]) -> Camera:
    try:
        R_cam_to_world = np.asarray(entry["R"], dtype=np.float64).reshape(3, 3)
        centre = np.asarray(entry["T"], dtype=np.float64).reshape(3)
        f, c = (np.asarray(entry[k], dtype=np.float64).reshape(2) for k in ("f", "c"))
        dist = np.concatenate([np.asarray(entry["k"], dtype=np.float64).reshape(3), np.asarray(entry["p"], dtype=np.float64).reshape(2)])
        size = (int(entry["w"]), int(entry["h"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise DatasetError(f"{path}: camera {key} needs R (3,3), T (3,), f, c, k (3,), p (2,), w, h ({type(exc).__name__}: {exc})") from exc
    R = R_cam_to_world.T
    K = np.array([[f[0], 0.0, c[0]], [0.0, f[1], c[1]], [0.0, 0.0, 1.0]])
    as_t = lambda x: torch.from_numpy(np.ascontiguousarray(x))  # noqa: E731
    try:
        return Camera(K=as_t(K), R=as_t(R), t=as_t(-R @ centre), image_size=size, dist=as_t(dist))
    except ValueError as exc:
        raise DatasetError(f"{path}: camera {key}: {exc}") from exc

