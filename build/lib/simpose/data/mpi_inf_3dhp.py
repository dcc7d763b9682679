"""MPI-INF-3DHP test-set reader: ``TS1`` .. ``TS6`` / ``annot_data.mat``.

The release stores each ``annot_data.mat`` as MATLAB v7.3 (HDF5; needs ``h5py``, imported
only then). The same variables saved as MATLAB v5 (``save -v7``) are read with scipy. In
MATLAB the variables are ``annot2`` 2x17x1xT (pixels), ``annot3`` / ``univ_annot3`` 3x17x1xT
(millimetres, camera frame), ``valid_frame`` 1xT, ``activity_annotation`` 1xT; HDF5 stores
them transposed, so h5py gives (T, 1, 17, 2), (T, 1, 17, 3), (T, 1), (T, 1). Both are
normalised to the h5py order. Joint order: ``mpi_inf_3dhp17`` (simpose.body.joints).

Test-set intrinsics (one static camera per sequence group). Source: the test set's camera
calibration, as used by MeTRAbs (Sárándi et al., ``make_3dhp_test_camera``) and the lifting code
(``cam_mm_to_pix``): sensor size, focal length and principal-point offset in millimetres,
pixel aspect (y / x). Pixels: ``fx = f w / sx``, ``fy = fx * aspect``, ``cx = (sx / 2 + ox) w / sx``,
``cy = (sy / 2 + oy) h / sy * aspect``. (Lifting code that ignores the aspect has fy = fx: a
0.04 % difference for TS1-4, 0.7 % for TS5-6.) TS5-6 also publish an OpenCV-model lens
distortion (k1 k2 p1 p2 k3), which :class:`~simpose.camera.Camera`'s Human3.6M model cannot
represent exactly; it is given in ``Sequence.meta["opencv_distortion_k1k2p1p2k3"]`` and not
applied (``joints2d`` is the dataset's own ``annot2``, never re-projected here).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import torch

from simpose.camera import Camera
from simpose.data._checks import check_finite, existing, require_keys
from simpose.data.records import DatasetError, Sequence

logger = logging.getLogger(__name__)

__all__ = ["TestCamera", "TEST_CAMERAS", "SEQUENCES", "ACTIVITY_NAMES", "read_annot_mat", "load_mpi_inf_3dhp"]

SEQUENCES = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")
# activity_annotation values 1..7.
ACTIVITY_NAMES = ("Stand/Walk", "Exercise", "Sit on Chair", "Reach/Crouch", "On Floor", "Sports", "Misc.")
NUM_JOINTS = 17


@dataclasses.dataclass(frozen=True)
class TestCamera:
    """A test-set camera in the calibration file's units (millimetres on the sensor)."""

    __test__ = False  # not a pytest class

    image_size: tuple[int, int]  # (width, height) px
    sensor_mm: tuple[float, float]
    focal_mm: float
    center_offset_mm: tuple[float, float]
    pixel_aspect: float  # y / x
    opencv_distortion_k1k2p1p2k3: tuple[float, ...] | None

    def K(self) -> np.ndarray:
        """(3, 3) intrinsics in pixels."""
        (w, h), (sx, sy), (ox, oy) = self.image_size, self.sensor_mm, self.center_offset_mm
        mx, my = w / sx, h / sy * self.pixel_aspect
        return np.array([[self.focal_mm * mx, 0.0, (sx / 2 + ox) * mx], [0.0, self.focal_mm * my, (sy / 2 + oy) * my], [0.0, 0.0, 1.0]])

    def camera(self) -> Camera:
        """The camera at the origin of its own frame (the annotations are in the camera frame)."""
        return Camera(K=torch.from_numpy(self.K()), R=torch.eye(3, dtype=torch.float64), t=torch.zeros(3, dtype=torch.float64), image_size=self.image_size)


_STUDIO = TestCamera((2048, 2048), (10.0, 10.0), 7.32506, (-0.0322884, 0.0929296), 1.00044, None)
_OUTDOOR = TestCamera(
    (1920, 1080), (10.0, 5.625), 8.770747185, (-0.104908645, 0.104899704), 0.993236423,
    (-0.276859611, 0.131125256, -0.000360494, -0.001149441, -0.049318332),
)  # fmt: skip
TEST_CAMERAS: dict[str, TestCamera] = {"TS1": _STUDIO, "TS2": _STUDIO, "TS3": _STUDIO, "TS4": _STUDIO, "TS5": _OUTDOOR, "TS6": _OUTDOOR}

_REQUIRED = ("annot2", "annot3", "valid_frame")
_OPTIONAL = ("univ_annot3", "activity_annotation")


