"""The lifter on a detector's own keypoints (BlazePose-33): input layout, the h36m17 -> blazepose33
start, the detector-cache windows, the joint cache's extra set, and the Estimator's choice of lifter."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from simpose.body.joints import get_joint_set
from simpose.models.lifter import InputContract, Lifter, LifterCardError
from simpose.models.lifter_input import centre_weights, mirror_input, normalize_keypoints
from simpose.models.lifter_net import TemporalLifterNet
from simpose.train.lifter import map_input_layer
from simpose.train.lifter_detcache import DetectorFrames, DetectorWindowSampler, split_clips

BP = get_joint_set("blazepose33")
H36M = get_joint_set("h36m17")


def test_blazepose_input_is_centred_on_the_mid_hips_and_scale_free():
    w = centre_weights("blazepose33")
    assert w.sum() == 1.0 and w[BP.index("left_hip")] == w[BP.index("right_hip")] == 0.5
    rng = np.random.default_rng(0)
    x = rng.normal(300, 50, (5, 33, 2))
    f0, _ = normalize_keypoints(x, joint_set="blazepose33")
    f1, _ = normalize_keypoints(3.0 * x + np.array([40.0, -7.0]), joint_set="blazepose33")
    np.testing.assert_allclose(f0, f1, atol=1e-5)
    mid = f0[:, BP.indices(["left_hip", "right_hip"]), :2].mean(1)
    np.testing.assert_allclose(mid, 0.0, atol=1e-6)
    # mirroring twice is the identity, and swaps the left and right hips
    t = torch.from_numpy(f0)
    np.testing.assert_allclose(mirror_input(mirror_input(t, "blazepose33"), "blazepose33").numpy(), f0)
    m = mirror_input(t, "blazepose33").numpy()
    np.testing.assert_allclose(m[:, BP.index("left_hip"), 0], -f0[:, BP.index("right_hip"), 0])


def test_card_with_an_unknown_input_set_is_a_clear_error():
    card = InputContract("blazepose33").to_card()
    assert InputContract.from_card(card).joint_set == "blazepose33"
    card["input"]["joint_set"] = "coco17"
    with pytest.raises(LifterCardError, match="coco17"):
        InputContract.from_card(card)
    with pytest.raises(LifterCardError, match="input / .* output joints"):
        InputContract.from_card(InputContract("blazepose33").to_card(), {"in_joints": 17, "out_joints": 42})


def test_mapped_input_layer_reads_blazepose_as_the_h36m17_net_reads_the_mapped_points():
    """The first layer composed with the keypoint map: the new net on BlazePose features gives what
    the old net gives on the map's h36m17 points (centred; the same size; all seen)."""
    from simpose.models.keypoint_map import load_map

    torch.manual_seed(0)
    old = TemporalLifterNet(17, 42, channels=32, dropout=0.0).eval()
    new = TemporalLifterNet(33, 42, channels=32, dropout=0.0).eval()
    new.load_state_dict(map_input_layer(old.state_dict(), "blazepose33", 1.0))
    rng = np.random.default_rng(1)
    bp = rng.normal(0, 0.3, (27, 33, 2))
    h = np.einsum("hb,tbc->thc", load_map(), bp)  # the map's h36m17 points
    fb, _ = normalize_keypoints(bp, joint_set="blazepose33", scale=1.0)
    fh, _ = normalize_keypoints(h, joint_set="h36m17", scale=1.0)
    with torch.no_grad():
        yb = new(torch.from_numpy(fb.reshape(1, 27, -1)))
        yh = old(torch.from_numpy(fh.reshape(1, 27, -1)))
    np.testing.assert_allclose(yb.numpy(), yh.numpy(), atol=1e-4)


def _frames(T: int = 40, fps: float = 30.0) -> tuple[DetectorFrames, np.ndarray]:
    """One clip: a person at 4 m, the 2D the exact projection of its BlazePose points (random
    per frame), targets known; the detector loses the person in frames 30-31 and finds another in 35."""
    rng = np.random.default_rng(3)
    K = np.array([[500.0, 0, 200], [0, 500.0, 150], [0, 0, 1]])
    X = rng.normal(0, 0.3, (T, 33, 3)) + np.array([0.2, 0.1, 4.0])
    uv = X[..., :2] / X[..., 2:] * 500.0 + K[:2, 2]
    person = np.zeros(T, np.int8)
    person[30:32] = -1
    person[35] = 1
    kp = uv.astype(np.float32)
    kp[30:32] = np.nan
    conf = np.where(person[:, None] >= 0, 0.9, 0.0).astype(np.float32) * np.ones((1, 33), np.float32)
    n_out = len(H36M) + len(get_joint_set("anny"))
    targets = rng.normal(0, 0.4, (T, n_out, 3)).astype(np.float32) + np.array([0.2, 0.1, 4.0], np.float32)
    targets[30:32] = np.nan
    f = DetectorFrames(kp, conf, person, targets, np.array([[0, T]]), K[None], np.array([fps]), np.array([0]))
    return f, uv


