"""Synthetic occluders pasted in front of the people: textured ellipses, rectangles and polygons.

An occluder is a flat card facing the camera at a fixed depth in front of every person of the
clip, translating across the image at a constant velocity (pixels per frame). That makes its
annotations exact: its pixels get ``mask`` 0 and ``parts`` 0 (not a person), ``depth`` the card's
depth, ``flow`` its velocity, and its texture moves with it. It is painted after the people, so
joints under it lose their visibility (:mod:`simpose.synth.clip` records the reason as
"occluded by an occluder").

Shapes are drawn with OpenCV at 1/16 pixel precision, without anti-aliasing (a pixel is in or
out, as the rasterizer's coverage is).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from simpose.camera import Camera

__all__ = ["Occluder", "sample_occluders", "occluder_mask", "paste_occluders"]

_SHIFT = 4  # OpenCV fractional bits of the polygon vertices: 1/16 pixel
_KINDS = ("ellipse", "rectangle", "polygon")


@dataclasses.dataclass(frozen=True)
class Occluder:
    """One occluder.

    Attributes:
        outline: (N, 2) float polygon at frame 0, pixels (ellipses are polygons of 48 points).
        velocity: (2,) pixels per frame.
        depth: camera z of the card, metres.
        texture: (H, W, 3) uint8 image of the card at frame 0 (it translates with the card).
        kind: ``ellipse``, ``rectangle`` or ``polygon``.
    """

    outline: np.ndarray
    velocity: np.ndarray
    depth: float
    texture: np.ndarray
    kind: str


def sample_occluders(
    config, rng: np.random.Generator, vertices: list[np.ndarray], camera0: Camera, frames: int
) -> list[Occluder]:
    """1..``config.max_occluders`` occluders, each centred on a random point of a random person.

    Args:
        config: :class:`simpose.synth.scene.SceneConfig` (``size``, ``max_occluders``).
        rng: the occluder stream. vertices: per person (T, V, 3) world vertices.
        camera0: the frame-0 camera. frames: T.
    Returns:
        list of :class:`Occluder`, back to front order irrelevant (all lie in front of every person).
    """
    from simpose.render.appearance import procedural_background

    S = config.size
    R, t, K = camera0.R.numpy(), camera0.t.numpy(), camera0.K.numpy()
    cam = [v.reshape(-1, 3).astype(np.float64) @ R.T + t for v in vertices]
    z_min = min(float(c[:, 2].min()) for c in cam)
    out = []
    for _ in range(int(rng.integers(1, config.max_occluders + 1))):
        c = cam[int(rng.integers(len(cam)))]
        frame0 = c[: len(c) // frames]
        anchor = frame0[int(rng.integers(len(frame0)))]
        centre = (K @ (anchor / anchor[2]))[:2]
        u = K[0, 0] * frame0[:, 0] / frame0[:, 2] + K[0, 2]
        v = K[1, 1] * frame0[:, 1] / frame0[:, 2] + K[1, 2]
        extent = max(np.ptp(u), np.ptp(v), 4.0)  # the person's image size, pixels
        half = extent * rng.uniform(0.08, 0.3, size=2)
        angle = rng.uniform(0, np.pi)
        kind = _KINDS[int(rng.integers(len(_KINDS)))]
        if kind == "ellipse":
            a = np.linspace(0, 2 * np.pi, 48, endpoint=False)
            pts = np.stack([half[0] * np.cos(a), half[1] * np.sin(a)], 1)
        elif kind == "rectangle":
            pts = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
        else:  # a random star-shaped polygon
            a = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(5, 9))))
            r = rng.uniform(0.5, 1.0, len(a))
            pts = np.stack([half[0] * r * np.cos(a), half[1] * r * np.sin(a)], 1)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        outline = pts @ rot.T + centre
        velocity = rng.normal(0, 1.0, 2)  # slow drift, ~1 px per frame
        depth = float(rng.uniform(0.4, 0.9) * z_min)  # in front of every person at frame 0
        texture = procedural_background((S, S), rng)
        out.append(Occluder(outline, velocity, max(depth, 0.05), texture, kind))
    return out


def occluder_mask(occ: Occluder, t: int, size: int) -> np.ndarray:
    """(S, S) bool coverage of ``occ`` at frame ``t`` (pixel centres inside the outline)."""
    import cv2

    pts = np.rint((occ.outline + occ.velocity * t) * (1 << _SHIFT)).astype(np.int32)
    img = np.zeros((size, size), np.uint8)
    cv2.fillPoly(img, [pts], 1, lineType=cv2.LINE_8, shift=_SHIFT)
    return img.astype(bool)


def paste_occluders(
    occluders, rgb: np.ndarray, mask: np.ndarray, parts: np.ndarray, depth: np.ndarray, flow: np.ndarray
) -> np.ndarray:
    """Paint occluders over rendered frames, in place.

    Args:
        occluders: :class:`Occluder` list. rgb (T,S,S,3), mask (T,S,S), parts (T,S,S), depth
        (T,S,S), flow (T-1,S,S,2): the clip arrays, modified.
    Returns:
        (T, S, S) bool: pixels covered by some occluder.
    """
    import cv2

    T, S = mask.shape[:2]
    covered = np.zeros((T, S, S), bool)
    for occ in occluders:
        for t in range(T):
            m = occluder_mask(occ, t, S)
            # the texture translated with the card (bilinear, so sub-pixel motion is smooth)
            shift = np.array([[1.0, 0.0, occ.velocity[0] * t], [0.0, 1.0, occ.velocity[1] * t]])
            tex = cv2.warpAffine(occ.texture, shift, (S, S), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
            rgb[t][m] = tex[m]
            mask[t][m] = 0
            parts[t][m] = 0
            depth[t][m] = occ.depth
            if t < len(flow):
                flow[t][m] = occ.velocity.astype(np.float32)
            covered[t] |= m
    return covered
