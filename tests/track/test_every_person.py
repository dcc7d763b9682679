"""Every person (``people="all"``): one track each at its own depth, track ids in the files, clear option errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from simpose.track.estimator import Estimator, EstimatorConfig, most_seen
from simpose.track.run import RunConfig, RunError, validate_run_config
from simpose.track.sequence import EstimatorError, PoseSequence

FPS = 50.0
T = 60
K = np.array([[1000.0, 0.0, 639.5], [0.0, 1000.0, 359.5], [0.0, 0.0, 1.0]])


@pytest.fixture(scope="module")
def estimator():
    return Estimator.from_pretrained()


def _walker(body, x: float, depth: float, phase: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, 17, 2) exact pinhole projection through K of a body swinging its limbs at (x, 0.1, depth) m, and its (T, 17, 3)."""
    from simpose.motion.procedural import swinging_limbs

    pose = swinging_limbs(T, FPS, phase)
    glob = np.zeros((T, 3))
    glob[:, 1] = 0.3
    trans = np.stack([np.full(T, x), np.full(T, 0.1), np.full(T, depth)], -1)
    with torch.no_grad():
        X = body.forward_joints(
            "h36m17", torch.as_tensor(pose), torch.full((1, 6), 0.5, dtype=torch.float64), torch.as_tensor(glob), torch.as_tensor(trans)
        ).numpy()
    uv = X @ K.T
    return uv[..., :2] / uv[..., 2:], X


def test_two_people_each_at_its_own_depth(estimator, body):
    """Two known skeletons, 3 m and 6 m away, the far one entering at frame 20: each track is
    placed at its own depth, the late one is NaN before it enters, and each is what it would
    be alone (the tracks do not mix)."""
    near, X_near = _walker(body, -0.8, 3.0, 0.0)
    far, X_far = _walker(body, 0.9, 6.0, 1.0)
    far[:20] = np.nan  # not in the video yet
    seq = estimator.estimate_keypoints(np.stack([near, far], 1), None, "h36m17", K, FPS)
    assert seq.valid[:, 0].all() and not seq.valid[:20, 1].any() and seq.valid[20:, 1].all()
    assert np.isnan(seq.joints3d[:20, 1]).all()  # never invented before the person enters
    z = [np.nanmean(seq.joints3d[:, p, :, 2]) for p in (0, 1)]
    z_true = [X_near[..., 2].mean(), X_far[20:, :, 2].mean()]
    assert z[0] < z[1]
    for got, want in zip(z, z_true):  # the lifter's scale error, a few %; a swap would be 100%
        assert abs(got / want - 1) < 0.15, (z, z_true)
    alone = estimator.estimate_keypoints(near, None, "h36m17", K, FPS)
    np.testing.assert_allclose(seq.joints3d[:, 0], alone.joints3d[:, 0], atol=1e-5)


def test_most_seen_keeps_the_longest_tracks_in_their_order():
    valid = np.zeros((10, 4), bool)
    valid[:3, 0], valid[:, 1], valid[:7, 3] = True, True, True  # seen 3, 10, 0, 7 frames
    assert most_seen(valid, 2).tolist() == [1, 3]
    assert most_seen(valid, 8).tolist() == [0, 1, 3]  # never seen: never a track
    assert most_seen(np.zeros((5, 0), bool), 3).tolist() == []


@pytest.mark.parametrize("bad", [{"people": "foo"}, {"max_people": 0}])
def test_bad_people_options_are_clear_errors(bad):
    name = next(iter(bad))
    with pytest.raises(EstimatorError, match=name):
        EstimatorConfig(**bad)
    with pytest.raises(RunError, match=name.replace("_", "-")):
        validate_run_config(RunConfig(**bad))


def test_cli_refuses_a_bad_people_option(tmp_path):
    from simpose.cli import app

    r = CliRunner().invoke(app, ["run", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "o"), "--people", "foo"])
    assert r.exit_code == 2 and "--people" in r.output and "foo" in r.output
    r = CliRunner().invoke(app, ["run", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "o"), "--people", "all", "--max-people", "0"])
    assert r.exit_code == 2 and "--max-people" in r.output


