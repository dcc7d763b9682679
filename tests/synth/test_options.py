"""Scene options of the synthetic engine: occluders, truncation, degradations, the worker pool
and bad input, each against an independent reference (closed-form buffers, the rendered
projection, PSNR bounds, byte equality)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from simpose.synth.scene import SceneConfig, sample_scene
from simpose.synth.writer import ClipSynthesizer, clip_path, clip_seed, synthesize

S, T = 96, 3


@pytest.fixture(scope="module")
def synth(motions) -> ClipSynthesizer:
    s = ClipSynthesizer(SceneConfig(size=S, frames=T, people=2, occluder_prob=0.0, truncated_share=0.0), motions=motions)
    yield s
    s.rasterizer.close()


def _scene(synth, index, config=None):
    rng = np.random.default_rng(clip_seed(11, index))
    return sample_scene(config or synth.config, rng, synth.body, synth.library, synth.part_labels, synth.backgrounds, synth.skinner)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


# ------------------------------------------------------------------------------ occlusion reasons
def test_occlusion_reasons_closed_form():
    """Person 1 fills the left half at 2 m, person 2 the right half at 1 m; an occluder covers
    the bottom-left corner in the final buffers."""
    from simpose.synth.clip import occlusion_reason

    pm = np.zeros((1, 8, 8), np.uint8)
    pd = np.zeros((1, 8, 8), np.float32)
    pm[0, :, :4], pd[0, :, :4] = 1, 2.0
    pm[0, :, 4:], pd[0, :, 4:] = 2, 1.0
    m, d = pm.copy(), pd.copy()
    m[0, 5:, :3], d[0, 5:, :3] = 0, 0.5  # the occluder card
    # person 1's joints: own half, inside person 2's half, 50 cm behind its own surface, outside
    # the image, under the occluder
    j2 = np.array([[[[1.0, 1.0], [6.0, 1.0], [1.0, 1.0], [9.0, 1.0], [0.0, 7.0]]]])
    z = np.array([2.1, 2.1, 2.5, 2.1, 2.1])
    j3 = np.concatenate([np.zeros((1, 1, 5, 2)), z[None, None, :, None]], -1)
    code = occlusion_reason(j3, j2, pm, pd, m, d, tol=0.15)
    assert code.tolist() == [[[0, 3, 2, 1, 4]]]


def test_an_occluder_over_a_joint_flips_its_visibility(synth):
    from simpose.synth.occluders import Occluder, occluder_mask

    scene = _scene(synth, 0)
    base = synth.renderer.render(scene)
    name = "coco17"
    vis0 = base["visible"][name]
    t, p, j = map(int, np.argwhere(vis0[0:1])[0])  # a joint visible at frame 0
    u, v = base["joints2d"][name][0, p, j]
    a = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    z_people = base["depth"][base["mask"] > 0].min()
    occ = Occluder(
        outline=np.stack([u + 4 * np.cos(a), v + 4 * np.sin(a)], 1),
        velocity=np.array([0.0, 0.0]),
        depth=float(0.5 * z_people),
        texture=np.full((S, S, 3), 77, np.uint8),
        kind="ellipse",
    )
    out = synth.renderer.render(dataclasses.replace(scene, occluders=(occ,)))
    assert not out["visible"][name][0, p, j] and out["occlusion"][name][0, p, j] == 4
    # the card's pixels: not a person, the card's depth, colour and (zero) flow
    cover = occluder_mask(occ, 0, S)
    assert cover.sum() > 20
    assert (out["mask"][0][cover] == 0).all() and (out["parts"][0][cover] == 0).all()
    np.testing.assert_allclose(out["depth"][0][cover], occ.depth)
    assert (out["rgb"][0][cover] == 77).all() and (out["flow"][0][cover] == 0).all()
    # joints projecting away from the card keep their visibility
    uv = base["joints2d"][name]
    far = np.linalg.norm(uv - np.array([u, v]), axis=-1) > 12
    np.testing.assert_array_equal(out["visible"][name][far], vis0[far])
    # a moving card: its flow is its velocity, and it moves by it
    moving = dataclasses.replace(occ, velocity=np.array([1.5, -0.75]))
    out2 = synth.renderer.render(dataclasses.replace(scene, occluders=(moving,)))
    c1 = occluder_mask(moving, 1, S)
    np.testing.assert_allclose(out2["flow"][1][c1], np.broadcast_to([1.5, -0.75], (c1.sum(), 2)))
    assert abs(np.argwhere(c1)[:, 1].mean() - np.argwhere(cover)[:, 1].mean() - 1.5) < 0.3


def test_occluder_share(synth):
    cfg = dataclasses.replace(synth.config, occluder_prob=1.0, max_occluders=3)
    counts = [len(_scene(synth, i, cfg).occluders) for i in range(6)]
    assert all(1 <= c <= 3 for c in counts)
    assert all(len(_scene(synth, i).occluders) == 0 for i in range(3))


# ------------------------------------------------------------------------------ truncation
def test_truncation_share_is_honoured(synth):
    """40 two-person scenes at truncated_share 0.5: about half the people are cut by the frame
    border at frame 0, as the rendered projection shows; the others are fully inside."""
    cfg = dataclasses.replace(synth.config, truncated_share=0.5, frames=2)
    flags, cut = [], []
    for i in range(40):
        scene = _scene(synth, 1000 + i, cfg)
        cam = scene.camera(0)
        R, t, K = cam.R.numpy(), cam.t.numpy(), scene.K
        for person in scene.people:
            x = person.vertices[0].astype(np.float64) @ R.T + t
            u = K[0, 0] * x[:, 0] / x[:, 2] + K[0, 2]
            v = K[1, 1] * x[:, 1] / x[:, 2] + K[1, 2]
            inside = (u >= -0.5) & (u < S - 0.5) & (v >= -0.5) & (v < S - 0.5) & (x[:, 2] > 0)
            flags.append(person.truncated)
            cut.append(bool(inside.any() and not inside.all()))
            if not person.truncated:
                assert inside.all()
            else:
                assert inside.mean() > 0.05 and not inside.all()
    n = len(flags)
    # binomial(n, 0.5): 4 standard deviations either side
    assert abs(sum(flags) - n / 2) < 4 * np.sqrt(n) / 2, (sum(flags), n)
    assert cut == flags


# ------------------------------------------------------------------------------ degradations
def test_degradations_off_are_identical_and_on_are_bounded(synth):
    from simpose.synth.clip import ClipRenderer

    scene = _scene(synth, 3)
    plain = ClipRenderer(synth.body, synth.rasterizer, synth.part_labels).render(scene)
    same = ClipRenderer(synth.body, synth.rasterizer, synth.part_labels, config=synth.config).render(scene)
    np.testing.assert_array_equal(plain["rgb"], same["rgb"])
    assert same["degradations"] == {}

    def with_(**kw):
        cfg = dataclasses.replace(synth.config, **kw)
        return ClipRenderer(synth.body, synth.rasterizer, synth.part_labels, config=cfg).render(scene)

    noisy = with_(noise_std=8.0)
    sigma = noisy["degradations"]["noise_sigma"]
    assert 0 <= sigma <= 8 and not np.array_equal(noisy["rgb"], plain["rgb"])
    # Gaussian noise of std sigma (rounding adds 1/12 level^2; clipping only removes error)
    assert _psnr(noisy["rgb"], plain["rgb"]) >= 10 * np.log10(255.0**2 / (sigma**2 + 1 / 12)) - 0.2
    jpg = with_(jpeg_quality=40)
    assert 40 <= jpg["degradations"]["jpeg_quality"] <= 95
    # lossy (this scene's 2-px saturated stripes lose much to 4:2:0 chroma subsampling at any
    # quality); on a smooth image the loss is small and shrinks with the quality
    from simpose.synth.degrade import jpeg

    assert 12 < _psnr(jpg["rgb"], plain["rgb"]) < 60
    yy, xx = np.mgrid[0:S, 0:S] / S
    smooth = (np.stack([xx, yy, 0.5 * (xx + yy)], -1)[None] * 255).astype(np.uint8)
    assert _psnr(jpeg(smooth, 95), smooth) > max(_psnr(jpeg(smooth, 20), smooth) + 3, 38)
    blur = with_(motion_blur=1.0)
    assert 20 < _psnr(blur["rgb"], plain["rgb"]) < float("inf")
    # where nothing moves (zero flow) blur changes nothing
    still = np.zeros(plain["rgb"].shape[:3], bool)
    still[:-1] = (plain["flow"] == 0).all(-1)
    np.testing.assert_array_equal(blur["rgb"][still], plain["rgb"][still])
    # the labels are those of the sharp image
    for out in (noisy, jpg, blur):
        for k in ("mask", "parts", "depth", "flow"):
            np.testing.assert_array_equal(out[k], plain[k])


# ------------------------------------------------------------------------------ worker pool
def test_two_workers_write_the_same_bytes_as_one(tmp_path, motions):
    a, b = tmp_path / "w1", tmp_path / "w2"
    kw = dict(seed=4, people=2, motions=motions, progress=False, options={"occluder_prob": 0.5})
    synthesize(a, 3, 2, 48, workers=1, **kw)
    synthesize(b, 3, 2, 48, workers=2, **kw)
    for i in range(3):
        assert clip_path(a, i).read_bytes() == clip_path(b, i).read_bytes()


# ------------------------------------------------------------------------------ bad input
def test_bad_input_messages(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from simpose.cli import app
    from simpose.render.context import RenderError

    runner = CliRunner()
    res = runner.invoke(app, ["synth", "--out", str(tmp_path / "o"), "--size", "0", "--clips", "1"])
    assert res.exit_code != 0 and "size" in res.output
    (tmp_path / "empty").mkdir()
    res = runner.invoke(app, ["synth", "--out", str(tmp_path / "o"), "--clips", "1", "--motions", str(tmp_path / "empty")])
    assert res.exit_code != 0 and "holds no .bvh" in res.output
    res = runner.invoke(app, ["synth", "--out", str(tmp_path / "o"), "--clips", "1", "--truncated", "1.5"])
    assert res.exit_code != 0 and "truncated_share" in res.output
    # backgrounds: a file instead of a folder, an unreadable folder, an undecodable image
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        synthesize(tmp_path / "o", 1, 2, 32, backgrounds=tmp_path / "f.txt", progress=False)
    bg = tmp_path / "bg"
    bg.mkdir()
    (bg / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png"):
        synthesize(tmp_path / "o2", 1, 2, 32, backgrounds=bg, progress=False)

    rglob = Path.rglob

    def no_permission(self, pattern):
        if self == bg:
            raise PermissionError(13, "Permission denied", str(self))
        return rglob(self, pattern)

    with monkeypatch.context() as m:
        m.setattr(Path, "rglob", no_permission)
        with pytest.raises(ValueError, match="permissions"):
            synthesize(tmp_path / "o3", 1, 2, 32, backgrounds=bg, progress=False)
    # no usable EGL: the message names the packages to install, in the CLI too
    import moderngl

    def no_egl(**kw):
        raise Exception("libEGL.so.1: cannot open shared object file")

    monkeypatch.setattr(moderngl, "create_standalone_context", no_egl)
    with pytest.raises(RenderError, match="apt-get install libegl1"):
        synthesize(tmp_path / "o4", 1, 2, 32, progress=False)
    res = runner.invoke(app, ["synth", "--out", str(tmp_path / "o5"), "--clips", "1", "--size", "32", "--frames", "2"])
    assert res.exit_code != 0 and "libegl1" in res.output


# ------------------------------------------------------------------------------ motion cache
def test_motion_cache_gives_the_same_clips(tmp_path, motions):
    """Retargeted BVH clips cached on disk: a re-run that reads the cache writes the same bytes."""
    if motions is None:
        pytest.skip("no BVH files here (procedural motion only)")
    from simpose.body.skinning import FastBodyModel
    from simpose.motion.library import LibraryConfig, MotionLibrary
    from simpose.synth.motion_cache import CachedMotionLibrary

    body = FastBodyModel()
    cached = CachedMotionLibrary(body, LibraryConfig(motions_dir=motions), tmp_path / "cache")
    a = cached.mocap_clip(0)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    b = CachedMotionLibrary(body, LibraryConfig(motions_dir=motions), tmp_path / "cache").mocap_clip(0)
    c = MotionLibrary(body, LibraryConfig(motions_dir=motions)).mocap_clip(0)
    for m in (b, c):
        for k in ("pose_rotvecs", "global_rotvecs", "trans"):
            np.testing.assert_array_equal(getattr(m, k), getattr(a, k))
        assert (m.fps, m.source) == (a.fps, a.source)
    kw = dict(seed=2, motions=motions, progress=False, options={"occluder_prob": 0.0})
    from simpose.data.synthetic import read_clip

    n = 4
    synthesize(tmp_path / "d", n, 2, 32, **kw)
    first = [clip_path(tmp_path / "d", i).read_bytes() for i in range(n)]
    sources = [s for i in range(n) for s in read_clip(clip_path(tmp_path / "d", i))["meta"]["motion_sources"]]
    assert any(s.startswith("mocap:") for s in sources), sources  # the cache is exercised
    assert list((tmp_path / "d" / ".motion_cache").glob("*.npz"))
    for i in range(n):
        clip_path(tmp_path / "d", i).unlink()
    synthesize(tmp_path / "d", n, 2, 32, **kw)
    assert [clip_path(tmp_path / "d", i).read_bytes() for i in range(n)] == first
