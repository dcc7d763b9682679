"""Render a sampled :class:`~simpose.synth.scene.Scene` into an annotated clip dict.

Outputs (the keys of :func:`simpose.data.synthetic.read_clip`), T frames, P people, S pixels:

* ``rgb`` (T,S,S,3) uint8, ``mask`` (T,S,S) uint8 instance id 1..P (0 background), ``parts``
  (T,S,S) uint8 part id of :mod:`simpose.render.parts`, ``depth`` (T,S,S) float32 metres (0 on
  background), ``K`` (T,3,3).
* ``flow`` (T-1,S,S,2) float32 forward flow t -> t+1 in pixels. Person pixels: the rasterizer's
  exact flow (frame t+1 vertices in camera t+1). Background pixels: the background image is a
  textured plane facing camera 0 at ``scene.far_depth``; every frame's background is that plane
  seen by the frame's camera (a re-projection of the frame-0 image), so its flow is
  :func:`~simpose.render.raster.background_flow` with the plane's per-pixel depth (computed
  here in numpy for speed; ``tests/synth`` checks the two agree).
* ``joints3d`` set -> (T,P,J,3) camera frame metres; ``joints2d`` set -> (T,P,J,2) their
  projection with ``K``; ``visible`` set -> (T,P,J) bool: the joint projects inside the image, is in
  front of the camera, and in the 3x3 pixels around its projection some pixel shows the same
  person no more than ``visibility_tol`` (15 cm, about a torso's half-depth) in front of the joint
  (:func:`joint_visible`). Joints lie inside the body, so their depth is compared with the depth
  buffer with that tolerance; other people, and the body's own limbs or torso further in front,
  occlude.
* ``body``: world-frame parameters (y down, floor y = 0): ``pose_rotvecs`` (T,P,19,3),
  ``global_rotvecs`` (T,P,3), ``trans`` (T,P,3), ``shape_params`` (P,6); the cameras' world
  extrinsics are ``meta['camera_R']`` (T,3,3) and ``meta['camera_t']`` (T,3).
"""

from __future__ import annotations

import numpy as np
import torch

from simpose.body.joints import JOINT_SETS
from simpose.body.model import BodyModel
from simpose.camera import Camera
from simpose.render.raster import Rasterizer
from simpose.synth.scene import Scene

__all__ = ["render_clip", "plane_depth", "background_frame", "joint_visible"]


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


def _plane_pixels(scene: Scene, camera: Camera, depth: np.ndarray, other: Camera) -> np.ndarray:
    """(S, S, 2) where each pixel's background-plane point lands in ``other`` (pinhole, numpy)."""
    S = scene.size
    v, u = np.mgrid[0:S, 0:S].astype(np.float64)
    d = np.nan_to_num(depth, nan=scene.far_depth)
    K, R, t = camera.K.numpy(), camera.R.numpy(), camera.t.numpy()
    Ko, Ro, to = other.K.numpy(), other.R.numpy(), other.t.numpy()
    x = (u - K[0, 2] - K[0, 1] * (v - K[1, 2]) / K[1, 1]) / K[0, 0]
    y = (v - K[1, 2]) / K[1, 1]
    cam_pts = np.stack([x * d, y * d, d], -1)
    world = (cam_pts - t) @ R  # R^T (X_c - t)
    q = world @ (Ko @ Ro).T + Ko @ to
    return q[..., :2] / q[..., 2:]


