"""The records every dataset reader yields.

Glossary of dimensions: T frames, P people, J joints (of the record's joint set).

- :class:`PersonAnnotation`: one person in one image.
- :class:`Sample`: one image (or video frame) with its people.
- :class:`Sequence`: a whole clip with stacked arrays, for sequence-level benchmarks
  (Human3.6M, 3DPW, MPI-INF-3DHP). Hundreds of thousands of frames stay a few numpy arrays;
  :meth:`Sequence.frame` gives the :class:`Sample` view of one frame when needed.

Conventions (ARCHITECTURE.md): metres, OpenCV camera frame (x right, y down, z forward), pixels
of the original (distorted) image. A 2D joint without a label is NaN and marked invalid, so an
unmasked use of it shows up instead of silently pulling towards the image corner.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from simpose.body.joints import get_joint_set
from simpose.camera import Camera

__all__ = ["DatasetError", "PersonAnnotation", "Sample", "Sequence"]


class DatasetError(ValueError):
    """A dataset file that does not hold what its format says; the message names the file."""


def _num_joints(joint_set: str, what: str) -> int:
    try:
        return len(get_joint_set(joint_set))
    except KeyError as exc:
        raise DatasetError(f"{what}: {exc.args[0]}") from None


def _check_shape(name: str, array: np.ndarray | None, shape: tuple[int | None, ...], what: str) -> None:
    """``shape`` entries of None match any size."""
    if array is None:
        return
    if array.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, array.shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise DatasetError(f"{what}: {name} has shape {array.shape}, expected {want}")


@dataclasses.dataclass(frozen=True, eq=False)
class PersonAnnotation:
    """One person in one image.

    Attributes:
        joint_set: joint set of ``joints3d`` (and of ``joints2d`` unless ``joint_set_2d``).
        joints2d: (J2, 2) pixels; NaN where the joint has no label.
        joints2d_valid: (J2,) bool, True where the joint has a 2D label.
        joints2d_visibility: (J2,) int8 COCO flags (0 not labelled, 1 labelled but occluded,
            2 labelled and visible), or None where the dataset does not say.
        joints3d: (J, 3) metres, camera frame.
        track_id: identity of the person across frames of a video.
        bbox_xywh: (4,) box: left, top, width, height in pixels.
        score: detector confidence for detections; None for ground truth.
        iscrowd: COCO crowd region (an ignore region, not one person).
        joint_set_2d: joint set of ``joints2d`` when it differs from ``joint_set``.
        body_params: body-model parameters (keys documented by each reader).
        meta: anything else the dataset gives (documented by each reader).
    """

    joint_set: str
    joints2d: np.ndarray | None = None
    joints2d_valid: np.ndarray | None = None
    joints2d_visibility: np.ndarray | None = None
    joints3d: np.ndarray | None = None
    track_id: int | None = None
    bbox_xywh: np.ndarray | None = None
    score: float | None = None
    iscrowd: bool = False
    joint_set_2d: str | None = None
    body_params: Mapping[str, Any] | None = None
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.joint_set_2d is None:
            object.__setattr__(self, "joint_set_2d", self.joint_set)
        j3 = _num_joints(self.joint_set, "PersonAnnotation")
        j2 = _num_joints(self.joint_set_2d, "PersonAnnotation")
        _check_shape("joints2d", self.joints2d, (j2, 2), "PersonAnnotation")
        _check_shape("joints2d_valid", self.joints2d_valid, (j2,), "PersonAnnotation")
        _check_shape("joints2d_visibility", self.joints2d_visibility, (j2,), "PersonAnnotation")
        _check_shape("joints3d", self.joints3d, (j3, 3), "PersonAnnotation")
        _check_shape("bbox_xywh", self.bbox_xywh, (4,), "PersonAnnotation")


@dataclasses.dataclass(frozen=True, eq=False)
class Sample:
    """One image or video frame and the people in it.

    Attributes:
        dataset: e.g. ``"coco"``, ``"posetrack18"``, ``"h36m"``.
        image_path: the image file, or None where the dataset has no images here.
        people: the annotated (or detected) people.
        frame_index: frame number in its video (the dataset's own numbering), if any.
        sequence: video / sequence name, if any.
        image_id: the dataset's image id, if any.
        image_size: (width, height) in pixels, if known.
        camera: the camera of this frame (``joints3d`` are in its frame), if known.
        meta: anything else the dataset gives (documented by each reader).
    """

    dataset: str
    image_path: Path | None
    people: tuple[PersonAnnotation, ...] = ()
    frame_index: int | None = None
    sequence: str | None = None
    image_id: int | str | None = None
    image_size: tuple[int, int] | None = None
    camera: Camera | None = None
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def load_image(self) -> np.ndarray:
        """The image as (H, W, 3) uint8 RGB."""
        if self.image_path is None:
            raise DatasetError(f"{self.dataset} sample {self.image_id or self.frame_index}: no image path")
        from PIL import Image

        try:
            with Image.open(self.image_path) as image:
                return np.asarray(image.convert("RGB"))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{self.image_path}: cannot read image ({exc})") from exc


@dataclasses.dataclass(frozen=True, eq=False)
class Sequence:
    """A clip with its annotations as stacked arrays.

    Attributes:
        name: unique within the dataset, e.g. ``"S9/Walking 1/54138969"``.
        dataset: e.g. ``"h36m"``, ``"3dpw"``, ``"mpi_inf_3dhp"``.
        joint_set: joint set of ``joints3d`` (and of ``joints2d`` unless ``joint_set_2d``).
        valid: (T, P) bool, frames where the person's annotation is usable.
        joints3d: (T, P, J, 3) metres, camera frame (of ``camera`` at that frame).
        joints2d: (T, P, J2, 2) pixels of the original image; NaN where not labelled.
        joint_set_2d: joint set of ``joints2d`` when it differs from ``joint_set``.
        joints2d_confidence: (T, P, J2) in [0, 1] where the 2D comes from a detector.
        camera: one camera (batch dims ``()``) or one per frame (batch dims ``(T,)``).
        fps: frames per second.
        subject, action, take: dataset labels (``take`` is the file's action key, e.g.
            ``"Phoning 2"``; ``action`` the action it belongs to, ``"Phoning"``).
        camera_index: index of the camera in the dataset's camera order.
        frame_indices: (T,) int, the dataset's frame number of each row (image file numbers).
        image_pattern: ``str.format`` pattern of the image path taking the frame number.
        body_params: body-model parameters (keys documented by each reader).
        meta: anything else the dataset gives (documented by each reader).
    """

    name: str
    dataset: str
    joint_set: str
    valid: np.ndarray
    joints3d: np.ndarray | None = None
    joints2d: np.ndarray | None = None
    joint_set_2d: str | None = None
    joints2d_confidence: np.ndarray | None = None
    camera: Camera | None = None
    fps: float | None = None
    subject: str | None = None
    action: str | None = None
    take: str | None = None
    camera_index: int | None = None
    frame_indices: np.ndarray | None = None
    image_pattern: str | None = None
    body_params: Mapping[str, Any] | None = None
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.joint_set_2d is None:
            object.__setattr__(self, "joint_set_2d", self.joint_set)
        what = f"Sequence {self.name!r}"
        j3 = _num_joints(self.joint_set, what)
        j2 = _num_joints(self.joint_set_2d, what)
        if self.valid.ndim != 2 or self.valid.dtype != bool:
            raise DatasetError(f"{what}: valid must be a (T, P) bool array, got {self.valid.dtype} {self.valid.shape}")
        T, P = self.valid.shape
        _check_shape("joints3d", self.joints3d, (T, P, j3, 3), what)
        _check_shape("joints2d", self.joints2d, (T, P, j2, 2), what)
        _check_shape("joints2d_confidence", self.joints2d_confidence, (T, P, j2), what)
        _check_shape("frame_indices", self.frame_indices, (T,), what)
        if self.camera is not None and self.camera.R.ndim == 3 and self.camera.R.shape[0] != T:
            raise DatasetError(f"{what}: {self.camera.R.shape[0]} per-frame cameras for {T} frames")

    @property
    def num_frames(self) -> int:
        return int(self.valid.shape[0])

    @property
    def num_people(self) -> int:
        return int(self.valid.shape[1])

    def camera_at(self, t: int) -> Camera | None:
        """The camera of frame ``t`` (batch dims ``()``), or None."""
        cam = self.camera
        if cam is None or cam.R.ndim == 2:
            return cam
        at = lambda x, core: x if x is None or x.ndim == core else x[t]  # noqa: E731 - unbatched stays
        return Camera(K=at(cam.K, 2), R=cam.R[t], t=cam.t[t], image_size=cam.image_size, dist=at(cam.dist, 1))

    def image_path(self, t: int) -> Path | None:
        """The image file of frame ``t``, or None where the dataset gives no images."""
        if self.image_pattern is None:
            return None
        number = int(self.frame_indices[t]) if self.frame_indices is not None else t
        return Path(self.image_pattern.format(number))

    def frame(self, t: int) -> Sample:
        """Frame ``t`` as a :class:`Sample`: one :class:`PersonAnnotation` per person valid there,
        ``track_id`` = the person's index p, ``joints2d_valid`` = finite 2D."""
        people = []
        for p in range(self.num_people):
            if not self.valid[t, p]:
                continue
            j2 = None if self.joints2d is None else self.joints2d[t, p]
            people.append(
                PersonAnnotation(
                    joint_set=self.joint_set,
                    joint_set_2d=self.joint_set_2d,
                    joints2d=j2,
                    joints2d_valid=None if j2 is None else np.isfinite(j2).all(-1),
                    joints3d=None if self.joints3d is None else self.joints3d[t, p],
                    track_id=p,
                    meta={} if self.joints2d_confidence is None else {"joints2d_confidence": self.joints2d_confidence[t, p]},
                )
            )
        camera = self.camera_at(t)
        return Sample(
            dataset=self.dataset,
            image_path=self.image_path(t),
            people=tuple(people),
            frame_index=int(self.frame_indices[t]) if self.frame_indices is not None else t,
            sequence=self.name,
            image_size=None if camera is None else camera.image_size,
            camera=camera,
            meta={"subject": self.subject, "action": self.action},
        )
