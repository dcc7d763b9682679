"""``run_video`` end to end on a short real clip: outputs, consistency, gaps, ranges, interruption."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from simpose.export.poses import POSE_KEYS, read_poses
from simpose.track.sequence import PoseSequence
from simpose.track.run import RunConfig, run_video

OUTPUTS = ("poses.npz", "poses.json", "motion.bvh", "overlay.mp4", "skeleton3d.mp4", "summary.png", "run_config.json")


@pytest.fixture(scope="module")
def result(mediapipe, person_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return run_video(person_clip, out, RunConfig(fov=60.0, cache_dir=str(tmp_path_factory.mktemp("cache"))))


def test_outputs_and_layout(result):
    for name in OUTPUTS:
        assert (result.out_dir / name).is_file(), name
    a = read_poses(result.out_dir / "poses.npz")
    assert set(POSE_KEYS) <= a.keys()
    T = 8
    assert a["joints3d"].shape == (T, 1, 17, 3) and a["joints2d"].shape == (T, 1, 17, 2)
    assert a["confidence"].shape == (T, 1, 17) and a["valid"].shape == (T, 1) and a["valid"].dtype == bool
    assert a["body_pose_rotvecs"].shape == (T, 1, 19, 3) and a["body_shape"].shape == (T, 1, 6)
    assert str(a["joint_set"]) == "h36m17" and len(a["joint_names"]) == 17
    np.testing.assert_array_equal(a["frame_index"], np.arange(T))
    assert a["valid"].all() and np.isfinite(a["joints3d"]).all() and bool(a["complete"])


def test_json_matches_npz(result):
    a = read_poses(result.out_dir / "poses.npz")
    b = read_poses(result.out_dir / "poses.json")
    for k in ("joints3d", "joints2d", "confidence", "body_trans", "K"):
        np.testing.assert_allclose(b[k], a[k], atol=1e-5, equal_nan=True)
    np.testing.assert_array_equal(b["valid"], a["valid"])


def test_joints3d_project_near_the_detections(result):
    """The absolute position is solved against the 2D: the 3D must land on the person."""
    a = read_poses(result.out_dir / "poses.npz")
    X, uv, K = a["joints3d"][:, 0].astype(float), a["joints2d"][:, 0], a["K"]
    proj = X @ K.T
    proj = proj[..., :2] / proj[..., 2:]
    height = np.nanmax(uv[..., 1], 1) - np.nanmin(uv[..., 1], 1)
    err = np.linalg.norm(proj - uv, axis=-1).mean(1) / height
    assert np.median(err) < 0.1  # the lifter's own 3D error; a wrong translation gives >> 0.3
    assert (X[..., 2] > 0.5).all()  # in front of the camera


def test_refinement_keeps_the_bones_of_one_person(result):
    """Without the body (an ablation), the refinement is what keeps the track's bones at one length."""
    from simpose.adapt.refine import bone_pairs
    from simpose.track.estimator import Estimator

    a = result.arrays
    args = (a["joints2d"][:, 0].astype(float), a["confidence"][:, 0].astype(float), "h36m17", a["K"], result.fps)
    child, parent, _ = bone_pairs("h36m17")
    spread = {}
    for refine in (False, True):
        X = Estimator.from_pretrained(refine=refine, body=False).estimate_keypoints(*args).joints3d[:, 0]
        spread[refine] = np.linalg.norm(X[:, child] - X[:, parent], axis=-1).std(0).mean()
    assert spread[True] < 0.5 * spread[False]


def test_exported_joints_are_the_fitted_bodys(result, body):
    """joints3d is regressed from the body written beside it (anny's own forward as the reference)."""
    from simpose.body.fit import body_joints

    seq = PoseSequence.from_arrays(result.arrays)
    ref = body_joints(body, seq.body_fit(0), "h36m17")
    np.testing.assert_allclose(seq.joints3d[:, 0], ref, atol=1.5e-3)  # JointRig vs anny: < 1 mm; float32 storage


def test_run_config_records_the_weights(result):
    import hashlib
    import json

    from simpose.models.lifter import WEIGHTS_PATH

    cfg = json.loads((result.out_dir / "run_config.json").read_text())
    assert cfg["weights"]["path"] == str(WEIGHTS_PATH.resolve())
    assert cfg["weights"]["sha256"] == hashlib.sha256(WEIGHTS_PATH.read_bytes()).hexdigest()
    assert cfg["estimator"]["refine"] is True and cfg["estimator"]["body"] is True


