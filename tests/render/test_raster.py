"""The rasterizer against closed-form references: projected polygons, plane depths, rigid-motion
flow, a torch implementation of background flow, Lambert shading, and warping by the flow.

Images are small (64x48, not square, off-centre principal point, fx != fy) so that a mix-up of
width and height, x and y, or of the half-pixel convention shows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from simpose.camera import Camera
from simpose.render.context import RenderError
from simpose.render.raster import (
    Lighting,
    Rasterizer,
    background_flow,
    gl_projection,
    vertex_normals,
    vertex_visible,
)

W, H = 64, 48
FX, FY, CX, CY = 50.0, 45.0, 30.3, 22.6
# Tolerances: geometry through the GPU is float32.
DEPTH_RTOL = 1e-5
FLOW_ATOL = 2e-3  # pixels
BARY_ATOL = 1e-4


def make_camera(fx: float = FX, fy: float = FY) -> Camera:
    return Camera.from_intrinsics((fx, fy), (W, H), center=(CX, CY), dtype=torch.float64)


CAM = make_camera()


def quad(x0: float, x1: float, y0: float, y1: float, z: float | tuple) -> tuple[np.ndarray, np.ndarray]:
    """A rectangle in the camera frame, wound counter-clockwise seen from the camera.

    ``z`` is one depth or the four corner depths (x0y0, x1y0, x1y1, x0y1).
    """
    zs = (z,) * 4 if np.isscalar(z) else z
    v = np.array([[x0, y0, zs[0]], [x1, y0, zs[1]], [x1, y1, zs[2]], [x0, y1, zs[3]]], np.float64)
    f = np.array([[0, 2, 1], [0, 3, 2]])
    return v, f


def grid(n: int, half: float, z: float) -> tuple[np.ndarray, np.ndarray]:
    """An n x n vertex grid over [-half, half]^2 at depth z, two triangles per cell."""
    s = np.linspace(-half, half, n)
    xx, yy = np.meshgrid(s, s)
    v = np.stack([xx.ravel(), yy.ravel(), np.full(n * n, z)], axis=1)
    i = np.arange(n * n).reshape(n, n)[:-1, :-1].ravel()
    f = np.concatenate([np.stack([i, i + n + 1, i + 1], 1), np.stack([i, i + n, i + n + 1], 1)])
    return v, f


def project(points: np.ndarray, fx: float = FX, fy: float = FY) -> np.ndarray:
    return np.stack([fx * points[:, 0] / points[:, 2] + CX, fy * points[:, 1] / points[:, 2] + CY], axis=1)


def pixel_centres() -> tuple[np.ndarray, np.ndarray]:
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    return u, v


def inside_triangle(tri_px: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres strictly inside a projected triangle, and those within ``margin`` px of an edge."""
    u, v = pixel_centres()
    signed = []
    for a, b in ((0, 1), (1, 2), (2, 0)):
        d = tri_px[b] - tri_px[a]
        signed.append(((u - tri_px[a, 0]) * d[1] - (v - tri_px[a, 1]) * d[0]) / np.hypot(*d))
    signed = np.stack(signed)
    signed *= np.sign(signed.sum(0, keepdims=True).mean())  # orientation-free
    inside = (signed > 0).all(0)
    near_edge = (np.abs(signed) < margin).any(0)
    return inside, near_edge


