"""Lifter training data and loop: the joint cache resumes, cameras look at the person, runs resume exactly."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from simpose.body.joints import get_joint_set
from simpose.train.lifter import TrainConfig, train
from simpose.train.lifter_data import (
    SamplerConfig,
    WindowSampler,
    _look_at,
    build_joint_cache,
    load_joint_cache,
)

H36M = get_joint_set("h36m17")


def test_cache_is_complete_and_resumable(tiny_cache):
    out, cfg = tiny_cache
    parts = sorted(out.glob("*.npz"))
    assert [p.name.split("_")[1][0] for p in parts] == ["0", "0", "g"]  # cmu_09_03, proc_0000_*, proc_g0000_*
    mtimes = [p.stat().st_mtime_ns for p in parts]
    build_joint_cache(out, cfg, progress=False)  # nothing left to do: parts are kept
    assert [p.stat().st_mtime_ns for p in parts] == mtimes
    assert not list(out.glob("*.tmp*"))
    cache = load_joint_cache(out)
    assert cache.joints.shape[1:] == (17 + 25, 3) and np.isfinite(cache.joints).all()
    assert cache.segments[0, 0] == 0 and (cache.segments[1:, 0] == cache.segments[:-1, 1]).all()
    assert cache.segments[-1, 1] == len(cache.joints) and cache.procedural.tolist() == [False, False, True, True]
    assert json.loads((out / "cache_config.json").read_text())["chunk_frames"] == 30


def test_look_at_points_the_optical_axis_at_the_target():
    rng = np.random.default_rng(0)
    eye, target = rng.normal(0, 3, (50, 3)), rng.normal(0, 1, (50, 3))
    R = _look_at(eye, target, rng.normal(0, 0.1, 50))
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
    d = np.einsum("bij,bj->bi", R, target - eye)
    np.testing.assert_allclose(d[:, :2], 0.0, atol=1e-9)
    assert (d[:, 2] > 0).all()
    R0 = _look_at(np.array([[0.0, -1.0, -5.0]]), np.array([[0.0, -1.0, 0.0]]), np.zeros(1))
    np.testing.assert_allclose(R0[0], np.eye(3), atol=1e-12)  # level camera looking along +z: y stays down


def test_sampler_batches(tiny_cache):
    cache = load_joint_cache(tiny_cache[0])
    sampler = WindowSampler(cache, SamplerConfig(batch_size=64))
    b = sampler.sample(np.random.default_rng(0))
    assert b.features.shape == (64, 27, 17 * 3) and b.targets.shape == (64, 2, 42, 3)
    np.testing.assert_array_equal(b.targets[:, :, H36M.index("pelvis")], 0.0)
    f = b.features.reshape(64, 27, 17, 3)
    assert np.isfinite(f).all() and (f[..., 2] >= 0).all() and (f[..., 2] <= 1).all()
    b2 = sampler.sample(np.random.default_rng(0))
    np.testing.assert_array_equal(b.features, b2.features)
    # Bodies are metres-sized: the thorax sits 0.3-0.8 m from the pelvis.
    torso = np.linalg.norm(b.targets[:, 0, H36M.index("thorax")], axis=-1)
    assert 0.3 < torso.min() and torso.max() < 0.8


def test_training_resumes_exactly(tiny_cache, tmp_path):
    cache_dir = tiny_cache[0]
    cfg = TrainConfig(steps=4, checkpoint_every=2, log_every=1, workers=0, channels=32, warmup=2,
                      cache=tiny_cache[1], sampler=SamplerConfig(batch_size=16))  # fmt: skip
    full = train(tmp_path / "full", cfg, cache_dir=cache_dir, progress=False)
    assert train(tmp_path / "split", cfg, cache_dir=cache_dir, progress=False, stop_after=2) is None
    split = train(tmp_path / "split", cfg, cache_dir=cache_dir, progress=False, resume=True)
    a = torch.load(full, weights_only=True)["state_dict"]
    b = torch.load(split, weights_only=True)["state_dict"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    log = [json.loads(line) for line in (tmp_path / "split" / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [1, 2, 3, 4]
    saved = json.loads((tmp_path / "full" / "config.json").read_text())
    assert saved["steps"] == 4 and saved["sampler"]["batch_size"] == 16
    from simpose.models.lifter import Lifter

    lifter = Lifter.from_pretrained(full)
    assert lifter.card["receptive_field"] == 27
    assert lifter.predict(np.random.default_rng(0).uniform(0, 500, (30, 17, 2))).shape == (30, 17, 3)
    assert dataclasses.asdict(cfg)["noise"]["swap_prob"] == lifter.card["data_recipe"]["config"]["noise"]["swap_prob"]


def _bone_lengths(joints, names):
    from simpose.body.joints import get_joint_set

    anny = get_joint_set("anny")
    out = {}
    for child, parent in names:
        c, p = 17 + anny.index(child), 17 + anny.index(parent)
        out[child] = np.linalg.norm(joints[..., c, :] - joints[..., p, :], axis=-1)
    return out


def test_scale_bones_changes_one_group_and_keeps_the_sets_consistent(tiny_cache):
    from simpose.train.lifter_data import BONE_GROUPS, bone_tree, scale_bones

    cache = load_joint_cache(tiny_cache[0])
    joints = cache.joints[None, :50]  # (1, 50, 42, 3)
    tree = bone_tree()
    np.testing.assert_allclose(scale_bones(joints, np.ones((1, len(BONE_GROUPS))), tree), joints, atol=1e-6)
    f = np.ones((1, len(BONE_GROUPS)))
    f[0, BONE_GROUPS.index("thigh")] = 1.2
    out = scale_bones(joints, f, tree)
    pairs = [("lowerleg01.L", "upperleg01.L"), ("lowerleg01.R", "upperleg01.R"), ("foot.L", "lowerleg01.L"), ("lowerarm01.L", "upperarm01.L"), ("spine01", "spine03")]
    before, after = _bone_lengths(joints, pairs), _bone_lengths(out, pairs)
    np.testing.assert_allclose(after["lowerleg01.L"], 1.2 * before["lowerleg01.L"], rtol=1e-5)  # both thighs, 20% longer
    np.testing.assert_allclose(after["lowerleg01.R"], 1.2 * before["lowerleg01.R"], rtol=1e-5)
    for k in ("foot.L", "lowerarm01.L", "spine01"):  # every other bone keeps its length
        np.testing.assert_allclose(after[k], before[k], rtol=1e-5)
    np.testing.assert_allclose(out[..., 17, :], joints[..., 17, :])  # the anny root stays
    # The h36m17 knee and ankle coincide with anny's before and after: the two sets stay consistent.
    anny = get_joint_set("anny")
    for h, a in (("left_knee", "lowerleg01.L"), ("right_ankle", "foot.R")):
        np.testing.assert_allclose(out[..., H36M.index(h), :], out[..., 17 + anny.index(a), :], atol=1e-6)
    # The h36m17 thigh (hip -> knee) is the anny thigh plus the small hip offset: ~20% longer.
    hk = lambda j: np.linalg.norm(j[..., H36M.index("left_knee"), :] - j[..., H36M.index("left_hip"), :], axis=-1)  # noqa: E731
    assert 1.15 < float(np.median(hk(out) / hk(joints))) < 1.21


def test_sampler_proportions_vary_within_the_range(tiny_cache):
    cache = load_joint_cache(tiny_cache[0])
    knee, ankle = H36M.index("left_knee"), H36M.index("left_ankle")
    shin = {}
    for b in (0.0, 0.15):
        s = WindowSampler(cache, SamplerConfig(batch_size=256, bone_scale=b, bone_scale_prob=1.0, mirror_prob=0.0, size_sigma=None))
        y = s.sample(np.random.default_rng(3)).targets
        shin[b] = np.linalg.norm(y[:, 0, knee] - y[:, 0, ankle], axis=-1)
    ratio = shin[0.15] / shin[0.0]  # the same windows and cameras: only the proportions differ
    assert ratio.min() >= np.exp(-0.15) - 1e-4 and ratio.max() <= np.exp(0.15) + 1e-4
    assert ratio.std() > 0.05


def test_cut_schedule_keeps_the_cosine_then_anneals_to_the_floor():
    from simpose.train.lifter import _lr

    full = TrainConfig(steps=1000, warmup=10, schedule_steps=None, anneal_steps=0)
    cut = TrainConfig(steps=700, warmup=10, schedule_steps=1000, anneal_steps=100)
    assert [_lr(cut, s) for s in range(600)] == [_lr(full, s) for s in range(600)]  # the same run up to the anneal
    assert _lr(full, 999) == pytest.approx(full.lr * full.final_lr_fraction, rel=1e-3)
    assert _lr(cut, 650) == pytest.approx(0.5 * (_lr(full, 600) + cut.lr * cut.final_lr_fraction))  # linear
    assert _lr(cut, 699) == pytest.approx(0.01 * _lr(full, 600) + 0.99 * cut.lr * cut.final_lr_fraction)  # the last step: 99% of the way down


def test_pelvis_view_targets_are_the_camera_targets_turned(tiny_cache):
    from simpose.train.lifter_data import CameraConfig

    cache = load_joint_cache(tiny_cache[0])
    cam = CameraConfig(aim_jitter=0.0)  # the camera looks at the centre frame's pelvis: its virtual camera is itself
    out = {}
    for view in (False, True):
        s = WindowSampler(cache, SamplerConfig(batch_size=64, clean_fraction=1.0, pelvis_view=view), cam)
        out[view] = s.sample(np.random.default_rng(4))
    np.testing.assert_allclose(out[True].targets[:, 0], out[False].targets[:, 0], atol=1e-4)
    assert np.median(np.abs(out[True].features - out[False].features)) < 0.01  # nearly centred views: nearly the same input
    norms = [np.linalg.norm(out[v].targets[:, 1], axis=-1) for v in (False, True)]
    np.testing.assert_allclose(norms[1], norms[0], atol=1e-5)  # the last frame's target: turned, not changed


def test_sampler_sizes_follow_the_prior_whatever_the_proportions(tiny_cache):
    """With ``size_sigma`` every window's skeleton is scaled to a size (sum of the h36m17 bone
    lengths) drawn log-normally around the cache's median, independently of its proportions."""
    cache = load_joint_cache(tiny_cache[0])
    parents = np.asarray(H36M.parents)

    def sizes_and_legs(cfg):
        sampler = WindowSampler(cache, cfg)
        Xc, _, _ = sampler._draw(np.random.default_rng(5), 3000)
        c = Xc[:, cfg.receptive_field // 2]  # (B, 17, 3): lengths do not change with the camera
        bones = np.linalg.norm(c[:, 1:] - c[:, parents[1:]], axis=-1)
        leg = np.linalg.norm(c[:, H36M.index("left_knee")] - c[:, H36M.index("left_hip")], axis=-1)
        return bones.sum(-1), leg / bones.sum(-1), sampler.median_size

    size, leg_share, median = sizes_and_legs(SamplerConfig(size_sigma=0.06))
    assert abs(np.std(np.log(size / median)) - 0.06) < 0.006
    assert abs(np.median(size) / median - 1) < 0.01
    assert abs(np.corrcoef(size, leg_share)[0, 1]) < 0.1  # size says nothing about proportions
    size0, _, _ = sizes_and_legs(SamplerConfig(size_sigma=None))  # the body model's own sizes
    assert np.std(np.log(size0 / median)) > 0.1


def test_cache_splits_by_motion(tiny_cache):
    full = load_joint_cache(tiny_cache[0])
    train_part = load_joint_cache(tiny_cache[0], exclude=("proc_",))
    held_out = load_joint_cache(tiny_cache[0], only=("proc_",))
    assert not train_part.procedural.any() and held_out.procedural.all()
    assert len(train_part.joints) + len(held_out.joints) == len(full.joints)
    np.testing.assert_array_equal(np.concatenate([train_part.joints, held_out.joints]), full.joints)
    with pytest.raises(FileNotFoundError, match="selected"):
        load_joint_cache(tiny_cache[0], only=("cmu_99_",))


def test_bone_centre_lengthens_a_group_in_every_window(tiny_cache):
    cache = load_joint_cache(tiny_cache[0])
    elbow, wrist = H36M.index("left_elbow"), H36M.index("left_wrist")
    forearm = {}
    for centre in ((), (("forearm", 1.2),)):
        s = WindowSampler(cache, SamplerConfig(batch_size=128, bone_scale=0.0, bone_centre=centre, size_sigma=None, mirror_prob=0.0))
        y = s.sample(np.random.default_rng(4)).targets
        forearm[centre] = np.linalg.norm(y[:, 0, elbow] - y[:, 0, wrist], axis=-1)
    np.testing.assert_allclose(forearm[(("forearm", 1.2),)], 1.2 * forearm[()], rtol=1e-4)


def test_speed_takes_the_window_frames_that_far_apart():
    """A body gliding at constant velocity: a window played at speed s moves s times as far per frame."""
    from simpose.train.lifter_data import JointCache

    rng = np.random.default_rng(0)
    T, J = 400, 17 + len(get_joint_set("anny"))
    v = np.array([0.01, 0.0, 0.004])  # metres per cache frame
    pose = rng.normal(0, 0.3, (J, 3)) + [0.0, -1.0, 0.0]
    joints = (pose[None] + np.arange(T)[:, None, None] * v).astype(np.float32)
    cache = JointCache(joints, np.array([[0, T]]), np.array([False]))
    RF = 27
    for speed in ((1.0, 1.0), (0.5, 2.0)):
        cfg = SamplerConfig(receptive_field=RF, bone_scale=0.0, size_sigma=None, speed=speed)
        X, _, _ = WindowSampler(cache, cfg)._draw(np.random.default_rng(1), 256)
        c = X[:, RF // 2, 0]
        inner = (np.abs(X[:, 0, 0] - c).sum(-1) > 0) & (np.abs(X[:, RF - 1, 0] - c).sum(-1) > 0)
        step = np.linalg.norm(X[:, RF - 1, 0] - X[:, 0, 0], axis=-1) / (RF - 1) / np.linalg.norm(v)
        far = np.linalg.norm(X[:, 0, 0] - c, axis=-1) / (RF // 2) / np.linalg.norm(v)
        ok = (far > 0.99 * step) & (far < 1.01 * step) & inner  # windows clear of the clip's ends
        assert ok.mean() > 0.8
        if speed == (1.0, 1.0):
            np.testing.assert_allclose(step[ok], 1.0, rtol=1e-3)
        else:
            assert step[ok].min() >= 0.5 - 1e-3 and step[ok].max() <= 2.0 + 1e-3 and step[ok].std() > 0.2



def test_init_starts_from_given_weights(tiny_cache, tmp_path):
    cache_dir = tiny_cache[0]
    cfg = TrainConfig(steps=2, checkpoint_every=2, log_every=1, workers=0, channels=32, warmup=1,
                      cache=tiny_cache[1], sampler=SamplerConfig(batch_size=8))  # fmt: skip
    first = train(tmp_path / "first", cfg, cache_dir=cache_dir, progress=False)
    init = torch.load(first, weights_only=True)["state_dict"]
    # lr 0: Adam moves nothing, so the weights are the init's exactly; a new seed's fresh weights differ.
    still = train(tmp_path / "still", dataclasses.replace(cfg, lr=0.0, seed=1, init=str(first)), cache_dir=cache_dir, progress=False)
    fresh = train(tmp_path / "fresh", dataclasses.replace(cfg, lr=0.0, seed=1), cache_dir=cache_dir, progress=False)
    a, b = torch.load(still, weights_only=True)["state_dict"], torch.load(fresh, weights_only=True)["state_dict"]
    weights = [k for k in init if k.endswith("weight")]
    assert weights
    for k in weights:
        torch.testing.assert_close(a[k], init[k], rtol=0, atol=0)
    assert any(not torch.equal(b[k], init[k]) for k in weights)
    assert "fine-tuned from" in json.loads(still.with_suffix(".json").read_text())["data_recipe"]["motion"]
    with pytest.raises(ValueError, match="net config"):
        train(tmp_path / "wide", dataclasses.replace(cfg, channels=16, init=str(first)), cache_dir=cache_dir, progress=False)


def test_median_proportions_give_every_body_the_median_skeleton(tiny_cache):
    from simpose.train.lifter_data import BONE_GROUPS, bone_tree, group_lengths, median_proportion_factors, scale_bones, skeleton_size

    cache = load_joint_cache(tiny_cache[0])
    anny = get_joint_set("anny")
    first = cache.joints[cache.segments[:, 0]].astype(np.float64)  # one frame per body

    def bone(J, a, b):
        return sum(np.linalg.norm(J[..., 17 + anny.index(f"{a}.{s}"), :] - J[..., 17 + anny.index(f"{b}.{s}"), :], axis=-1) for s in "LR")

    size = skeleton_size(first[:, :17])
    expected = np.median(bone(first, "upperleg01", "lowerleg01") / size) / np.median(bone(first, "lowerleg01", "foot") / size)
    thigh_shin = {}
    for on in (False, True):
        s = WindowSampler(cache, SamplerConfig(batch_size=128, bone_scale=0.0, median_proportions=on, size_sigma=None, mirror_prob=0.0))
        y = s.sample(np.random.default_rng(5)).targets[:, 0].astype(np.float64)
        g = group_lengths(y, s.tree)
        np.testing.assert_allclose(g[:, BONE_GROUPS.index("thigh")], bone(y, "upperleg01", "lowerleg01"), rtol=1e-5)
        thigh_shin[on] = g[:, BONE_GROUPS.index("thigh")] / g[:, BONE_GROUPS.index("shin")]
    assert np.ptp(thigh_shin[False]) > 0.05  # the body model's bodies differ
    np.testing.assert_allclose(thigh_shin[True], expected, rtol=1e-4)  # every window: the median body's
    # The factors alone (as benchmarks/refine_synthetic.py --median-proportions applies them per sequence).
    scaled = scale_bones(first, median_proportion_factors(cache), bone_tree())
    np.testing.assert_allclose(bone(scaled, "upperleg01", "lowerleg01") / bone(scaled, "lowerleg01", "foot"), expected, rtol=1e-6)


def test_stages_chain_and_resume_after_an_interruption_in_the_second(tiny_cache, tmp_path):
    from simpose.train.lifter import train_stages

    cache_dir = tiny_cache[0]
    base = TrainConfig(steps=2, checkpoint_every=2, log_every=1, workers=0, channels=32, warmup=1,
                       cache=tiny_cache[1], sampler=SamplerConfig(batch_size=8))  # fmt: skip
    stages = (base, dataclasses.replace(base, steps=4, lr=3e-4, sampler=SamplerConfig(batch_size=8, median_proportions=True)))
    full = train_stages(tmp_path / "full", stages, cache_dir=cache_dir, progress=False)
    assert full == tmp_path / "full" / "lifter.pt"
    # Interrupted in the second stage: the first finished, the second stopped at its first checkpoint.
    first = train(tmp_path / "split" / "stage0", base, cache_dir=cache_dir, progress=False)
    assert train(tmp_path / "split", dataclasses.replace(stages[1], init=str(first)), cache_dir=cache_dir, progress=False, stop_after=2) is None
    stamp = first.stat().st_mtime_ns
    split = train_stages(tmp_path / "split", stages, cache_dir=cache_dir, progress=False, resume=True)
    assert first.stat().st_mtime_ns == stamp  # the finished stage was kept, not trained again
    a, b = torch.load(full, weights_only=True)["state_dict"], torch.load(split, weights_only=True)["state_dict"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    s0 = torch.load(first, weights_only=True)["state_dict"]
    assert any(not torch.equal(a[k], s0[k]) for k in a if k.endswith("weight"))  # the second stage trained
    card = json.loads(split.with_suffix(".json").read_text())
    assert card["data_recipe"]["config"]["init"] == str(first)
    assert card["data_recipe"]["config"]["sampler"]["median_proportions"] is True
    assert [s["config"]["steps"] for s in card["earlier_stages"]] == [2]
    assert card["earlier_stages"][0]["config"]["sampler"]["median_proportions"] is False


def test_shipped_recipe_is_the_shipped_cards():
    from simpose.models.lifter import Lifter
    from simpose.train.lifter import SHIPPED_RECIPE

    card = Lifter.from_pretrained().card
    *earlier, last = SHIPPED_RECIPE
    got = card["data_recipe"]["config"]
    want = json.loads(json.dumps(dataclasses.asdict(last)))
    assert {k: v for k, v in got.items() if k != "init"} == {k: v for k, v in want.items() if k != "init"}
    assert [s["config"] for s in card["earlier_stages"]] == [json.loads(json.dumps(dataclasses.asdict(c))) for c in earlier]


def test_steps_without_config_is_a_clear_error(tmp_path, capsys):
    from simpose.train.lifter import main

    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path / "run"), "--steps", "3"])
    assert exc.value.code != 0
    assert "--config" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # nothing started