def test_self_training_lifts_the_track_again(result):
    """self_train: the lifter, fine-tuned on the refined track, lifts it again; the result
    stays one skeleton near the refined one, and the original lifter is not changed."""
    from simpose.adapt.refine import bone_pairs
    from simpose.adapt.selftrain import SelfTrainConfig
    from simpose.track.estimator import Estimator

    a = result.arrays
    args = (a["joints2d"][:, 0].astype(float), a["confidence"][:, 0].astype(float), "h36m17", a["K"], result.fps)
    est = Estimator.from_pretrained()
    before = [p.clone() for p in est.lifter.net.parameters()]
    first = est.estimate_keypoints(*args).joints3d[:, 0]
    est.config = dataclasses.replace(est.config, self_train=True, self_train_config=SelfTrainConfig(rounds=1, steps=10))
    seq = est.estimate_keypoints(*args)
    X, valid = seq.joints3d[:, 0], seq.valid[:, 0]
    assert seq.timings["self_train"] > 0 and np.isfinite(X[valid]).all() and valid.all()
    moved = np.linalg.norm(X - first, axis=-1).mean()
    assert 1e-4 < moved < 0.05  # it changed the result, by less than the lifter's own error
    child, parent, _ = bone_pairs("h36m17")
    assert np.linalg.norm(X[:, child] - X[:, parent], axis=-1).std(0).mean() < 0.01  # still one skeleton
    assert all(torch.equal(p, q) for p, q in zip(before, est.lifter.net.parameters()))


def test_bvh_reproduces_the_fitted_body(result, body):
    from simpose.body.fit import BodyFit, body_joints
    from simpose.export.bvh import CAM_TO_BVH
    from simpose.motion.bvh_read import read_bvh

    a = read_poses(result.out_dir / "poses.npz")
    fit = BodyFit(*(a[k][:, 0].astype(float) for k in ("body_pose_rotvecs", "body_global_rotvecs", "body_trans")),
                  a["body_shape"][0, 0].astype(float), a["valid"][:, 0])  # fmt: skip
    clip = read_bvh(result.out_dir / "motion.bvh")
    assert clip.n_frames == 8 and abs(clip.fps - result.fps) < 1e-6
    fk = clip.forward_kinematics()
    ref = body_joints(body, fit) @ CAM_TO_BVH.T  # (T, 25, 3) native joints, Y up
    from simpose.body.joints import get_joint_set

    names = get_joint_set("anny").names
    idx = [names.index(n) for n in clip.skeleton.names]
    np.testing.assert_allclose(fk.positions, ref[:, idx], atol=2e-3)
    # Y up: the head is above the feet
    assert (fk.positions[:, clip.skeleton.index("head"), 1] > fk.positions[:, clip.skeleton.index("foot.L"), 1]).all()


def test_frames_without_a_person_are_invalid_not_invented(mediapipe, person_clip_with_gap, tmp_path):
    r = run_video(person_clip_with_gap, tmp_path, RunConfig(fov=60.0, cache_dir="", views=False))
    a = read_poses(tmp_path / "poses.npz")
    v = a["valid"][:, 0]
    assert not v[3] and not v[4] and v[[0, 1, 6, 7]].all()
    for k in ("joints3d", "joints2d", "body_trans", "body_pose_rotvecs"):
        assert np.isnan(a[k][~v]).all() and np.isfinite(a[k][v]).all()
    assert (a["confidence"][~v] == 0).all() and r.n_valid == int(v.sum())


def test_frame_range(mediapipe, person_clip, tmp_path):
    r = run_video(person_clip, tmp_path, RunConfig(fov=60.0, start=2, end=5, cache_dir="", views=False))
    np.testing.assert_array_equal(r.arrays["frame_index"], [2, 3, 4])
    assert r.arrays["joints3d"].shape[0] == 3


