"""The rasterizer core: camera-frame meshes -> per-pixel depth, ids, barycentrics, RGB, parts, flow.

One OpenGL pass (moderngl on a headless EGL context, :mod:`simpose.render.context`) draws every
mesh with a per-mesh instance id into five render targets at once; the outputs are read back as
numpy arrays (:class:`RasterOutput`).

Conventions (everything in the OpenCV camera frame of ARCHITECTURE.md, metres):

* Pixels: ``u = fx X/Z + s Y/Z + cx``, ``v = fy Y/Z + cy`` with pixel centres at integer
  coordinates (pixel ``(0, 0)`` covers ``[-0.5, 0.5]^2``), image row 0 at the top. A pixel is
  covered when its centre lies inside a projected triangle (OpenGL's rule, no anti-aliasing).
* Background: ``depth`` 0, ``mask`` 0, ``face_id`` -1, ``barycentric`` 0, ``parts`` 0,
  ``flow`` 0 (fill it from camera motion with :func:`background_flow`), ``rgb`` the given
  background image.
* Lens distortion is not rendered: a camera with non-zero ``dist`` is refused (render the
  pinhole image and warp it if a distorted view is needed).
* Geometry closer than ``near`` or farther than ``far`` is clipped away.

Dimension letters: P meshes (people), V vertices, F faces, H/W pixels.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import moderngl
import numpy as np
import torch

from simpose.camera import Camera
from simpose.geometry import vertex_normals
from simpose.render.context import RenderError, create_context

logger = logging.getLogger(__name__)

__all__ = [
    "Lighting",
    "RasterOutput",
    "Rasterizer",
    "gl_projection",
    "vertex_visible",
    "background_flow",
]

ArrayLike = np.ndarray | torch.Tensor


def _shader(name: str) -> str:
    """GLSL source of ``shaders/<name>`` (kept as .glsl files so editors and linters see GLSL)."""
    return (Path(__file__).with_name("shaders") / name).read_text()


_VERTEX_SHADER = _shader("raster.vert.glsl")

# The geometry shader sees whole triangles: it passes the triangle index on, gives each corner
# its unit barycentric coordinate (interpolated perspective-correctly by the rasterizer) and
# lights each corner (Gouraud) with the vertex normal turned to the camera's side of the
# triangle (two-sided lighting: open meshes and either winding light the same).
_GEOMETRY_SHADER = _shader("raster.geom.glsl")

# gl_FragCoord: xy the pixel centre + 0.5 (see gl_projection), w = 1 / camera z.
_FRAGMENT_SHADER = _shader("raster.frag.glsl")

# Render targets, by fragment output location: (components, moderngl dtype, components read).
# Colour goes through an 8-bit unorm target: OpenGL clamps and rounds it (to one of the two
# nearest levels; Mesa rounds to nearest).
_TARGETS = ((1, "f4", 1), (2, "f4", 2), (4, "f4", 3), (2, "i4", 2), (4, "f1", 3))
_DEPTH, _FLOW, _BARY, _IDS, _COLOR = range(5)
_NUMPY_DTYPES = {"f4": np.float32, "i4": np.int32, "f1": np.uint8}

# Per-vertex record uploaded to the GPU: position, next position, colour, normal.
_VERTEX_FORMAT = "3f 3f 3f 3f"
_VERTEX_ATTRIBUTES = ("in_pos", "in_next", "in_color", "in_normal")
_FLOATS_PER_VERTEX = 12


@dataclasses.dataclass(frozen=True)
class Lighting:
    """A directional light plus ambient light, both in the camera frame.

    ``rgb = albedo * (ambient + intensity * max(0, n . -direction) * color)``, clipped to [0, 1],
    evaluated at the vertices and interpolated (Gouraud; triangles of a body at a few hundred
    pixels are a pixel or two wide), ``n`` the vertex normal turned to the camera's side of
    each triangle (two-sided: open meshes and either winding light the same).

    Attributes:
        direction: (3,) the direction the light travels, camera frame (normalised internally);
            the default ``(0, 0, 1)`` shines from the camera into the scene.
        color: (3,) light colour, linear RGB in [0, 1].
        intensity: scale of the diffuse term.
        ambient: ambient term (white).
    """

    direction: tuple[float, float, float] = (0.0, 0.0, 1.0)
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    intensity: float = 0.7
    ambient: float = 0.3

    def __post_init__(self) -> None:
        if len(self.direction) != 3 or len(self.color) != 3:
            raise ValueError(f"Lighting.direction and .color need 3 values, got {self.direction}, {self.color}")
        if not np.linalg.norm(self.direction) > 0:
            raise ValueError("Lighting.direction must be a non-zero vector")


@dataclasses.dataclass(frozen=True)
class RasterOutput:
    """Per-pixel outputs of one rendered frame (background values in the module docstring).

    Attributes:
        depth: (H, W) float32 camera-frame z in metres; 0 on background.
        mask: (H, W) uint8 instance id, 1..P in the order the meshes were given; 0 on background.
        face_id: (H, W) int32 index of the visible triangle in its own mesh's faces; -1 on background.
        barycentric: (H, W, 3) float32 perspective-correct barycentric coordinates of the pixel
            centre in ``faces[face_id]`` of the mesh ``mask``; 0 on background; None when not
            asked for (``rasterize(..., barycentric=False)``).
        rgb: (H, W, 3) uint8 lit vertex colours over the background image.
        parts: (H, W) uint8 part label of the visible triangle (majority of its three vertex
            labels, the first vertex's on a three-way tie); 0 on background; None if no labels given.
        flow: (H, W, 2) float32 forward optical flow (du, dv) in pixels to the next frame; 0 on
            background, NaN where the surface point moves to or behind the next camera's plane;
            None if no next-frame vertices were given.
    """

    depth: np.ndarray
    mask: np.ndarray
    face_id: np.ndarray
    barycentric: np.ndarray | None
    rgb: np.ndarray
    parts: np.ndarray | None = None
    flow: np.ndarray | None = None


# --------------------------------------------------------------------------------- geometry
def gl_projection(K: ArrayLike, image_size: tuple[int, int], near: float, far: float) -> np.ndarray:
    """The OpenGL projection matrix equivalent to an OpenCV intrinsic matrix.

    Camera point ``X`` (OpenCV frame) goes to clip space ``P @ [X, 1]``; with the viewport
    ``(0, 0, W, H)`` it lands at window coordinates ``(u + 0.5, v + 0.5)``, ``(u, v)`` its
    OpenCV pixel. Window row ``y`` is image row ``v`` (the framebuffer's first row is the
    image's top row), so nothing is flipped on read-back; triangle winding is mirrored, which
    only matters when culling (see ``Rasterizer.rasterize``). Depth maps ``near..far`` to NDC
    ``-1..1``.

    Args:
        K: (3, 3) intrinsics in pixels (skew allowed, ``K[2] = (0, 0, 1)``).
        image_size: (width, height) in pixels.
        near, far: clip distances along camera z, metres.
    Returns:
        (4, 4) float64 matrix acting on column vectors.
    """
    K = _to_numpy(K, np.float64)
    w, h = image_size
    if not 0 < near < far:
        raise ValueError(f"need 0 < near < far, got near={near}, far={far}")
    P = np.zeros((4, 4))
    P[0, 0] = 2.0 * K[0, 0] / w
    P[0, 1] = 2.0 * K[0, 1] / w
    P[0, 2] = 2.0 * (K[0, 2] + 0.5) / w - 1.0
    P[1, 1] = 2.0 * K[1, 1] / h
    P[1, 2] = 2.0 * (K[1, 2] + 0.5) / h - 1.0
    P[2, 2] = (far + near) / (far - near)
    P[2, 3] = -2.0 * far * near / (far - near)
    P[3, 2] = 1.0
    return P


def vertex_visible(
    vertices_cam: ArrayLike, depth: np.ndarray, camera: Camera, eps: float = 0.01
) -> np.ndarray:
    """Which vertices are seen in a rendered depth map.

    A vertex is visible when it lies in front of the camera, its pixel (projection rounded to
    the nearest pixel centre) is inside the image, and nothing is rendered more than ``eps``
    in front of it there: ``z <= depth + eps``, or the pixel is background (a vertex exactly on
    a silhouette may fall just outside its own coverage).

    Args:
        vertices_cam: (V, 3) camera-frame positions, metres.
        depth: (H, W) depth map of :class:`RasterOutput` (0 = background), metres.
        camera: the camera the depth was rendered with (pinhole; its extrinsics are unused).
        eps: depth tolerance in metres; 1 cm suits a body a few metres away at ~256 px. Grow
            it for coarser images, where one pixel spans more depth on slanted surfaces.
    Returns:
        (V,) bool.
    """
    K = _pinhole_intrinsics(camera, (depth.shape[1], depth.shape[0]))
    x = _to_numpy(vertices_cam, np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"vertices_cam must be (V, 3), got {x.shape}")
    z = x[:, 2]
    in_front = z > 0
    zs = np.where(in_front, z, 1.0)
    u = np.rint((K[0, 0] * x[:, 0] + K[0, 1] * x[:, 1]) / zs + K[0, 2])
    v = np.rint(K[1, 1] * x[:, 1] / zs + K[1, 2])
    h, w = depth.shape
    inside = in_front & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    ui = np.where(inside, u, 0).astype(np.int64)
    vi = np.where(inside, v, 0).astype(np.int64)
    d = depth[vi, ui]
    return inside & ((d <= 0) | (z <= d + eps))


def background_flow(
    depth: float | ArrayLike, camera_t: Camera, camera_t1: Camera
) -> np.ndarray:
    """Optical flow of a static background seen by a moving camera.

    Every pixel is unprojected with ``camera_t`` at its depth, moved to the world frame and
    projected with ``camera_t1`` (distortion of either camera included); the flow is that
    pixel minus the original one.

    Args:
        depth: camera-frame z of the background in metres for camera t: a float (a plane
            facing the camera at that depth) or an (H, W) depth map (e.g. a rendered one).
        camera_t: the camera of frame t (its ``image_size`` gives H and W).
        camera_t1: the camera of frame t+1 (world frame shared with ``camera_t``).
    Returns:
        (H, W, 2) float32 flow (du, dv) in pixels; NaN where the depth is not positive and
        finite or the point falls at or behind camera t+1.
    """
    w, h = camera_t.image_size
    depth_t = torch.as_tensor(_to_numpy(depth, np.float64) if not isinstance(depth, (int, float)) else depth)
    depth_t = depth_t.to(torch.float64).expand(h, w)
    if tuple(depth_t.shape) != (h, w):
        raise ValueError(f"depth must be a float or ({h}, {w}), got {tuple(depth_t.shape)}")
    cam0, cam1 = camera_t.to(dtype=torch.float64), camera_t1.to(dtype=torch.float64)
    v, u = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    pixels = torch.stack([u, v], dim=-1).reshape(-1, 2)
    points_cam0 = cam0.unproject(pixels, depth_t.reshape(-1))
    points_cam1 = cam1.world_to_camera(cam0.camera_to_world(points_cam0))
    flow = cam1.project_camera(points_cam1) - pixels
    bad = ~(torch.isfinite(depth_t.reshape(-1)) & (depth_t.reshape(-1) > 0) & (points_cam1[:, 2] > 0))
    flow[bad] = float("nan")
    return flow.reshape(h, w, 2).numpy().astype(np.float32)


# --------------------------------------------------------------------------------- renderer
@dataclasses.dataclass
class _MeshSlot:
    """GPU buffers of one mesh slot, reused frame after frame (they only ever grow)."""

    vbo: moderngl.Buffer
    ibo: moderngl.Buffer
    vao: moderngl.VertexArray
    indices: np.ndarray | None = None  # the index array last uploaded (skip re-uploading it)


class Rasterizer:
    """Renders camera-frame meshes at a fixed image size; create one per worker and reuse it.

    The context, shader program, render targets and per-mesh buffers are made once and reused
    (buffers only grow), so memory stays flat over any number of frames. Several rasterizers
    may live in one thread (each makes its context current while it works); a rasterizer is
    not thread-safe and must stay in the process that created it. Release it with
    :meth:`close` or a ``with`` block.

    Args:
        width, height: image size in pixels; every camera passed must have this ``image_size``.
        near, far: clip distances along camera z, metres.
        ctx: an OpenGL context to render with (not released by :meth:`close`); default: a new
            headless EGL context (:func:`simpose.render.context.create_context`).
    Raises:
        RenderError: no OpenGL context can be created here.
    """

    def __init__(
        self, width: int, height: int, *, near: float = 0.05, far: float = 100.0, ctx: moderngl.Context | None = None
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"image size must be positive, got {width}x{height}")
        if not 0 < near < far:
            raise ValueError(f"need 0 < near < far, got near={near}, far={far}")
        self.width, self.height, self.near, self.far = int(width), int(height), float(near), float(far)
        self._closed = True  # until every resource exists
        self._slots: list[_MeshSlot] = []
        # per mesh slot, the static inputs of the last frame and what was derived from them
        # (faces, labels and colours of a body do not change frame to frame)
        self._static: dict[int, tuple] = {}
        self._owns_ctx = ctx is None
        self._ctx = create_context() if ctx is None else ctx
        size = (self.width, self.height)
        try:
            with self._ctx:
                self._prog = self._ctx.program(
                    vertex_shader=_VERTEX_SHADER, geometry_shader=_GEOMETRY_SHADER, fragment_shader=_FRAGMENT_SHADER
                )
                self._targets = [self._ctx.texture(size, c, dtype=d) for c, d, _ in _TARGETS]
                self._depth_buffer = self._ctx.depth_renderbuffer(size)
                self._fbo = self._ctx.framebuffer(color_attachments=self._targets, depth_attachment=self._depth_buffer)
        except Exception as exc:
            if self._owns_ctx:
                self._ctx.release()  # releases everything made in it
            raise RenderError(f"could not set up the rasterizer's OpenGL resources: {exc}") from exc
        self._closed = False

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Release every OpenGL resource (and the context if this rasterizer created it)."""
        if self._closed:
            return
        self._closed = True
        with self._ctx:
            for slot in self._slots:
                for obj in (slot.vao, slot.vbo, slot.ibo):
                    obj.release()
            for obj in (self._fbo, self._depth_buffer, *self._targets, self._prog):
                obj.release()
        self._slots = []
        if self._owns_ctx:
            self._ctx.release()

    def __enter__(self) -> Rasterizer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # best effort; prefer close()
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter shutdown moderngl may be gone
            pass

    @property
    def ctx(self) -> moderngl.Context:
        return self._ctx

    # ------------------------------------------------------------------ rendering
    def rasterize(
        self,
        vertices_cam: ArrayLike | Sequence[ArrayLike],
        faces: ArrayLike | Sequence[ArrayLike],
        camera: Camera,
        *,
        colors: ArrayLike | Sequence[ArrayLike] | None = None,
        part_labels: ArrayLike | Sequence[ArrayLike] | None = None,
        vertices_next_cam: ArrayLike | Sequence[ArrayLike] | None = None,
        camera_next: Camera | None = None,
        normals: ArrayLike | Sequence[ArrayLike] | None = None,
        background: np.ndarray | None = None,
        lighting: Lighting | None = None,
        cull_back_faces: bool = False,
        barycentric: bool = True,
        static_inputs: bool = False,
    ) -> RasterOutput:
        """Render one frame of P meshes with mutual occlusion.

        Per-mesh arguments take one array for a single mesh, a (P, ...) array or a sequence of
        P arrays (in the order of ``vertices_cam``). One array of ``faces``, ``colors`` or
        ``part_labels`` is shared by every mesh. numpy or torch (moved to the CPU).

        Args:
            vertices_cam: (V, 3), (P, V, 3) or P x (V_p, 3) camera-frame positions, metres.
            faces: (F, 3) or per mesh (F_p, 3) int vertex indices.
            camera: pinhole camera of this frame (``K`` and ``image_size`` are used; the
                vertices are already in its frame).
            colors: per mesh (V, 3) albedo, uint8 or float in [0, 1], or (3,) for the whole
                mesh; default light grey.
            part_labels: per mesh (V,) integer part labels in 1..255 (0 is background).
            vertices_next_cam: per mesh (V, 3) positions at the next frame in the *next*
                camera's frame (same topology); gives ``flow``.
            camera_next: camera of the next frame (its ``K``); default ``camera``.
            normals: per mesh (V, 3) vertex normals; default area-weighted from the faces.
            background: (H, W, 3) uint8 image under the meshes; default black.
            lighting: directional + ambient light in the camera frame; default ``Lighting()``.
            cull_back_faces: skip triangles whose normal ``cross(v1 - v0, v2 - v0)`` points
                away from the camera. Faster for closed meshes wound counter-clockwise seen
                from outside (the body model's meshes); wrong for open or inconsistently
                wound ones, hence off by default.
            barycentric: read the barycentric target back (skip it when not needed: one
                read-back fewer).
            static_inputs: promise that ``faces``, ``colors`` and ``part_labels`` numpy arrays
                passed again as the same objects as in the previous call were not modified
                since: their checks, conversions, face labels and index upload are reused (a
                clip renders the same bodies frame after frame).
        Returns:
            The frame's :class:`RasterOutput`. ``flow`` is exact for piecewise-affine motion:
            each pixel's surface point is followed through the perspective-correct
            barycentric interpolation of the next positions and projected with ``camera_next``.
        """
        if self._closed:
            raise RenderError("this Rasterizer is closed")
        lighting = Lighting() if lighting is None else lighting
        w, h = self.width, self.height
        K = _pinhole_intrinsics(camera, (w, h))
        K_next = K if camera_next is None else _pinhole_intrinsics(camera_next, (w, h))
        if background is not None:
            background = np.asarray(background)
            if background.shape != (h, w, 3) or background.dtype != np.uint8:
                raise ValueError(f"background must be ({h}, {w}, 3) uint8, got {background.shape} {background.dtype}")
        meshes = _prepare_meshes(vertices_cam, faces, colors, part_labels, vertices_next_cam, normals, lighting, self._static if static_inputs else None)

        with self._ctx:
            self._draw(meshes, K, K_next, lighting, cull_back_faces)
            depth = self._read(_DEPTH)[..., 0]
            flow = self._read(_FLOW) if vertices_next_cam is not None else None
            bary = self._read(_BARY) if barycentric else None
            ids = self._read(_IDS)
            rgb = self._read(_COLOR)

        mask = ids[..., 0].astype(np.uint8)
        face_id = ids[..., 1] - 1
        covered = mask > 0
        if background is not None:  # without one, the cleared target is 0 off the meshes already
            np.copyto(rgb, background, where=~covered[..., None])
        parts = None
        if part_labels is not None:
            # the face labels of all meshes end to end; a pixel's row is its mesh's offset + face_id
            offsets = np.cumsum([0] + [len(m.face_labels) for m in meshes[:-1]])
            all_labels = np.concatenate([m.face_labels for m in meshes] + [np.zeros(0, np.uint8)])
            parts = np.zeros((h, w), np.uint8)
            parts[covered] = all_labels[offsets[mask[covered] - 1] + face_id[covered]]
        return RasterOutput(depth=depth, mask=mask, face_id=face_id, barycentric=bary, rgb=rgb, parts=parts, flow=flow)

    def _draw(
        self, meshes: list[_Mesh], K: np.ndarray, K_next: np.ndarray, lighting: Lighting, cull_back_faces: bool
    ) -> None:
        """Clear the targets and draw every mesh with its instance id (context current)."""
        ctx, prog, w, h = self._ctx, self._prog, self.width, self.height
        self._fbo.use()
        self._fbo.viewport = (0, 0, w, h)
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.depth_func = "<"
        ctx.disable(moderngl.BLEND)
        if cull_back_faces:
            # gl_projection mirrors the image vertically: camera-facing counter-clockwise
            # triangles arrive clockwise in window coordinates.
            ctx.enable(moderngl.CULL_FACE)
            ctx.front_face = "cw"
            ctx.cull_face = "back"
        else:
            ctx.disable(moderngl.CULL_FACE)
        self._fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)  # 0 in every target, float and integer
        prog["proj"].write(gl_projection(K, (w, h), self.near, self.far).T.astype("f4").tobytes())
        prog["K_next"].write(K_next.T.astype("f4").tobytes())
        direction = np.asarray(lighting.direction, np.float64)
        prog["light_dir"].value = tuple(direction / np.linalg.norm(direction))
        prog["light_color"].value = tuple(float(c) for c in lighting.color)
        prog["light_intensity"].value = float(lighting.intensity)
        prog["ambient"].value = float(lighting.ambient)
        for p, mesh in enumerate(meshes):
            if len(mesh.indices) == 0:
                continue
            slot = self._slot(p, mesh.records.nbytes, mesh.indices.nbytes)
            slot.vbo.write(mesh.records)
            if slot.indices is not mesh.indices:
                slot.ibo.write(mesh.indices)
                slot.indices = mesh.indices
            prog["instance_id"].value = p + 1
            slot.vao.render(moderngl.TRIANGLES, vertices=mesh.indices.size)

    def _read(self, target: int) -> np.ndarray:
        """A fresh, writable (H, W, C) array of one render target (row 0 = image top)."""
        _, gl_dtype, components = _TARGETS[target]
        out = np.empty((self.height, self.width, components), _NUMPY_DTYPES[gl_dtype])
        self._fbo.read_into(out, components=components, attachment=target, dtype=gl_dtype)
        return out

    def _slot(self, p: int, vbo_bytes: int, ibo_bytes: int) -> _MeshSlot:
        """The buffers of mesh slot ``p``, grown (never shrunk) to hold the given sizes."""
        while len(self._slots) <= p:
            vbo = self._ctx.buffer(reserve=_FLOATS_PER_VERTEX * 4 * 3, dynamic=True)
            ibo = self._ctx.buffer(reserve=3 * 4, dynamic=True)
            vao = self._ctx.vertex_array(
                self._prog, [(vbo, _VERTEX_FORMAT, *_VERTEX_ATTRIBUTES)], index_buffer=ibo, index_element_size=4
            )
            self._slots.append(_MeshSlot(vbo, ibo, vao))
        slot = self._slots[p]
        for buf, need in ((slot.vbo, vbo_bytes), (slot.ibo, ibo_bytes)):
            if buf.size < need:
                buf.orphan(max(need, 2 * buf.size))  # same buffer name: the VAO stays valid
                slot.indices = None  # orphaning dropped the contents
        return slot


# --------------------------------------------------------------------------------- inputs
@dataclasses.dataclass(frozen=True)
class _Mesh:
    """One mesh ready for the GPU."""

    records: np.ndarray  # (V, 12) float32: position, next position, albedo, normal
    indices: np.ndarray  # (F, 3) uint32
    face_labels: np.ndarray | None  # (F,) uint8


def _prepare_meshes(
    vertices_cam, faces, colors, part_labels, vertices_next_cam, normals, lighting: Lighting, static: dict | None = None
) -> list[_Mesh]:
    """Check and pack the per-mesh arguments of :meth:`Rasterizer.rasterize`.

    ``static`` (slot -> last inputs and results) lets a mesh whose ``faces``, ``colors`` and
    ``part_labels`` are the very same objects as in the previous call reuse their checked and
    converted forms (a clip renders one body topology frame after frame).
    """
    verts = _per_mesh(vertices_cam, "vertices_cam", None, 2)
    P = len(verts)
    if P > 255:
        raise ValueError(f"at most 255 meshes per image (uint8 mask), got {P}")
    faces_list = _per_mesh(faces, "faces", P, 2, shared=True)
    colors_list = _per_mesh(colors, "colors", P, 2, shared=True)
    labels_list = _per_mesh(part_labels, "part_labels", P, 1, shared=True)
    next_list = _per_mesh(vertices_next_cam, "vertices_next_cam", P, 2)
    normals_list = _per_mesh(normals, "normals", P, 2)
    meshes = []
    for p in range(P):
        x = _to_numpy(verts[p], np.float32)
        key = (faces_list[p], colors_list[p], labels_list[p], len(x))
        cached = static.get(p) if static is not None else None
        if cached is not None and all(a is b for a, b in zip(cached[0][:3], key[:3])) and cached[0][3] == key[3]:
            f, f32, albedo, labels = cached[1]
            V = _check_points(x, p)  # the faces were checked against this vertex count before
        else:
            f = _to_numpy(faces_list[p], np.int64)
            V = _check_vertices(x, f, p)
            f32 = f.astype(np.uint32)
            albedo = _albedo(colors_list[p], V, p)
            labels = None if part_labels is None else _face_labels(labels_list[p], f, V, p)
            if static is not None and all(isinstance(a, np.ndarray) or a is None for a in key[:3]):
                static[p] = (key, (f, f32, albedo, labels))  # numpy inputs only: torch may change in place
        records = np.empty((V, _FLOATS_PER_VERTEX), np.float32)
        records[:, 0:3] = x
        records[:, 3:6] = x if next_list[p] is None else _check_like(next_list[p], (V, 3), "vertices_next_cam", p)
        records[:, 6:9] = albedo
        if normals_list[p] is not None:
            records[:, 9:12] = _check_like(normals_list[p], (V, 3), "normals", p)
        elif lighting.intensity != 0:
            records[:, 9:12] = vertex_normals(x, f)
        else:  # no diffuse term: normals are not needed
            records[:, 9:12] = 0.0
        meshes.append(_Mesh(records, f32, labels))
    return meshes


# --------------------------------------------------------------------------------- helpers
def _to_numpy(x: ArrayLike, dtype) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _pinhole_intrinsics(camera: Camera, image_size: tuple[int, int]) -> np.ndarray:
    """(3, 3) float64 K of a single undistorted camera of the given image size."""
    if tuple(camera.image_size) != tuple(image_size):
        raise ValueError(f"camera.image_size {tuple(camera.image_size)} != rendered size {tuple(image_size)}")
    K = _to_numpy(camera.K, np.float64)
    if K.shape != (3, 3):
        raise ValueError(f"render one camera at a time: K must be (3, 3), got {K.shape}")
    if camera.dist is not None and bool((camera.dist != 0).any()):
        raise ValueError(
            "the rasterizer renders pinhole images only: pass a camera without distortion "
            "(dist=None) and distort the rendered image afterwards if needed"
        )
    if K[1, 0] != 0 or not np.array_equal(K[2], [0.0, 0.0, 1.0]):
        raise ValueError(f"K must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got {K.tolist()}")
    return K


def _per_mesh(x, name: str, P: int | None, ndim: int, shared: bool = False) -> list:
    """A per-mesh argument as a list of P entries (P None: as many as given).

    ``x`` is None (P Nones), an ``ndim``-D array (one mesh; repeated for every mesh when
    ``shared``), an ``ndim + 1``-D array or a sequence (one entry per mesh). Colours may also
    be one (3,) colour.
    """
    if x is None:
        return [None] * (P or 0)
    if isinstance(x, (np.ndarray, torch.Tensor)):
        if x.ndim == ndim or (name == "colors" and x.ndim == 1):
            if P not in (None, 1) and not shared:
                raise ValueError(f"{name}: got one array for {P} meshes; pass ({P}, ...) or {P} arrays")
            return [x] * (1 if P is None else P)
        if x.ndim != ndim + 1:
            raise ValueError(f"{name}: expected a {ndim}-D array per mesh, got shape {tuple(x.shape)}")
        meshes = list(x)
    elif isinstance(x, Sequence):
        meshes = list(x)
    else:
        raise TypeError(f"{name} must be an array or a sequence of arrays, got {type(x).__name__}")
    if P is not None and len(meshes) != P:
        raise ValueError(f"{name}: got {len(meshes)} arrays for {P} meshes")
    return meshes


def _check_points(x: np.ndarray, p: int) -> int:
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"mesh {p}: vertices must be (V, 3), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"mesh {p}: vertices contain NaN or inf")
    return len(x)


def _check_vertices(x: np.ndarray, f: np.ndarray, p: int) -> int:
    _check_points(x, p)
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"mesh {p}: faces must be (F, 3), got {f.shape}")
    if f.size and (f.min() < 0 or f.max() >= len(x)):
        raise ValueError(f"mesh {p}: face indices must lie in [0, {len(x)}), got [{f.min()}, {f.max()}]")
    return len(x)