def test_detector_windows_are_the_lifters_own_input_of_the_clip():
    """At the training rate with no speed change, mirroring or view camera, a window is the
    lifter's normalisation of the clip's frames (up to the 2D size, taken over other frames),
    the targets are the centre and last frames' joints minus the pelvis, and frames showing
    nobody or another person are missing."""
    frames, uv = _frames(fps=50.0)
    s = DetectorWindowSampler(frames, receptive_field=9, rate=50.0, speed=(1.0, 1.0), mirror_prob=0.0, pelvis_view=False)
    x, y = s.sample(np.random.default_rng(0), 64)
    assert x.shape == (64, 9, 99) and y.shape == (64, 2, 42, 3) and np.isfinite(x).all()
    x = x.reshape(64, 9, 33, 3)
    checked = 0
    for t in range(40):
        if frames.person[t] != 0:
            continue
        idx = np.clip(t + np.arange(-4, 5), 0, 39)
        conf = np.where(frames.person[idx] == 0, 0.9, 0.0)[:, None] * np.ones(33)
        ref, _ = normalize_keypoints(np.nan_to_num(uv[idx]), conf, frames.K[0], scale=1.0, joint_set="blazepose33")
        exp_y = frames.targets[t] - frames.targets[t, 0]
        for k in np.flatnonzero(np.abs(y[:, 0] - exp_y).max((1, 2)) < 1e-5):
            np.testing.assert_allclose(x[k, ..., 2], ref[..., 2], atol=1e-6)
            seen = ref[..., 2] > 0
            r = np.median(ref[..., 0][seen] / x[k, ..., 0][seen])  # the 2D size: one number per window
            np.testing.assert_allclose(x[k, ..., :2] * r, ref[..., :2], atol=1e-4)
            last = idx[-1]
            np.testing.assert_allclose(y[k, 1], frames.targets[last] - frames.targets[last, 0], atol=1e-5)
            checked += 1
    assert checked >= 20


def test_detector_windows_mirror_and_split():
    frames, _ = _frames()
    s = DetectorWindowSampler(frames, receptive_field=9, mirror_prob=1.0)
    s0 = DetectorWindowSampler(frames, receptive_field=9, mirror_prob=0.0)
    x1, y1 = s.sample(np.random.default_rng(5), 16)
    x0, y0 = s0.sample(np.random.default_rng(5), 16)
    from simpose.models.lifter_input import mirror_output

    np.testing.assert_allclose(x1.reshape(16, 9, 33, 3), mirror_input(torch.from_numpy(x0.reshape(16, 9, 33, 3)), "blazepose33").numpy())
    np.testing.assert_allclose(y1, mirror_output(torch.from_numpy(y0)).numpy())
    files = [type("P", (), {"stem": f"det_{i:07d}"})() for i in range(25)]
    train, held = split_clips(files, 10)
    assert [f.stem for f in held] == ["det_0000000", "det_0000010", "det_0000020"] and len(train) == 22


def test_sparsified_regressor_is_close_to_the_exact_one():
    from simpose.body.model import BodyModel

    body = BodyModel()
    rng = np.random.default_rng(0)
    pose = torch.as_tensor(rng.normal(0, 0.3, (6, 19, 3)), dtype=body.dtype)
    exact = body.forward_joints("blazepose33", pose)
    approx = body.forward_joints("blazepose33", pose, max_vertices=64)
    err = (approx - exact).norm(dim=-1)
    assert float(err.mean()) < 1e-3 and float(err.max()) < 6e-3
    assert float((body.forward_joints("h36m17", pose, max_vertices=64) - body.forward_joints("h36m17", pose)).abs().max()) < 1e-3


def test_estimator_lifts_blazepose_with_the_detector_lifter():
    from simpose.body.model import BodyModel
    from simpose.track.estimator import Estimator, EstimatorConfig

    torch.manual_seed(0)
    main = Lifter(TemporalLifterNet(17, 42, channels=16, dropout=0.0), contract=InputContract())
    det = Lifter(TemporalLifterNet(33, 42, channels=16, dropout=0.0), contract=InputContract("blazepose33"))
    cfg = EstimatorConfig(refine=False, align_2d=False, cache_dir="")
    est = Estimator(main, BodyModel(), cfg, detector_lifter=det)
    assert est.lifter_for("blazepose33") is det and est.lifter_for("h36m17") is main and est.lifter_for("coco17") is main
    off = Estimator(main, est.body, dataclasses.replace(cfg, detector_lifter=False), detector_lifter=det)
    assert off.lifter_for("blazepose33") is main
    rng = np.random.default_rng(2)
    K = np.array([[800.0, 0, 320], [0, 800.0, 240], [0, 0, 1]])
    X = np.array([0.0, 0.0, 4.0]) + rng.normal(0, 0.4, (12, 33, 3)) * np.array([0.4, 1.0, 0.2])
    kp = X[..., :2] / X[..., 2:] * 800.0 + K[:2, 2]
    a = est.estimate_keypoints(kp, None, "blazepose33", K, fps=30.0)
    b = off.estimate_keypoints(kp, None, "blazepose33", K, fps=30.0)
    assert a.valid.any() and b.valid.any()
    assert not np.allclose(a.joints3d[a.valid & b.valid], b.joints3d[a.valid & b.valid])  # another network lifted it