def test_track_ids_round_trip_and_stay_out_of_single_person_files(tmp_path):
    P = 2
    nan = np.full((3, P, 17, 3), np.nan, np.float32)
    seq = PoseSequence(
        joints3d=nan, joints2d=nan[..., :2], confidence=np.zeros((3, P, 17), np.float32), valid=np.zeros((3, P), bool),
        joint_set="h36m17", joint_names=tuple(f"j{i}" for i in range(17)), body_pose_rotvecs=np.zeros((3, P, 19, 3), np.float32),
        body_global_rotvecs=np.zeros((3, P, 3), np.float32), body_trans=np.zeros((3, P, 3), np.float32),
        body_shape=np.zeros((3, P, 6), np.float32), K=K, image_size=(1280, 720), fps=30.0, frame_index=np.arange(3),
        track_ids=np.array([4, 11]),
    )  # fmt: skip
    seq.save(tmp_path)
    for name in ("poses.npz", "poses.json"):
        back = PoseSequence.load(tmp_path / name)
        assert back.track_ids.dtype == np.int64 and back.track_ids.tolist() == [4, 11]
    import dataclasses

    assert "track_ids" not in dataclasses.replace(seq, track_ids=None).to_arrays()


def test_skeleton3d_draws_every_track():
    from simpose.viz.skeleton3d import render_skeleton3d

    near = _standing()
    X = np.stack([near, near + [1.2, 0.0, 0.5]], 1)[:3]  # (3, 2, 17, 3)
    valid = np.ones((3, 2), bool)
    valid[1, 1] = False
    X[1, 1] = np.nan
    frames = list(render_skeleton3d(X, valid, "h36m17", fps=10.0, size=200, labels=["id 0", "id 5"]))
    bright = lambda f: (f.max(-1) > 200).sum()  # noqa: E731  (joints are near-white dots)
    counts = [bright(f) for f in frames]
    assert counts[1] < 0.7 * min(counts[0], counts[2]), counts  # frame 1: one skeleton, not two; never invented


def _standing() -> np.ndarray:
    """(4, 17, 3) a figure 1.8 m tall, 3 m in front of the camera (no body model needed)."""
    from simpose.body.joints import get_joint_set

    js = get_joint_set("h36m17")
    rng = np.random.default_rng(0)
    X = np.array([[rng.uniform(-0.3, 0.3), -0.9 + 1.8 * i / len(js.names), 3.0] for i in range(len(js.names))])
    return np.repeat(X[None], 4, 0)


def test_people_all_on_the_multi_person_demo(shared, tmp_path):
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed: pip install 'simpose[mediapipe]'")
    pytest.importorskip("mediapipe", reason="mediapipe not installed: pip install 'simpose[mediapipe]'")
    from simpose.export.poses import read_poses
    from simpose.track.run import adapt_run, run_video

    path = shared / "real" / "videos" / "multi_person_demo.mp4"
    if not path.is_file():
        pytest.skip(f"{path} is missing from the shared data")
    cfg = RunConfig(fov=60.0, end=6, views=False, people="all", cache_dir=str(tmp_path / "cache"))
    result = run_video(path, tmp_path / "run", cfg)
    a = read_poses(result.out_dir / "poses.npz")
    P = a["joints3d"].shape[1]
    assert P >= 2 and result.n_people == P and a["track_ids"].shape == (P,)  # two people visible by eye
    assert a["valid"].all(0).sum() >= 2  # both in every frame
    for i in a["track_ids"]:
        assert (result.out_dir / f"motion_{int(i)}.bvh").is_file()
    assert not (result.out_dir / "motion.bvh").exists()
    # two people, two places: their pelvises lie apart in every frame where both are seen
    both = a["valid"][:, 0] & a["valid"][:, 1]
    assert (np.linalg.norm(a["joints3d"][both, 0, 0] - a["joints3d"][both, 1, 0], axis=-1) > 0.5).all()
    # simpose adapt re-estimates every track from the run's own 2D, ids kept: the same settings give the same 3D
    again = adapt_run(result.out_dir, tmp_path / "adapted", cfg)
    np.testing.assert_array_equal(again.arrays["track_ids"], a["track_ids"])
    np.testing.assert_allclose(again.arrays["joints3d"], a["joints3d"], atol=1e-5)


def test_people_all_with_nobody_is_a_clear_error(empty_scene, tmp_path):
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed: pip install 'simpose[mediapipe]'")
    pytest.importorskip("mediapipe", reason="mediapipe not installed: pip install 'simpose[mediapipe]'")
    from simpose.track.run import run_video

    with pytest.raises(RunError, match="no person found"):
        run_video(empty_scene, tmp_path / "run", RunConfig(fov=60.0, views=False, people="all", cache_dir=""))