def _check_like(a: ArrayLike, shape: tuple[int, ...], name: str, p: int) -> np.ndarray:
    a = _to_numpy(a, np.float32)
    if a.shape != shape:
        raise ValueError(f"mesh {p}: {name} must be {shape}, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"mesh {p}: {name} contains NaN or inf")
    return a


def _albedo(colors: ArrayLike | None, V: int, p: int) -> np.ndarray:
    """(V, 3) float32 albedo in [0, 1] from uint8 or float colours (per vertex or per mesh)."""
    if colors is None:
        return np.full((V, 3), 0.8, np.float32)
    c = colors.detach().cpu().numpy() if isinstance(colors, torch.Tensor) else np.asarray(colors)
    c = c.astype(np.float32) / 255.0 if c.dtype == np.uint8 else c.astype(np.float32)
    if c.shape == (3,):
        c = np.broadcast_to(c, (V, 3))
    if c.shape != (V, 3):
        raise ValueError(f"mesh {p}: colors must be ({V}, 3) or (3,), got {c.shape}")
    return c


def _face_labels(labels: ArrayLike | None, f: np.ndarray, V: int, p: int) -> np.ndarray:
    """(F,) uint8 majority label of each face's three vertices (first vertex on a tie)."""
    if labels is None:
        raise ValueError("part_labels: give labels for every mesh or for none")
    lab = _to_numpy(labels, np.int64)
    if lab.shape != (V,):
        raise ValueError(f"mesh {p}: part_labels must be ({V},), got {lab.shape}")
    if lab.size and (lab.min() < 1 or lab.max() > 255):
        raise ValueError(f"mesh {p}: part_labels must lie in 1..255 (0 is background), got [{lab.min()}, {lab.max()}]")
    a, b, c = lab[f[:, 0]], lab[f[:, 1]], lab[f[:, 2]]
    return np.where((b == c) & (a != b), b, a).astype(np.uint8)
