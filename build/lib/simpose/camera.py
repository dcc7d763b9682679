"""The one camera type of simpose.

Frames: world points ``X_w`` map to the camera frame by ``X_c = R @ X_w + t`` (OpenCV: x right,
y down, z forward); pixels are ``u = fx * x' + cx``, ``v = fy * y' + cy`` where ``(x', y')`` is
the normalised point ``(X_c/Z_c, Y_c/Z_c)`` after the optional Human3.6M distortion model
(radial k1 k2 k3, tangential p1 p2 in Human3.6M's order, the formula of
``shared/benchmarks/h36m/cameras.json``).

Every function is batched over leading dimensions and differentiable in torch. A ``Camera``
holds tensors of shape ``(*C, ...)`` (``C`` possibly empty): one camera or a batch of them; the
camera's batch dims broadcast against the points' leading dims.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

__all__ = ["Camera", "distort", "undistort", "image_to_normalised"]


@dataclasses.dataclass(frozen=True)
class Camera:
    """A pinhole camera with optional Human3.6M-style lens distortion.

    Attributes:
        K: (*C, 3, 3) intrinsics in pixels.
        R: (*C, 3, 3) world-to-camera rotation.
        t: (*C, 3) world-to-camera translation in metres (``X_c = R X_w + t``).
        image_size: (width, height) in pixels.
        dist: (*C, 5) ``k1 k2 k3 p1 p2`` (Human3.6M order) or None for no distortion.
    """

    K: torch.Tensor
    R: torch.Tensor
    t: torch.Tensor
    image_size: tuple[int, int]
    dist: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.K.shape[-2:] != (3, 3) or self.R.shape[-2:] != (3, 3) or self.t.shape[-1] != 3:
            raise ValueError(
                f"Camera needs K (...,3,3), R (...,3,3), t (...,3); got {tuple(self.K.shape)}, "
                f"{tuple(self.R.shape)}, {tuple(self.t.shape)}"
            )
        if self.dist is not None and self.dist.shape[-1] != 5:
            raise ValueError(f"dist must be (...,5) k1 k2 k3 p1 p2, got {tuple(self.dist.shape)}")
        w, h = self.image_size
        if w <= 0 or h <= 0:
            raise ValueError(f"image_size must be positive (width, height), got {self.image_size}")
        for name in ("K", "R", "t"):
            if not torch.isfinite(getattr(self, name)).all():
                raise ValueError(f"Camera.{name} contains NaN or inf")

    # ----------------------------------------------------------------- constructors
    @staticmethod
    def from_intrinsics(
        focal: float | tuple[float, float],
        image_size: tuple[int, int],
        center: tuple[float, float] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Camera:
        """A camera at the world origin (identity extrinsics) with the given focal length in pixels."""
        fx, fy = (focal, focal) if isinstance(focal, (int, float)) else focal
        w, h = image_size
        cx, cy = center if center is not None else ((w - 1) / 2.0, (h - 1) / 2.0)
        K = torch.tensor([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=dtype)
        return Camera(K=K, R=torch.eye(3, dtype=dtype), t=torch.zeros(3, dtype=dtype), image_size=(w, h))

    @staticmethod
    def from_fov(degrees: float, image_size: tuple[int, int], dtype: torch.dtype = torch.float32) -> Camera:
        """A camera whose horizontal field of view spans ``degrees`` across the larger image side."""
        if not 0.0 < degrees < 180.0:
            raise ValueError(f"field of view must be in (0, 180) degrees, got {degrees}")
        side = max(image_size)
        focal = side / 2.0 / math.tan(math.radians(degrees) / 2.0)
        return Camera.from_intrinsics(focal, image_size, dtype=dtype)

    @staticmethod
    def from_h36m(entry: dict, dtype: torch.dtype = torch.float64) -> Camera:
        """A camera from one entry of ``shared/benchmarks/h36m/cameras.json``."""
        R = torch.tensor(entry["R_world_to_cam"], dtype=dtype)
        center_world = torch.tensor(entry["T_cam_center_world_mm"], dtype=dtype) / 1000.0
        fx, fy = entry["focal_length_px"]
        cx, cy = entry["center_px"]
        K = torch.tensor([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=dtype)
        dist = torch.tensor(
            list(entry["radial_distortion_k1k2k3"]) + list(entry["tangential_distortion_p1p2_h36m_order"]),
            dtype=dtype,
        )
        return Camera(K=K, R=R, t=-R @ center_world, image_size=(int(entry["res_w"]), int(entry["res_h"])), dist=dist)

    # ----------------------------------------------------------------- properties
    @property
    def focal(self) -> torch.Tensor:
        """(*C, 2) fx, fy in pixels."""
        return torch.stack([self.K[..., 0, 0], self.K[..., 1, 1]], dim=-1)

    @property
    def center(self) -> torch.Tensor:
        """(*C, 2) principal point in pixels."""
        return self.K[..., :2, 2]

    @property
    def position(self) -> torch.Tensor:
        """(*C, 3) camera centre in world coordinates, metres."""
        return -(self.R.transpose(-1, -2) @ self.t.unsqueeze(-1)).squeeze(-1)

    def to(self, device=None, dtype=None) -> Camera:
        cast = lambda x: None if x is None else x.to(device=device, dtype=dtype)  # noqa: E731
        return Camera(cast(self.K), cast(self.R), cast(self.t), self.image_size, cast(self.dist))

    def with_extrinsics(self, R: torch.Tensor, t: torch.Tensor) -> Camera:
        return dataclasses.replace(self, R=R, t=t)

    # ----------------------------------------------------------------- geometry
    def world_to_camera(self, points_world: torch.Tensor) -> torch.Tensor:
        """points_world: (..., N, 3) metres -> (..., N, 3) camera frame metres."""
        return points_world @ self.R.transpose(-1, -2) + self.t.unsqueeze(-2)

    def camera_to_world(self, points_cam: torch.Tensor) -> torch.Tensor:
        """points_cam: (..., N, 3) camera frame -> (..., N, 3) world frame, metres."""
        return (points_cam - self.t.unsqueeze(-2)) @ self.R

    def project_camera(self, points_cam: torch.Tensor) -> torch.Tensor:
        """Camera-frame points (..., N, 3) -> pixels (..., N, 2), distortion included."""
        xy = points_cam[..., :2] / points_cam[..., 2:3]
        if self.dist is not None:
            xy = distort(xy, self.dist.unsqueeze(-2))
        return xy * self.focal.unsqueeze(-2) + self.center.unsqueeze(-2)

    def project(self, points_world: torch.Tensor) -> torch.Tensor:
        """World points (..., N, 3) metres -> pixels (..., N, 2)."""
        return self.project_camera(self.world_to_camera(points_world))

    def unproject(self, pixels: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """Pixels (..., N, 2) and camera-frame depth z (..., N) -> camera-frame points (..., N, 3).

        Distortion is inverted by fixed-point iteration (exact to ~1e-9 for Human3.6M lenses).
        """
        xy = (pixels - self.center.unsqueeze(-2)) / self.focal.unsqueeze(-2)
        if self.dist is not None:
            xy = undistort(xy, self.dist.unsqueeze(-2))
        return torch.cat([xy * depth.unsqueeze(-1), depth.unsqueeze(-1)], dim=-1)


def distort(xy: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
    """Human3.6M lens distortion of normalised coordinates.

    Args:
        xy: (..., 2) normalised image coordinates ``(X/Z, Y/Z)``.
        dist: (..., 5) ``k1 k2 k3 p1 p2`` in Human3.6M's order, broadcastable to ``xy``.
    Returns:
        (..., 2) distorted normalised coordinates.
    """
    k1, k2, k3, p1, p2 = dist.unbind(-1)
    x, y = xy.unbind(-1)
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 * r2 + k3 * r2 * r2 * r2
    tan = p1 * y + p2 * x
    return torch.stack([x * (radial + tan) + p2 * r2, y * (radial + tan) + p1 * r2], dim=-1)


def undistort(xy_distorted: torch.Tensor, dist: torch.Tensor, iterations: int = 20) -> torch.Tensor:
    """Inverse of :func:`distort` by fixed-point iteration; same shapes."""
    xy = xy_distorted
    for _ in range(iterations):
        residual = distort(xy, dist) - xy_distorted
        xy = xy - residual
    return xy


def image_to_normalised(joints2d: np.ndarray, camera) -> np.ndarray:
    """Pixels (..., J, 2) -> normalised image coordinates ``(u - c) / f``, lens distortion undone.

    Args:
        joints2d: (..., J, 2) pixels (NaN: missing, kept NaN); (..., T, J, 2) for a batch of K.
        camera: a :class:`Camera` (its distortion is undone), a (3, 3) K (or (..., 3, 3), one
            per clip), or None (the pixels are returned as they are).
    """
    if camera is None:
        return joints2d
    if isinstance(camera, Camera):
        K = camera.K.detach().cpu().double().numpy()
        dist = None if camera.dist is None else camera.dist.detach().cpu().double()
    else:
        K, dist = np.asarray(camera, dtype=np.float64), None
    if K.shape[-2:] != (3, 3):
        raise ValueError(f"camera must be a Camera or a (3, 3) intrinsics matrix K, got shape {K.shape}")
    f = np.stack([K[..., 0, 0], K[..., 1, 1]], -1)
    c = K[..., :2, 2]
    if K.ndim > 2:  # one K per clip (..., 3, 3): broadcast over its frames and joints
        f, c = f[..., None, None, :], c[..., None, None, :]
    xy = (np.asarray(joints2d, dtype=np.float64) - c) / f
    if dist is not None:
        finite = np.isfinite(xy)
        xy_t = torch.as_tensor(np.where(finite, xy, 0.0))
        xy = np.where(finite, undistort(xy_t, dist).numpy(), np.nan)
    return xy
