"""The synthetic data engine against independent references: projection, re-posed body depths,
flow warping, determinism, resume, file round trip and bad inputs.

One tiny dataset (64x64, 4 frames, up to 2 people, one short CMU clip or procedural motion) is
rendered once per module.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from simpose.data.synthetic import CLIP_KEYS, SyntheticClipError, read_clip, write_clip
from simpose.synth.writer import clip_path, parse_shard, synthesize



def shared_dir() -> Path | None:
    import os

    env = os.environ.get("SIMPOSE_SHARED")
    path = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared"
    return path if path.is_dir() else None

S, T, N_CLIPS = 64, 4, 2
PROJ_ATOL = 1e-4  # pixels
DEPTH_MEDIAN_ATOL = 1e-3  # metres


@pytest.fixture(scope="module")
def motions(tmp_path_factory) -> Path | None:
    shared = shared_dir()
    src = shared / "mocap/cmu/mb/09/09_07.bvh" if shared else None
    if src is None or not src.is_file():
        return None  # procedural-only mode
    d = tmp_path_factory.mktemp("motions")
    shutil.copy(src, d / src.name)
    return d


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, motions) -> Path:
    out = tmp_path_factory.mktemp("synth")
    synthesize(out, N_CLIPS, T, S, seed=3, people=2, motions=motions, progress=False)
    return out


@pytest.fixture(scope="module")
def clips(dataset) -> list[dict]:
    return [read_clip(clip_path(dataset, i)) for i in range(N_CLIPS)]


def test_keys_and_shapes(clips):
    for c in clips:
        assert tuple(c) == CLIP_KEYS
        P = c["body"]["shape_params"].shape[0]
        assert c["rgb"].shape == (T, S, S, 3) and c["rgb"].dtype == np.uint8
        assert c["mask"].shape == c["parts"].shape == (T, S, S) and c["depth"].dtype == np.float32
        assert c["flow"].shape == (T - 1, S, S, 2) and c["flow"].dtype == np.float32
        assert set(np.unique(c["mask"])) <= set(range(P + 1)) and c["mask"].max() >= 1
        assert c["parts"][c["mask"] == 0].max() == 0 and c["parts"][c["mask"] > 0].min() >= 1
        for name, j3 in c["joints3d"].items():
            assert j3.shape[:2] == (T, P) and c["visible"][name].dtype == bool
        assert np.isfinite(c["flow"]).all()


def test_joints2d_is_projection_of_joints3d(clips):
    for c in clips:
        for name, j3 in c["joints3d"].items():
            uvw = np.einsum("tij,tpkj->tpki", c["K"].astype(np.float64), j3.astype(np.float64))
            np.testing.assert_allclose(uvw[..., :2] / uvw[..., 2:], c["joints2d"][name], atol=PROJ_ATOL)


@pytest.fixture(scope="module")
def big_clips(tmp_path_factory, motions) -> list[dict]:
    """Two 192x192 clips of one person (at 64 px too few vertices fall on pixel centres)."""
    out = tmp_path_factory.mktemp("synth_big")
    synthesize(out, 2, 3, 192, seed=5, people=1, motions=motions, progress=False, options={"occluder_prob": 0.0})
    return [read_clip(clip_path(out, i)) for i in range(2)]


def test_depth_equals_reposed_vertex_z(big_clips):
    """Re-pose the bodies from the stored params and cameras: visible vertices near a pixel centre
    have the depth buffer's value."""
    from simpose.body.model import BodyModel
    from simpose.render.raster import vertex_visible
    from simpose.camera import Camera

    body = BodyModel()
    errors = []
    for c in big_clips:
        T, S = c["mask"].shape[:2]
        b, meta = c["body"], c["meta"]
        R, t = np.asarray(meta["camera_R"]), np.asarray(meta["camera_t"])
        for p in range(b["shape_params"].shape[0]):
            with torch.no_grad():
                v = body(
                    torch.as_tensor(b["pose_rotvecs"][:, p], dtype=torch.float64),
                    torch.as_tensor(b["shape_params"][p : p + 1], dtype=torch.float64),
                    torch.as_tensor(b["global_rotvecs"][:, p], dtype=torch.float64),
                    torch.as_tensor(b["trans"][:, p], dtype=torch.float64),
                ).vertices.numpy()
            for f in range(T):
                vc = v[f] @ R[f].T + t[f]
                cam = Camera(torch.as_tensor(c["K"][f], dtype=torch.float64), torch.eye(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), (S, S))
                vis = vertex_visible(vc, c["depth"][f], cam, eps=0.005)
                uv = vc @ c["K"][f].T
                uv = uv[:, :2] / uv[:, 2:]
                # vertices within 0.03 px of a pixel centre (about 0.3 mm at this size), inside
                # the person's silhouette; the depth buffer there against the vertex's own z
                ui, vi = np.rint(uv).astype(int).T
                inside = (ui >= 1) & (ui < S - 1) & (vi >= 1) & (vi < S - 1)
                sel = vis & inside & (np.abs(uv - np.rint(uv)).max(1) < 0.03)
                ui, vi = ui[sel], vi[sel]
                m, d = c["mask"][f], c["depth"][f].astype(np.float64)
                same = np.ones(len(ui), bool)
                for dv in (-1, 0, 1):
                    for du in (-1, 0, 1):
                        same &= m[vi + dv, ui + du] == p + 1
                errors.append(np.abs(d[vi, ui] - vc[sel, 2])[same])
    e = np.concatenate(errors)
    assert len(e) >= 10, len(e)
    assert np.median(e) < DEPTH_MEDIAN_ATOL, np.median(e)


