"""Randomized appearance: skin, clothing colours with procedural patterns, light, backgrounds.

Everything is drawn from a ``numpy.random.Generator`` so that the same seed gives the same look.
Clothing is vertex colour: a top (torso, upper arms; forearms half the time), a bottom (hips,
thighs; shins half the time) and shoes, each a base colour with an optional stripe or check
pattern evaluated on the rest-pose vertex coordinates (so the pattern moves with the body).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from simpose.render.parts import PART_IDS
from simpose.render.raster import Lighting

logger = logging.getLogger(__name__)

__all__ = ["Appearance", "sample_appearance", "sample_lighting", "procedural_background", "BackgroundSource"]

_SKIN_TONES = np.array(
    [[255, 224, 196], [241, 194, 160], [224, 172, 130], [198, 134, 95], [161, 102, 66], [110, 70, 45], [70, 45, 30]],
    dtype=np.float64,
) / 255.0
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclasses.dataclass(frozen=True)
class Appearance:
    """One person's look.

    Attributes:
        colors: (V, 3) uint8 vertex albedo.
        skin: (3,) float skin colour in [0, 1].
    """

    colors: np.ndarray
    skin: np.ndarray


def _pattern(rest: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(V,) in [0, 1]: 0 = base colour, 1 = second colour (plain, stripes or checks)."""
    kind = rng.choice(["plain", "stripes", "checks"], p=[0.4, 0.35, 0.25])
    if kind == "plain":
        return np.zeros(len(rest))
    period = rng.uniform(0.03, 0.12)
    phase = rng.uniform(0, period)
    if kind == "stripes":
        axis = rng.integers(3)
        return (((rest[:, axis] + phase) // (period / 2)) % 2).astype(np.float64)
    a = ((rest[:, 0] + phase) // (period / 2)) % 2
    b = ((rest[:, 1] + phase) // (period / 2)) % 2
    return (a != b).astype(np.float64)


def sample_appearance(rest_vertices: np.ndarray, part_labels: np.ndarray, rng: np.random.Generator) -> Appearance:
    """A random skin tone and outfit for one body.

    Args:
        rest_vertices: (V, 3) rest-pose vertices (metres, any body frame), for the patterns.
        part_labels: (V,) part ids of :mod:`simpose.render.parts`.
        rng: numpy Generator.
    Returns:
        :class:`Appearance`.
    """
    rest = np.asarray(rest_vertices, dtype=np.float64)
    labels = np.asarray(part_labels)
    i = rng.uniform(0, len(_SKIN_TONES) - 1)
    lo = int(i)
    skin = _SKIN_TONES[lo] * (1 - (i - lo)) + _SKIN_TONES[min(lo + 1, len(_SKIN_TONES) - 1)] * (i - lo)
    colors = np.tile(skin, (len(rest), 1))
    P = PART_IDS
    top = ["torso_upper", "upperarm_L", "upperarm_R"] + (["forearm_L", "forearm_R"] if rng.random() < 0.5 else [])
    bottom = ["torso_lower", "thigh_L", "thigh_R"] + (["shin_L", "shin_R"] if rng.random() < 0.6 else [])
    shoes = ["foot_L", "foot_R"]
    for group in (top, bottom, shoes):
        sel = np.isin(labels, [P[n] for n in group])
        c0, c1 = rng.uniform(0.05, 0.95, size=(2, 3))
        t = _pattern(rest[sel], rng)[:, None] if group is not shoes else np.zeros((sel.sum(), 1))
        colors[sel] = c0 * (1 - t) + c1 * t
    return Appearance(colors=np.clip(colors * 255 + 0.5, 0, 255).astype(np.uint8), skin=skin)


def sample_lighting(rng: np.random.Generator) -> Lighting:
    """A random directional light (mostly from the camera's side and above) plus ambient."""
    d = np.array([rng.uniform(-1, 1), rng.uniform(-0.2, 1.0), rng.uniform(0.3, 1.0)])
    color = 1.0 - rng.uniform(0, 0.25, size=3)
    return Lighting(
        direction=tuple(float(x) for x in d / np.linalg.norm(d)),
        color=tuple(float(x) for x in color),
        intensity=float(rng.uniform(0.4, 0.9)),
        ambient=float(rng.uniform(0.15, 0.5)),
    )


def procedural_background(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random (H, W, 3) uint8 background: smooth noise, a gradient or stripes.

    Args:
        size: (width, height) pixels.
    """
    w, h = size
    kind = rng.choice(["noise", "gradient", "stripes"])
    c0, c1 = rng.uniform(0, 1, size=(2, 3))
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    if kind == "noise":
        g = rng.integers(3, 9)
        coarse = rng.uniform(0, 1, size=(g, g))
        # bilinear upsampling of a coarse grid
        gy = np.clip(yy * max(w, h) / max(h, 1) * (g - 1), 0, g - 1)
        gx = np.clip(xx * max(w, h) / max(w, 1) * (g - 1), 0, g - 1)
        y0, x0 = np.minimum(gy.astype(int), g - 2), np.minimum(gx.astype(int), g - 2)
        fy, fx = gy - y0, gx - x0
        t = (coarse[y0, x0] * (1 - fy) * (1 - fx) + coarse[y0 + 1, x0] * fy * (1 - fx)
             + coarse[y0, x0 + 1] * (1 - fy) * fx + coarse[y0 + 1, x0 + 1] * fy * fx)  # fmt: skip
        t = t + rng.normal(0, 0.03, size=t.shape)
    elif kind == "gradient":
        a = rng.uniform(0, 2 * np.pi)
        t = xx * np.cos(a) + yy * np.sin(a)
        t = (t - t.min()) / max(np.ptp(t), 1e-9)
    else:
        a = rng.uniform(0, np.pi)
        period = rng.uniform(0.05, 0.3)
        t = (((xx * np.cos(a) + yy * np.sin(a)) // (period / 2)) % 2).astype(np.float64)
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


class BackgroundSource:
    """Backgrounds from a user folder of images (random crop, resized) or procedural ones.

    Args:
        folder: a folder of images (png/jpg/jpeg/bmp/webp, searched recursively); None = procedural.
    Raises:
        ValueError: the folder does not exist, cannot be read or holds no image.
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        self.files: list[Path] = []
        if folder is not None:
            folder = Path(folder)
            if not folder.is_dir():
                raise ValueError(f"backgrounds folder {folder} does not exist or is not a folder; pass a folder of images")
            try:
                self.files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES)
            except OSError as e:
                raise ValueError(f"cannot read backgrounds folder {folder}: {e}; check its permissions") from e
            if not self.files:
                raise ValueError(
                    f"backgrounds folder {folder} holds no images ({', '.join(_IMAGE_SUFFIXES)}); add some or omit --backgrounds"
                )

    def sample(self, size: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, str]:
        """A (H, W, 3) uint8 background and its description (file name or ``procedural``)."""
        if not self.files:
            return procedural_background(size, rng), "procedural"
        import cv2

        path = self.files[int(rng.integers(len(self.files)))]
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot read background image {path}; remove or replace it")
        img = img[..., ::-1]
        w, h = size
        ih, iw = img.shape[:2]
        s = min(ih / h, iw / w) * rng.uniform(0.6, 1.0)
        ch, cw = max(int(h * s), 1), max(int(w * s), 1)
        y0, x0 = int(rng.integers(0, ih - ch + 1)), int(rng.integers(0, iw - cw + 1))
        crop = np.ascontiguousarray(img[y0 : y0 + ch, x0 : x0 + cw])
        return cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA), path.name
