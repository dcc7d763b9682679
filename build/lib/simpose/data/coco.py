"""COCO keypoints readers: ground-truth annotations and detection results.

Ground truth (``person_keypoints_*.json``): ``images`` (``id``, ``file_name``, ``width``,
``height``), ``annotations`` (``image_id``, ``keypoints`` as K x (x, y, v) with v = 0 not
labelled, 1 labelled but occluded, 2 labelled and visible, ``bbox`` xywh, ``iscrowd``...),
``categories`` (the person category lists the keypoint names). Keypoints are mapped to
``coco17`` by those names, so COCO-style files with other keypoint layouts (PoseTrack) reuse
:func:`person_from_annotation`; a keypoint that ``coco17`` lacks goes to
``PersonAnnotation.meta["extra_joints2d"]``.

Detections (COCO results format): a list of ``{image_id, category_id, bbox, score}``, with
``keypoints`` for keypoint results.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from simpose.body.joints import get_joint_set
from simpose.data._checks import array, check_finite, load_json, require_keys
from simpose.data.records import DatasetError, PersonAnnotation, Sample

__all__ = ["load_coco_keypoints", "load_coco_detections", "person_from_annotation", "keypoint_names", "COCOFile"]

JOINT_SET = "coco17"


def keypoint_names(data: dict, path: Path) -> tuple[str, ...]:
    """Keypoint names of the person category (``coco17``'s names when the file has none)."""
    default = get_joint_set(JOINT_SET).names
    people = [c for c in data.get("categories", []) if c.get("keypoints")]
    if not people:
        return default
    person = next((c for c in people if c.get("name") == "person"), people[0])
    return tuple(str(n) for n in person["keypoints"])


def person_from_annotation(ann: dict, names: tuple[str, ...], path: Path, occlusion_flags: bool = True) -> PersonAnnotation:
    """One COCO-style annotation as a ``coco17`` PersonAnnotation.

    Args:
        ann: the annotation dict (``keypoints``, ``bbox``, ``iscrowd``, ``track_id``, ...).
        names: the file's keypoint names, in the order of ``ann["keypoints"]``.
        occlusion_flags: whether v = 1 means "occluded" (COCO) rather than just "labelled";
            without it ``joints2d_visibility`` is None.
    Returns:
        ``joints2d`` (17, 2) px, NaN where v = 0; ``joints2d_valid`` v > 0; ``bbox_xywh``;
        ``track_id``; ``meta``: ``annotation_id``, ``extra_joints2d`` {name: (3,) x, y, v} for
        keypoints not in coco17, ``num_keypoints``.
    """
    what = f"annotation {ann.get('id', '?')}"
    coco = get_joint_set(JOINT_SET)
    joints2d = np.full((len(coco), 2), np.nan)
    flags = np.zeros(len(coco), dtype=np.int8)
    extras: dict[str, np.ndarray] = {}
    if ann.get("keypoints") is not None and len(ann["keypoints"]) > 0:
        kps = array(ann["keypoints"], path, f"{what} keypoints", (3 * len(names),)).reshape(len(names), 3)
        check_finite(kps, path, f"{what} keypoints")
        for name, (x, y, v) in zip(names, kps):
            if name in coco.names:
                j = coco.index(name)
                flags[j] = int(v)
                if v > 0:
                    joints2d[j] = (x, y)
            else:
                extras[name] = np.array([x, y, v])
    bbox = None
    if ann.get("bbox") is not None and len(ann["bbox"]) > 0:
        bbox = array(ann["bbox"], path, f"{what} bbox", (4,))
        check_finite(bbox, path, f"{what} bbox")
    track = ann.get("track_id")
    meta: dict[str, Any] = {"annotation_id": ann.get("id"), "extra_joints2d": extras}
    if "num_keypoints" in ann:
        meta["num_keypoints"] = int(ann["num_keypoints"])
    return PersonAnnotation(
        joint_set=JOINT_SET,
        joints2d=joints2d,
        joints2d_valid=flags > 0,
        joints2d_visibility=flags if occlusion_flags else None,
        track_id=None if track is None else int(track),
        bbox_xywh=bbox,
        iscrowd=bool(ann.get("iscrowd", False)),
        meta=meta,
    )


class COCOFile:
    """A COCO-style keypoints JSON, validated and indexed by image.

    Attributes:
        path: the file.
        images: the ``images`` entries, in file order.
        annotations: image id -> the person annotations of that image, in file order.
        names: keypoint names (see :func:`keypoint_names`).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        data = load_json(self.path)
        if not isinstance(data, dict):
            raise DatasetError(f"{self.path}: expected a COCO JSON object with images and annotations, got a {type(data).__name__}")
        require_keys(data, ("images", "annotations"), self.path)
        self.names = keypoint_names(data, self.path)
        person_ids = {c["id"] for c in data.get("categories", []) if c.get("keypoints") or c.get("name") == "person"}
        self.images: list[dict] = data["images"]
        ids = set()
        for image in self.images:
            require_keys(image, ("id", "file_name"), self.path, "an image entry")
            ids.add(image["id"])
        self.annotations: dict[Any, list[dict]] = defaultdict(list)
        for ann in data["annotations"]:
            require_keys(ann, ("image_id",), self.path, f"annotation {ann.get('id', '?')}")
            if person_ids and ann.get("category_id", next(iter(person_ids))) not in person_ids:
                continue
            if ann["image_id"] not in ids:
                raise DatasetError(f"{self.path}: annotation {ann.get('id', '?')} refers to image {ann['image_id']}, which is not in images")
            self.annotations[ann["image_id"]].append(ann)


def load_coco_keypoints(path: str | Path, image_dir: str | Path | None = None, include_crowd: bool = False) -> list[Sample]:
    """COCO keypoint ground truth, one Sample per image (images without people included).

    Args:
        path: the annotation JSON.
        image_dir: folder of the images (``file_name`` is relative to it); defaults to the
            JSON's folder.
        include_crowd: keep ``iscrowd`` regions (as people with ``iscrowd=True``); they are
            ignore regions, not people, so they are left out by default.
    Returns:
        Samples in file order: ``image_id``, ``image_path``, ``image_size`` (w, h), ``people``
        (see :func:`person_from_annotation`).
    """
    coco = COCOFile(path)
    image_dir = coco.path.parent if image_dir is None else Path(image_dir)
    samples = []
    for image in coco.images:
        people = [person_from_annotation(a, coco.names, coco.path) for a in coco.annotations.get(image["id"], [])]
        if not include_crowd:
            people = [p for p in people if not p.iscrowd]
        size = (int(image["width"]), int(image["height"])) if "width" in image and "height" in image else None
        samples.append(
            Sample(dataset="coco", image_path=image_dir / image["file_name"], people=tuple(people), image_id=image["id"], image_size=size)
        )
    return samples


def load_coco_detections(path: str | Path) -> dict[Any, tuple[PersonAnnotation, ...]]:
    """Person detections in the COCO results format.

    Args:
        path: JSON list of ``{image_id, category_id, bbox, score}`` (``keypoints`` optional:
            17 x (x, y, score) in coco17 order).
    Returns:
        image id -> detections sorted by decreasing ``score``: ``bbox_xywh``, ``score``, and
        with keypoints ``joints2d`` (17, 2) px and ``meta["keypoint_scores"]`` (17,).
    """
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected a JSON list of detections (COCO results format), got a {type(data).__name__}")
    n = len(get_joint_set(JOINT_SET))
    out: dict[Any, list[PersonAnnotation]] = defaultdict(list)
    for i, det in enumerate(data):
        what = f"detection {i}"
        if not isinstance(det, dict):
            raise DatasetError(f"{path}: {what} is not an object")
        require_keys(det, ("image_id", "bbox", "score"), path, what)
        bbox = array(det["bbox"], path, f"{what} bbox", (4,))
        check_finite(bbox, path, f"{what} bbox")
        joints2d, meta = None, {}
        if det.get("keypoints"):
            kps = array(det["keypoints"], path, f"{what} keypoints", (3 * n,)).reshape(n, 3)
            joints2d, meta = kps[:, :2].copy(), {"keypoint_scores": kps[:, 2].copy()}
        out[det["image_id"]].append(
            PersonAnnotation(
                joint_set=JOINT_SET,
                joints2d=joints2d,
                joints2d_valid=None if joints2d is None else np.isfinite(joints2d).all(-1),
                bbox_xywh=bbox,
                score=float(det["score"]),
                meta=meta,
            )
        )
    return {k: tuple(sorted(v, key=lambda p: -p.score)) for k, v in out.items()}