def _warp_back(img_next: np.ndarray, flow: np.ndarray) -> np.ndarray:
    import cv2

    h, w = flow.shape[:2]
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(img_next.astype(np.float32), u + flow[..., 0], v + flow[..., 1], cv2.INTER_LINEAR)


def test_flow_warps_next_frame_back(clips, motions):
    if motions is None:
        pytest.skip(
            "procedural-only mode (no ../shared mocap): its people hardly move in 4 frames (< 0.2 px), "
            "so zero flow is already exact; tests/render check the flow on analytic motion"
        )
    err_flow, err_zero = [], []
    for c in clips:
        for f in range(T - 1):
            person = c["mask"][f] > 0
            warped = _warp_back(c["rgb"][f + 1], c["flow"][f])
            target = c["rgb"][f].astype(np.float32)
            err_flow.append(np.abs(warped - target)[person].mean())
            err_zero.append(np.abs(c["rgb"][f + 1].astype(np.float32) - target)[person].mean())
    assert np.mean(err_flow) < 0.6 * np.mean(err_zero), (np.mean(err_flow), np.mean(err_zero))


def test_same_seed_same_files_and_resume(dataset, motions, tmp_path):
    again = tmp_path / "again"
    synthesize(again, 1, T, S, seed=3, people=2, motions=motions, progress=False)
    assert clip_path(again, 0).read_bytes() == clip_path(dataset, 0).read_bytes()
    a, b = read_clip(clip_path(again, 0)), read_clip(clip_path(dataset, 0))
    for k in ("rgb", "mask", "parts", "depth", "flow"):
        np.testing.assert_array_equal(a[k], b[k])
    # resume: a finished file is not rewritten
    before = clip_path(again, 0).stat().st_mtime_ns
    synthesize(again, 1, T, S, seed=3, people=2, motions=motions, progress=False)
    assert clip_path(again, 0).stat().st_mtime_ns == before


def test_shard_takes_every_nth(tmp_path, monkeypatch):
    import simpose.synth.writer as w

    done = []
    monkeypatch.setattr(w, "_init_worker", lambda *a: w._WORKER.__setitem__("synth", _Fake()))
    monkeypatch.setattr(w, "_work", lambda jobs: [done.append(j[1]) or j[1] for j in jobs])
    files = synthesize(tmp_path, 7, T, S, shard=(1, 3), progress=False)
    assert done == [1, 4] and [f.name for f in files] == ["clip_0000001.npz", "clip_0000004.npz"]
    assert parse_shard("2/5") == (2, 5)
    with pytest.raises(ValueError, match="i/n"):
        parse_shard("5/5")


class _Fake:
    class rasterizer:  # noqa: N801
        @staticmethod
        def close():
            pass