def read_annot_mat(path: str | Path) -> dict[str, np.ndarray]:
    """The variables of an ``annot_data.mat`` (v5 or v7.3), in h5py order.

    Returns:
        ``annot2`` (T, 1, 17, 2) px, ``annot3`` (T, 1, 17, 3) mm, ``valid_frame`` (T,) bool, and
        where present ``univ_annot3`` (T, 1, 17, 3) mm, ``activity_annotation`` (T,) int.
    """
    path = existing(path)
    with open(path, "rb") as f:
        head = f.read(2056)
    hdf5 = any(head[o : o + 8] == b"\x89HDF\r\n\x1a\n" for o in (0, 512, 1024, 2048))
    if hdf5 or head.startswith(b"MATLAB 7.3"):
        raw = _read_hdf5(path)
    elif head.startswith(b"MATLAB"):
        raw = _read_v5(path)
    else:
        raise DatasetError(f"{path}: not a MATLAB .mat file (no MATLAB or HDF5 header)")
    require_keys(raw, _REQUIRED, path)
    out = {}
    T = None
    for key, size in (("annot2", 2), ("annot3", 3), ("univ_annot3", 3)):
        if key not in raw:
            continue
        x = raw[key]
        if x.ndim == 3:  # a (T, 17, C) variant without the camera axis
            x = x[:, None]
        if x.ndim != 4 or x.shape[1:] != (1, NUM_JOINTS, size):
            raise DatasetError(f"{path}: {key} has shape {x.shape} (h5py order), expected (T, 1, {NUM_JOINTS}, {size})")
        if T is not None and x.shape[0] != T:
            raise DatasetError(f"{path}: {key} has {x.shape[0]} frames, annot2 has {T}")
        T = x.shape[0]
        out[key] = x.astype(np.float64)
    for key in ("valid_frame", "activity_annotation"):
        if key not in raw:
            continue
        x = raw[key].reshape(-1)
        if x.shape[0] != T:
            raise DatasetError(f"{path}: {key} has {x.shape[0]} entries for {T} frames")
        out[key] = x.astype(bool) if key == "valid_frame" else x.astype(np.int64)
    return out


def _read_v5(path: Path) -> dict[str, np.ndarray]:
    import scipy.io

    try:
        mat = scipy.io.loadmat(path)
    except Exception as exc:  # noqa: BLE001 - scipy raises many types for a broken file
        raise DatasetError(f"{path}: not a readable MATLAB v5 file ({type(exc).__name__}: {exc})") from exc
    # MATLAB order -> h5py order: reverse all axes.
    return {k: np.asarray(v).T for k, v in mat.items() if k in _REQUIRED + _OPTIONAL}


def _read_hdf5(path: Path) -> dict[str, np.ndarray]:
    try:
        import h5py
    except ImportError:
        raise ImportError(f"{path} is a MATLAB v7.3 (HDF5) file: reading it needs h5py (pip install h5py)") from None
    try:
        with h5py.File(path, "r") as f:
            return {k: np.asarray(f[k]) for k in f.keys() if k in _REQUIRED + _OPTIONAL}
    except OSError as exc:
        raise DatasetError(f"{path}: not a readable HDF5 file ({exc})") from exc


def load_mpi_inf_3dhp(
    root: str | Path,
    sequences: tuple[str, ...] = SEQUENCES,
    universal: bool = False,
) -> list[Sequence]:
    """The MPI-INF-3DHP test sequences.

    Args:
        root: ``mpi_inf_3dhp_test_set`` (holding ``TS1/annot_data.mat`` ...).
        sequences: names among ``TS1`` .. ``TS6``.
        universal: use ``univ_annot3`` (skeleton rescaled to a universal height, the usual
            choice for PCK/AUC) instead of ``annot3``.
    Returns:
        One Sequence per name with ``joints3d`` (T, 1, 17, 3) metres, camera frame;
        ``joints2d`` (T, 1, 17, 2) px (``annot2``); ``valid`` (T, 1) = ``valid_frame`` (ground
        truth is checked for NaNs on valid frames only); ``camera`` the published test-set
        intrinsics; ``frame_indices`` 1..T (``imageSequence/img_XXXXXX.jpg``); ``meta``:
        ``activity_ids`` (T,) 1..7 (:data:`ACTIVITY_NAMES`) if present,
        ``opencv_distortion_k1k2p1p2k3`` (TS5-6).
    """
    root = existing(root, "folder")
    out = []
    for name in sequences:
        if name not in TEST_CAMERAS:
            raise DatasetError(f"{root}: unknown test sequence {name!r}; known: {', '.join(SEQUENCES)}")
        path = root / name / "annot_data.mat"
        data = read_annot_mat(path)
        key3d = "univ_annot3" if universal else "annot3"
        if key3d not in data:
            raise DatasetError(f"{path}: missing {key3d!r}")
        valid = data["valid_frame"]
        check_finite(data[key3d], path, key3d, where=valid)
        check_finite(data["annot2"], path, "annot2", where=valid)
        T = valid.shape[0]
        cam = TEST_CAMERAS[name]
        meta = {"opencv_distortion_k1k2p1p2k3": cam.opencv_distortion_k1k2p1p2k3, "file": str(path)}
        if "activity_annotation" in data:
            meta["activity_ids"] = data["activity_annotation"]
        out.append(
            Sequence(
                name=name,
                dataset="mpi_inf_3dhp",
                joint_set="mpi_inf_3dhp17",
                valid=valid[:, None].copy(),
                joints3d=data[key3d] / 1000.0,
                joints2d=data["annot2"],
                camera=cam.camera(),
                fps=None,  # not in annot_data.mat; unverified here, so not guessed
                subject=name,
                frame_indices=np.arange(1, T + 1),
                image_pattern=str(root / name / "imageSequence" / "img_{:06d}.jpg"),
                meta=meta,
            )
        )
    return out
