"""Calibrations of synchronised camera rigs: the ``calib.json`` layout and Qualisys ``.qca.txt``.

Both give one :class:`ViewCalibration` per camera, in OpenCV conventions: ``x_cam = R x_world + t``
(metres), pixels ``u = fx x/z + cx``. The layout of ``calib.json`` is that of
``shared/real/pose2sim`` (its README): per camera ``K``, ``R_world2cam``, ``t_world2cam_m``,
``dist_k1k2p1p2k3`` (OpenCV order, kept raw: simpose does not apply it) and ``image_size`` (w, h).

Qualisys QTM (``<calibration><cameras><camera serial=...>``) stores, per camera:

- intrinsics in 1/64 pixel (``focalLengthU/V``, ``centerPointU/V``) on the sensor, of which the
  video is the window ``fov_video`` (left, top, right, bottom, inclusive): the principal point
  in video pixels is ``centerPoint / 64 - (left, top)``, the size ``right - left + 1`` by
  ``bottom - top + 1``;
- ``transform``: the rotation ``r11..r33`` and the camera centre ``x, y, z`` in world
  millimetres. The rotation maps world to a camera frame whose y and z axes point the other way
  from OpenCV's, so ``R = diag(1, -1, -1) @ R_qtm`` and ``t = -R @ centre``.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import torch

from simpose.camera import Camera
from simpose.data._checks import array, existing, load_json, require_keys
from simpose.data.records import DatasetError

__all__ = ["ViewCalibration", "read_calib_json", "read_qca", "read_calibration", "QCA_PIXEL_UNITS"]

QCA_PIXEL_UNITS = 64.0  # QTM's intrinsics are in 1/64 pixel
_FLIP_YZ = np.diag([1.0, -1.0, -1.0])  # QTM camera axes -> OpenCV's (y down, z forward)
_JSON_KEYS = ("K", "R_world2cam", "t_world2cam_m", "image_size")


@dataclasses.dataclass(frozen=True, eq=False)
class ViewCalibration:
    """One calibrated camera of a rig.

    Attributes:
        name: the camera's name (a video ``NAME.mp4`` belongs to it).
        K: (3, 3) intrinsics, pixels.
        R: (3, 3) world-to-camera rotation (OpenCV camera axes).
        t: (3,) world-to-camera translation, metres (``x_cam = R x_world + t``).
        image_size: (width, height) pixels the calibration is for.
        dist: (5,) ``k1 k2 p1 p2 k3`` (OpenCV order) as recorded; not applied by simpose.
    """

    name: str
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    image_size: tuple[int, int]
    dist: np.ndarray

    @property
    def center(self) -> np.ndarray:
        """(3,) camera centre in world metres (``-R^T t``)."""
        return -self.R.T @ self.t

    @property
    def projection(self) -> np.ndarray:
        """(3, 4) ``K [R | t]``: world metres (homogeneous) to pixels (homogeneous)."""
        return self.K @ np.concatenate([self.R, self.t[:, None]], axis=1)

    def camera(self) -> Camera:
        """The :class:`~simpose.camera.Camera` (float64, no distortion)."""
        f64 = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float64)  # noqa: E731
        return Camera(K=f64(self.K), R=f64(self.R), t=f64(self.t), image_size=self.image_size)


def _check_rotation(R: np.ndarray, path: Path, name: str) -> None:
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-5) or np.linalg.det(R) < 0:
        raise DatasetError(f"{path}: camera {name}: the rotation is not a proper rotation matrix")


def read_calib_json(path: str | Path) -> dict[str, ViewCalibration]:
    """A ``calib.json`` (the layout of ``shared/real/pose2sim``) -> camera name -> calibration.

    Raises:
        DatasetError: missing file, not JSON, a camera without ``K``/``R_world2cam``/
            ``t_world2cam_m``/``image_size``, wrong shapes, a rotation that is not one.
    """
    path = existing(path)
    data = load_json(path)
    if not isinstance(data, dict) or not data:
        raise DatasetError(f"{path}: expected an object of cameras (name -> K, R_world2cam, ...)")
    out = {}
    for name, cam in data.items():
        if not isinstance(cam, dict):
            raise DatasetError(f"{path}: camera {name!r} is not an object")
        require_keys(cam, _JSON_KEYS, path, what=f"camera {name!r}")
        K = array(cam["K"], path, f"{name}.K", (3, 3))
        R = array(cam["R_world2cam"], path, f"{name}.R_world2cam", (3, 3))
        t = array(cam["t_world2cam_m"], path, f"{name}.t_world2cam_m", (3,))
        w, h = array(cam["image_size"], path, f"{name}.image_size", (2,))
        dist = array(cam.get("dist_k1k2p1p2k3", np.zeros(5)), path, f"{name}.dist_k1k2p1p2k3", (5,))
        _check_rotation(R, path, name)
        out[str(name)] = ViewCalibration(str(name), K, R, t, (int(round(w)), int(round(h))), dist)
    return out


def read_qca(path: str | Path) -> dict[str, ViewCalibration]:
    """A Qualisys QTM calibration (``.qca.txt``, XML) -> camera name (its ``serial``) -> calibration.

    Only active cameras are read. See the module docstring for the conventions converted.

    Raises:
        DatasetError: missing file, not XML, a camera without ``fov_video``/``transform``/
            ``intrinsic`` or with non-numeric values.
    """
    path = existing(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise DatasetError(f"{path}: not a QTM calibration (XML: {exc})") from exc
    cameras = root.findall("./cameras/camera")
    if not cameras:
        raise DatasetError(f"{path}: no <cameras><camera> elements: not a QTM calibration")
    out = {}
    for cam in cameras:
        if cam.get("active", "1") == "0":
            continue
        name = cam.get("serial")
        elements = {tag: cam.find(tag) for tag in ("fov_video", "transform", "intrinsic")}
        missing = [tag for tag, el in elements.items() if el is None]
        if name is None or missing:
            raise DatasetError(f"{path}: camera {name!r} lacks {missing or ['a serial']}")
        num = lambda tag, key: _number(elements[tag], key, path, name)  # noqa: E731
        left, top, right, bottom = (num("fov_video", k) for k in ("left", "top", "right", "bottom"))
        fx, fy = num("intrinsic", "focalLengthU") / QCA_PIXEL_UNITS, num("intrinsic", "focalLengthV") / QCA_PIXEL_UNITS
        cx = num("intrinsic", "centerPointU") / QCA_PIXEL_UNITS - left
        cy = num("intrinsic", "centerPointV") / QCA_PIXEL_UNITS - top
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        R_qtm = np.array([[num("transform", f"r{i}{j}") for j in (1, 2, 3)] for i in (1, 2, 3)])
        R = _FLIP_YZ @ R_qtm
        _check_rotation(R, path, name)
        centre = np.array([num("transform", k) for k in ("x", "y", "z")]) / 1000.0
        dist = np.array([num("intrinsic", k) for k in ("radialDistortion1", "radialDistortion2", "tangentalDistortion1",
                                                        "tangentalDistortion2", "radialDistortion3")])  # fmt: skip
        size = (int(right - left + 1), int(bottom - top + 1))
        out[name] = ViewCalibration(name, K, R, -R @ centre, size, dist)
    return out


def _number(element: ET.Element, key: str, path: Path, name: str) -> float:
    value = element.get(key)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: camera {name!r}: <{element.tag} {key}> is {value!r}, not a number") from None


def read_calibration(path: str | Path) -> dict[str, ViewCalibration]:
    """``calib.json`` or a QTM ``.qca``/``.qca.txt`` file, told apart by name."""
    name = Path(path).name.lower()
    if name.endswith((".qca", ".qca.txt")):
        return read_qca(path)
    if name.endswith(".json"):
        return read_calib_json(path)
    raise DatasetError(f"{path}: unknown calibration format (expected calib.json or a QTM .qca.txt)")
