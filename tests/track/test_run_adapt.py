"""``--adapt params``: the body optimised on the clip's own keypoints, masks and flow; ``off`` is today's run."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from simpose.track.run import RunConfig, run_video


@pytest.fixture(scope="module")
def runs(mediapipe, person_clip, tmp_path_factory):
    """The clip run with adapt off and with params (the optimiser's results recorded)."""
    import simpose.adapt.optimise as opt

    cache = str(tmp_path_factory.mktemp("cache"))
    off = run_video(person_clip, tmp_path_factory.mktemp("off"), RunConfig(fov=60.0, cache_dir=cache, views=False))
    results = []
    real = opt.optimise_body

    def spy(*args, **kwargs):
        results.append(real(*args, **kwargs))
        return results[-1]

    mp = pytest.MonkeyPatch()
    mp.setattr(opt, "optimise_body", spy)
    try:
        on = run_video(person_clip, tmp_path_factory.mktemp("on"), RunConfig(fov=60.0, cache_dir=cache, views=False, adapt="params"))
    finally:
        mp.undo()
    return off, on, results


def test_adapting_changes_the_body_and_lowers_its_losses(runs):
    off, on, results = runs
    assert len(results) == 1 and results[0].adapted
    h = results[0].history  # total, keypoints, silhouette, motion, smooth, pose
    assert (h[:, 1:4] > 0).all()  # every cue of the clip took part
    assert h[-1, 0] < 0.9 * h[0, 0] and h[-1, 2] < h[0, 2]
    a, b = off.arrays, on.arrays
    assert np.array_equal(a["valid"], b["valid"])
    v = a["valid"][:, 0]
    moved = np.linalg.norm(b["joints3d"][v] - a["joints3d"][v], axis=-1).mean()
    assert 1e-3 < moved < 0.1, moved  # a change, smaller than the estimate's own error
    assert np.abs(b["body_pose_rotvecs"][v] - a["body_pose_rotvecs"][v]).max() > 1e-3
    np.testing.assert_array_equal(a["body_shape"], b["body_shape"])  # the track's shape is kept
    rec = json.loads((on.out_dir / "run_config.json").read_text())
    assert rec["adapt"] == "params" and rec["estimator"]["adapt"] == "params"
    assert rec["estimator"]["adapt_config"]["iterations"] > 0
    assert on.timings["adapt"] > 0 and on.timings["adapt_cues"] > 0


def test_adapt_off_is_the_unadapted_run(runs, person_clip, tmp_path, monkeypatch):
    """adapt="off" (the default) never reaches the adaptation: the same poses.npz, byte for byte."""
    import simpose.adapt.optimise as opt

    off = runs[0]

    def boom(*args, **kwargs):
        raise AssertionError("adaptation ran with adapt off")

    monkeypatch.setattr(opt, "optimise_body", boom)
    again = run_video(person_clip, tmp_path / "off2", RunConfig(fov=60.0, cache_dir=str(off.out_dir.parent / "unused"), views=False, adapt="off"))
    assert (again.out_dir / "poses.npz").read_bytes() == (off.out_dir / "poses.npz").read_bytes()
    assert "adapt" not in again.timings


def test_missing_cues_and_a_short_track(runs, caplog):
    """No masks, no flow: the keypoint term alone; one valid frame: a warning, the body kept."""
    import dataclasses

    from simpose.track.estimator import Estimator
    from simpose.track.sequence import PoseSequence

    off = runs[0]
    seq = PoseSequence.load(off.out_dir / "poses.npz")
    est = Estimator.from_pretrained(adapt="params")
    T = seq.valid.shape[0]
    out = est.adapt_sequence(seq, [None] * T, [None] * (T - 1))
    assert not np.array_equal(out.body_pose_rotvecs, seq.body_pose_rotvecs)
    one = seq.valid.copy()
    one[1:] = False
    short = dataclasses.replace(seq, valid=one)
    with caplog.at_level(logging.WARNING):
        kept = est.adapt_sequence(short, [None] * T, [None] * (T - 1))
    assert "too short to adapt" in caplog.text
    np.testing.assert_array_equal(kept.body_pose_rotvecs, short.body_pose_rotvecs)


def test_weights_fine_tunes_a_copy_of_the_lifter_through_the_body(runs):
    """adapt="weights": the losses reach a copy of the lifter's weights through the body fit; the
    result moves (a little), and the estimator's own lifter is not changed."""
    import torch

    from simpose.adapt.optimise import OptimiseConfig
    from simpose.track.estimator import Estimator
    from simpose.track.sequence import PoseSequence

    seq = PoseSequence.load(runs[0].out_dir / "poses.npz")
    args = (seq.keypoints[:, 0].astype(float), seq.keypoint_confidence[:, 0].astype(float), seq.keypoint_set, seq.K, seq.fps, seq.image_size)
    est = Estimator.from_pretrained(adapt_config=OptimiseConfig(iterations=10))
    lifter = est.lifter_for(seq.keypoint_set)
    before = [p.clone() for p in lifter.net.parameters()]
    off = est.estimate_keypoints(*args)
    est.config = est.config.with_settings(adapt="weights")
    out = est.estimate_keypoints(*args)
    assert out.timings["adapt"] > 0 and np.array_equal(out.valid, off.valid)
    v = out.valid[:, 0]
    moved = np.linalg.norm(out.joints3d[v] - off.joints3d[v], axis=-1).mean()
    assert 1e-4 < moved < 0.1, moved
    assert all(torch.equal(p, q) for p, q in zip(before, lifter.net.parameters()))


def test_adapt_options_are_checked():
    from simpose.track.estimator import EstimatorConfig, EstimatorError
    from simpose.track.run import RunError, validate_run_config

    with pytest.raises(RunError, match="--adapt must be one of"):
        validate_run_config(RunConfig(adapt="mesh"))
    with pytest.raises(RunError, match="--adapt needs --people='main'"):
        validate_run_config(RunConfig(adapt="params", people="all"))
    with pytest.raises(EstimatorError, match="adapt must be one of"):
        EstimatorConfig(adapt="yes")
    validate_run_config(RunConfig(adapt="weights"))


def test_adapting_with_keypoints_only_needs_no_second_pass(runs, person_clip, tmp_path, monkeypatch):
    """adapt_with="keypoints": the 2D stage's keypoints only; the masks/flow pass never runs and
    their loss terms are zero, while the keypoint term still moves the body."""
    import simpose.adapt.optimise as opt
    from simpose.track.estimator import Estimator

    def no_pass(*args, **kwargs):
        raise AssertionError("the second cue pass ran with adapt_with='keypoints'")

    monkeypatch.setattr(Estimator, "adapt_cues", no_pass)
    results = []
    real = opt.optimise_body
    monkeypatch.setattr(opt, "optimise_body", lambda *a, **k: results.append(real(*a, **k)) or results[-1])
    off = runs[0]
    cfg = RunConfig(fov=60.0, cache_dir=str(off.out_dir.parent / "kp_cache"), views=False, adapt="params", adapt_with="keypoints")
    out = run_video(person_clip, tmp_path / "kp", cfg)
    h = results[0].history  # total, keypoints, silhouette, motion, smooth, pose
    assert results[0].adapted and (h[:, 1] > 0).all() and (h[:, 2:4] == 0).all()
    v = off.arrays["valid"][:, 0]
    assert np.linalg.norm(out.arrays["joints3d"][v] - off.arrays["joints3d"][v], axis=-1).mean() > 1e-4
    assert json.loads((out.out_dir / "run_config.json").read_text())["adapt_with"] == "keypoints"
    with pytest.raises(Exception, match="--adapt-with must be one of"):
        run_video(person_clip, tmp_path / "bad", RunConfig(fov=60.0, views=False, adapt="params", adapt_with="masks"))
