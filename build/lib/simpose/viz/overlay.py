"""The overlay video of ``simpose run``: each input frame, the fitted mesh projected through K, the 2D skeleton.

The mesh is rasterized in the camera frame with the run's intrinsics (:mod:`simpose.render`),
so where it lands is exactly where the 3D result projects: a mesh beside the person means a
wrong translation, a mesh of the wrong size a wrong depth or focal length. The 2D skeleton is
what the detector saw (the input of the lifter).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from simpose.body.joints import get_joint_set

__all__ = ["side_colors", "draw_skeleton", "scale_intrinsics", "OverlayRenderer"]

LEFT, RIGHT, CENTRE = (60, 140, 255), (255, 140, 40), (80, 220, 120)
MESH_ALPHA = 0.55
MESH_COLOR = np.array([0.75, 0.8, 0.95])


def side_colors(joint_set: str) -> list[tuple[int, int, int]]:
    """One RGB colour per edge of the set: left limbs blue, right orange, the rest green."""
    js = get_joint_set(joint_set)
    out = []
    for a, b in js.edges:
        names = js.names[a] + js.names[b]
        out.append(LEFT if ("left" in names or ".L" in names) else RIGHT if ("right" in names or ".R" in names) else CENTRE)
    return out


def draw_skeleton(
    image: np.ndarray,
    joints2d: np.ndarray,
    confidence: np.ndarray | None,
    joint_set: str,
    width: int = 3,
    min_confidence: float = 0.2,
) -> np.ndarray:
    """Draw a 2D skeleton.

    Args:
        image: (H, W, 3) uint8 RGB (not modified).
        joints2d: (J, 2) pixels (NaN: missing).
        confidence: (J,) or None; bones with an end below ``min_confidence`` are skipped.
        joint_set: the set of ``joints2d`` (its ``edges`` are drawn).
        width: line width in pixels.
    Returns:
        (H, W, 3) uint8, a new image.
    """
    js = get_joint_set(joint_set)
    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    conf = np.ones(len(js)) if confidence is None else np.asarray(confidence)
    ok = np.isfinite(joints2d).all(-1) & (conf >= min_confidence)
    for (a, b), color in zip(js.edges, side_colors(joint_set)):
        if ok[a] and ok[b]:
            draw.line([tuple(map(float, joints2d[a])), tuple(map(float, joints2d[b]))], fill=color, width=width)
    r = max(2, width)
    for j in np.flatnonzero(ok):
        x, y = joints2d[j]
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255))
    return np.asarray(pil)


def scale_intrinsics(K: np.ndarray, s: float) -> np.ndarray:
    """K of the image resized by ``s`` (pixel centres at integers: ``u' = s (u + 0.5) - 0.5``)."""
    K2 = np.asarray(K, np.float64).copy()
    K2[:2, :2] *= s
    K2[:2, 2] = s * (K2[:2, 2] + 0.5) - 0.5
    return K2


class OverlayRenderer:
    """Draws overlay frames at a capped size (one rasterizer, reused for every frame).

    Args:
        image_size: (width, height) of the input frames.
        K: (3, 3) intrinsics of the input frames.
        faces: (F, 3) mesh triangles.
        max_side: frames are scaled down so that their larger side is at most this.
    """

    def __init__(self, image_size: tuple[int, int], K: np.ndarray, faces: np.ndarray, max_side: int = 1280) -> None:
        from simpose.camera import Camera
        import torch

        w, h = image_size
        self.scale = min(1.0, max_side / max(w, h))
        self.size = (max(2, int(round(w * self.scale))), max(2, int(round(h * self.scale))))
        self.K = scale_intrinsics(K, self.scale)
        self.faces = np.asarray(faces, np.int32)
        self.camera = Camera(
            K=torch.as_tensor(self.K), R=torch.eye(3, dtype=torch.float64), t=torch.zeros(3, dtype=torch.float64), image_size=self.size
        )
        self._raster = None

    def _rasterizer(self):
        if self._raster is None:
            from simpose.render.raster import Rasterizer

            self._raster = Rasterizer(*self.size, near=0.05, far=200.0)
        return self._raster

    def render(
        self,
        frame: np.ndarray,
        vertices_cam: np.ndarray | None,
        joints2d: np.ndarray | None,
        confidence: np.ndarray | None,
        joint_set: str,
    ) -> np.ndarray:
        """One overlay frame.

        Args:
            frame: (H, W, 3) uint8 input frame.
            vertices_cam: (V, 3) mesh in the camera frame, metres, or None (no person).
            joints2d: (J, 2) input-frame pixels, or None.
            confidence: (J,) or None.
            joint_set: the set of ``joints2d``.
        Returns:
            (h, w, 3) uint8 at ``self.size``.
        """
        image = frame
        if self.scale != 1.0:
            image = np.asarray(Image.fromarray(frame).resize(self.size, Image.BILINEAR))
        if vertices_cam is not None and np.isfinite(vertices_cam).all():
            # One colour for the whole mesh, and the same faces and colour objects every frame
            # (static_inputs: their checks and upload are reused); no barycentric read-back.
            out = self._rasterizer().rasterize(
                vertices_cam, self.faces, self.camera, colors=MESH_COLOR, cull_back_faces=True, barycentric=False, static_inputs=True
            )
            covered = (out.mask > 0)[..., None]
            blend = (1 - MESH_ALPHA) * image.astype(np.float32) + MESH_ALPHA * out.rgb.astype(np.float32)
            image = np.where(covered, blend, image).astype(np.uint8)
        if joints2d is not None:
            pts = self.scale * (np.asarray(joints2d, np.float64) + 0.5) - 0.5
            image = draw_skeleton(image, pts, confidence, joint_set, width=max(2, int(round(3 * max(self.size) / 1000))))
        return image

    def close(self) -> None:
        if self._raster is not None:
            self._raster.close()
            self._raster = None
