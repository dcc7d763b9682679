"""A turning 3D view of a skeleton track: a virtual camera orbits the person over a floor grid.

Coordinates are the run's camera frame (y down). The orbit camera circles the vertical axis
through the track's mean position at a fixed height, looking slightly down, so depth errors
(invisible in the overlay) show up as the view turns: a skeleton that slides back and forth,
leans, or changes size.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageDraw

from simpose.body.joints import get_joint_set
from simpose.viz.overlay import side_colors

__all__ = ["orbit_view", "render_skeleton3d"]


def orbit_view(target: np.ndarray, azimuth_rad: float, distance: float, elevation_rad: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """World-to-view rotation R (3, 3) and translation t (3,) of an orbit camera (y down frame).

    Azimuth 0 is the original camera's side of the person (looking along +z).
    """
    off = np.array([np.sin(azimuth_rad) * np.cos(elevation_rad), -np.sin(elevation_rad), -np.cos(azimuth_rad) * np.cos(elevation_rad)])
    eye = target + distance * off
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(np.array([0.0, 1.0, 0.0]), z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return R, -R @ eye


def render_skeleton3d(
    joints3d: np.ndarray,
    valid: np.ndarray,
    joint_set: str,
    fps: float,
    size: int = 640,
    degrees_per_second: float = 45.0,
) -> Iterator[np.ndarray]:
    """Frames of the turning view.

    Args:
        joints3d: (T, J, 3) metres, camera frame (NaN on invalid frames).
        valid: (T,) bool.
        joint_set: the set of ``joints3d``.
        fps: frames per second (sets the turning speed).
        size: image side in pixels.
        degrees_per_second: orbit speed (a full turn takes 8 s by default).
    Yields:
        (size, size, 3) uint8 RGB per frame; invalid frames show the floor and "no person".
    """
    js = get_joint_set(joint_set)
    X = np.asarray(joints3d, np.float64)
    ok = np.asarray(valid, bool) & np.isfinite(X).all((-1, -2))
    if not ok.any():
        raise ValueError("no valid frame to show in 3D")
    pts = X[ok].reshape(-1, 3)
    centre = pts.mean(0)
    floor_y = np.percentile(pts[:, 1], 99)  # y down: the floor is under the lowest joints
    extent = np.ptp(pts, axis=0)
    # close enough that a standing person fills about two thirds of the height
    distance = 2.6 + float(np.hypot(extent[0], extent[2]))
    focal = size * 1.5
    colors = side_colors(joint_set)
    half = max(1.0, float(max(extent[0], extent[2])) / 2 + 0.6)
    g = np.linspace(-half, half, 11)
    grid = [
        (np.array([centre[0] + a, floor_y, centre[2] - half]), np.array([centre[0] + a, floor_y, centre[2] + half])) for a in g
    ] + [(np.array([centre[0] - half, floor_y, centre[2] + a]), np.array([centre[0] + half, floor_y, centre[2] + a])) for a in g]

    def project(p: np.ndarray, R: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = p @ R.T + t
        z = np.maximum(c[..., 2], 1e-3)
        return focal * c[..., :2] / z[..., None] + (size - 1) / 2.0, c[..., 2]

    for i in range(len(X)):
        az = np.radians(degrees_per_second * i / fps)
        R, t = orbit_view(np.array([centre[0], floor_y - 0.85, centre[2]]), az, distance, elevation_rad=0.25)
        img = Image.new("RGB", (size, size), (24, 26, 32))
        draw = ImageDraw.Draw(img)
        for a, b in grid:
            (pa, za), (pb, zb) = project(a, R, t), project(b, R, t)
            if za > 0.05 and zb > 0.05:
                draw.line([tuple(pa), tuple(pb)], fill=(70, 74, 86), width=1)
        if ok[i]:
            uv, depth = project(X[i], R, t)
            order = sorted(range(len(js.edges)), key=lambda e: -depth[list(js.edges[e])].mean())  # far bones first
            for e in order:
                a, b = js.edges[e]
                draw.line([tuple(uv[a]), tuple(uv[b])], fill=colors[e], width=max(4, size // 110))
            for j in range(len(js)):
                x, y = uv[j]
                draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(240, 240, 240))
        else:
            draw.text((10, 10), "no person", fill=(230, 90, 90))
        draw.text((10, size - 20), f"frame {i}", fill=(180, 180, 180))
        yield np.asarray(img)