def test_runs_keep_the_detectors_own_keypoints_and_adapt_relifts_them(tmp_path):
    """A sequence from BlazePose keypoints stores them (poses.npz round trip); ``simpose adapt``
    re-estimates from them, so it equals estimate_keypoints on them (the detector lifter again)."""
    from simpose.body.model import BodyModel
    from simpose.track.estimator import Estimator, EstimatorConfig
    from simpose.track.run import RunConfig, adapt_run
    from simpose.track.sequence import PoseSequence

    torch.manual_seed(1)
    main = Lifter(TemporalLifterNet(17, 42, channels=16, dropout=0.0), contract=InputContract())
    det = Lifter(TemporalLifterNet(33, 42, channels=16, dropout=0.0), contract=InputContract("blazepose33"))
    est = Estimator(main, BodyModel(), EstimatorConfig(refine=False, align_2d=False, cache_dir=""), detector_lifter=det)
    rng = np.random.default_rng(4)
    K = np.array([[800.0, 0, 320], [0, 800.0, 240], [0, 0, 1]])
    X = np.array([0.0, 0.0, 4.0]) + rng.normal(0, 0.4, (10, 33, 3)) * np.array([0.4, 1.0, 0.2])
    kp = X[..., :2] / X[..., 2:] * 800.0 + K[:2, 2]
    conf = rng.uniform(0.5, 1.0, (10, 33))
    run = est.estimate_keypoints(kp, conf, "blazepose33", K, fps=30.0, image_size=(640, 480))
    assert run.keypoint_set == "blazepose33" and run.keypoints.shape == (10, 1, 33, 2)
    v = run.valid[:, 0]
    np.testing.assert_allclose(run.keypoints[v, 0], kp[v], atol=1e-3)
    run.save(tmp_path / "run")
    back = PoseSequence.load(tmp_path / "run")
    np.testing.assert_array_equal(back.keypoints, run.keypoints)
    assert back.keypoint_set == "blazepose33"
    adapt_run(tmp_path / "run", tmp_path / "new", RunConfig(views=False, cache_dir=""), estimator=est)
    new = PoseSequence.load(tmp_path / "new")
    direct = est.estimate_keypoints(back.keypoints[:, 0], back.keypoint_confidence[:, 0], "blazepose33", K, fps=30.0, image_size=(640, 480))
    np.testing.assert_allclose(new.joints3d, direct.joints3d, atol=1e-5)
    h36m = est.estimate_keypoints(back.joints2d[:, 0], back.confidence[:, 0], "h36m17", K, fps=30.0, image_size=(640, 480))
    assert h36m.keypoints is None


def test_training_on_another_detectors_cache_is_a_clear_error(tmp_path):
    import json

    from simpose.synth.detcache import FORMAT, DetectorCacheError
    from simpose.train.lifter import TrainConfig, train
    from simpose.train.lifter_data import SamplerConfig

    cache = tmp_path / "detcache"
    cache.mkdir()
    manifest = {"format": FORMAT, "detector_version": "mediapipe-0.10.9/blazepose33/complexity1/tracking/smooth",
                "keypoint_set": "blazepose33", "joint_sets": ["h36m17", "anny", "blazepose33"]}  # fmt: skip
    (cache / "detcache.json").write_text(json.dumps(manifest))
    cfg = TrainConfig(steps=1, detector_cache=str(cache), detector_fraction=1.0, detector="mediapipe-0.10.14/blazepose33/complexity1/tracking/smooth",
                      sampler=SamplerConfig(input_set="blazepose33", batch_size=8), channels=16)  # fmt: skip
    with pytest.raises(DetectorCacheError, match="0.10.9"):
        train(tmp_path / "run", cfg, progress=False)
    with pytest.raises(ValueError, match="blazepose33"):  # the cache holds BlazePose keypoints: an h36m17 lifter cannot use it
        train(tmp_path / "run2", TrainConfig(steps=1, detector_cache=str(cache), detector_fraction=1.0), progress=False)
