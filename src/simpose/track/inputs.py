"""What the estimator does to its inputs before the 3D stages: options, camera, 2D for the lifter.

- options: plausible ranges (``FPS_RANGE``, ``FOV_RANGE``, ``FOCAL_RANGE``) checked before any slow
  stage (:func:`validate_options`), the intrinsics from a focal length or a field of view
  (:func:`camera_matrix`, ``DEFAULT_FOV`` when neither is given), a warning for people
  implausibly far away (:func:`warn_if_far`);
- the main person of a video's detections (:func:`main_person`);
- the 2D for the lifter: detections mapped onto ``h36m17`` (:func:`to_lifter_joints`), gaps
  bridged at zero confidence (:func:`lifter_inputs`), and the lift itself (:func:`lift`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from simpose.track.sequence import JOINT_SET, EstimatorError

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_FOV", "camera_matrix", "main_person", "default_cache_dir", "to_lifter_joints", "lifter_inputs", "lift",
    "validate_options", "warn_if_far", "FPS_RANGE", "FOV_RANGE", "FOCAL_RANGE",
]  # fmt: skip


DEFAULT_FOV = 60.0  # degrees across the larger image side: a typical phone's main camera


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/simpose/cues`` (``~/.cache/simpose/cues``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "simpose" / "cues"


# ------------------------------------------------------------------------------ helpers
def main_person(keypoints) -> int:
    """Index of the main person of :class:`~simpose.cues.keypoints.Keypoints2D`: the largest, most central track.

    Score per person: the sum over frames where it is valid of box area times closeness of the
    box centre to the image centre (1 at the centre, 0 at a corner).
    """
    boxes = keypoints.boxes()  # (T, P, 4)
    w, h = keypoints.image_size
    area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    centre = np.stack([(boxes[..., 0] + boxes[..., 2]) / 2 / w, (boxes[..., 1] + boxes[..., 3]) / 2 / h], -1)
    closeness = 1.0 - np.linalg.norm(centre - 0.5, axis=-1) / np.sqrt(0.5)
    score = np.nansum(np.where(keypoints.valid, area * closeness, 0.0), axis=0)
    return int(np.argmax(score))


# Plausible ranges of the options, checked before any slow stage (validate_options). fps: the
# lifter resamples a track to its 50 fps, so its cost grows as 50 / fps; below 1 fps a person
# moves too far between frames for a temporal model anyway, and 1000 fps covers high-speed
# cameras. fov: a pinhole camera needs 0 < fov < 180; 1-179 degrees spans telephoto to fisheye.
# focal: the same span in pixels, as a multiple of the larger image side (fov 179 ~ 0.0044x,
# fov 1 ~ 57x).
FPS_RANGE = (1.0, 1000.0)


FOV_RANGE = (1.0, 179.0)


FOCAL_RANGE = (0.004, 60.0)  # times the larger image side


FAR_WARNING_M = 100.0  # median person depth beyond which the focal length is likely wrong


def validate_options(
    focal: float | None, fov: float | None, fps: float | None, start: int = 0, end: int | None = None,
    image_size: tuple[int, int] | None = None,
) -> None:
    """Check the camera and range options against their plausible ranges (``*_RANGE``), so that
    bad options fail in one line before any slow stage and none can make the time or memory of
    an estimate grow without bound.

    Args:
        focal: pixels; fov: degrees; fps: frames per second; start, end: the frame range.
        image_size: (width, height) of the input, to check ``focal`` (None: checked later).
    Raises:
        EstimatorError: naming the option, its value and the accepted range.
    """
    import math

    def bad(name: str, value, rule: str) -> EstimatorError:
        return EstimatorError(f"{name} {value!r}: {rule}")

    if start < 0 or (end is not None and end <= start):
        raise EstimatorError(f"need 0 <= --start < --end, got start={start}, end={end}")
    if fps is not None and not (math.isfinite(fps) and FPS_RANGE[0] <= fps <= FPS_RANGE[1]):
        raise bad("--fps", fps, f"must be a frame rate from {FPS_RANGE[0]:g} to {FPS_RANGE[1]:g}")
    if fov is not None and not (math.isfinite(fov) and FOV_RANGE[0] <= fov <= FOV_RANGE[1]):
        raise bad("--fov", fov, f"must be a field of view from {FOV_RANGE[0]:g} to {FOV_RANGE[1]:g} degrees")
    if focal is not None:
        if not (math.isfinite(focal) and focal > 0):
            raise bad("--focal", focal, "must be a positive, finite number of pixels")
        if image_size is not None:
            lo, hi = (r * max(image_size) for r in FOCAL_RANGE)
            if not lo <= focal <= hi:
                raise bad("--focal", focal, f"must be from {lo:.4g} to {hi:.4g} pixels for a {image_size[0]}x{image_size[1]} "
                          f"input (fields of view of {FOV_RANGE[1]:g} to {FOV_RANGE[0]:g} degrees)")  # fmt: skip


def warn_if_far(joints3d: np.ndarray) -> None:
    """A person placed absurdly far away means a wrong focal length or field of view: say so."""
    z = np.asarray(joints3d)[..., 2]
    if np.isfinite(z).any() and np.nanmedian(z) > FAR_WARNING_M:
        log.warning("the person is placed %.3g m from the camera: is --focal/--fov right? (depth and size scale with it)", np.nanmedian(z))


def camera_matrix(image_size: tuple[int, int], focal: float | None, fov: float | None) -> tuple[np.ndarray, bool]:
    """(3, 3) K from a focal length or FOV (default ``DEFAULT_FOV``, with a warning); whether it was assumed."""
    from simpose.camera import Camera

    if focal is not None:
        if not focal > 0:
            raise EstimatorError(f"--focal must be positive pixels, got {focal}")
        cam = Camera.from_intrinsics(float(focal), image_size)
        return cam.K.double().numpy(), False
    assumed = fov is None
    if assumed:
        log.warning("no --focal or --fov given: assuming a %g degree field of view (depth and size scale with it)", DEFAULT_FOV)
    try:
        cam = Camera.from_fov(DEFAULT_FOV if assumed else float(fov), image_size)
    except ValueError as e:
        raise EstimatorError(f"--fov: {e}") from e
    return cam.K.double().numpy(), assumed


def _fill_gaps(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(T, ...) with invalid frames linearly interpolated between valid ones (held at the ends)."""
    idx = np.flatnonzero(valid)
    flat = x.reshape(len(x), -1)
    out = np.empty_like(flat)
    for c in range(flat.shape[1]):
        out[:, c] = np.interp(np.arange(len(x)), idx, flat[idx, c])
    return out.reshape(x.shape)


