"""The run's views: the skeleton is drawn where the joints are, the mesh lands where it projects."""

from __future__ import annotations

import numpy as np
import pytest

from simpose.body.joints import get_joint_set
from simpose.viz.overlay import OverlayRenderer, draw_skeleton, scale_intrinsics
from simpose.viz.skeleton3d import render_skeleton3d
from simpose.viz.summary import write_summary

K = np.array([[300.0, 0, 159.5], [0, 300.0, 119.5], [0, 0, 1]])


def _pose(T: int = 4) -> np.ndarray:
    """h36m17 joints of a standing figure, 3 m in front of the camera (y down)."""
    js = get_joint_set("h36m17")
    base = {"pelvis": (0, 0), "right_hip": (-0.1, 0), "right_knee": (-0.1, 0.45), "right_ankle": (-0.1, 0.9),
            "left_hip": (0.1, 0), "left_knee": (0.1, 0.45), "left_ankle": (0.1, 0.9), "spine": (0, -0.25),
            "thorax": (0, -0.5), "neck_nose": (0, -0.6), "head": (0, -0.7), "left_shoulder": (0.18, -0.5),
            "left_elbow": (0.3, -0.25), "left_wrist": (0.35, 0), "right_shoulder": (-0.18, -0.5),
            "right_elbow": (-0.3, -0.25), "right_wrist": (-0.35, 0)}  # fmt: skip
    X = np.array([[*base[n], 3.0] for n in js.names])
    return np.repeat(X[None], T, 0)


def test_scale_intrinsics_matches_resized_projection():
    p = np.array([0.3, -0.2, 2.0])
    uv = (K @ p)[:2] / p[2]
    s = 0.5
    uv2 = (scale_intrinsics(K, s) @ p)[:2] / p[2]
    np.testing.assert_allclose(uv2, s * (uv + 0.5) - 0.5)


def test_skeleton_is_drawn_at_the_joints():
    img = np.zeros((240, 320, 3), np.uint8)
    X = _pose(1)[0]
    uv = (X @ K.T)[:, :2] / X[:, 2:]
    out = draw_skeleton(img, uv, None, "h36m17")
    assert img.sum() == 0  # input untouched
    for u, v in uv.round().astype(int):
        assert out[v, u].sum() > 0
    assert out[5, 5].sum() == 0  # far from the figure


def test_mesh_overlay_covers_the_projected_body(body):
    from simpose.render.context import RenderError

    verts = body(trans=np.array([[0.0, 0.0, 3.0]])).vertices[0].numpy()
    renderer = OverlayRenderer((320, 240), K, body.faces.numpy())
    try:
        frame = np.full((240, 320, 3), 30, np.uint8)
        out = renderer.render(frame, verts, None, None, "h36m17")
    except RenderError as e:
        pytest.skip(f"no OpenGL here: {e}")
    finally:
        renderer.close()
    uv = (verts @ K.T)[:, :2] / verts[:, 2:]
    changed = np.abs(out.astype(int) - 30).sum(-1) > 10
    inside = uv.round().astype(int)
    inside = inside[(inside[:, 0] >= 0) & (inside[:, 0] < 320) & (inside[:, 1] >= 0) & (inside[:, 1] < 240)]
    assert changed[inside[:, 1], inside[:, 0]].mean() > 0.85  # projected vertices lie under the mesh (thin fingers and edges round off)
    lo, hi = uv.min(0), uv.max(0)
    ys, xs = np.nonzero(changed)
    assert xs.min() >= lo[0] - 2 and xs.max() <= hi[0] + 2 and ys.min() >= lo[1] - 2 and ys.max() <= hi[1] + 2


def test_mesh_rasterized_small_still_lands_on_the_projected_body(body):
    """The overlay rasterizes the mesh at a reduced size (mesh_side) and scales up only the
    person's box: what it covers must still be where the vertices project at full size."""
    from simpose.render.context import RenderError

    verts = body(trans=np.array([[0.0, 0.0, 3.0]])).vertices[0].numpy()
    renderer = OverlayRenderer((320, 240), K, body.faces.numpy(), mesh_side=120)
    assert renderer.mesh_size == (120, 90)
    try:
        out = renderer.render(np.full((240, 320, 3), 30, np.uint8), verts, None, None, "h36m17")
    except RenderError as e:
        pytest.skip(f"no OpenGL here: {e}")
    finally:
        renderer.close()
    uv = (verts @ K.T)[:, :2] / verts[:, 2:]
    changed = np.abs(out.astype(int) - 30).sum(-1) > 10
    px = uv.round().astype(int)
    assert changed[px[:, 1], px[:, 0]].mean() > 0.8
    lo, hi = uv.min(0), uv.max(0)
    ys, xs = np.nonzero(changed)
    step = 320 / 120  # one mesh pixel, in frame pixels
    assert xs.min() >= lo[0] - 2 * step and xs.max() <= hi[0] + 2 * step and ys.min() >= lo[1] - 2 * step and ys.max() <= hi[1] + 2 * step
    far = (np.abs(np.arange(320)[None] - (lo[0] + hi[0]) / 2) > (hi[0] - lo[0]) / 2 + 3 * step)[np.zeros(240, int)]
    assert (out[far] == 30).all()  # outside the box the frame is untouched


def test_skeleton3d_frames_and_invalid_frames():
    X = _pose(6)
    valid = np.ones(6, bool)
    valid[2] = False
    X[2] = np.nan
    frames = list(render_skeleton3d(X, valid, "h36m17", fps=10.0, size=200))
    assert len(frames) == 6 and frames[0].shape == (200, 200, 3)
    bright = lambda f: (f.max(-1) > 200).sum()  # noqa: E731  (joints are near-white dots)
    assert bright(frames[0]) > 30 and bright(frames[2]) < bright(frames[0]) / 3
    assert not np.array_equal(frames[0], frames[5])  # the view turns


def test_summary_is_written(tmp_path):
    X = _pose(10)
    valid = np.ones(10, bool)
    path = write_summary(tmp_path / "s.png", X, np.full((10, 17), 0.9), valid, "h36m17", 10.0,
                         [(0, np.zeros((48, 32, 3), np.uint8))], "test")  # fmt: skip
    from PIL import Image

    assert Image.open(path).size == (1400, 1000)


def test_summary_of_several_people_draws_each_in_its_track_colour(tmp_path):
    from PIL import Image

    from simpose.viz.overlay import track_color

    X = np.stack([_pose(10), _pose(10) + [1.0, 0.0, 2.0]], 1)  # (T, 2, 17, 3)
    X[:, 1] *= np.linspace(1.0, 1.2, 10)[:, None, None]  # the second person's bones stretch: a taller "worst bone" bar
    valid = np.ones((10, 2), bool)
    valid[:3, 1] = False
    path = write_summary(tmp_path / "s.png", X, np.full((10, 2, 17), 0.9), valid, "h36m17", 10.0,
                         [(0, np.zeros((48, 32, 3), np.uint8))], "two", labels=["id 4", "id 7"])  # fmt: skip
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert image.shape == (1000, 1400, 3)
    solid = [(np.abs(image - track_color(p)).sum(-1) <= 3).sum() for p in range(2)]  # the worst-bone bars, opaque
    assert solid[0] > 0 and solid[1] > solid[0]
