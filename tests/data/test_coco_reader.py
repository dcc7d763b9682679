"""COCO keypoints and detections readers on shared/real/coco, and bad input."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from simpose.data.coco import load_coco_detections, load_coco_keypoints
from simpose.data.records import DatasetError


@pytest.fixture(scope="module")
def coco_json(real_dir):
    path = real_dir / "coco" / "test_coco.json"
    return path, json.loads(path.read_text())


def test_counts_and_keypoints_equal_the_json(coco_json):
    path, raw = coco_json
    samples = load_coco_keypoints(path)
    people_per_image = Counter(a["image_id"] for a in raw["annotations"] if not a["iscrowd"])
    assert [s.image_id for s in samples] == [im["id"] for im in raw["images"]]
    assert {s.image_id: len(s.people) for s in samples} == {im["id"]: people_per_image[im["id"]] for im in raw["images"]}
    assert sum(len(s.people) for s in samples) == 14
    by_id = {a["id"]: a for a in raw["annotations"]}
    for sample in samples:
        for person in sample.people:
            ann = by_id[person.meta["annotation_id"]]
            kps = np.array(ann["keypoints"], dtype=float).reshape(17, 3)  # COCO order = coco17 order
            labelled = kps[:, 2] > 0
            np.testing.assert_array_equal(person.joints2d_valid, labelled)
            np.testing.assert_array_equal(person.joints2d_visibility, kps[:, 2])
            np.testing.assert_array_equal(person.joints2d[labelled], kps[labelled, :2])
            assert np.isnan(person.joints2d[~labelled]).all()
            np.testing.assert_array_equal(person.bbox_xywh, ann["bbox"])
            assert person.joint_set == "coco17" and person.track_id is None


def test_images_load(coco_json):
    path, raw = coco_json
    sample = load_coco_keypoints(path)[0]
    image = sample.load_image()
    assert image.shape == (raw["images"][0]["height"], raw["images"][0]["width"], 3) and image.dtype == np.uint8
    assert sample.image_size == (raw["images"][0]["width"], raw["images"][0]["height"])


def test_detections_equal_the_json(real_dir):
    path = real_dir / "coco" / "test_coco_det_AP_H_56.json"
    raw = json.loads(path.read_text())
    dets = load_coco_detections(path)
    assert {k: len(v) for k, v in dets.items()} == dict(Counter(d["image_id"] for d in raw))
    for image_id, people in dets.items():
        scores = [p.score for p in people]
        assert scores == sorted(scores, reverse=True)
        assert sorted(scores) == sorted(d["score"] for d in raw if d["image_id"] == image_id)
        assert all(p.joints2d is None and p.bbox_xywh.shape == (4,) for p in people)


def _tiny(**overrides):
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}, {"id": 2, "file_name": "b.jpg"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [1, 2, 3, 4], "keypoints": [5, 6, 2] + [0, 0, 0] * 15 + [7, 8, 1]},
            {"id": 11, "image_id": 1, "category_id": 1, "iscrowd": 1, "bbox": [0, 0, 9, 9], "keypoints": [0, 0, 0] * 17},
        ],
        "categories": [{"id": 1, "name": "person", "keypoints": ["nose", "left_eye", "right_eye", "left_ear", "right_ear",
                        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
                        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]}],
    }  # fmt: skip
    data.update(overrides)
    return data


def test_crowd_regions_and_empty_images(tmp_path):
    path = tmp_path / "k.json"
    path.write_text(json.dumps(_tiny()))
    samples = load_coco_keypoints(path, image_dir=tmp_path / "imgs")
    assert [len(s.people) for s in samples] == [1, 0] and samples[0].image_path == tmp_path / "imgs" / "a.jpg"
    person = samples[0].people[0]
    assert person.joints2d[0].tolist() == [5, 6] and person.joints2d[16].tolist() == [7, 8]
    assert person.joints2d_visibility[16] == 1 and person.joints2d_valid.sum() == 2
    crowd = load_coco_keypoints(path, include_crowd=True)[0].people
    assert [p.iscrowd for p in crowd] == [False, True]


def test_bad_input(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"images": []}))
    with pytest.raises(DatasetError, match=r"bad\.json: missing \['annotations'\]"):
        load_coco_keypoints(path)
    data = _tiny()
    data["annotations"][0]["keypoints"] = data["annotations"][0]["keypoints"][:-3]
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"annotation 10 keypoints has shape \(48,\), expected \(51\)"):
        load_coco_keypoints(path)
    data = _tiny()
    data["annotations"][0]["keypoints"][0] = float("nan")
    path.write_text(json.dumps(data))  # json writes NaN as a bare literal, as some tools do
    with pytest.raises(DatasetError, match="non-finite"):
        load_coco_keypoints(path)
    data = _tiny()
    data["annotations"][0]["image_id"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="refers to image 99"):
        load_coco_keypoints(path)
    path.write_bytes(b"\x89PNG\r\n\x1a\n binary")
    with pytest.raises(DatasetError, match="not a JSON file"):
        load_coco_keypoints(path)
    path.write_text(json.dumps({"images": [], "annotations": []}))
    with pytest.raises(DatasetError, match="expected a JSON list of detections"):
        load_coco_detections(path)
    path.write_text(json.dumps([{"image_id": 1, "bbox": [0, 0, 1]}]))
    with pytest.raises(DatasetError, match=r"missing \['score'\]"):
        load_coco_detections(path)