def test_interrupted_run_keeps_the_frames_done(mediapipe, person_clip, tmp_path, stop_after):
    cache = tmp_path / "cache"
    r = run_video(person_clip, tmp_path / "o", RunConfig(fov=60.0, cache_dir=str(cache), views=False), stop=stop_after(5))
    assert not r.complete and r.n_frames == 5
    a = read_poses(tmp_path / "o" / "poses.npz")
    assert a["joints3d"].shape[0] == 5 and not bool(a["complete"])
    # the 2D of the frames done is cached as a partial entry: the next run resumes after it
    (entry,) = cache.glob("*.npz")
    with np.load(entry) as z:
        assert not bool(z["complete"]) and list(z["frame_index"]) == [0, 1, 2, 3, 4]
    again = run_video(person_clip, tmp_path / "o", RunConfig(fov=60.0, cache_dir=str(cache), views=False))
    assert again.complete and again.n_frames == 8 and bool(read_poses(tmp_path / "o" / "poses.npz")["complete"])
    np.testing.assert_array_equal(again.arrays["frame_index"], np.arange(8))
    np.testing.assert_array_equal(again.arrays["joints2d"][:5], r.arrays["joints2d"])  # the first 5 frames' 2D reused


def test_single_image_and_image_folder(mediapipe, person_frames, tmp_path):
    from PIL import Image

    frames, _ = person_frames
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(frames[:3]):
        Image.fromarray(f).save(folder / f"f{i}.png")
    one = run_video(folder / "f0.png", tmp_path / "one", RunConfig(fov=60.0, cache_dir=""))
    assert one.n_frames == 1 and one.n_valid == 1 and (tmp_path / "one" / "overlay.mp4").is_file()
    seq = run_video(folder, tmp_path / "seq", RunConfig(fov=60.0, cache_dir="", views=False))
    assert seq.n_frames == 3 and seq.fps == 30.0  # image folders: 30 fps unless told
    told = run_video(folder, tmp_path / "told", RunConfig(fov=60.0, cache_dir="", views=False, fps=12.0))
    assert told.fps == 12.0 and float(np.load(tmp_path / "told" / "poses.npz")["fps"]) == 12.0
    # the lifter and the refinement saw the frames 1/12 s apart, not 1/30: another 3D from the same 2D
    assert np.abs(np.nan_to_num(told.arrays["joints3d"] - seq.arrays["joints3d"])).max() > 1e-4


def test_without_opengl_the_other_outputs_are_still_written(mediapipe, person_clip, tmp_path, monkeypatch):
    from simpose.render.context import RenderError
    from simpose.viz import overlay

    def no_gl(self):
        raise RenderError("no EGL here (test)")

    monkeypatch.setattr(overlay.OverlayRenderer, "_rasterizer", no_gl)
    r = run_video(person_clip, tmp_path, RunConfig(fov=60.0, end=3, cache_dir=""))
    assert not (tmp_path / "overlay.mp4").exists() and "overlay.mp4" not in r.paths
    for name in ("poses.npz", "motion.bvh", "skeleton3d.mp4", "summary.png"):
        assert (tmp_path / name).is_file()
    assert not list(tmp_path.glob(".overlay*"))  # the aborted video left no temporary file


def test_two_identical_runs_give_identical_videos(mediapipe, shared, tmp_path):
    """overlay.mp4 differed byte-wise (pixels up to 93 levels) between two identical runs, each
    in its own process; poses, JSON and BVH did not."""
    import subprocess
    import sys

    from PIL import Image

    from simpose.cues.video import open_video
    from simpose.viz.video import write_video

    source = open_video(shared / "real" / "videos" / "single_person_demo.mp4")
    frames = [np.asarray(Image.fromarray(f).resize((270, 480), Image.BILINEAR)) for _, f in source.frames()]
    clip = write_video(tmp_path / "clip.mp4", frames, fps=source.fps)
    code = "import sys; from simpose.track.run import RunConfig, run_video; run_video(sys.argv[1], sys.argv[2], RunConfig(fov=60.0, cache_dir=sys.argv[3]))"
    for out in ("a", "b"):  # one process each: the differences came from one process to the next
        subprocess.run([sys.executable, "-c", code, str(clip), str(tmp_path / out), str(tmp_path / "cache")], check=True, capture_output=True)
    for name in ("overlay.mp4", "skeleton3d.mp4", "summary.png", "poses.npz", "motion.bvh"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
