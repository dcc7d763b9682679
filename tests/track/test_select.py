"""Main-person choice and the camera from --focal/--fov."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simpose.cues.keypoints import Keypoints2D
from simpose.track.run import DEFAULT_FOV, RunError, camera_matrix, main_person


def _people(boxes: list[tuple[float, float, float, float]], T: int = 4) -> Keypoints2D:
    """P people whose 33 keypoints span the given boxes, in a 640x480 image."""
    rng = np.random.default_rng(0)
    kp = np.empty((T, len(boxes), 33, 2), np.float32)
    for p, (x0, y0, x1, y1) in enumerate(boxes):
        pts = rng.uniform([x0, y0], [x1, y1], (T, 33, 2))
        pts[:, 0], pts[:, 1] = (x0, y0), (x1, y1)
        kp[:, p] = pts
    return Keypoints2D(kp, np.ones(kp.shape[:3], np.float32), np.ones((T, len(boxes)), bool), (640, 480))


def test_the_large_central_person_wins():
    kp = _people([(10, 10, 60, 110), (250, 100, 390, 420), (560, 50, 630, 400)])
    assert main_person(kp) == 1


def test_a_person_found_in_more_frames_wins_over_a_briefly_seen_one():
    kp = _people([(250, 100, 390, 420), (240, 90, 400, 430)])
    valid = kp.valid.copy()
    valid[1:, 1] = False  # the second, slightly larger, is seen in one frame only
    kp = Keypoints2D(kp.keypoints, kp.confidence, valid, kp.image_size)
    assert main_person(kp) == 0


def test_camera_from_focal_fov_and_default():
    K, assumed = camera_matrix((640, 480), 800.0, 30.0)
    assert K[0, 0] == 800.0 and not assumed  # focal wins over fov
    K, assumed = camera_matrix((640, 480), None, 90.0)
    assert K[0, 0] == pytest.approx(320.0) and not assumed
    K, assumed = camera_matrix((640, 480), None, None)
    assert assumed and K[0, 0] == pytest.approx(320.0 / math.tan(math.radians(DEFAULT_FOV) / 2))
    np.testing.assert_allclose(K[:2, 2], [319.5, 239.5])
    with pytest.raises(RunError):
        camera_matrix((640, 480), None, 200.0)