def to_lifter_joints(keypoints: np.ndarray, confidence: np.ndarray, joint_set: str, learned_map: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Detected keypoints (T, J, 2) of ``joint_set`` -> h36m17 points (T, 17, 2) and confidence (T, 17).

    BlazePose goes through the synthetic-trained map of :mod:`simpose.models.keypoint_map` (its
    landmarks are not H36M's joints); other sets, or ``learned_map=False``, are renamed
    (:func:`simpose.body.joints.convert`).
    """
    if joint_set == "blazepose33" and learned_map:
        from simpose.models.keypoint_map import apply_map, load_map

        return apply_map(keypoints, confidence, load_map())
    from simpose.body.joints import conversion_matrix

    W, has = conversion_matrix(joint_set, JOINT_SET, strict=False)
    x = np.asarray(keypoints, np.float64)
    seen = np.isfinite(x).all(-1)  # (T, J_in)
    # a joint is known where every keypoint it is made of is (a missing one would spread NaN)
    kp = np.einsum("oi,...ic->...oc", W, np.where(seen[..., None], x, 0.0))
    known = np.zeros(kp.shape[:-1], bool)
    conf = np.zeros(kp.shape[:-1])
    for j in np.flatnonzero(has):
        src = W[j] != 0
        known[..., j] = seen[..., src].all(-1)
        conf[..., j] = np.asarray(confidence, np.float64)[..., src].min(-1)
    kp[~known] = np.nan
    return kp, np.where(known, conf, 0.0)


def lifter_inputs(kp: np.ndarray, conf: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 2D the lifter sees for one person: missing joints and invalid frames filled from
    their neighbours at confidence 0 (they must not disturb the windows around them).

    Args:
        kp: (T, J, 2) pixels (h36m17 or a detector's own set); conf: (T, J); valid: (T,) bool.
    Returns:
        (T, J, 2) pixels without NaN, (T, J) confidences.
    """
    finite = np.isfinite(kp).all(-1)
    kp_in = kp.copy()
    for j in range(kp.shape[1]):  # per joint: fill frames where that joint is missing
        ok = finite[:, j] & valid
        kp_in[:, j] = _fill_gaps(kp[:, j], ok) if ok.any() else 0.0
    return kp_in, np.where(valid[:, None] & finite, conf, 0.0)


def lift(lifter, kp: np.ndarray, conf: np.ndarray, valid: np.ndarray, camera, fps: float | None = None, joint_set: str = JOINT_SET) -> tuple[np.ndarray, np.ndarray]:
    """Root-relative 3D in ``h36m17`` and ``anny`` for one person; NaN on invalid frames.

    Args:
        lifter: a :class:`~simpose.models.lifter.Lifter`.
        kp: (T, J, 2) pixels of ``joint_set`` (h36m17, or the detector lifter's own set); conf: (T, J); valid: (T,) bool.
        camera: (3, 3) K or a :class:`~simpose.camera.Camera`.
        fps: the video's frame rate (the lifter resamples other rates to its own).
    Returns:
        (T, 17, 3) and (T, 25, 3) float64 metres, camera axes.
    """
    kp_in, conf_in = lifter_inputs(kp, conf, valid)
    out = lifter.predict_sets(kp_in, joint_set, conf_in, camera, ("h36m17", "anny"), fps=fps)
    h36m, anny = out["h36m17"].astype(np.float64), out["anny"].astype(np.float64)
    h36m[~valid], anny[~valid] = np.nan, np.nan
    return h36m, anny
