"""MPJAE / PA-MPJAE of ``simpose eval tracks``: global orientations along anny's tree, analytic
angle offsets, and a synth clip's bodies scored against themselves."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from simpose.body.model import POSE_BONE_PARENTS, POSE_BONES
from simpose.eval import metrics
from simpose.eval.tracks import TracksGT, evaluate_tracks, evaluate_tracks_files, read_gt
from simpose.track.sequence import PoseSequence

T, G, J, NB = 6, 2, 17, len(POSE_BONES)


def _bodies(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, G, 17, 3) joints 1.5 m apart, 4 m away; (T, G, 19, 3) and (T, G, 3) random rotations."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 0.25, (T, G, J, 3)) + np.array([[1.5 * g, 0.0, 4.0] for g in range(G)])[None, :, None]
    return X, rng.normal(0.0, 0.4, (T, G, NB, 3)), rng.normal(0.0, 0.8, (T, G, 3))


def test_pose_bone_parents_and_global_rotmats_match_the_body_model():
    """POSE_BONE_PARENTS (joint set) = anny's rig; global_rotmats = the body model's posed bone orientations."""
    import torch

    from simpose.body.model import BodyModel

    body = BodyModel()
    assert POSE_BONE_PARENTS == body.pose_bone_parents
    _, pose, glob = _bodies()
    out = body(pose_rotvecs=torch.as_tensor(pose[0]), global_rotvecs=torch.as_tensor(glob[0]))
    want = out.bone_rotmats[:, body.pose_bone_indices].numpy()  # (G, 19, 3, 3)
    got = metrics.global_rotmats(pose[0], glob[0], POSE_BONE_PARENTS)
    np.testing.assert_allclose(got[:, 0], Rotation.from_rotvec(glob[0]).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(got[:, 1:], want, atol=1e-9)


def test_one_leaf_offset_gives_its_angle_over_the_joint_count():
    """A rotation of theta on the left wrist (a leaf: nothing below it) only: MPJAE = PA-MPJAE = theta / 20."""
    X, pose, glob = _bodies()
    theta = 37.0
    wrist = POSE_BONES.index("wrist.L")
    assert wrist not in POSE_BONE_PARENTS
    off = pose.copy()
    off[..., wrist, :] = (Rotation.from_rotvec(pose[..., wrist, :].reshape(-1, 3)) * Rotation.from_euler("x", theta, degrees=True)).as_rotvec().reshape(T, G, 3)
    gt = TracksGT(X, np.ones((T, G), bool), body_pose_rotvecs=pose, body_global_rotvecs=glob)
    r = evaluate_tracks(X, np.ones((T, G), bool), gt, pred_pose_rotvecs=off, pred_global_rotvecs=glob)
    assert r["angles"]
    for name in ("known", "unknown"):
        for v in [*r[name]["per_person"], r[name]["overall"]]:
            assert v["mpjae_deg"] == pytest.approx(theta / (NB + 1), abs=1e-6)
            assert v["pa_mpjae_deg"] == pytest.approx(theta / (NB + 1), abs=1e-6)


def test_a_global_rotation_of_everything_is_the_mpjae_and_not_the_pa_mpjae():
    """Prediction = GT turned rigidly by Q (joints about their centre, every orientation): MPJAE = angle(Q)
    on every joint, PA-MPJAE = 0."""
    X, pose, glob = _bodies(1)
    theta = 25.0
    Q = Rotation.from_rotvec(np.radians(theta) * np.array([1.0, 2.0, -0.5]) / np.linalg.norm([1.0, 2.0, -0.5]))
    c = X.mean(axis=2, keepdims=True)
    Xq = (X - c) @ Q.as_matrix().T + c
    glob_q = (Q * Rotation.from_rotvec(glob.reshape(-1, 3))).as_rotvec().reshape(T, G, 3)
    gt_rot = metrics.global_rotmats(pose, glob, POSE_BONE_PARENTS)
    pred_rot = metrics.global_rotmats(pose, glob_q, POSE_BONE_PARENTS)
    np.testing.assert_allclose(metrics.mpjae(pred_rot, gt_rot, per_joint=True), theta, atol=1e-6)
    np.testing.assert_allclose(metrics.pa_mpjae(pred_rot, gt_rot, Xq, X), 0.0, atol=1e-5)
    gt = TracksGT(X, np.ones((T, G), bool), body_pose_rotvecs=pose, body_global_rotvecs=glob)
    o = evaluate_tracks(Xq, np.ones((T, G), bool), gt, pred_pose_rotvecs=pose, pred_global_rotvecs=glob_q)["known"]["overall"]
    assert o["mpjae_deg"] == pytest.approx(theta, abs=1e-6) and o["pa_mpjae_deg"] == pytest.approx(0.0, abs=1e-5)


def test_synth_clip_bodies_scored_against_themselves(tmp_path):
    """A synth clip's world-frame bodies come out in the camera frame (R_cam R_global); the clip's own
    camera-frame bodies as a run score MPJAE = PA-MPJAE = 0 and the report has the columns. Without
    rotations on the run side the note stays."""
    from simpose.data.synthetic import write_clip

    X, pose, glob = _bodies(2)
    cam_R = Rotation.from_rotvec(np.random.default_rng(3).normal(0.0, 0.3, (T, 3))).as_matrix()
    cam_t = np.tile([0.1, -0.2, 0.3], (T, 1))
    z = lambda *s: np.zeros(s)  # noqa: E731
    uv = X @ np.diag([800.0, 800.0, 1.0]).T
    clip = {"rgb": z(T, 4, 4, 3), "mask": z(T, 4, 4), "parts": z(T, 4, 4), "depth": z(T, 4, 4), "flow": z(T - 1, 4, 4, 2),
            "K": np.broadcast_to(np.eye(3), (T, 3, 3)), "joints3d": {"h36m17": X}, "joints2d": {"h36m17": uv[..., :2] / uv[..., 2:]},
            "visible": {}, "occlusion": {},
            "body": {"pose_rotvecs": pose, "global_rotvecs": glob, "trans": z(T, G, 3), "shape_params": np.full((G, 6), 0.5)},
            "meta": {"seed": 0, "camera_R": cam_R.tolist(), "camera_t": cam_t.tolist()}}  # fmt: skip
    write_clip(tmp_path / "clip.npz", clip)
    gt = read_gt(tmp_path / "clip.npz")
    np.testing.assert_allclose(gt.body_pose_rotvecs, pose.astype(np.float32), atol=1e-12)
    want = cam_R[:, None] @ Rotation.from_rotvec(glob.astype(np.float32).reshape(-1, 3)).as_matrix().reshape(T, G, 3, 3)
    np.testing.assert_allclose(Rotation.from_rotvec(gt.body_global_rotvecs.reshape(-1, 3)).as_matrix().reshape(T, G, 3, 3), want, atol=1e-6)

    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    seq = PoseSequence(
        joints3d=f32(X), joints2d=f32(gt.joints2d), confidence=f32(z(T, G, J)), valid=np.ones((T, G), bool), joint_set="h36m17",
        joint_names=tuple(f"j{i}" for i in range(J)), body_pose_rotvecs=f32(gt.body_pose_rotvecs), body_global_rotvecs=f32(gt.body_global_rotvecs),
        body_trans=f32(z(T, G, 3)), body_shape=f32(z(T, G, 6)), K=np.eye(3), image_size=(4, 4), fps=30.0, frame_index=np.arange(T),
    )  # fmt: skip
    seq.save(tmp_path / "run", json=False)
    r, paths = evaluate_tracks_files(tmp_path / "run", tmp_path / "clip.npz", tmp_path / "out")
    assert r["angles"] and r["known"]["assignment"] == list(range(G))
    for name in ("known", "unknown"):
        o = r[name]["overall"]
        assert o["mpjae_deg"] == pytest.approx(0.0, abs=0.05) and o["pa_mpjae_deg"] == pytest.approx(0.0, abs=0.05)  # float32 run
    md = paths[1].read_text()
    assert "MPJAE (°)" in md and "not reported" not in md

    nan_run = dataclasses.replace(seq, body_pose_rotvecs=f32(np.full((T, G, NB, 3), np.nan)))
    r = evaluate_tracks(nan_run.joints3d, nan_run.valid, gt, pred_pose_rotvecs=nan_run.body_pose_rotvecs, pred_global_rotvecs=nan_run.body_global_rotvecs)
    assert np.isnan(r["known"]["overall"]["mpjae_deg"])  # no body fitted: no angle, not 0
    r = evaluate_tracks(X, np.ones((T, G), bool), gt)
    assert not r["angles"] and "mpjae_deg" not in r["known"]["overall"]
