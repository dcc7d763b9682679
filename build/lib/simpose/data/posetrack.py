"""PoseTrack 2018 reader (COCO-style JSON, one file per video or merged).

``images`` carry ``file_name`` (``images/val/<video>/<frame>.jpg``, relative to the dataset
root), ``vid_id``, ``frame_id``, ``is_labeled``, ``nframes`` and the ignore regions
(``ignore_regions_x`` / ``_y`` polygons); ``annotations`` carry ``track_id``, ``keypoints``
(17 x (x, y, v), v = 1 labelled), ``bbox`` and ``bbox_head``.

PoseTrack's 17 keypoints sit in COCO's slots but are not all COCO's joints: the file's
category names them ``nose, head_bottom, head_top, left_ear, right_ear, left_shoulder...``.
Slots 1 and 2 are the bottom and top of the head, not the eyes, and the ears are never
labelled. Mapping by name (:func:`simpose.data.coco.person_from_annotation`) therefore gives
``coco17`` with the eyes and ears unlabelled, and ``meta["extra_joints2d"]`` holds
``head_bottom`` and ``head_top`` as (x, y, v).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from simpose.data._checks import existing
from simpose.data.coco import COCOFile, person_from_annotation
from simpose.data.records import DatasetError, Sample

__all__ = ["load_posetrack"]


def load_posetrack(path: str | Path, image_root: str | Path | None = None, labeled_only: bool = True) -> list[Sample]:
    """PoseTrack18 ground truth as Samples.

    Args:
        path: an annotation JSON (one video, or several merged), or a folder of them.
        image_root: the folder that ``file_name`` is relative to; defaults to the parent of the
            ``annotations`` folder the JSON sits in (the dataset root), else the JSON's folder.
        labeled_only: skip frames whose ``is_labeled`` is false (they have no annotations).
    Returns:
        Samples sorted by (sequence, frame): ``sequence`` the video folder name (e.g.
        ``"003418_mpii_test"``), ``frame_index`` from the file name, ``image_id``,
        ``image_size``, ``people`` with ``track_id`` (coco17, see the module docstring);
        ``meta``: ``vid_id``, ``nframes``, ``is_labeled``, ``ignore_regions`` (list of (K, 2)
        polygons in px), ``mask_file``. People keep ``meta["bbox_head"]`` (4,) xywh.
    """
    path = existing(path, "file or folder")
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise DatasetError(f"{path}: no .json annotation files")
    samples = []
    for file in files:
        root = _default_root(file) if image_root is None else Path(image_root)
        samples.extend(_load_file(file, root, labeled_only))
    samples.sort(key=lambda s: (s.sequence, s.frame_index if s.frame_index is not None else -1))
    return samples


def _default_root(file: Path) -> Path:
    parts = file.resolve().parent.parts
    if "annotations" in parts:
        i = len(parts) - 1 - parts[::-1].index("annotations")
        return Path(*parts[:i])
    return file.parent


def _load_file(file: Path, root: Path, labeled_only: bool) -> list[Sample]:
    coco = COCOFile(file)
    out = []
    for image in coco.images:
        if labeled_only and not image.get("is_labeled", True):
            continue
        anns = coco.annotations.get(image["id"], [])
        people = []
        for ann in anns:
            person = person_from_annotation(ann, coco.names, file, occlusion_flags=False)
            if ann.get("bbox_head") is not None and len(ann["bbox_head"]) == 4:
                person = dataclasses.replace(person, meta={**person.meta, "bbox_head": np.asarray(ann["bbox_head"], dtype=np.float64)})
            people.append(person)
        rel = Path(image["file_name"])
        regions = [
            np.stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)], axis=-1)
            for x, y in zip(image.get("ignore_regions_x", []), image.get("ignore_regions_y", []))
        ]
        size = (int(image["width"]), int(image["height"])) if "width" in image and "height" in image else None
        out.append(
            Sample(
                dataset="posetrack18",
                image_path=root / rel,
                people=tuple(people),
                frame_index=int(rel.stem) if rel.stem.isdigit() else None,
                sequence=rel.parent.name,
                image_id=image["id"],
                image_size=size,
                meta={
                    "vid_id": image.get("vid_id"),
                    "nframes": image.get("nframes"),
                    "is_labeled": bool(image.get("is_labeled", True)),
                    "ignore_regions": regions,
                    "mask_file": image.get("mask_file"),
                    "annotation_file": str(file),
                },
            )
        )
    return out
