"""The detector cache (``simpose synth --detect``): byte-identical rebuilds, resuming after a kill,
the stored joints against a fresh render, the detector against the rendered person, and the
errors for another detector, joint set or setting."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mediapipe", reason="mediapipe not installed: pip install 'simpose[mediapipe]'")
pytest.importorskip("cv2", reason="OpenCV not installed: pip install 'simpose[mediapipe]'")

from simpose.synth.detcache import (  # noqa: E402
    JOINT_SETS,
    DetectorCache,
    DetectorCacheError,
    build_detector_cache,
    definition_gap,
    det_path,
    match_people,
    read_detector_clip,
)

S, T, SEED = 160, 8, 5
# one person in full view, degradations on: what the detector must find
OPTIONS = {"truncated_share": 0.0, "occluder_prob": 0.0, "distance_scale": (1.0, 1.0), "off_centre": 0.1,
           "motion_blur": 0.5, "noise_std": 3.0, "jpeg_quality": 60}  # fmt: skip


def _build(out, motions, clips=2, shard=(0, 1)):
    return build_detector_cache(out, clips, T, S, seed=SEED, people=1, motions=motions, shard=shard, options=OPTIONS, progress=False)


@pytest.fixture(scope="module")
def cache(tmp_path_factory, motions) -> Path:
    out = tmp_path_factory.mktemp("detcache")
    _build(out, motions)
    return out


def test_rebuild_is_byte_identical_and_shards_partition(cache, motions, tmp_path):
    # two shards into a fresh folder give the same two files as one unsharded build
    files = _build(tmp_path, motions, shard=(1, 2)) + _build(tmp_path, motions, shard=(0, 2))
    assert sorted(f.name for f in files) == ["det_0000000.npz", "det_0000001.npz"]
    for k in range(2):
        assert det_path(tmp_path, k).read_bytes() == det_path(cache, k).read_bytes()


def test_interrupted_build_resumes(cache, motions, tmp_path, monkeypatch):
    import simpose.synth.detcache as dc

    real = dc.DetectorCacheBuilder.make

    def dies_on_second(self, seed, index):
        if index == 1:
            raise KeyboardInterrupt  # a kill mid-build
        return real(self, seed, index)

    monkeypatch.setattr(dc.DetectorCacheBuilder, "make", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        _build(tmp_path, motions)
    assert det_path(tmp_path, 0).is_file() and not det_path(tmp_path, 1).exists()
    assert not list(tmp_path.glob(".*.tmp"))  # nothing half-written left behind
    kept = det_path(tmp_path, 0).stat().st_mtime_ns
    made = []
    monkeypatch.setattr(dc.DetectorCacheBuilder, "make", lambda self, seed, index: made.append(index) or real(self, seed, index))
    _build(tmp_path, motions)
    assert made == [1] and det_path(tmp_path, 0).stat().st_mtime_ns == kept
    assert det_path(tmp_path, 1).read_bytes() == det_path(cache, 1).read_bytes()


def test_stored_joints_match_a_fresh_render(cache, motions):
    """float16 storage: 2D within 0.125 px, 3D within 0.5 mm of the renderer's float64 joints."""
    from simpose.synth.scene import SceneConfig
    from simpose.synth.writer import ClipSynthesizer

    from simpose.synth.detcache import DETECT_SCENE_DEFAULTS

    config = SceneConfig(size=S, frames=T, people=1, **{**DETECT_SCENE_DEFAULTS, **OPTIONS})
    synth = ClipSynthesizer(config, motions=motions)
    try:
        clip = synth.make(SEED, 1)
    finally:
        synth.rasterizer.close()
    back = read_detector_clip(det_path(cache, 1))
    for s in JOINT_SETS:
        assert np.abs(back.joints2d[s] - clip["joints2d"][s]).max() <= 0.126
        assert np.abs(back.joints3d[s] - clip["joints3d"][s]).max() <= 5e-4
        np.testing.assert_array_equal(back.occlusion[s], clip["occlusion"][s])
    np.testing.assert_allclose(back.K, clip["K"][0])
    np.testing.assert_allclose(back.body["pose_rotvecs"], clip["body"]["pose_rotvecs"], atol=1e-6)
    # the stored 2D is the projection of the stored 3D through K (independent of the renderer)
    j3 = back.joints3d["h36m17"].astype(np.float64)
    proj = (j3 / j3[..., 2:3]) @ back.K.T
    assert np.abs(proj[..., :2] - back.joints2d["h36m17"]).max() < 0.2


