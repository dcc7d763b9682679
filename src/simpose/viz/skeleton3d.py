"""A turning 3D view of a skeleton track: a virtual camera orbits the person over a floor grid.

Coordinates are the run's camera frame (y down). The orbit camera circles the vertical axis
through the track's mean position at a fixed height, looking slightly down, so depth errors
(invisible in the overlay) show up as the view turns: a skeleton that slides back and forth,
leans, or changes size.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from simpose.body.joints import get_joint_set
from simpose.viz.overlay import draw_label, side_colors, track_color

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
    labels: list[str] | None = None,
) -> Iterator[np.ndarray]:
    """Frames of the turning view.

    Drawn with OpenCV's anti-aliased lines (about 1 ms a frame at 640 px; the PIL drawing it
    replaces took several and had jagged edges).

    Args:
        joints3d: (T, J, 3) metres, camera frame (NaN on invalid frames), or (T, P, J, 3) for
            several people (all drawn, the orbit around all of them).
        valid: (T,) bool, or (T, P).
        joint_set: the set of ``joints3d``.
        fps: frames per second (sets the turning speed).
        size: image side in pixels.
        degrees_per_second: orbit speed (a full turn takes 8 s by default).
        labels: per person a text drawn above its head in its :func:`track_color` (None: none).
    Yields:
        (size, size, 3) uint8 RGB per frame; invalid frames show the floor and "no person".
    """
    import cv2

    js = get_joint_set(joint_set)
    X = np.asarray(joints3d, np.float64)
    if X.ndim == 3:  # one person
        X, valid = X[:, None], np.asarray(valid, bool)[:, None]
    ok = np.asarray(valid, bool) & np.isfinite(X).all((-1, -2))  # (T, P)
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
    edges = np.asarray(js.edges, int).reshape(-1, 2)
    half = max(1.0, float(max(extent[0], extent[2])) / 2 + 0.6)
    g = np.linspace(-half, half, 11)
    ends = [((centre[0] + a, floor_y, centre[2] - half), (centre[0] + a, floor_y, centre[2] + half)) for a in g]
    ends += [((centre[0] - half, floor_y, centre[2] + a), (centre[0] + half, floor_y, centre[2] + a)) for a in g]
    grid = np.asarray(ends, np.float64)  # (22, 2, 3) floor lines
    target = np.array([centre[0], floor_y - 0.85, centre[2]])
    bone_width = max(4, size // 110)
    text_scale = max(0.4, size / 1600)
    shift = 4  # sub-pixel drawing: coordinates in 1/16 pixel
    background = np.empty((size, size, 3), np.uint8)
    background[:] = (24, 26, 32)

    def project(p: np.ndarray, R: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = p @ R.T + t
        z = np.maximum(c[..., 2], 1e-3)
        return focal * c[..., :2] / z[..., None] + (size - 1) / 2.0, c[..., 2]

    def fixed(p: np.ndarray) -> tuple[int, int]:
        q = np.clip(p, -4 * size, 5 * size) * (1 << shift)  # far-off points stay within int range
        return int(round(q[0])), int(round(q[1]))

    for i in range(len(X)):
        az = np.radians(degrees_per_second * i / fps)
        R, t = orbit_view(target, az, distance, elevation_rad=0.25)
        img = background.copy()
        uv, z = project(grid, R, t)
        for (pa, pb), (za, zb) in zip(uv, z):
            if za > 0.05 and zb > 0.05:
                cv2.line(img, fixed(pa), fixed(pb), (70, 74, 86), 1, cv2.LINE_AA, shift)
        if ok[i].any():
            people = np.flatnonzero(ok[i])
            uv, depth = project(X[i, people], R, t)  # (P', J, 2), (P', J)
            bones = [(depth[k][edges].mean(1)[e], k, e) for k in range(len(people)) for e in range(len(edges))]
            for _, k, e in sorted(bones, key=lambda b: -b[0]):  # far bones first, over all people
                a, b = edges[e]
                cv2.line(img, fixed(uv[k, a]), fixed(uv[k, b]), colors[e], bone_width, cv2.LINE_AA, shift)
            for p in uv.reshape(-1, 2):
                cv2.circle(img, fixed(p), 3 << shift, (240, 240, 240), -1, cv2.LINE_AA, shift)
            for k, p in enumerate(people):
                if labels is not None:
                    draw_label(img, labels[p], uv[k][np.argmin(uv[k, :, 1])] - [0.0, 12.0], track_color(p), text_scale)
        else:
            cv2.putText(img, "no person", (10, 24), cv2.FONT_HERSHEY_SIMPLEX, text_scale, (230, 90, 90), 1, cv2.LINE_AA)
        cv2.putText(img, f"frame {i}", (10, size - 10), cv2.FONT_HERSHEY_SIMPLEX, text_scale, (180, 180, 180), 1, cv2.LINE_AA)
        yield img
