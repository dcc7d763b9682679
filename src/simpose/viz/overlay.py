"""The overlay video of ``simpose run``: each input frame, the fitted mesh projected through K, the 2D skeleton.

The mesh is rasterized in the camera frame with the run's intrinsics (:mod:`simpose.render`),
so where it lands is exactly where the 3D result projects: a mesh beside the person means a
wrong translation, a mesh of the wrong size a wrong depth or focal length. The 2D skeleton is
what the detector saw (the input of the lifter).

Cost: the mesh is rasterized at a reduced size (``mesh_side``, 480 px by default) and only the
person's box is scaled up and blended (premultiplied by the rasterized coverage, so its edges
are soft rather than jagged); the skeleton is drawn with OpenCV's anti-aliased lines. At
1280x720 this is a few ms a frame, where the full-size rasterization, a float blend of the
whole frame and PIL drawing took about 130. The rasterizer's time follows the triangles, so
``simpose run`` draws the body decimated (:func:`cluster_mesh`, in
:func:`simpose.track.views.overlay_mesh`): 27k -> 10k faces, rasterizing 21 -> 15 ms/frame.
"""

from __future__ import annotations

import numpy as np

from simpose.body.joints import get_joint_set

__all__ = ["side_colors", "track_color", "draw_label", "draw_skeleton", "scale_intrinsics", "cluster_mesh", "OverlayRenderer"]

_SHIFT = 4  # OpenCV sub-pixel drawing: coordinates in 1/16 pixel

LEFT, RIGHT, CENTRE = (60, 140, 255), (255, 140, 40), (80, 220, 120)
MESH_ALPHA = 0.55
MESH_COLOR = np.array([0.75, 0.8, 0.95])
# one colour per track of a multi-person run (mesh tint and id label), cycled past the last
TRACK_COLORS = ((230, 80, 80), (80, 200, 90), (70, 130, 240), (240, 190, 40), (200, 90, 220), (40, 210, 210), (250, 140, 60), (160, 160, 160))


def track_color(index: int) -> tuple[int, int, int]:
    """RGB colour of the person column ``index`` of a multi-person run."""
    return TRACK_COLORS[index % len(TRACK_COLORS)]


def draw_label(image: np.ndarray, text: str, anchor: np.ndarray, color: tuple[int, int, int], scale: float = 0.6) -> None:
    """Write ``text`` in ``color`` (on a dark box, readable on any frame) just above pixel
    ``anchor`` (2,), in place; nothing where the anchor is not finite."""
    import cv2

    if not np.isfinite(anchor).all():
        return
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, max(1, int(round(2 * scale)))
    (w, h), base = cv2.getTextSize(text, font, scale, thick)
    H, W = image.shape[:2]
    x = int(np.clip(anchor[0] - w / 2, 0, max(0, W - w - 4)))
    y = int(np.clip(anchor[1] - 8, h + 4, H - base - 1))
    cv2.rectangle(image, (x, y - h - 4), (x + w + 4, y + base), (20, 20, 20), -1)
    cv2.putText(image, text, (x + 2, y - 2), font, scale, color, thick, cv2.LINE_AA)


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
    import cv2

    js = get_joint_set(joint_set)
    out = np.array(image, np.uint8, copy=True, order="C")
    conf = np.ones(len(js)) if confidence is None else np.asarray(confidence)
    ok = np.isfinite(joints2d).all(-1) & (conf >= min_confidence)
    h, w = out.shape[:2]
    # far-off points clipped to a range OpenCV's fixed point holds; the visible segment is the same
    pts = np.round(np.clip(np.nan_to_num(np.asarray(joints2d, np.float64)), -4 * max(h, w), 5 * max(h, w)) * (1 << _SHIFT)).astype(int)
    for (a, b), color in zip(js.edges, side_colors(joint_set)):
        if ok[a] and ok[b]:
            cv2.line(out, tuple(pts[a]), tuple(pts[b]), color, width, cv2.LINE_AA, _SHIFT)
    r = max(2, width)
    for j in np.flatnonzero(ok):
        cv2.circle(out, tuple(pts[j]), r << _SHIFT, (255, 255, 255), -1, cv2.LINE_AA, _SHIFT)
    return out


def scale_intrinsics(K: np.ndarray, s: float) -> np.ndarray:
    """K of the image resized by ``s`` (pixel centres at integers: ``u' = s (u + 0.5) - 0.5``)."""
    K2 = np.asarray(K, np.float64).copy()
    K2[:2, :2] *= s
    K2[:2, 2] = s * (K2[:2, 2] + 0.5) - 0.5
    return K2