def background_frame(scene: Scene, camera: Camera, depth: np.ndarray) -> np.ndarray:
    """(S, S, 3) uint8: the frame-0 background re-projected into ``camera`` (reflected at the edges)."""
    import cv2

    p0 = _plane_pixels(scene, camera, depth, scene.camera(0)).astype(np.float32)
    return cv2.remap(scene.background, p0[..., 0], p0[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def render_clip(
    scene: Scene,
    body: BodyModel,
    rasterizer: Rasterizer,
    part_labels: np.ndarray,
    joint_sets: tuple[str, ...] = tuple(JOINT_SETS),
    visibility_tol: float = 0.15,
) -> dict:
    """Render every frame of ``scene`` with all annotations (module docstring).

    Args:
        scene: the sampled scene. body: the body model that posed it. rasterizer: S x S.
        part_labels: (V,) uint8 part ids. joint_sets: names of ``JOINT_SETS`` to annotate.
        visibility_tol: depth tolerance of the visibility test, metres (:func:`joint_visible`).
    Returns:
        dict with ``rgb mask parts depth flow K joints3d joints2d visible body`` (no ``meta``).
    """
    T = scene.eyes.shape[0]
    P, S = len(scene.people), scene.size
    faces = body.faces.numpy()
    cams = [scene.camera(t) for t in range(T)]
    Rs = np.stack([c.R.numpy() for c in cams])
    ts = np.stack([c.t.numpy() for c in cams])
    # (T, P, V, 3) camera-frame vertices
    verts_cam = np.stack([np.einsum("tij,tvj->tvi", Rs, p.vertices) + ts[:, None] for p in scene.people], axis=1)
    colors = [p.appearance.colors for p in scene.people]

    rgb = np.zeros((T, S, S, 3), np.uint8)
    mask = np.zeros((T, S, S), np.uint8)
    parts = np.zeros((T, S, S), np.uint8)
    depth = np.zeros((T, S, S), np.float32)
    flow = np.zeros((max(T - 1, 0), S, S, 2), np.float32)
    plane = [plane_depth(scene, c) for c in cams]
    for t in range(T):
        nxt = t + 1 < T
        out = rasterizer.rasterize(
            [v.astype(np.float32) for v in verts_cam[t]],
            faces,
            cams[t],
            colors=colors,
            part_labels=part_labels,
            vertices_next_cam=[v.astype(np.float32) for v in verts_cam[t + 1]] if nxt else None,
            camera_next=cams[t + 1] if nxt else None,
            background=background_frame(scene, cams[t], plane[t]),
            lighting=scene.lighting,
            cull_back_faces=True,
        )
        rgb[t], mask[t], parts[t], depth[t] = out.rgb, out.mask, out.parts, out.depth
        if nxt:
            # = background_flow(plane depth, cams[t], cams[t + 1]) for these pinhole cameras, in numpy
            bg = _plane_pixels(scene, cams[t], plane[t], cams[t + 1]) - np.stack(np.mgrid[0:S, 0:S][::-1], -1)
            bg = np.nan_to_num(bg)
            flow[t] = np.where(out.mask[..., None] > 0, np.nan_to_num(out.flow), bg)

    K = np.repeat(scene.K[None], T, axis=0)
    joints3d, joints2d, visible = {}, {}, {}
    for name in joint_sets:
        j3 = []
        for p, person in enumerate(scene.people):
            out = _joints_world(body, person, name)
            j3.append(np.einsum("tij,tkj->tki", Rs, out) + ts[:, None])
        j3 = np.stack(j3, axis=1)  # (T, P, J, 3)
        z = j3[..., 2:3]
        j2 = np.einsum("ij,tpkj->tpki", scene.K, j3 / np.where(np.abs(z) > 1e-9, z, 1e-9))[..., :2]
        vis = (j3[..., 2] > 0) & (j2[..., 0] >= -0.5) & (j2[..., 0] < S - 0.5) & (j2[..., 1] >= -0.5) & (j2[..., 1] < S - 0.5)
        vis &= joint_visible(j3, j2, mask, depth, visibility_tol)
        joints3d[name], joints2d[name], visible[name] = j3, j2, vis
    body_params = {
        "pose_rotvecs": np.stack([p.pose_rotvecs for p in scene.people], 1).astype(np.float32),
        "global_rotvecs": np.stack([p.global_rotvecs for p in scene.people], 1).astype(np.float32),
        "trans": np.stack([p.trans for p in scene.people], 1).astype(np.float32),
        "shape_params": np.stack([p.shape_params for p in scene.people]).astype(np.float32),
    }
    return {
        "rgb": rgb, "mask": mask, "parts": parts, "depth": depth, "flow": flow,
        "K": K, "joints3d": joints3d, "joints2d": joints2d, "visible": visible,
        "body": body_params, "camera_R": Rs, "camera_t": ts,
    }  # fmt: skip


def _joints_world(body: BodyModel, person, name: str) -> np.ndarray:
    """(T, J, 3) world joints of ``name`` for a person, regressed from the posed mesh."""
    with torch.no_grad():
        j = body.regress(name, torch.as_tensor(person.vertices), torch.as_tensor(person.bone_heads))
    return j.numpy()


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
            ok = (mask[tt, vv, uu] == pid) & (depth[tt, vv, uu] >= joints3d[..., 2] - tol)
            out |= inside & ok
    return out
