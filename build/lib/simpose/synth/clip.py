"""Render a sampled :class:`~simpose.synth.scene.Scene` into an annotated clip dict.

Outputs (the keys of :func:`simpose.data.synthetic.read_clip`), T frames, P people, S pixels:

* ``rgb`` (T,S,S,3) uint8, ``mask`` (T,S,S) uint8 instance id 1..P (0 background), ``parts``
  (T,S,S) uint8 part id of :mod:`simpose.render.parts`, ``depth`` (T,S,S) float32 metres (0 on
  background), ``K`` (T,3,3).
* ``flow`` (T-1,S,S,2) float32 forward flow t -> t+1 in pixels. Person pixels: the rasterizer's
  exact flow (frame t+1 vertices in camera t+1). Background pixels: the background image is a
  textured plane facing camera 0 at ``scene.far_depth``; every frame's background is that plane
  seen by the frame's camera, i.e. the frame-0 image through the plane's homography
  (:func:`plane_homography`, one ``cv2.warpPerspective``), and its flow is the homography from
  frame t to t+1 applied to the pixel grid (= :func:`~simpose.render.raster.background_flow`
  with the plane's depth; ``tests/synth`` checks the two agree). Occluder pixels: the card's
  velocity (:mod:`simpose.synth.occluders`).
* ``joints3d`` set -> (T,P,J,3) camera frame metres; ``joints2d`` set -> (T,P,J,2) their
  projection with ``K``; ``visible`` set -> (T,P,J) bool: the joint projects inside the image, is in
  front of the camera, and in the 3x3 pixels around its projection some pixel shows the same
  person no more than ``visibility_tol`` (15 cm, about a torso's half-depth) in front of the joint
  (:func:`joint_visible`). Joints lie inside the body, so their depth is compared with the depth
  buffer with that tolerance; other people, and the body's own limbs or torso further in front,
  occlude. ``occlusion`` set -> (T,P,J) uint8 says why a joint is not visible
  (:data:`OCCLUSION_CODES`): 1 outside the image or behind the camera, 2 self-occluded, 3
  occluded by another person (some pixel of the 3x3 block shows another person in front of the
  joint), 4 occluded by an occluder (visible before the occluders were pasted, not after); 0 visible.
* ``body``: world-frame parameters (y down, floor y = 0): ``pose_rotvecs`` (T,P,19,3),
  ``global_rotvecs`` (T,P,3), ``trans`` (T,P,3), ``shape_params`` (P,6); the cameras' world
  extrinsics are ``meta['camera_R']`` (T,3,3) and ``meta['camera_t']`` (T,3).

Speed: bodies come posed from the scene (float32 skinning); camera transforms, vertex normals
(a sparse vertex-face incidence product), the joints of every set (one product over the few
vertices and bone heads the regressors read) are batched over the clip; only the
rasterization and the background warp run per frame.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from simpose.body.joints import JOINT_SETS
from simpose.body.model import BodyModel
from simpose.camera import Camera
from simpose.render.raster import Rasterizer
from simpose.synth.scene import Scene

__all__ = [
    "ClipRenderer",
    "render_clip",
    "plane_depth",
    "plane_homography",
    "joint_visible",
    "occlusion_reason",
    "OCCLUSION_CODES",
]

OCCLUSION_CODES = {0: "visible", 1: "outside the image", 2: "self-occluded", 3: "occluded by another person", 4: "occluded by an occluder"}  # fmt: skip


def plane_depth(scene: Scene, camera: Camera) -> np.ndarray:
    """(S, S) depth (metres, camera frame) of the background plane seen by ``camera``.

    The plane faces camera 0 at depth ``scene.far_depth``; NaN where a ray misses it.
    """
    cam0 = scene.camera(0)
    n = cam0.R[2].numpy()  # camera 0's optical axis, world frame
    c0, c = cam0.position.numpy(), camera.position.numpy()
    S = scene.size
    v, u = np.mgrid[0:S, 0:S].astype(np.float64)
    rays = np.stack([u, v, np.ones_like(u)], -1) @ np.linalg.inv(camera.K.numpy()).T  # z = 1
    denom = rays @ (camera.R.numpy() @ n)  # n . R^T r
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (scene.far_depth + n @ (c0 - c)) / denom
    z[~(z > 0)] = np.nan
    return z


def plane_homography(scene: Scene, cam_a: Camera, cam_b: Camera) -> np.ndarray:
    """(3, 3) homography taking pixels of ``cam_a`` to pixels of ``cam_b`` through the background plane.

    The plane is ``n . X = d0`` (world), ``n`` camera 0's optical axis, ``d0 = n . c0 + far_depth``.
    A pixel's ray ``X = c_a + s R_a^T r`` meets it at ``s = (d0 - n . c_a) / ((R_a n) . r)``, so
    ``x_b ~ K_b [R_b R_a^T + (R_b c_a + t_b) (R_a n)^T / (d0 - n . c_a)] K_a^-1 x_a``.
    """
    cam0 = scene.camera(0)
    return _homography(cam0.R.numpy()[2], cam0.position.numpy(), scene.far_depth, cam_a, cam_b)


def _homography(n: np.ndarray, c0: np.ndarray, far_depth: float, cam_a: Camera, cam_b: Camera) -> np.ndarray:
    """:func:`plane_homography` for the plane of normal ``n`` at ``far_depth`` in front of ``c0``."""
    d0 = float(n @ c0) + far_depth
    Ra, Rb, tb = cam_a.R.numpy(), cam_b.R.numpy(), cam_b.t.numpy()
    ca = cam_a.position.numpy()
    Ka = cam_a.K.numpy()
    fx, s, cx, fy, cy = Ka[0, 0], Ka[0, 1], Ka[0, 2], Ka[1, 1], Ka[1, 2]
    Ka_inv = np.array([[1 / fx, -s / (fx * fy), (s * cy - cx * fy) / (fx * fy)], [0, 1 / fy, -cy / fy], [0, 0, 1.0]])
    H = cam_b.K.numpy() @ (Rb @ Ra.T + np.outer(Rb @ ca + tb, Ra @ n) / (d0 - n @ ca)) @ Ka_inv
    return H / H[2, 2]


def _homography_flow(H: np.ndarray, size: int) -> np.ndarray:
    """(S, S, 2) float32: where each pixel goes under ``H``, minus the pixel."""
    u = np.arange(size, dtype=np.float64)[None, :]
    v = np.arange(size, dtype=np.float64)[:, None]
    w = H[2, 0] * u + H[2, 1] * v + H[2, 2]
    out = np.empty((size, size, 2), np.float32)
    out[..., 0] = (H[0, 0] * u + H[0, 1] * v + H[0, 2]) / w - u
    out[..., 1] = (H[1, 0] * u + H[1, 1] * v + H[1, 2]) / w - v
    return out


class ClipRenderer:
    """Renders scenes into annotated clip dicts; make one per worker and reuse it.

    Args:
        body: the body model that posed the scenes. rasterizer: S x S.
        part_labels: (V,) uint8 part ids. joint_sets: names of ``JOINT_SETS`` to annotate.
        visibility_tol: depth tolerance of the visibility test, metres (:func:`joint_visible`).
        config: a :class:`~simpose.synth.scene.SceneConfig` whose degradations (motion blur,
            noise, JPEG) to apply; None = none.
    """

    def __init__(
        self,
        body: BodyModel,
        rasterizer: Rasterizer,
        part_labels: np.ndarray,
        joint_sets: tuple[str, ...] = tuple(JOINT_SETS),
        visibility_tol: float = 0.15,
        config=None,
    ) -> None:
        from simpose.body.regressors import build_regressor

        self.body, self.rasterizer, self.part_labels = body, rasterizer, np.asarray(part_labels)
        self.joint_sets, self.visibility_tol, self.config = tuple(joint_sets), visibility_tol, config
        self.faces = np.ascontiguousarray(body.faces.numpy())
        self._corners = np.ascontiguousarray(self.faces.T)  # (3, F): np.take beats fancy indexing
        V, F = body.num_vertices, len(self.faces)
        # vertex <- face incidence: vertex normals = incidence @ face normals (area weighted)
        self._incidence = sp.csr_matrix(
            (np.ones(3 * F, np.float32), (self.faces.T.ravel(), np.tile(np.arange(F), 3))), shape=(V, F)
        )
        W = torch.cat([build_regressor(body, name) for name in self.joint_sets]).double().numpy()
        self._sizes = [len(JOINT_SETS[name]) for name in self.joint_sets]
        support = np.nonzero(np.abs(W).sum(0) > 0)[0]
        self._support_v, self._support_h = support[support < V], support[support >= V] - V
        self._W_v, self._W_h = W[:, self._support_v], W[:, V + self._support_h]

    def joints_world(self, vertices: np.ndarray, bone_heads: np.ndarray) -> list[np.ndarray]:
        """Per joint set, (T, J, 3) world joints of one posed person ((T, V, 3), (T, NB, 3))."""
        T = len(vertices)
        x = np.take(vertices, self._support_v, axis=1).astype(np.float64).transpose(1, 0, 2).reshape(-1, T * 3)
        h = np.take(bone_heads, self._support_h, axis=1).transpose(1, 0, 2).reshape(-1, T * 3)
        j = (self._W_v @ x + self._W_h @ h).reshape(-1, T, 3).transpose(1, 0, 2)
        return np.split(j, np.cumsum(self._sizes)[:-1], axis=1)

    def vertex_normals(self, verts: np.ndarray) -> np.ndarray:
        """(T, V, 3) float32 area-weighted unit normals of (T, V, 3) vertices (as ``raster.vertex_normals``)."""
        T = len(verts)
        f = self.faces
        v0, v1, v2 = (np.take(verts, c, axis=1) for c in self._corners)
        a, b = v1 - v0, v2 - v0
        fn = np.empty_like(a)  # cross(a, b), (T, F, 3): length = twice the area
        fn[..., 0] = a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1]
        fn[..., 1] = a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2]
        fn[..., 2] = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
        n = (self._incidence @ fn.transpose(1, 0, 2).reshape(len(f), T * 3)).reshape(-1, T, 3).transpose(1, 0, 2)
        length = np.linalg.norm(n, axis=-1, keepdims=True)
        return np.divide(n, length, out=np.zeros_like(n), where=length > 0).astype(np.float32)

    def render(self, scene: Scene) -> dict:
        """Render every frame of ``scene`` with all annotations (module docstring).

        Returns:
            dict with ``rgb mask parts depth flow K joints3d joints2d visible occlusion body``,
            ``camera_R camera_t`` and ``degradations`` (no ``meta``).
        """
        import cv2

        T = scene.eyes.shape[0]
        S = scene.size
        cams = [scene.camera(t) for t in range(T)]
        Rs = np.stack([c.R.numpy() for c in cams])
        ts = np.stack([c.t.numpy() for c in cams])
        R32, t32 = Rs.astype(np.float32), ts.astype(np.float32)
        # (P, T, V, 3) camera-frame vertices and normals
        verts_cam = [np.ascontiguousarray(p.vertices @ R32.transpose(0, 2, 1) + t32[:, None]) for p in scene.people]
        normals = [
            self.vertex_normals(v) if p.normals is None else np.ascontiguousarray(p.normals @ R32.transpose(0, 2, 1))
            for v, p in zip(verts_cam, scene.people)
        ]
        colors = [p.appearance.colors for p in scene.people]

        rgb = np.zeros((T, S, S, 3), np.uint8)
        mask = np.zeros((T, S, S), np.uint8)
        parts = np.zeros((T, S, S), np.uint8)
        depth = np.zeros((T, S, S), np.float32)
        flow = np.zeros((max(T - 1, 0), S, S, 2), np.float32)
        n0, c0 = Rs[0][2], cams[0].position.numpy()
        for t in range(T):
            nxt = t + 1 < T
            to0 = _homography(n0, c0, scene.far_depth, cams[t], cams[0])
            background = cv2.warpPerspective(
                scene.background, to0, (S, S), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT_101
            )
            out = self.rasterizer.rasterize(
                [v[t] for v in verts_cam],
                self.faces,
                cams[t],
                colors=colors,
                part_labels=self.part_labels,
                vertices_next_cam=[v[t + 1] for v in verts_cam] if nxt else None,
                camera_next=cams[t + 1] if nxt else None,
                normals=[n[t] for n in normals],
                background=background,
                lighting=scene.lighting,
                cull_back_faces=True,
                barycentric=False,
                static_inputs=True,
            )
            rgb[t], mask[t], parts[t], depth[t] = out.rgb, out.mask, out.parts, out.depth
            if nxt:
                bg = _homography_flow(_homography(n0, c0, scene.far_depth, cams[t], cams[t + 1]), S)
                flow[t] = np.where(out.mask[..., None] > 0, np.nan_to_num(out.flow), bg)

        K = np.repeat(scene.K[None], T, axis=0)
        per_person = [self.joints_world(p.vertices, p.bone_heads) for p in scene.people]
        j3s, j2s = [], []
        for k in range(len(self.joint_sets)):
            j3 = np.stack([np.einsum("tij,tkj->tki", Rs, pp[k]) + ts[:, None] for pp in per_person], axis=1)
            z = j3[..., 2:3]
            j2s.append(np.einsum("ij,tpkj->tpki", scene.K, j3 / np.where(np.abs(z) > 1e-9, z, 1e-9))[..., :2])
            j3s.append(j3)
        people_mask, people_depth = mask.copy(), depth.copy()
        covered = None
        if scene.occluders:
            from simpose.synth.occluders import paste_occluders

            covered = paste_occluders(scene.occluders, rgb, mask, parts, depth, flow)
        joints3d, joints2d, visible, occlusion = {}, {}, {}, {}
        for name, j3, j2 in zip(self.joint_sets, j3s, j2s):
            code = occlusion_reason(j3, j2, people_mask, people_depth, mask, depth, self.visibility_tol)
            joints3d[name], joints2d[name], visible[name], occlusion[name] = j3, j2, code == 0, code
        degradations: dict = {}
        if self.config is not None:
            from simpose.synth.degrade import degrade

            rgb, degradations = degrade(rgb, flow, self.config, np.random.default_rng(scene.degrade_seed))
        body_params = {
            "pose_rotvecs": np.stack([p.pose_rotvecs for p in scene.people], 1).astype(np.float32),
            "global_rotvecs": np.stack([p.global_rotvecs for p in scene.people], 1).astype(np.float32),
            "trans": np.stack([p.trans for p in scene.people], 1).astype(np.float32),
            "shape_params": np.stack([p.shape_params for p in scene.people]).astype(np.float32),
        }
        return {
            "rgb": rgb, "mask": mask, "parts": parts, "depth": depth, "flow": flow,
            "K": K, "joints3d": joints3d, "joints2d": joints2d, "visible": visible, "occlusion": occlusion,
            "body": body_params, "camera_R": Rs, "camera_t": ts, "degradations": degradations,
            "occluder_pixels": None if covered is None else covered,
        }  # fmt: skip


def render_clip(
    scene: Scene,
    body: BodyModel,
    rasterizer: Rasterizer,
    part_labels: np.ndarray,
    joint_sets: tuple[str, ...] = tuple(JOINT_SETS),
    visibility_tol: float = 0.15,
) -> dict:
    """One-off :meth:`ClipRenderer.render` (no degradations); reuse a :class:`ClipRenderer` for many clips."""
    return ClipRenderer(body, rasterizer, part_labels, joint_sets, visibility_tol).render(scene)


def joint_visible(
    joints3d: np.ndarray, joints2d: np.ndarray, mask: np.ndarray, depth: np.ndarray, tol: float = 0.15
) -> np.ndarray:
    """Occlusion test of joints against the rendered instance mask and depth buffer.

    Args:
        joints3d: (T, P, J, 3) camera frame, metres. joints2d: (T, P, J, 2) pixels.
        mask: (T, H, W) instance ids 1..P. depth: (T, H, W) metres.
        tol: how far in front of the joint the person's own visible surface may be, metres.
    Returns:
        (T, P, J) bool: some pixel of the 3x3 block at the rounded projection belongs to person
        p and has ``depth >= z_joint - tol``. (Image bounds are checked by the caller.)
    """
    return _block_test(joints3d, joints2d, mask, depth, tol, other=False)


def _block_test(joints3d, joints2d, mask, depth, tol, other: bool) -> np.ndarray:
    """Some pixel of the 3x3 block shows the joint's own person within ``tol`` (``other`` False), or
    another person more than ``tol`` in front of the joint (``other`` True)."""
    T, P, J, _ = joints3d.shape
    H, W = mask.shape[1:]
    u = np.rint(np.nan_to_num(joints2d[..., 0], nan=-10)).clip(-10, W + 10).astype(np.int64)
    v = np.rint(np.nan_to_num(joints2d[..., 1], nan=-10)).clip(-10, H + 10).astype(np.int64)
    tt = np.arange(T)[:, None, None]
    pid = (np.arange(P) + 1)[None, :, None]
    out = np.zeros((T, P, J), bool)
    for dv in (-1, 0, 1):
        for du in (-1, 0, 1):
            uu, vv = u + du, v + dv
            inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
            uu, vv = np.clip(uu, 0, W - 1), np.clip(vv, 0, H - 1)
            m, d = mask[tt, vv, uu], depth[tt, vv, uu]
            if other:
                ok = (m > 0) & (m != pid) & (d < joints3d[..., 2] - tol)
            else:
                ok = (m == pid) & (d >= joints3d[..., 2] - tol)
            out |= inside & ok
    return out


def occlusion_reason(
    joints3d: np.ndarray,
    joints2d: np.ndarray,
    people_mask: np.ndarray,
    people_depth: np.ndarray,
    mask: np.ndarray,
    depth: np.ndarray,
    tol: float = 0.15,
) -> np.ndarray:
    """Why each joint is or is not seen (:data:`OCCLUSION_CODES`).

    Args:
        joints3d: (T, P, J, 3) camera frame. joints2d: (T, P, J, 2) pixels.
        people_mask, people_depth: (T, H, W) the people alone (before occluders).
        mask, depth: (T, H, W) the final buffers (occluders pasted).
        tol: :func:`joint_visible`'s tolerance, metres.
    Returns:
        (T, P, J) uint8: 0 visible, 1 outside the image or behind the camera, 2 self-occluded,
        3 occluded by another person, 4 occluded by an occluder.
    """
    H, W = mask.shape[1:]
    u, v = joints2d[..., 0], joints2d[..., 1]
    inside = (joints3d[..., 2] > 0) & (u >= -0.5) & (u < W - 0.5) & (v >= -0.5) & (v < H - 0.5)
    seen_people = inside & joint_visible(joints3d, joints2d, people_mask, people_depth, tol)
    seen = seen_people & joint_visible(joints3d, joints2d, mask, depth, tol)
    by_other = _block_test(joints3d, joints2d, people_mask, people_depth, tol, other=True)
    code = np.full(seen.shape, 2, np.uint8)
    code[by_other] = 3
    code[seen_people & ~seen] = 4
    code[~inside] = 1
    code[seen] = 0
    return code
