"""``simpose eval tracks``: association (known / per frame), ID switches, misses, files and errors, on plain arrays."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from simpose.body.joints import get_joint_set
from simpose.eval.tracks import TracksError, TracksGT, evaluate_tracks, evaluate_tracks_files, read_gt, write_gt
from simpose.track.sequence import PoseSequence

T, G, J = 12, 3, 17
K = np.array([[800.0, 0.0, 320.0], [0.0, 800.0, 240.0], [0.0, 0.0, 1.0]])


def _people(seed: int = 0) -> np.ndarray:
    """(T, G, 17, 3) three random-ish skeletons 1.5 m apart side by side, 4 m away, moving a little."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, 0.25, (G, J, 3))
    X = np.empty((T, G, J, 3))
    for g in range(G):
        X[:, g] = base[g] + np.array([1.5 * (g - 1), 0.0, 4.0]) + 0.01 * np.arange(T)[:, None, None]
    return X + rng.normal(0.0, 0.01, X.shape)


def _project(X: np.ndarray) -> np.ndarray:
    uv = X @ K.T
    return uv[..., :2] / uv[..., 2:]


def _sequence(joints3d: np.ndarray, valid: np.ndarray, track_ids=None, joint_set: str = "h36m17") -> PoseSequence:
    Tn, P, Jn = joints3d.shape[:3]
    z = lambda *s: np.zeros(s, np.float32)  # noqa: E731
    return PoseSequence(
        joints3d=joints3d.astype(np.float32), joints2d=_project(joints3d).astype(np.float32), confidence=z(Tn, P, Jn), valid=valid,
        joint_set=joint_set, joint_names=tuple(f"j{i}" for i in range(Jn)), body_pose_rotvecs=z(Tn, P, 19, 3),
        body_global_rotvecs=z(Tn, P, 3), body_trans=z(Tn, P, 3), body_shape=z(Tn, P, 6), K=K, image_size=(640, 480), fps=30.0,
        frame_index=np.arange(Tn), track_ids=track_ids,
    )  # fmt: skip


@pytest.mark.parametrize("space", ["3d", "2d"])
def test_permuted_tracks_known_association_recovers_the_permutation(space):
    """Predictions = GT in another column order (and other track ids): every error 0, PCK/AUC 100,
    the known assignment is the inverse permutation, no ID switches."""
    X = _people()
    perm = np.array([2, 0, 1])  # pred column p holds GT person perm[p]
    ids = np.array([7, 3, 5])
    pred = X[:, perm]
    gt = TracksGT(X, np.ones((T, G), bool), _project(X) if space == "2d" else None)
    r = evaluate_tracks(pred, np.ones((T, G), bool), gt, pred2d=_project(pred) if space == "2d" else None, track_ids=ids)
    assert r["association_space"] == space
    want = [int(ids[np.flatnonzero(perm == g)[0]]) for g in range(G)]  # [3, 5, 7]
    assert r["known"]["assignment"] == want
    for name in ("known", "unknown"):
        o = r[name]["overall"]
        assert o["mpjpe_mm"] == pytest.approx(0, abs=1e-6) and o["pa_mpjpe_mm"] == pytest.approx(0, abs=1e-4)
        assert o["mpjpe_camera_mm"] == pytest.approx(0, abs=1e-6)
        assert o["pck3d_150mm"] == 100 and o["auc3d"] == pytest.approx(100 * 30 / 31)  # the 0 mm threshold is strict <
        assert o["matched_share"] == 1 and o["id_switches"] == 0
        assert [p["tracks"] for p in r[name]["per_person"]] == [[w] for w in want]