def test_detector_finds_the_rendered_person(cache):
    clips = list(DetectorCache(cache))
    assert sum(c.num_frames for c in clips) == 2 * T
    found = np.concatenate([c.valid for c in clips])
    assert found.mean() >= 0.75
    errs = []
    for c in clips:
        t = np.flatnonzero(c.valid)
        assert np.all(c.person[t] == 0) and np.all(c.person[~c.valid] == -1)
        gt = c.joints2d["blazepose33"][t, 0]
        height = np.ptp(gt[..., 1], axis=-1)
        errs.append(np.linalg.norm(c.keypoints[t] - gt, axis=-1) / height[:, None])
        assert np.all(c.confidence[~c.valid] == 0) and np.all(np.isnan(c.keypoints[~c.valid]))
    # loose: the median landmark within 10 % of the person's height of the body's own joint
    assert np.nanmedian(np.concatenate(errs)) < 0.10
    j2, j3, occ = clips[0].found_person("h36m17")
    t = np.flatnonzero(clips[0].valid)
    np.testing.assert_array_equal(j3[t], clips[0].joints3d["h36m17"][t, 0])
    assert np.all(np.isnan(j2[~clips[0].valid])) and np.all(occ[~clips[0].valid] == 255)
    with pytest.raises(DetectorCacheError, match="coco17"):
        clips[0].found_person("coco17")
    gap = definition_gap(clips)
    assert gap["frames"] == 2 * T and gap["pck_mean"] > 50 and np.isfinite(gap["error_pct_mean"])


def test_match_people_closed_form():
    gt = np.zeros((3, 2, 4, 2))
    gt[:, 1] += 100.0  # person 1 sits 100 px right and down of person 0
    kp = gt[:, 1] + 3.0
    kp[2] = np.nan
    out = match_people(kp, np.array([True, True, False]), gt)
    assert out.tolist() == [1, 1, -1] and out.dtype == np.int8


def test_mismatched_detector_joint_set_or_settings_are_errors(cache, motions, tmp_path):
    manifest = json.loads((cache / "detcache.json").read_text())
    version = manifest["detector_version"]
    assert version.startswith("mediapipe-") and "blazepose33" in version
    DetectorCache(cache, detector=version, joint_set="h36m17")  # fine
    with pytest.raises(DetectorCacheError, match="built with detector"):
        DetectorCache(cache, detector="mediapipe-0.0.1/blazepose33/complexity1/tracking/smooth")
    with pytest.raises(DetectorCacheError, match="coco17"):
        DetectorCache(cache, joint_set="coco17")
    with pytest.raises(DetectorCacheError, match="built with detector"):
        read_detector_clip(det_path(cache, 0), detector="another")
    with pytest.raises(DetectorCacheError, match="not a detector cache"):
        DetectorCache(tmp_path)
    (tmp_path / "bad.npz").write_bytes(b"no zip")
    with pytest.raises(DetectorCacheError, match="bad.npz"):
        read_detector_clip(tmp_path / "bad.npz")
    # building on into a cache made with other settings
    other = tmp_path / "other"
    shutil.copytree(cache, other)
    with pytest.raises(DetectorCacheError, match="scene"):
        build_detector_cache(other, 2, T, S + 32, seed=SEED, motions=motions, options=OPTIONS, progress=False)


def test_cli_detect(tmp_path):
    from typer.testing import CliRunner

    from simpose.cli import app

    res = CliRunner().invoke(app, ["synth", "--detect", "--out", str(tmp_path), "--workers", "2"])
    assert res.exit_code == 2 and "--shard" in res.output
    res = CliRunner().invoke(app, ["synth", "--detect", "--out", str(tmp_path), "--size", "0"])
    assert res.exit_code == 2 and "size" in res.output


def test_framing_options_scale_and_move_people(motions):
    """distance_scale (k, k) puts the camera k times as far from the target along its ray (the
    rest of the scene is drawn as before); off_centre moves the look-at point, not the people."""
    import dataclasses

    from simpose.synth.scene import SceneConfig, sample_scene
    from simpose.synth.writer import ClipSynthesizer, clip_seed

    base = SceneConfig(size=S, frames=2, people=1, occluder_prob=0.0, truncated_share=0.0)
    synth = ClipSynthesizer(base, motions=motions)
    try:
        def scene(**kw):
            rng = np.random.default_rng(clip_seed(2, 0))
            cfg = dataclasses.replace(base, **kw)
            return sample_scene(cfg, rng, synth.body, synth.library, synth.part_labels, synth.backgrounds, synth.skinner)

        a, b, c = scene(), scene(distance_scale=(2.0, 2.0)), scene(off_centre=0.5)
    finally:
        synth.rasterizer.close()
    np.testing.assert_array_equal(a.people[0].vertices, b.people[0].vertices)
    np.testing.assert_allclose(a.target, b.target)
    # horizontal distance doubles exactly when the 0.3 * dist floor is not hit; the height is the same
    ra, rb = a.eyes[0] - a.target, b.eyes[0] - b.target
    assert rb[1] == pytest.approx(ra[1])
    assert np.linalg.norm(rb) / np.linalg.norm(ra) == pytest.approx(2.0, rel=0.15)
    np.testing.assert_array_equal(a.eyes, c.eyes)
    assert 0 < np.linalg.norm(c.target - a.target) <= 0.5 * np.sqrt(2) * np.linalg.norm(ra) * (S / 2) / a.K[0, 0] + 1e-9


def test_the_cache_runs_the_detector_with_simpose_runs_settings():
    """The detector cache shows the lifter what the product's 2D stage gives: the same settings."""
    import dataclasses

    from simpose.synth.detcache import run_keypoint_config
    from simpose.track.estimator import EstimatorConfig

    assert run_keypoint_config() == dataclasses.replace(EstimatorConfig().keypoints, segmentation=False)