def bilinear(image: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Sample an (H, W, C) image at float pixel positions (clamped at the border)."""
    u = np.clip(u, 0, image.shape[1] - 1.001)
    v = np.clip(v, 0, image.shape[0] - 1.001)
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    a, b = (u - u0)[..., None], (v - v0)[..., None]
    im = image.astype(np.float64)
    return (
        im[v0, u0] * (1 - a) * (1 - b)
        + im[v0, u0 + 1] * a * (1 - b)
        + im[v0 + 1, u0] * (1 - a) * b
        + im[v0 + 1, u0 + 1] * a * b
    )


@pytest.fixture(scope="module")
def raster():
    try:
        r = Rasterizer(W, H, near=0.05, far=100.0)
    except RenderError as exc:
        pytest.skip(f"no headless OpenGL here: {exc}")
    yield r
    r.close()


# ------------------------------------------------------------------------------ projection
def test_gl_projection_lands_on_opencv_pixels():
    rng = np.random.default_rng(0)
    K = np.array([[FX, 0.7, CX], [0.0, FY, CY], [0.0, 0.0, 1.0]])
    P = gl_projection(K, (W, H), 0.05, 100.0)
    X = rng.uniform([-2, -2, 0.5], [2, 2, 50], size=(100, 3))
    clip = np.concatenate([X, np.ones((100, 1))], 1) @ P.T
    ndc = clip[:, :3] / clip[:, 3:]
    window = np.stack([(ndc[:, 0] + 1) / 2 * W, (ndc[:, 1] + 1) / 2 * H], 1)
    uv = (X @ K.T)[:, :2] / X[:, 2:]
    np.testing.assert_allclose(window - 0.5, uv, atol=1e-9)
    # depth: near -> -1, far -> 1
    for z, expected in ((0.05, -1.0), (100.0, 1.0)):
        c = P @ np.array([0.0, 0.0, z, 1.0])
        assert c[2] / c[3] == pytest.approx(expected)


# ------------------------------------------------------------------------------ coverage, depth, ids
def test_quad_coverage_and_depth(raster):
    z = 2.5
    # corners chosen so that no edge passes within 0.2 px of a pixel centre
    v, f = quad(-0.7, 0.5, -0.6, 0.45, z)
    out = raster.rasterize(v, f, CAM)
    px = project(v)
    u, vv = pixel_centres()
    expected = (u > px[:, 0].min()) & (u < px[:, 0].max()) & (vv > px[:, 1].min()) & (vv < px[:, 1].max())
    np.testing.assert_array_equal(out.mask, expected.astype(np.uint8))
    assert out.mask.dtype == np.uint8 and out.depth.dtype == np.float32 and out.face_id.dtype == np.int32
    np.testing.assert_allclose(out.depth[expected], z, rtol=DEPTH_RTOL)
    assert (out.depth[~expected] == 0).all() and (out.face_id[~expected] == -1).all()
    assert set(np.unique(out.face_id[expected])) == {0, 1}
    assert (out.barycentric[~expected] == 0).all()
    assert out.flow is None and out.parts is None


def test_triangle_coverage_and_barycentrics(raster):
    v = np.array([[-0.8, -0.5, 2.0], [0.7, -0.3, 3.5], [0.1, 0.6, 2.7]])  # slanted in depth
    f = np.array([[0, 1, 2]])
    out = raster.rasterize(v, f, CAM)
    inside, near_edge = inside_triangle(project(v), margin=1e-2)
    covered = out.mask > 0
    assert inside.sum() > 200
    np.testing.assert_array_equal(covered[~near_edge], inside[~near_edge])
    # barycentrics are perspective-correct: their 3D point lies on the pixel's ray
    b = out.barycentric[covered].astype(np.float64)
    np.testing.assert_allclose(b.sum(1), 1.0, atol=BARY_ATOL)
    assert (b > -BARY_ATOL).all()
    points = b @ v
    u, vv = pixel_centres()
    np.testing.assert_allclose(project(points), np.stack([u[covered], vv[covered]], 1), atol=5e-3)
    np.testing.assert_allclose(out.depth[covered], points[:, 2], rtol=DEPTH_RTOL)


def test_tilted_plane_depth(raster):
    # plane through the quad's corners: z = 3 + 0.8 x - 0.5 y
    corners = [(-0.6, -0.5), (0.6, -0.5), (0.6, 0.5), (-0.6, 0.5)]
    zs = tuple(3.0 + 0.8 * x - 0.5 * y for x, y in corners)
    v, f = quad(-0.6, 0.6, -0.5, 0.5, zs)
    out = raster.rasterize(v, f, CAM)
    covered = out.mask > 0
    u, vv = pixel_centres()
    rx, ry = (u - CX) / FX, (vv - CY) / FY  # ray (rx, ry, 1): z = 3 + 0.8 rx z - 0.5 ry z
    z_analytic = 3.0 / (1.0 - 0.8 * rx + 0.5 * ry)
    assert covered.sum() > 250
    np.testing.assert_allclose(out.depth[covered], z_analytic[covered], rtol=DEPTH_RTOL)


def test_nearer_mesh_wins_in_either_draw_order(raster):
    near_quad = quad(-0.5, 0.3, -0.4, 0.3, 2.0)
    far_quad = quad(-0.2, 0.7, -0.2, 0.6, 3.0)
    px_near, px_far = project(near_quad[0]), project(far_quad[0])
    u, vv = pixel_centres()

    def box(px):
        return (u > px[:, 0].min()) & (u < px[:, 0].max()) & (vv > px[:, 1].min()) & (vv < px[:, 1].max())

    in_near, in_far = box(px_near), box(px_far)
    assert (in_near & in_far).sum() > 50 and (in_far & ~in_near).sum() > 50
    for order in ((near_quad, far_quad), (far_quad, near_quad)):
        out = raster.rasterize([m[0] for m in order], [m[1] for m in order], CAM)
        near_id = 1 if order[0] is near_quad else 2
        np.testing.assert_array_equal(out.mask[in_near], near_id)
        np.testing.assert_array_equal(out.mask[in_far & ~in_near], 3 - near_id)
        np.testing.assert_allclose(out.depth[in_near], 2.0, rtol=DEPTH_RTOL)
        np.testing.assert_allclose(out.depth[in_far & ~in_near], 3.0, rtol=DEPTH_RTOL)
        assert (out.mask[~(in_near | in_far)] == 0).all()


def test_an_empty_scene_is_all_background(raster):
    background = np.full((H, W, 3), 77, np.uint8)
    out = raster.rasterize([], np.zeros((0, 3), int), CAM, background=background, part_labels=[])
    assert (out.mask == 0).all() and (out.face_id == -1).all() and (out.depth == 0).all()
    assert (out.parts == 0).all() and out.rgb.tobytes() == background.tobytes()


def test_cull_back_faces_keeps_camera_facing_triangles(raster):
    v, f = quad(-0.5, 0.5, -0.4, 0.4, 2.0)
    front = raster.rasterize(v, f, CAM, cull_back_faces=True)
    back = raster.rasterize(v, f[:, ::-1], CAM, cull_back_faces=True)
    both = raster.rasterize(v, f[:, ::-1], CAM)
    assert (front.mask > 0).sum() > 400
    np.testing.assert_array_equal(front.mask, both.mask)
    assert (back.mask == 0).all()


# ------------------------------------------------------------------------------ flow
def test_flow_of_sideways_translation(raster):
    z, dx, dy = 2.5, 0.04, -0.03
    v, f = quad(-0.6, 0.5, -0.5, 0.4, z)
    out = raster.rasterize(v, f, CAM, vertices_next_cam=v + [dx, dy, 0.0])
    covered = out.mask > 0
    np.testing.assert_allclose(out.flow[covered, 0], FX * dx / z, atol=FLOW_ATOL)
    np.testing.assert_allclose(out.flow[covered, 1], FY * dy / z, atol=FLOW_ATOL)
    assert (out.flow[~covered] == 0).all()


def test_flow_of_translation_in_depth_is_radial(raster):
    z, dz = 2.0, 0.3
    v, f = quad(-0.6, 0.5, -0.5, 0.4, z)
    out = raster.rasterize(v, f, CAM, vertices_next_cam=v + [0.0, 0.0, dz])
    covered = out.mask > 0
    u, vv = pixel_centres()
    scale = z / (z + dz) - 1.0
    np.testing.assert_allclose(out.flow[covered, 0], ((u - CX) * scale)[covered], atol=FLOW_ATOL)
    np.testing.assert_allclose(out.flow[covered, 1], ((vv - CY) * scale)[covered], atol=FLOW_ATOL)


def test_flow_uses_the_next_intrinsics(raster):
    v, f = quad(-0.6, 0.5, -0.5, 0.4, 2.0)
    out = raster.rasterize(v, f, CAM, vertices_next_cam=v, camera_next=make_camera(FX * 1.1, FY * 1.1))
    covered = out.mask > 0
    u, vv = pixel_centres()
    np.testing.assert_allclose(out.flow[covered, 0], (0.1 * (u - CX))[covered], atol=FLOW_ATOL)
    np.testing.assert_allclose(out.flow[covered, 1], (0.1 * (vv - CY))[covered], atol=FLOW_ATOL)


def test_flow_is_nan_where_the_surface_moves_behind_the_camera(raster):
    v, f = quad(-0.5, 0.5, -0.4, 0.4, 2.0)
    out = raster.rasterize(v, f, CAM, vertices_next_cam=v - [0.0, 0.0, 3.0])
    covered = out.mask > 0
    assert covered.any() and np.isnan(out.flow[covered]).all() and (out.flow[~covered] == 0).all()


def test_people_as_a_batched_torch_tensor_match_a_list_of_arrays(raster):
    v, f = grid(6, 0.3, 2.0)
    people = np.stack([v + [-0.25, 0.0, 0.0], v + [0.25, 0.1, 0.4]])
    colors = np.random.default_rng(0).integers(0, 256, (2, 36, 3), dtype=np.uint8)
    labels = [np.full(36, 2), np.full(36, 5)]
    listed = raster.rasterize(list(people), [f, f], CAM, colors=list(colors), part_labels=labels)
    batched = raster.rasterize(
        torch.from_numpy(people), torch.from_numpy(f), CAM, colors=torch.from_numpy(colors),
        part_labels=torch.tensor([[2] * 36, [5] * 36]),
    )  # fmt: skip
    for name in ("depth", "mask", "face_id", "rgb", "parts"):
        assert getattr(listed, name).tobytes() == getattr(batched, name).tobytes(), name
    assert set(np.unique(listed.mask)) == {0, 1, 2}
    np.testing.assert_array_equal(listed.parts[listed.mask == 1], 2)
    np.testing.assert_array_equal(listed.parts[listed.mask == 2], 5)


def _moving_camera() -> Camera:
    angle = math.radians(3.0)
    R = torch.tensor(
        [[math.cos(angle), 0.0, math.sin(angle)], [0.0, 1.0, 0.0], [-math.sin(angle), 0.0, math.cos(angle)]],
        dtype=torch.float64,
    )
    return CAM.with_extrinsics(R, torch.tensor([0.05, -0.02, 0.1], dtype=torch.float64))


def test_background_flow_of_a_plane_under_camera_translation():
    cam1 = CAM.with_extrinsics(torch.eye(3, dtype=torch.float64), torch.tensor([-0.1, 0.0, 0.0], dtype=torch.float64))
    flow = background_flow(4.0, CAM, cam1)  # camera moves +0.1 m along x
    assert flow.shape == (H, W, 2) and flow.dtype == np.float32
    np.testing.assert_allclose(flow[..., 0], -FX * 0.1 / 4.0, atol=1e-5)
    np.testing.assert_allclose(flow[..., 1], 0.0, atol=1e-5)


def test_rendered_flow_of_a_static_scene_equals_background_flow(raster):
    """Two implementations agree: GPU flow of a static world quad seen by a moving camera,
    and :func:`background_flow` (torch, no GL) from the rendered depth."""
    v_world, f = quad(-0.8, 0.7, -0.6, 0.5, (3.0, 3.4, 3.8, 3.2))
    cam1 = _moving_camera()
    v0 = CAM.world_to_camera(torch.from_numpy(v_world)).numpy()
    v1 = cam1.world_to_camera(torch.from_numpy(v_world)).numpy()
    out = raster.rasterize(v0, f, CAM, vertices_next_cam=v1, camera_next=cam1)
    covered = out.mask > 0
    reference = background_flow(out.depth, CAM, cam1)
    assert covered.sum() > 300 and np.abs(reference[covered]).max() > 1.0
    np.testing.assert_allclose(out.flow[covered], reference[covered], atol=5e-3)
    assert np.isnan(reference[~covered]).all()  # depth 0 = background: no point to move


def test_warping_by_the_flow_reproduces_the_previous_frame(raster):
    v, f = grid(25, 0.8, 2.5)
    colors = np.stack(
        [128 + 100 * np.sin(7 * v[:, 0]), 128 + 100 * np.cos(9 * v[:, 1]), 128 + 100 * np.sin(5 * (v[:, 0] + v[:, 1]))],
        axis=1,
    ).astype(np.uint8)
    angle = math.radians(6.0)
    R = np.array([[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0], [0, 0, 1]])
    centre = np.array([0.0, 0.0, 2.5])
    v_next = (v - centre) @ R.T + centre + [0.05, -0.03, 0.15]
    flat = Lighting(intensity=0.0, ambient=1.0)  # pure albedo: colours stay on the surface
    t0 = raster.rasterize(v, f, CAM, colors=colors, vertices_next_cam=v_next, lighting=flat)
    t1 = raster.rasterize(v_next, f, CAM, colors=colors, lighting=flat)
    u, vv = pixel_centres()
    target = u + t0.flow[..., 0], vv + t0.flow[..., 1]
    lands_inside = bilinear(t1.mask[..., None].astype(float), *target)[..., 0] > 0.999
    valid = (t0.mask > 0) & lands_inside
    assert valid.sum() > 600
    warped = bilinear(t1.rgb, *target)
    err_flow = np.abs(warped - t0.rgb)[valid].mean()
    err_zero = np.abs(t1.rgb.astype(float) - t0.rgb)[valid].mean()
    assert err_flow < 3.0 and err_flow < 0.2 * err_zero, (err_flow, err_zero)


# ------------------------------------------------------------------------------ visibility
def test_vertex_visibility(raster):
    occluder = quad(-0.5, 0.5, -0.5, 0.5, 2.0)
    behind = np.array([[-0.2, -0.2, 3.0], [0.2, -0.2, 3.0], [0.0, 0.2, 3.0]])
    in_front = np.array([[-0.1, -0.1, 1.5], [0.1, -0.1, 1.5], [0.0, 0.1, 1.5]])
    tri = np.array([[0, 1, 2]])
    out = raster.rasterize([occluder[0], behind, in_front], [occluder[1], tri, tri], CAM)
    assert not vertex_visible(behind, out.depth, CAM).any()
    assert vertex_visible(in_front, out.depth, CAM).all()
    assert vertex_visible(occluder[0] * [0.5, 0.5, 1.0], out.depth, CAM).all()  # on the occluder, in view
    outside = np.array([[5.0, 0.0, 2.0], [0.0, 0.0, -1.0]])  # off-image, behind the camera
    assert not vertex_visible(outside, out.depth, CAM).any()


# ------------------------------------------------------------------------------ shading and labels
@pytest.mark.parametrize("reverse_winding", [False, True])
def test_lambert_rgb_of_a_camera_facing_quad(raster, reverse_winding):
    v, f = quad(-0.5, 0.5, -0.4, 0.4, 2.0)
    f = f[:, ::-1] if reverse_winding else f  # two-sided lighting: winding does not matter
    albedo = np.array([200, 100, 50], np.uint8)
    rng = np.random.default_rng(0)
    background = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    cases = {  # light direction (travel) -> cosine with the surface normal (0, 0, -1)
        (0.0, 0.0, 1.0): 1.0,
        (0.0, math.sin(math.radians(60)), math.cos(math.radians(60))): 0.5,
        (0.0, 0.0, -1.0): 0.0,  # lit from behind: ambient only
    }
    for direction, cosine in cases.items():
        light = Lighting(direction=direction, color=(1.0, 0.9, 0.8), intensity=0.6, ambient=0.25)
        out = raster.rasterize(v, f, CAM, colors=albedo, background=background, lighting=light)
        covered = out.mask > 0
        expected = albedo / 255.0 * (0.25 + 0.6 * cosine * np.array([1.0, 0.9, 0.8]))
        expected = np.rint(np.clip(expected, 0, 1) * 255)
        assert np.abs(out.rgb[covered].astype(int) - expected).max() <= 1, direction
        np.testing.assert_array_equal(out.rgb[~covered], background[~covered])



def test_rgb_is_black_off_the_mesh_without_a_background(raster):
    """Without a background the colour target's clear value is the result off the mesh (not
    overwritten again): black there, also right after a frame drawn over a background."""
    v, f = quad(-0.5, 0.5, -0.4, 0.4, 2.0)
    background = np.full((H, W, 3), 200, np.uint8)
    raster.rasterize(v, f, CAM, colors=np.array([200, 100, 50], np.uint8), background=background)
    out = raster.rasterize(v * [0.5, 0.5, 1.0], f, CAM, colors=np.array([200, 100, 50], np.uint8))
    covered = out.mask > 0
    assert covered.any() and (~covered).any()
    assert (out.rgb[~covered] == 0).all() and (out.rgb[covered] > 0).any()


def test_parts_take_the_majority_label_of_each_face(raster):
    v, f = quad(-0.5, 0.5, -0.4, 0.4, 2.0)  # faces (0, 2, 1) and (0, 3, 2)
    labels = np.array([3, 7, 7, 9])  # face 0: 7 (majority), face 1: 3 (three-way tie: first vertex)
    out = raster.rasterize(v, f, CAM, part_labels=labels)
    covered = out.mask > 0
    np.testing.assert_array_equal(out.parts[covered], np.array([7, 3])[out.face_id[covered]])
    assert (out.parts[~covered] == 0).all() and out.parts.dtype == np.uint8
    with pytest.raises(ValueError, match="1..255"):
        raster.rasterize(v, f, CAM, part_labels=np.array([0, 1, 1, 1]))


def test_vertex_normals_of_an_octahedron_point_outwards_along_its_vertices():
    v = np.concatenate([np.eye(3), -np.eye(3)])  # +x +y +z -x -y -z
    f = []
    for sx in (1, -1):
        for sy in (1, -1):
            for sz in (1, -1):
                tri = [0 if sx > 0 else 3, 1 if sy > 0 else 4, 2 if sz > 0 else 5]
                f.append(tri if sx * sy * sz > 0 else tri[::-1])  # counter-clockwise from outside
    np.testing.assert_allclose(vertex_normals(v, np.array(f)), v, atol=1e-6)


# ------------------------------------------------------------------------------ reuse, determinism
def test_same_scene_gives_identical_bytes_and_buffers_are_reused(raster):
    big, big_f = grid(30, 0.8, 2.5)
    small, small_f = quad(-0.3, 0.2, -0.2, 0.3, 2.0)
    rng = np.random.default_rng(3)
    colors = rng.integers(0, 256, (len(big), 3), dtype=np.uint8)
    kw = dict(colors=colors, vertices_next_cam=big + [0.01, 0.0, 0.02], part_labels=np.full(len(big), 4))
    a = raster.rasterize(big, big_f, CAM, **kw)
    small_first = raster.rasterize(small, small_f, CAM)
    b = raster.rasterize(big, big_f, CAM, **kw)
    for name in ("depth", "mask", "face_id", "barycentric", "rgb", "parts", "flow"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), name
    # a small mesh in buffers grown for a big one renders as in a fresh rasterizer; two
    # rasterizers in one thread each render into their own context
    with Rasterizer(W, H) as fresh:
        small_fresh = fresh.rasterize(small, small_f, CAM)
        c = raster.rasterize(big, big_f, CAM, **kw)
    d = raster.rasterize(big, big_f, CAM, **kw)
    assert small_first.mask.tobytes() == small_fresh.mask.tobytes()
    assert small_first.depth.tobytes() == small_fresh.depth.tobytes()
    assert a.rgb.tobytes() == c.rgb.tobytes() == d.rgb.tobytes()


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def test_memory_stays_flat_over_many_frames(raster):
    v, f = grid(40, 0.8, 2.5)  # ~3k triangles
    people = [v, v + [0.3, 0.0, 0.5]]
    for _ in range(20):
        raster.rasterize(people, f, CAM, vertices_next_cam=people)
    try:
        before = _rss_bytes()
    except OSError:
        pytest.skip("no /proc/self/statm")
    for i in range(200):
        raster.rasterize(people, f, CAM, vertices_next_cam=[p + [0.001 * i, 0, 0] for p in people])
    assert _rss_bytes() - before < 16 * 2**20


# ------------------------------------------------------------------------------ errors
def test_distorted_or_mis_sized_cameras_are_refused(raster):
    v, f = quad(-0.5, 0.5, -0.4, 0.4, 2.0)
    distorted = Camera(CAM.K, CAM.R, CAM.t, (W, H), dist=torch.tensor([0.1, 0.0, 0.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="pinhole"):
        raster.rasterize(v, f, distorted)
    with pytest.raises(ValueError, match="image_size"):
        raster.rasterize(v, f, Camera.from_intrinsics(50.0, (W + 1, H)))
    with pytest.raises(ValueError, match="face indices"):
        raster.rasterize(v, f + 2, CAM)


def test_context_failure_says_what_to_install(monkeypatch):
    import moderngl

    from simpose.render import context

    def fail(**kwargs):
        raise Exception("libEGL.so: cannot open shared object file")

    monkeypatch.setattr(moderngl, "create_standalone_context", fail)
    with pytest.raises(RenderError, match="apt-get install libegl1") as info:
        context.create_context()
    assert "cannot open shared object" in str(info.value)
