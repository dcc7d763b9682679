"""2D tracking metrics (PoseTrack per-joint CLEAR-MOT) of simpose.eval.tracks2d."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from simpose.eval.tracks import TracksError
from simpose.eval.tracks2d import Tracks2D, clear_mot, posetrack_gt
from simpose.track.sequence import PoseSequence

F, G, J = 6, 3, 17
HEAD = 20.0  # head size in px: a hit is within 10 px


def _gt() -> Tracks2D:
    """Three people 300 px apart, every coco17 joint labelled in every frame, moving a little."""
    rng = np.random.default_rng(0)
    xy = np.empty((F, G, J, 2))
    for g in range(G):
        xy[:, g] = rng.uniform(0, 100, (J, 2)) + [300.0 * g + 50, 100.0] + 3.0 * np.arange(F)[:, None, None]
    return Tracks2D(xy, np.ones((F, G, J), bool), np.array([5, 6, 7]), np.arange(10, 10 + F), np.full((F, G), HEAD))


def _swap_miss_fp(gt: Tracks2D) -> Tracks2D:
    """Tracks 10 and 11 follow people 0 and 1 and swap at frame 3; track 12 is person 2 but misses
    frame 4; track 13 is a false positive in frame 1 only (far from everyone)."""
    P = 4
    xy = np.full((F, P, J, 2), np.nan)
    xy[:3, 0], xy[3:, 0] = gt.xy[:3, 0], gt.xy[3:, 1]
    xy[:3, 1], xy[3:, 1] = gt.xy[:3, 1], gt.xy[3:, 0]
    xy[:, 2] = gt.xy[:, 2]
    xy[4, 2] = np.nan
    xy[1, 3] = gt.xy[1, 2] + [0.0, 400.0]
    ok = np.isfinite(xy).all(-1)
    return Tracks2D(xy, ok, np.array([10, 11, 12, 13]), gt.frame_index.copy())


def test_swap_miss_and_false_positive_exact_counts():
    """Per joint: 18 ground-truth joints, 2 ID switches (the swap), 1 miss, 1 false positive:
    MOTA = 1 - 4/18; precision = recall = 17/18; exact positions: MOTP = 1."""
    gt = _gt()
    result = clear_mot(gt, _swap_miss_fp(gt))
    assert result["joints"] == list(result["per_joint"]) and len(result["joints"]) == J
    for v in result["per_joint"].values():
        assert (v["n_gt"], v["matches"], v["fn"], v["fp"], v["id_switches"]) == (18, 17, 1, 1, 2)
        assert v["mota"] == pytest.approx(1 - 4 / 18) and v["motp"] == pytest.approx(1.0)
        assert v["precision"] == pytest.approx(17 / 18) and v["recall"] == pytest.approx(17 / 18)
    total = result["total"]
    assert (total["n_gt"], total["fn"], total["fp"], total["id_switches"]) == (18 * J, J, J, 2 * J)
    assert total["mota"] == pytest.approx(7 / 9) and total["mota_pooled"] == pytest.approx(7 / 9)

    # the ground truth itself: perfect
    perfect = clear_mot(gt, Tracks2D(gt.xy, gt.ok, np.array([1, 2, 3]), gt.frame_index))["total"]
    assert perfect["mota"] == 1.0 and perfect["id_switches"] == 0 and perfect["fp"] == perfect["fn"] == 0


def test_threshold_ignore_regions_and_unscored_joints():
    """A joint 11 px off (> 0.5 head sizes) is a miss and a false positive; a prediction inside an
    ignore region is dropped; joints the GT never labels or the predicted set lacks are not scored."""
    gt = _gt()
    pred = Tracks2D(gt.xy.copy(), gt.ok.copy(), np.array([1, 2, 3]), gt.frame_index)
    pred.xy[2, 1, 0] += [11.0, 0.0]  # nose of person 1 in frame 2
    fp_xy = np.full((F, 1, J, 2), np.nan)
    fp_xy[0, 0] = gt.xy[0, 0] + [0.0, 1000.0]
    pred = Tracks2D(np.concatenate([pred.xy, fp_xy], 1), np.isfinite(np.concatenate([pred.xy, fp_xy], 1)).all(-1), np.array([1, 2, 3, 4]), gt.frame_index)
    box = np.array([[-1e4, 900.0], [1e4, 900.0], [1e4, 1e4], [-1e4, 1e4]])  # below y = 900: the false positive
    regions = ([box],) + ([],) * (F - 1)
    labelled = gt.ok.copy()
    labelled[..., 3] = False  # left_ear never labelled (as in PoseTrack)
    gt = Tracks2D(gt.xy, labelled, gt.ids, gt.frame_index, gt.head_size, regions)
    given = np.ones(J, bool)
    given[1] = False  # left_eye: not in the predicted set
    result = clear_mot(gt, Tracks2D(pred.xy, pred.ok, pred.ids, pred.frame_index, given=given))
    assert "left_ear" not in result["joints"] and "left_eye" not in result["joints"] and len(result["joints"]) == J - 2
    nose = result["per_joint"]["nose"]
    assert (nose["fn"], nose["fp"], nose["id_switches"]) == (1, 1, 0) and nose["mota"] == pytest.approx(1 - 2 / 18)
    assert all(v["fp"] == 0 and v["mota"] == 1.0 for k, v in result["per_joint"].items() if k != "nose")
    with pytest.raises(TracksError, match="annotated frames"):
        clear_mot(gt, Tracks2D(pred.xy, pred.ok, pred.ids, pred.frame_index + 1))


def _sequence_2d(xy: np.ndarray, track_ids: np.ndarray, frame_index: np.ndarray) -> PoseSequence:
    """A run's poses.npz holding coco17 2D joints (T, P, 17, 2) and nothing else of use."""
    Tn, P = xy.shape[:2]
    z = lambda *s: np.zeros(s, np.float32)  # noqa: E731
    return PoseSequence(
        joints3d=z(Tn, P, J, 3), joints2d=xy.astype(np.float32), confidence=np.ones((Tn, P, J), np.float32),
        valid=np.isfinite(xy).any(axis=(-1, -2)), joint_set="coco17", joint_names=tuple(f"j{i}" for i in range(J)),
        body_pose_rotvecs=z(Tn, P, 19, 3), body_global_rotvecs=z(Tn, P, 3), body_trans=z(Tn, P, 3), body_shape=z(Tn, P, 6),
        K=np.eye(3), image_size=(1280, 720), fps=25.0, frame_index=np.asarray(frame_index, np.int64), track_ids=track_ids,
    )  # fmt: skip