def cluster_mesh(vertices: np.ndarray, faces: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertex-clustering decimation: the vertices in each ``cell``-sized cube become one (the
    vertex nearest their mean, so the coarse mesh lies on the fine one), triangles that collapse
    are dropped, duplicates kept once. Winding (hence back-face culling) is preserved.

    Args:
        vertices: (V, 3) the mesh in a pose where parts that move apart are apart (the rest pose).
        faces: (F, 3) triangles, indices into ``vertices``.
        cell: cube side, in ``vertices``' units (> 0).
    Returns:
        keep: (V',) int64 indices of the kept vertices into ``vertices`` (ascending cluster order);
        faces: (F', 3) int32 triangles, indices into ``keep``.
    """
    vertices, faces = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    if not cell > 0:
        raise ValueError(f"cluster_mesh: need cell > 0, got {cell}")
    _, cluster, counts = np.unique(np.floor(vertices / cell).astype(np.int64), axis=0, return_inverse=True, return_counts=True)
    cluster = cluster.ravel()
    mean = np.zeros((len(counts), 3))
    np.add.at(mean, cluster, vertices)
    mean /= counts[:, None]
    order = np.lexsort((((vertices - mean[cluster]) ** 2).sum(1), cluster))  # by cluster, nearest first
    keep = order[np.r_[True, cluster[order][1:] != cluster[order][:-1]]]
    tri = cluster[faces]
    tri = tri[(tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 0] != tri[:, 2])]
    # one copy of each triangle: rotate each so that its smallest index comes first (same winding)
    shift = np.argmin(tri, axis=1)
    tri = np.take_along_axis(tri, (shift[:, None] + np.arange(3)) % 3, axis=1)
    tri = np.unique(tri, axis=0)
    return keep, tri.astype(np.int32)


class OverlayRenderer:
    """Draws overlay frames at a capped size (one rasterizer, reused for every frame).

    Args:
        image_size: (width, height) of the input frames.
        K: (3, 3) intrinsics of the input frames.
        faces: (F, 3) mesh triangles.
        max_side: frames are scaled down so that their larger side is at most this.
        mesh_side: the mesh is rasterized at a size whose larger side is at most this (then
            scaled up to the frame's): the rasterizer works on the CPU here (llvmpipe) and its
            cost grows with the pixels. 480 rather than 640: a fifth less CPU per 1280x720
            frame, and the frames differ from 640's only at the mesh's outline (about 50 dB
            PSNR; `python benchmarks/run_speed.py --view-parts`).
    """

    def __init__(
        self, image_size: tuple[int, int], K: np.ndarray, faces: np.ndarray, max_side: int = 1280, mesh_side: int = 480
    ) -> None:
        from simpose.camera import Camera
        import torch

        w, h = image_size
        self.scale = min(1.0, max_side / max(w, h))
        self.size = (max(2, int(round(w * self.scale))), max(2, int(round(h * self.scale))))
        self.K = scale_intrinsics(K, self.scale)
        self.faces = np.asarray(faces, np.int32)
        self.mesh_scale = min(1.0, mesh_side / max(self.size))
        self.mesh_size = (max(2, int(round(self.size[0] * self.mesh_scale))), max(2, int(round(self.size[1] * self.mesh_scale))))
        self.camera = Camera(
            K=torch.as_tensor(scale_intrinsics(self.K, self.mesh_scale)), R=torch.eye(3, dtype=torch.float64),
            t=torch.zeros(3, dtype=torch.float64), image_size=self.mesh_size,
        )  # fmt: skip
        self._raster = None

    def _rasterizer(self):
        if self._raster is None:
            from simpose.render.raster import Rasterizer

            self._raster = Rasterizer(*self.mesh_size, near=0.05, far=200.0)
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
        import cv2

        image = frame
        if self.scale != 1.0:
            image = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        if vertices_cam is not None and np.isfinite(vertices_cam).all():
            # One colour for the whole mesh, and the same faces and colour objects every frame
            # (static_inputs: their checks and upload are reused); no barycentric read-back.
            out = self._rasterizer().rasterize(
                vertices_cam, self.faces, self.camera, colors=MESH_COLOR, cull_back_faces=True, barycentric=False, static_inputs=True
            )
            image = self._blend(image, out.rgb, out.mask > 0)
        elif image is frame:
            image = frame.copy()  # a new array, never the caller's
        if joints2d is not None:
            pts = self.scale * (np.asarray(joints2d, np.float64) + 0.5) - 0.5
            image = draw_skeleton(image, pts, confidence, joint_set, width=max(2, int(round(3 * max(self.size) / 1000))))
        return image

    def render_people(
        self,
        frame: np.ndarray,
        vertices_cam: list[np.ndarray | None],
        faces: list[np.ndarray],
        joints2d: np.ndarray,
        confidence: np.ndarray,
        joint_set: str,
        labels: list[str],
    ) -> np.ndarray:
        """One overlay frame of several people: each mesh tinted in its :func:`track_color`
        (one rasterization, so the people occlude each other), each skeleton, each label above
        its head.

        Args:
            frame: (H, W, 3) uint8 input frame.
            vertices_cam: per person (V_p, 3) camera-frame metres, or None (not in this frame).
            faces: per person (F_p, 3) triangles into its vertices.
            joints2d: (P, J, 2) input-frame pixels (NaN: not in this frame); confidence: (P, J).
            joint_set: the set of ``joints2d``.
            labels: per person its text (e.g. ``"id 3"``).
        Returns:
            (h, w, 3) uint8 at ``self.size``.
        """
        import cv2

        image = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA) if self.scale != 1.0 else frame.copy()
        shown = [p for p, v in enumerate(vertices_cam) if v is not None and np.isfinite(v).all()]
        if shown:
            out = self._rasterizer().rasterize(
                [vertices_cam[p] for p in shown], [faces[p] for p in shown], self.camera,
                colors=[0.5 * MESH_COLOR + 0.5 * np.asarray(track_color(p)) / 255.0 for p in shown], cull_back_faces=True, barycentric=False,
            )  # fmt: skip
            image = self._blend(image, out.rgb, out.mask > 0)
        width = max(2, int(round(3 * max(self.size) / 1000)))
        for p, label in enumerate(labels):
            pts = self.scale * (np.asarray(joints2d[p], np.float64) + 0.5) - 0.5
            if not np.isfinite(pts).any():
                continue
            image = draw_skeleton(image, pts, confidence[p], joint_set, width=width)
            top = pts[np.nanargmin(np.where(np.isfinite(pts[:, 1]), pts[:, 1], np.inf))]  # the highest joint
            draw_label(image, label, top - [0.0, 10.0 * width], track_color(p), scale=max(0.4, max(self.size) / 1600))
        return image

    def _blend(self, image: np.ndarray, rgb: np.ndarray, covered: np.ndarray) -> np.ndarray:
        """``image`` with the rasterized mesh (``rgb``, ``covered`` at ``mesh_size``) blended in,
        within the mesh's box only; a new array."""
        import cv2

        image = np.array(image, copy=True)
        rows, cols = np.flatnonzero(covered.any(1)), np.flatnonzero(covered.any(0))
        if not len(rows):
            return image
        W, H = self.size
        s = self.mesh_scale
        # the box in frame pixels, one mesh pixel wider on each side for the scaled-up edges
        x0, x1 = max(0, int((cols[0] - 1.5) / s)), min(W, int(np.ceil((cols[-1] + 2.5) / s)))
        y0, y1 = max(0, int((rows[0] - 1.5) / s)), min(H, int(np.ceil((rows[-1] + 2.5) / s)))
        # where each frame pixel centre of the box lies in the mesh image (pixel centres at integers)
        mx = ((np.arange(x0, x1) + 0.5) * s - 0.5).astype(np.float32)
        my = ((np.arange(y0, y1) + 0.5) * s - 0.5).astype(np.float32)
        map_x, map_y = np.broadcast_to(mx[None], (len(my), len(mx))), np.broadcast_to(my[:, None], (len(my), len(mx)))
        # premultiplied: the raster is black off the mesh, so colour and coverage scale up alike
        cover = cv2.remap(covered.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        color = cv2.remap(rgb.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        box = image[y0:y1, x0:x1].astype(np.float32)
        box = box * (1.0 - MESH_ALPHA * cover[..., None]) + MESH_ALPHA * color
        image[y0:y1, x0:x1] = np.clip(box + 0.5, 0, 255).astype(np.uint8)
        return image

    def close(self) -> None:
        if self._raster is not None:
            self._raster.close()
            self._raster = None
