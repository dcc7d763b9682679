"""Optical flow against a known shift; person boxes from keypoints and masks."""

import numpy as np
import pytest

from simpose.cues.flow import MIN_CROP_SIDE, FlowConfig, compute_flow, crop_boxes, pair_boxes, person_boxes

cv2 = pytest.importorskip("cv2", reason="OpenCV not installed: pip install 'simpose[mediapipe]'")

SHIFT = (3, -2)  # (dx, dy) pixels: content moves right by 3 and up by 2


def _shifted_pair(h=120, w=160, shift=SHIFT, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random texture and the same texture moved by ``shift`` (exact integer shift)."""
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (h + 20, w + 20)).astype(np.float32), (0, 0), 2.0)
    big = cv2.normalize(big, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    dx, dy = shift
    y0, x0 = 10, 10
    first = big[y0 : y0 + h, x0 : x0 + w]
    second = big[y0 - dy : y0 - dy + h, x0 - dx : x0 - dx + w]  # second[y + dy, x + dx] == first[y, x]
    return np.repeat(first[..., None], 3, -1), np.repeat(second[..., None], 3, -1)


def _median_error(flow: np.ndarray, region: tuple[slice, slice]) -> float:
    return float(np.median(np.linalg.norm(flow[region] - np.array(SHIFT, np.float32), axis=-1)))


def test_known_shift_whole_frame():
    first, second = _shifted_pair()
    flow = compute_flow([first, second])
    assert flow.shape == (1, 120, 160, 2) and flow.dtype == np.float32
    interior = (slice(15, -15), slice(15, -15))
    assert _median_error(flow[0], interior) < 0.3
    back = compute_flow([second, first])  # reversed order: the opposite shift
    np.testing.assert_allclose(np.median(back[0][interior].reshape(-1, 2), 0), [-3, 2], atol=0.3)


def test_known_shift_inside_box_zero_outside():
    first, second = _shifted_pair()
    box = np.array([[40, 30, 130, 100]])  # x0 y0 x1 y1
    flow = compute_flow(np.stack([first, second]), box)
    inside = (slice(30 + 10, 100 - 10), slice(40 + 10, 130 - 10))
    assert _median_error(flow[0], inside) < 0.3
    outside = np.ones((120, 160), bool)
    outside[30:100, 40:130] = False
    assert (flow[0][outside] == 0).all()
    empty = compute_flow([first, second], np.zeros((1, 4), int))  # nobody: no flow computed
    assert (empty == 0).all()


def test_flow_needs_two_frames_and_matching_boxes():
    first, second = _shifted_pair(h=40, w=40)
    with pytest.raises(Exception, match="at least 2 frames"):
        compute_flow([first])
    with pytest.raises(Exception, match="frames"):
        compute_flow([first, second, first], np.zeros((1, 4), int))
    with pytest.raises(ValueError, match="unknown DIS preset"):
        FlowConfig(preset="slow")


def test_person_boxes_union_and_padding():
    size = (200, 100)  # width, height
    kp_boxes = np.full((3, 1, 4), np.nan)
    kp_boxes[0, 0] = [50, 20, 90, 60]
    masks = np.zeros((3, 1, 100, 200), bool)
    masks[0, 0, 10:30, 60:70] = True  # extends the keypoint box upwards
    masks[1, 0, 40:50, 150:170] = True  # mask only
    boxes = person_boxes(size, kp_boxes, masks, pad=0.0)
    np.testing.assert_array_equal(boxes, [[50, 10, 90, 60], [150, 40, 170, 50], [0, 0, 0, 0]])
    padded = person_boxes(size, kp_boxes, None, pad=0.25)  # 0.25 * 40 = 10 px each side
    np.testing.assert_array_equal(padded[0], [40, 10, 100, 70])
    clipped = person_boxes(size, np.array([[[5, 5, 195, 95]]]), None, pad=0.5)
    np.testing.assert_array_equal(clipped[0], [0, 0, 200, 100])
    pairs = pair_boxes(boxes)
    np.testing.assert_array_equal(pairs, [[50, 10, 170, 60], [150, 40, 170, 50]])  # union; empty frame ignored
    np.testing.assert_array_equal(pair_boxes(np.zeros((2, 4), int)), [[0, 0, 0, 0]])


def test_crop_boxes_grow_small_boxes():
    crops = crop_boxes(np.array([[10, 10, 12, 12], [-5, -5, 300, 300], [5, 5, 5, 9]]), (100, 40))
    np.testing.assert_array_equal(crops[1], [0, 0, 100, 40])
    assert crops[0, 2] - crops[0, 0] == MIN_CROP_SIDE and crops[0, 3] - crops[0, 1] == MIN_CROP_SIDE
    assert crops[0, 0] <= 10 and crops[0, 2] >= 12 and crops[0, 1] >= 0 and crops[0, 3] <= 40
    np.testing.assert_array_equal(crops[2], [0, 0, 0, 0])