def test_posetrack_json_ground_truth_as_prediction(shared, tmp_path):
    """A shared PoseTrack18 file scored against itself through ``simpose eval tracks``: MOTA = 1;
    a run that misses the annotated frame is refused."""
    from simpose.cli import app

    path = shared / "real" / "posetrack18" / "annotations" / "val" / "012834_mpii_test.json"
    gt, video = posetrack_gt(path)
    assert video == "012834_mpii_test" and gt.ids.size == 11 and np.isfinite(gt.head_size[gt.ok.any(-1)]).all()
    _sequence_2d(gt.xy, gt.ids, gt.frame_index).save(tmp_path / "run", json=False)
    runner = CliRunner()
    res = runner.invoke(app, ["eval", "tracks", "--pred", str(tmp_path / "run"), "--gt", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["total"]["mota"] == 1.0 and data["total"]["id_switches"] == 0 and data["total"]["n_gt"] == int(gt.ok.sum())
    # PoseTrack labels no eyes or ears: those coco17 slots are not scored
    assert not {"left_eye", "right_eye", "left_ear", "right_ear"} & set(data["joints"])
    assert "| **total** | 100.0 |" in (tmp_path / "out" / "results.md").read_text()

    _sequence_2d(gt.xy, gt.ids, gt.frame_index + 5).save(tmp_path / "later", json=False)
    res = runner.invoke(app, ["eval", "tracks", "--pred", str(tmp_path / "later"), "--gt", str(path), "--out", str(tmp_path / "o2")])
    assert res.exit_code == 2 and "do not cover" in res.output.replace("\n", ""), res.output


def test_predictions_2d_maps_by_name_and_keeps_missing_joints_local():
    """BlazePose-33 keypoints -> coco17 by name; an undetected source joint blanks only its own
    coco17 joint; --min-confidence drops low joints; h36m17 gives no eyes or ears."""
    from dataclasses import replace

    from simpose.body.joints import get_joint_set
    from simpose.eval.tracks2d import predictions_2d

    bp, coco = get_joint_set("blazepose33"), get_joint_set("coco17")
    rng = np.random.default_rng(1)
    kp = rng.uniform(0, 500, (2, 3, len(bp), 2))
    conf = np.full((2, 3, len(bp)), 0.9)
    kp[1, 2, bp.index("left_knee")] = np.nan
    conf[0, 1, bp.index("nose")] = 0.2
    seq = replace(_sequence_2d(np.zeros((2, 3, J, 2)), None, np.arange(2)), keypoints=kp, keypoint_confidence=conf, keypoint_set="blazepose33")
    pred, src = predictions_2d(seq, min_confidence=0.5)
    assert src == "blazepose33" and pred.given.all() and list(pred.ids) == [0, 1, 2]
    idx = [bp.index(n) for n in coco.names]
    knee, nose = coco.index("left_knee"), coco.index("nose")
    expect_ok = np.ones((2, 3, J), bool)
    expect_ok[1, 2, knee] = expect_ok[0, 1, nose] = False
    np.testing.assert_array_equal(pred.ok, expect_ok)
    np.testing.assert_allclose(pred.xy[pred.ok], kp[:, :, idx][pred.ok])

    h36 = get_joint_set("h36m17")
    x = rng.uniform(0, 500, (2, 3, len(h36), 2))
    seq = replace(seq, keypoints=None, keypoint_confidence=None, keypoint_set=None, joints2d=x, joint_set="h36m17")
    pred, src = predictions_2d(seq)
    lacking = {"left_eye", "right_eye", "left_ear", "right_ear"}
    assert src == "h36m17" and {n for n, g in zip(coco.names, pred.given) if not g} == lacking
    assert pred.ok.sum() == 2 * 3 * (J - 4)
    np.testing.assert_allclose(pred.xy[:, :, coco.index("right_wrist")], x[:, :, h36.index("right_wrist")])


def test_previous_match_is_kept_while_within_the_threshold():
    """py-motmetrics: a pair matched in the previous frame stays matched while still a hit, even when
    another track is nearer (no switch, the nearer one is a false positive); once the pair is out
    of reach, the other track takes over and that is a switch."""
    gt_xy = np.zeros((3, 1, J, 2)) + 100.0
    gt = Tracks2D(gt_xy, np.ones((3, 1, J), bool), np.array([0]), np.arange(3), np.full((3, 1), HEAD))
    pred_xy = np.full((3, 2, J, 2), np.nan)
    pred_xy[0, 0] = 100.0  # frame 0: only track A, exact
    pred_xy[1, 0], pred_xy[1, 1] = 104.0, 101.0  # frame 1: A 5.7 px off (a hit), B 1.4 px off
    pred_xy[2, 0], pred_xy[2, 1] = 120.0, 101.0  # frame 2: A out of reach
    result = clear_mot(gt, Tracks2D(pred_xy, np.isfinite(pred_xy).all(-1), np.array([1, 2]), np.arange(3)))
    v = result["per_joint"]["nose"]
    assert (v["matches"], v["fp"], v["fn"], v["id_switches"]) == (3, 2, 0, 1)
    assert v["motp"] == pytest.approx(1 - (0 + 4 * np.sqrt(2) + np.sqrt(2)) / HEAD / 3)