def test_read_write_round_trip(clips, tmp_path):
    path = tmp_path / "c.npz"
    write_clip(path, clips[0])
    back = read_clip(path)
    for k in ("rgb", "mask", "parts", "depth", "flow", "K"):
        np.testing.assert_array_equal(back[k], clips[0][k])
    # flow is stored as float16: a second round trip is exact, the first within |f| 2^-11
    raw = clips[0]["flow"] * (1 + 1e-3)
    write_clip(path, {**clips[0], "flow": raw})
    f16 = read_clip(path)["flow"]
    assert f16.dtype == np.float32 and np.all(np.abs(f16 - raw) <= np.abs(raw) * 2.0**-11 + 1e-7)
    for k in ("joints3d", "joints2d", "visible", "occlusion", "body"):
        for name in clips[0][k]:
            np.testing.assert_array_equal(back[k][name], clips[0][k][name])
    assert back["meta"] == clips[0]["meta"]
    assert not list(tmp_path.glob("*.tmp"))


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="size"):
        synthesize(tmp_path, 1, T, 0, progress=False)
    with pytest.raises(ValueError, match="holds no .bvh"):
        (tmp_path / "empty").mkdir()
        synthesize(tmp_path / "o", 1, T, S, motions=tmp_path / "empty", progress=False)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(SyntheticClipError, match="bad.npz"):
        read_clip(bad)
    with pytest.raises(SyntheticClipError, match="missing.npz"):
        read_clip(tmp_path / "missing.npz")


def test_preview_sheets(dataset, tmp_path):
    from simpose.synth.preview import flow_to_color, preview_folder

    files = preview_folder(dataset, tmp_path / "prev")
    assert [f.stem for f in files] == [f"clip_{i:07d}" for i in range(N_CLIPS)]
    import cv2

    assert cv2.imread(str(files[0])).shape == (T * S, 6 * S, 3)
    # the colour wheel: zero flow is black, opposite directions get different hues
    wheel = flow_to_color(np.array([[[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0]]], np.float32))
    assert (wheel[0, 0] == 0).all() and not (wheel[0, 1] == wheel[0, 2]).all()
    with pytest.raises(ValueError, match="no clip_"):
        preview_folder(tmp_path / "prev")


def test_background_flow_matches_raster_reference():
    """The clip renderer's background flow (plane homography) equals render.raster.background_flow
    with the plane's per-pixel depth, and the homography maps frame t's background onto frame 0's."""
    from simpose.render.raster import background_flow
    from simpose.synth.clip import _homography_flow, plane_depth, plane_homography
    from simpose.synth.scene import Scene, camera_at
    from simpose.render.raster import Lighting

    K = np.array([[50.0, 0, 15.5], [0, 50.0, 15.5], [0, 0, 1]])
    eyes = np.array([[3.0, -1.5, 0.2], [3.1, -1.4, 0.5]])
    scene = Scene([], K, eyes, np.array([0.0, -0.9, 0.0]), 32, Lighting(), np.zeros((32, 32, 3), np.uint8), "x", 7.0, 50.0)
    c0, c1 = scene.camera(0), scene.camera(1)
    z = plane_depth(scene, c0)
    np.testing.assert_allclose(z[16, 16], 7.0, rtol=1e-2)  # the plane faces camera 0 at far_depth
    ref = background_flow(z, c0, c1)
    mine = _homography_flow(plane_homography(scene, c0, c1), 32)
    np.testing.assert_allclose(mine, ref, atol=1e-3)
    back = _homography_flow(plane_homography(scene, c1, c0), 32)
    ref_back = background_flow(plane_depth(scene, c1), c1, c0)
    np.testing.assert_allclose(back, ref_back, atol=1e-3)
    assert camera_at(eyes[0], scene.target, K, 32).K.shape == (3, 3)


def test_joint_visible_closed_form():
    """Person 1 fills the left half at 2 m, person 2 the right half at 1 m."""
    from simpose.synth.clip import joint_visible

    mask = np.zeros((1, 8, 8), np.uint8)
    depth = np.zeros((1, 8, 8), np.float32)
    mask[0, :, :4], depth[0, :, :4] = 1, 2.0
    mask[0, :, 4:], depth[0, :, 4:] = 2, 1.0
    j2 = np.array([[[[1.0, 4.0], [6.0, 4.0]]]])  # person 1: own half, and inside person 2's half
    j3 = np.array([[[[0, 0, 2.1], [0, 0, 2.1]]]])
    vis = joint_visible(j3, j2, mask, depth, tol=0.15)
    assert vis.tolist() == [[[True, False]]]
    j3_deep = np.array([[[[0, 0, 2.5], [0, 0, 2.5]]]])  # 50 cm behind its own surface: self-occluded
    assert not joint_visible(j3_deep, j2, mask, depth, tol=0.15).any()
