"""simpose eval multiview: scores against hand-made errors, the folder checks, the CLI's bad input, the real demo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from simpose.body.joints import convert, get_joint_set
from simpose.cli import app
from simpose.eval.multiview import LIMB_JOINTS, MultiviewConfig, MultiviewError, evaluate_multiview, find_views, limb_cv, score_sequence
from simpose.viz.video import write_video

runner = CliRunner()
H36M = get_joint_set("h36m17")


def random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


@pytest.fixture
def ref():
    rng = np.random.default_rng(0)
    return rng.normal(scale=0.3, size=(12, 17, 3)) + np.array([0.0, 0.0, 4.0])


def test_similarity_transformed_estimate_scores_zero_pa(ref):
    rng = np.random.default_rng(1)
    pred = np.stack([1.3 * x @ random_rotation(rng).T + rng.normal(size=3) for x in ref])
    s = score_sequence(pred, ref)
    assert s["pa_mpjpe_mm"] < 1e-6
    assert s["mpjpe_mm"] > 10  # rotated and scaled: not zero without alignment


def test_known_offset_gives_known_mpjpe(ref):
    pred = ref + np.array([0.5, -0.2, 1.0])  # translation only: the mid-hip centring removes it
    s = score_sequence(pred, ref)
    assert s["mpjpe_mm"] < 1e-9 and s["accel_error_mm_per_frame2"] < 1e-9
    pred[:, H36M.index("left_wrist")] += [0.0, 0.05, 0.0]  # 50 mm on one of the 12 joints
    assert score_sequence(pred, ref)["mpjpe_mm"] == pytest.approx(50.0 / len(LIMB_JOINTS), rel=1e-9)


def test_missing_frames_are_counted_not_scored(ref):
    pred = ref.copy()
    pred[3] = np.nan
    s = score_sequence(pred, ref)
    assert (s["n_frames"], s["n_missing"]) == (11, 1)
    assert s["pa_mpjpe_mm"] < 1e-6
    with pytest.raises(MultiviewError, match="no frame"):
        score_sequence(np.full_like(ref, np.nan), ref)


def test_limb_cv_of_a_limb_that_alternates_10_percent(ref):
    joints = np.repeat(ref[:1], 10, axis=0)
    assert limb_cv(joints)[0] == pytest.approx(0.0, abs=1e-12)
    e, w = H36M.index("left_elbow"), H36M.index("left_wrist")
    scale = np.where(np.arange(10) % 2 == 0, 0.9, 1.1)  # lengths 0.9 L and 1.1 L: std / mean = 0.1
    joints[:, w] = joints[:, e] + scale[:, None] * (joints[:, w] - joints[:, e])
    worst, per_bone = limb_cv(joints)
    assert worst == pytest.approx(0.1, rel=1e-9)
    assert per_bone["left_elbow-left_wrist"] == pytest.approx(0.1, rel=1e-9)


# --------------------------------------------------------------------------- the folder and the CLI


def _calib(names) -> dict:
    cams = {}
    for k, name in enumerate(names):
        a = 2 * np.pi * k / len(names)
        R = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
        cams[name] = {"K": [[30.0, 0, 16], [0, 30.0, 12], [0, 0, 1]], "R_world2cam": R.tolist(), "t_world2cam_m": [0, 0, 4],
                      "image_size": [32, 24], "dist_k1k2p1p2k3": [0, 0, 0, 0, 0]}  # fmt: skip
    return cams


@pytest.fixture
def rig_dir(tmp_path, quadrant_frames_5):
    """A folder with calib.json for camA/camB/camC and a 5-frame video for each."""
    (tmp_path / "calib.json").write_text(json.dumps(_calib(["camA", "camB", "camC"])))
    for name in ("camA", "camB", "camC"):
        write_video(tmp_path / f"{name}.mp4", quadrant_frames_5, fps=10)
    return tmp_path


@pytest.fixture
def quadrant_frames_5():
    frames = []
    for i in range(5):
        f = np.zeros((24, 32, 3), np.uint8)
        f[:12, :16] = (230, 30, 30)
        f[12:, 16:] = 40 * i
        frames.append(f)
    return frames


def test_find_views_reads_the_folder(rig_dir):
    calib, videos = find_views(rig_dir)
    assert list(calib) == ["camA", "camB", "camC"] == list(videos)
    assert videos["camB"] == rig_dir / "camB.mp4"
    calib, videos = find_views(rig_dir, views=["camC", "camA"])
    assert list(videos) == ["camC", "camA"]


def _cli(args) -> tuple[int, str]:
    result = runner.invoke(app, ["eval", "multiview", *map(str, args)])
    return result.exit_code, result.output


def test_cli_missing_view(rig_dir, tmp_path):
    (rig_dir / "camC.mp4").unlink()
    code, out = _cli([rig_dir, "--out", tmp_path / "o", "--no-cache"])
    assert code == 2 and "camC" in out and "no video" in out
    code, out = _cli([rig_dir, "--out", tmp_path / "o", "--views", "camA,camD"])
    assert code == 2 and "no camera named 'camD'" in out


def test_cli_video_without_camera(rig_dir, tmp_path, quadrant_frames_5):
    write_video(rig_dir / "camX.mp4", quadrant_frames_5, fps=10)
    code, out = _cli([rig_dir, "--out", tmp_path / "o", "--no-cache"])
    assert code == 2 and "no camera named camX" in out


def test_cli_unsynchronised_frame_counts(rig_dir, tmp_path, quadrant_frames_5):
    write_video(rig_dir / "camB.mp4", quadrant_frames_5 + quadrant_frames_5[:1], fps=10)
    code, out = _cli([rig_dir, "--out", tmp_path / "o", "--no-cache"])
    assert code == 2 and "unsynchronised" in out and "camB 6" in out


def test_cli_bad_calibration(rig_dir, tmp_path):
    (rig_dir / "calib.json").write_text(json.dumps({"camA": {"K": [[1, 0], [0, 1]]}}))
    code, out = _cli([rig_dir, "--out", tmp_path / "o"])
    assert code == 2 and "calib.json" in out
    code, out = _cli([tmp_path / "nowhere", "--out", tmp_path / "o"])
    assert code == 2 and "no such folder" in out


# --------------------------------------------------------------------------- the real demo


@pytest.mark.slow
def test_oracle_estimate_scores_zero_on_the_pose2sim_demo(shared, tmp_path):
    """An estimator that returns the reference itself, in each view's camera frame and at the
    view's own frames (its offset applied backwards), must score 0: the cameras, the offsets and
    the joint sets are wired right. MediaPipe runs on the 4 real videos (~1 minute)."""
    data = shared / "real" / "pose2sim"
    if not (data / "calib.json").is_file():
        pytest.skip(f"{data} is missing")
    config = MultiviewConfig(cache_dir=str(tmp_path / "cache"), plot_frames=2)
    calib, videos = find_views(data)
    nan_estimate = lambda video, K, fps: (np.full((100, 17, 3), np.nan), np.zeros(100, bool))  # noqa: E731
    with pytest.raises(MultiviewError, match="no frame"):
        evaluate_multiview(data, tmp_path / "first", config=config, estimate=nan_estimate)
    z = np.load(tmp_path / "first" / "reference.npz")
    ref = convert(z["points3d_world"], str(z["joint_set"]), "h36m17", strict=False)
    offsets = dict(zip(z["views"].tolist(), z["offsets"].tolist()))

    def oracle(video: Path, K, fps):
        cam = calib[Path(video).stem]
        assert np.allclose(K, cam.K)
        out = np.full((100, 17, 3), np.nan)
        d = offsets[cam.name]
        src = np.arange(100)
        ok = (src - d >= 0) & (src - d < 100)
        out[ok] = ref[src[ok] - d] @ cam.R.T + cam.t  # frame t + d of this view shows reference frame t
        return out, np.isfinite(out).all((-1, -2))

    results, paths = evaluate_multiview(data, tmp_path / "oracle", config=config, estimate=oracle)
    assert results["reference"]["offsets_frames"]["cam03"] != 0  # the README's late view
    for view in results["views"]:
        s = results["per_view"][view]["simpose"]
        assert s["pa_mpjpe_mm"] < 1e-6 and s["mpjpe_mm"] < 1e-6, view
        assert results["per_view"][view]["mediapipe_world"]["pa_mpjpe_mm"] > 30  # a real estimate is not the reference
    assert all(p.exists() for p in paths)


@pytest.mark.slow
def test_default_estimate_is_what_simpose_run_gives(shared, tmp_path):
    """The adapter must give the numbers of ``simpose run VIDEO --focal f`` (joints3d of poses.npz)."""
    from simpose.eval.multiview import RunPipelineEstimate
    from simpose.track.run import RunConfig, run_video

    video = shared / "real" / "pose2sim" / "cam04.mp4"
    if not video.is_file():
        pytest.skip(f"{video} is missing")
    K = np.array([[1675.2, 0, 540.1], [0, 1675.2, 964.0], [0, 0, 1]])
    cache = str(tmp_path / "cache")
    joints3d, valid = RunPipelineEstimate(cache)(video, K, 60.0)
    run = run_video(video, tmp_path / "run", RunConfig(focal=1675.2, cache_dir=cache, views=False, json=False))
    np.testing.assert_array_equal(valid, run.arrays["valid"][:, 0])
    np.testing.assert_allclose(joints3d[valid], run.arrays["joints3d"][valid, 0], atol=1e-5)  # poses.npz is float32


def test_cli_two_views_need_the_checks_off(rig_dir, tmp_path):
    code, out = _cli([rig_dir, "--out", tmp_path / "o", "--views", "camA,camB"])
    assert code == 2 and "need >= 3 views" in out and "--no-swaps --max-offset 0" in out


# --------------------------------------------------------------------------- the reference, analytic


def _look_at(eye, target):
    z = (target - eye) / np.linalg.norm(target - eye)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z]), eye


def test_reference_recovers_a_known_motion_through_swaps_offsets_and_outliers():
    """4 views of a known blazepose33 motion: view 1 left/right swapped in frames 10-19, view 2
    three frames late, one wild detection in view 3: the reference is the motion itself."""
    from simpose.eval.multiview import build_reference
    from simpose.eval.triangulation import apply_swaps, project, shift_views

    rng = np.random.default_rng(0)
    js = get_joint_set("blazepose33")
    T = 60
    base = rng.normal(scale=0.05, size=(33, 3)) + [0.0, 0.0, 1.0]
    for j, name in enumerate(js.names):  # left joints to one side, right to the other, on a tilted axis
        side = 1.0 if name.startswith("left") else -1.0 if name.startswith("right") else 0.0
        base[j] += side * 0.2 * np.array([np.cos(0.7), np.sin(0.7), 0.0])
        base[j, 2] += 0.8 * (1 - j / 33)
    t = np.arange(T)[:, None, None] / 60.0
    motion = base + 0.25 * np.sin(2 * np.pi * 1.2 * t + rng.uniform(0, 6, size=(1, 33, 1))) * [1.0, 0.6, 0.3]
    K = np.array([[1500.0, 0, 540], [0, 1500.0, 960], [0, 0, 1]])
    Ps = []
    for angle in (0.0, 1.4, 3.0, 4.5):
        R, eye = _look_at(np.array([4 * np.cos(angle), 4 * np.sin(angle), 1.5]), np.array([0.0, 0.0, 1.0]))
        Ps.append(K @ np.c_[R, -R @ eye])
    Ps = np.stack(Ps)
    kp = project(motion, Ps).swapaxes(1, 2).copy()  # (T, V, J, 2)
    groups = [[(js.index(f"left_{p}"), js.index(f"right_{p}")) for p in ("shoulder", "elbow", "wrist", "pinky", "index", "thumb")],
              [(js.index(f"left_{p}"), js.index(f"right_{p}")) for p in ("hip", "knee", "ankle", "heel", "foot_index")]]  # fmt: skip
    swapped = np.zeros((T, 4, 2), bool)
    swapped[10:20, 1] = True
    kp = apply_swaps(kp, swapped, groups)
    kp[:, 2] = shift_views(kp, np.array([0, 0, -3, 0]))[:, 2]  # view 2 shows frame t at t + 3
    kp[30, 3, js.index("left_wrist")] += [250.0, -180.0]
    conf = np.where(np.isfinite(kp).all(-1), 0.9, 0.0)
    ref = build_reference(kp, conf, Ps, "blazepose33", MultiviewConfig(threshold_px=20.0))
    np.testing.assert_array_equal(ref.offsets, [0, 0, 3, 0])
    np.testing.assert_array_equal(ref.swaps[:, 1].any(-1), np.isin(np.arange(T), np.arange(10, 20)))
    assert not ref.swaps[:, [0, 2, 3]].any()
    assert not ref.inliers[30, 3, js.index("left_wrist")]
    ok = np.isfinite(ref.points3d).all(-1)
    assert ok[: T - 3].all()  # every frame where view 2 still has a frame to show
    np.testing.assert_allclose(ref.points3d[ok], motion[ok], atol=1e-6)
