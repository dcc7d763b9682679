"""PoseTrack18 reader on shared/real/posetrack18 (3 videos, 14 people with track ids)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simpose.body.joints import get_joint_set
from simpose.data.posetrack import load_posetrack
from simpose.data.records import DatasetError


@pytest.fixture(scope="module")
def merged(real_dir):
    path = real_dir / "posetrack18" / "annotations" / "test_posetrack18_val.json"
    return path, json.loads(path.read_text())


def test_counts_tracks_and_paths(merged):
    path, raw = merged
    samples = load_posetrack(path)
    assert len(samples) == 3 and sum(len(s.people) for s in samples) == 14
    assert sorted(s.sequence for s in samples) == ["003418_mpii_test", "009473_mpii_test", "012834_mpii_test"]
    for s in samples:
        anns = [a for a in raw["annotations"] if a["image_id"] == s.image_id]
        assert [p.track_id for p in s.people] == [a["track_id"] for a in anns]
        assert s.image_path.exists() and s.frame_index == 0 and s.image_size == (1920, 1080)
        assert all(r.ndim == 2 and r.shape[1] == 2 for r in s.meta["ignore_regions"])


def test_keypoints_by_name(merged):
    """Slots 1 and 2 are head_bottom / head_top, not eyes; everything else is COCO's joint."""
    path, raw = merged
    names = raw["categories"][0]["keypoints"]
    assert names[1:3] == ["head_bottom", "head_top"]
    coco = get_joint_set("coco17")
    by_id = {a["id"]: a for a in raw["annotations"]}
    for s in load_posetrack(path):
        for person in s.people:
            kps = np.array(by_id[person.meta["annotation_id"]]["keypoints"], dtype=float).reshape(17, 3)
            for slot, name in enumerate(names):
                if name in coco.names:
                    j = coco.index(name)
                    assert person.joints2d_valid[j] == (kps[slot, 2] > 0)
                    if kps[slot, 2] > 0:
                        np.testing.assert_array_equal(person.joints2d[j], kps[slot, :2])
                else:
                    np.testing.assert_array_equal(person.meta["extra_joints2d"][name], kps[slot])
            for eye_or_ear in ("left_eye", "right_eye", "left_ear", "right_ear"):
                assert not person.joints2d_valid[coco.index(eye_or_ear)]
            assert person.joints2d_visibility is None and person.meta["bbox_head"].shape == (4,)


def test_per_video_files_equal_the_merged_file(merged, real_dir):
    path, _ = merged
    a = load_posetrack(path)
    b = load_posetrack(real_dir / "posetrack18" / "annotations" / "val")
    assert [(s.sequence, s.image_id, s.image_path) for s in a] == [(s.sequence, s.image_id, s.image_path) for s in b]
    for sa, sb in zip(a, b):
        for pa, pb in zip(sa.people, sb.people):
            np.testing.assert_array_equal(pa.joints2d, pb.joints2d)
            assert pa.track_id == pb.track_id


def test_unlabeled_frames_and_bad_input(tmp_path):
    data = {
        "images": [{"id": 1, "file_name": "images/val/x/000000.jpg", "is_labeled": True},
                   {"id": 2, "file_name": "images/val/x/000001.jpg", "is_labeled": False}],
        "annotations": [{"id": 5, "image_id": 1, "track_id": 3, "keypoints": [1, 2, 1] * 17}],
    }  # fmt: skip
    ann_dir = tmp_path / "annotations" / "val"
    ann_dir.mkdir(parents=True)
    (ann_dir / "x.json").write_text(json.dumps(data))
    samples = load_posetrack(ann_dir / "x.json")
    assert len(samples) == 1 and samples[0].image_path == tmp_path / "images/val/x/000000.jpg"
    assert samples[0].people[0].track_id == 3
    assert len(load_posetrack(ann_dir, labeled_only=False)) == 2
    (ann_dir / "x.json").write_text(json.dumps({"annotations": []}))
    with pytest.raises(DatasetError, match=r"x\.json: missing \['images'\]"):
        load_posetrack(ann_dir)
    with pytest.raises(DatasetError, match="no .json annotation files"):
        load_posetrack(tmp_path / "annotations")