def test_swap_halfway_unknown_is_exact_with_id_switches_known_is_not():
    """Tracks 0 and 1 exchange people at frame T/2: per-frame association still scores 0 mm but counts
    one switch for each of the two people; the fixed (known) association pays for the swap."""
    X = _people()
    pred = X.copy()
    pred[T // 2 :, [0, 1]] = X[T // 2 :, [1, 0]]
    gt = TracksGT(X, np.ones((T, G), bool))
    r = evaluate_tracks(pred, np.ones((T, G), bool), gt)
    u, k = r["unknown"], r["known"]
    assert u["overall"]["mpjpe_camera_mm"] == pytest.approx(0, abs=1e-6) and u["overall"]["matched_share"] == 1
    assert [p["id_switches"] for p in u["per_person"]] == [1, 1, 0] and u["overall"]["id_switches"] == 2
    assert [p["tracks"] for p in u["per_person"]] == [[0, 1], [0, 1], [2]]
    assert k["assignment"] == [0, 1, 2] and k["overall"]["id_switches"] == 0
    # half of person 0's frames hold person 1, 1.5 m away: camera error ~ 750 mm on average, PCK3D drops
    assert 600 < k["per_person"][0]["mpjpe_camera_mm"] < 900
    assert k["per_person"][2]["mpjpe_camera_mm"] == pytest.approx(0, abs=1e-6)


def test_missed_person_and_frames_lower_the_matched_share():
    """Only two tracks for three people, and track 0 lost for 3 frames: the unmatched person has share 0
    (PCK 0, MPJPE undefined); person 0 share 9/12, its PCK 75 while its MPJPE over matched frames stays 0."""
    X = _people()
    pred = X[:, :2].copy()
    valid = np.ones((T, 2), bool)
    valid[4:7, 0] = False
    pred[4:7, 0] = np.nan
    gt = TracksGT(X, np.ones((T, G), bool))
    r = evaluate_tracks(pred, valid, gt)
    k = r["known"]
    assert k["assignment"] == [0, 1, None]
    p0, p2 = k["per_person"][0], k["per_person"][2]
    assert p0["matched_share"] == pytest.approx(9 / 12) and p0["pck3d_150mm"] == pytest.approx(75)
    assert p0["mpjpe_mm"] == pytest.approx(0, abs=1e-6)
    assert p2["matched_share"] == 0 and p2["pck3d_150mm"] == 0 and np.isnan(p2["mpjpe_mm"])
    assert k["overall"]["matched_share"] == pytest.approx((9 + 12) / 36)
    # per frame: in frames 4..6 the only track left (person 1's) stays on person 1; person 2 never matched
    u = r["unknown"]
    assert [p["n_matched_frames"] for p in u["per_person"]] == [9, 12, 0] and u["overall"]["id_switches"] == 0


def test_gt_absent_frames_are_not_counted():
    """A person absent (NaN, valid False) in the first 5 frames: scored on the 7 others only."""
    X = _people()
    Xg = X.copy()
    Xg[:5, 1] = np.nan
    path_gt = TracksGT(Xg, np.isfinite(Xg).all(axis=(-1, -2)))
    r = evaluate_tracks(X, np.ones((T, G), bool), path_gt)
    assert r["known"]["per_person"][1]["n_gt_frames"] == 7 and r["known"]["per_person"][1]["matched_share"] == 1


def test_files_cli_and_errors(tmp_path):
    """poses.npz + ground-truth .npz through the CLI: results.json/md written; missing file, wrong
    shapes, another joint set and a frame-count mismatch exit 2 with a message."""
    from simpose.cli import app

    X = _people()
    perm = [1, 2, 0]
    run = tmp_path / "run"
    _sequence(X[:, perm], np.ones((T, G), bool), track_ids=np.array([10, 11, 12])).save(run, json=False)
    gt_path = write_gt(tmp_path / "gt.npz", X, joints2d=_project(X))
    gt = read_gt(gt_path)
    assert gt.joints3d.shape == (T, G, J, 3) and gt.valid.all() and gt.joints2d.shape == (T, G, J, 2)

    runner = CliRunner()
    res = runner.invoke(app, ["eval", "tracks", "--pred", str(run), "--gt", str(gt_path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["known"]["assignment"] == [12, 10, 11] and data["association_space"] == "2d"
    assert "| known | **all** |" in (tmp_path / "out" / "results.md").read_text()

    # a run over frames 3..8 of the video is scored on those ground-truth rows
    part = _sequence(X[3:9, perm], np.ones((6, G), bool))
    part = dataclasses.replace(part, frame_index=np.arange(3, 9))
    part.save(tmp_path / "part", json=False)
    result, _ = evaluate_tracks_files(tmp_path / "part", gt_path, tmp_path / "o_part")
    assert result["n_frames"] == 6 and result["known"]["overall"]["mpjpe_camera_mm"] == pytest.approx(0, abs=1e-3)

    bad = tmp_path / "bad.npz"
    np.savez(bad, joints3d=np.zeros((T, G, 14, 3)))
    other = tmp_path / "coco.npz"
    np.savez(other, joints3d=X, joint_set=np.array("coco17"))
    short = write_gt(tmp_path / "short.npz", X[:5])
    for gt_arg, words in ((tmp_path / "nope.npz", "no such file"), (bad, "(T, G, 17, 3)"), (other, "coco17"), (short, "within the ground truth")):
        res = runner.invoke(app, ["eval", "tracks", "--pred", str(run), "--gt", str(gt_arg), "--out", str(tmp_path / "o2")])
        assert res.exit_code == 2 and words in res.output.replace("\n", ""), (gt_arg, res.output)
    res = runner.invoke(app, ["eval", "tracks", "--pred", str(tmp_path / "none"), "--gt", str(gt_path), "--out", str(tmp_path / "o3")])
    assert res.exit_code == 2 and "no such file" in res.output
    _sequence(X, np.ones((T, G), bool), joint_set="coco17").save(tmp_path / "coco_run", json=False)
    res = runner.invoke(app, ["eval", "tracks", "--pred", str(tmp_path / "coco_run"), "--gt", str(gt_path), "--out", str(tmp_path / "o4")])
    assert res.exit_code == 2 and "'coco17'" in res.output
    with pytest.raises(TracksError, match="frames"):
        evaluate_tracks(X[:5], np.ones((5, G), bool), gt)
    with pytest.raises(TracksError, match="valid has shape"):
        evaluate_tracks(X, np.ones((T, 2), bool), gt)
    with pytest.raises(TracksError, match="non-finite where valid"):
        read_gt(_bad_valid(tmp_path))


def _bad_valid(tmp_path):
    """A ground-truth file claiming a NaN person valid (written without write_gt's check)."""
    X = _people()
    X[0, 0, 3] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, joints3d=X, valid=np.ones((T, G), bool))
    return path


def test_synth_clip_and_3dpw_pkl_as_ground_truth(tmp_path):
    """A synth clip's h36m17 joints and a 3DPW file's smpl24 joints (mapped by name; no 'head') read as ground truth."""
    import sys
    from pathlib import Path

    from simpose.body.joints import convert
    from simpose.data.synthetic import write_clip

    X = _people()
    z = lambda *s: np.zeros(s)  # noqa: E731
    clip = {"rgb": z(T, 4, 4, 3), "mask": z(T, 4, 4), "parts": z(T, 4, 4), "depth": z(T, 4, 4), "flow": z(T - 1, 4, 4, 2),
            "K": np.broadcast_to(K, (T, 3, 3)), "joints3d": {"h36m17": X, "coco17": z(T, G, 17, 3)}, "joints2d": {"h36m17": _project(X)},
            "visible": {}, "occlusion": {}, "body": {"shape": z(G, 6)}, "meta": {"seed": 0}}  # fmt: skip
    write_clip(tmp_path / "clip.npz", clip)
    gt = read_gt(tmp_path / "clip.npz")
    np.testing.assert_allclose(gt.joints3d, X)
    assert gt.valid.all() and gt.joints2d.shape == (T, G, J, 2)

    sys.path.insert(0, str(Path(__file__).parents[1] / "data"))
    from helpers_data import make_3dpw, write_pickle

    data = make_3dpw(P=2, T=5)
    pkl = write_pickle(tmp_path / "3DPW" / "sequenceFiles" / "test" / "courtyard_test_00.pkl", data)
    gt = read_gt(pkl)
    assert gt.joints3d.shape == (5, 2, J, 3) and gt.joints2d is None
    assert gt.valid[:, 1].all() and not gt.valid[1, 0]  # campose_valid
    head = get_joint_set("h36m17").index("head")
    assert list(np.flatnonzero(~gt.scored)) == [head]  # h36m17 'head' has no smpl24 source
    # scoring its own (converted) joints gives 0 mm on the 16 scored joints
    from simpose.data.pw3d import load_3dpw_sequence

    pred = convert(load_3dpw_sequence(pkl).joints3d, "smpl24", "h36m17", strict=False)
    pred[..., head, :] = 0.0  # the unscored joint may hold anything
    r = evaluate_tracks(pred, np.ones((5, 2), bool), gt)
    assert "head" not in r["joints"] and len(r["joints"]) == 16
    assert r["known"]["assignment"] == [0, 1] and r["known"]["overall"]["mpjpe_mm"] == pytest.approx(0, abs=1e-6)
