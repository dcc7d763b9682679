"""Person crop boxes (closed form), crops of a linear image (exact), crop flow of a known translation."""

import numpy as np
import pytest

from simpose.cues.crops import CropConfig, box_cuts, crop_affine, crop_flow, crop_images, keypoints_in_crop, motion_crops, square_boxes

cv2 = pytest.importorskip("cv2", reason="OpenCV not installed: pip install 'simpose[mediapipe]'")


def _rect_keypoints(x0, y0, x1, y1, n=33) -> np.ndarray:
    """(n, 2) points on the rectangle's corners and inside it."""
    rng = np.random.default_rng(0)
    pts = np.stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)], -1)
    pts[:4] = [[x0, y0], [x1, y0], [x0, y1], [x1, y1]]
    return pts


def test_square_box_of_a_rectangle_closed_form():
    kp = np.stack([_rect_keypoints(100, 50, 140, 150), _rect_keypoints(100, 50, 140, 150)])
    kp[1, 5] = np.nan  # a joint not found changes nothing (the corners are there)
    boxes = square_boxes(kp, np.array([True, True]), (640, 480), pad=0.2, smooth=1)
    np.testing.assert_allclose(boxes, [[120, 100, 100 * 1.4]] * 2, rtol=1e-6)


def test_square_boxes_fill_missing_frames_and_smooth_linear_motion():
    T = 9
    kp = np.stack([_rect_keypoints(10 + 3 * t, 20, 50 + 3 * t, 100) for t in range(T)])
    valid = np.ones(T, bool)
    valid[[0, 4]] = False  # frame 0 takes frame 1's box, frame 4 frame 3's (the earlier of a tie)
    kp[~valid] = np.nan
    raw = square_boxes(kp, valid, (200, 200), pad=0.0, smooth=1)
    np.testing.assert_allclose(raw[:, 0], [33, 33, 36, 39, 39, 45, 48, 51, 54])
    np.testing.assert_allclose(raw[:, 2], 80)
    kp = np.stack([_rect_keypoints(10 + 3 * t, 20, 50 + 3 * t, 100) for t in range(T)])
    full = square_boxes(kp, np.ones(T, bool), (200, 200), pad=0.0, smooth=5)
    np.testing.assert_allclose(full[2:-2, 0], 30 + 3 * np.arange(2, T - 2), rtol=1e-6)  # a moving average keeps a line
    nobody = square_boxes(np.full((2, 33, 2), np.nan), np.zeros(2, bool), (200, 100))
    np.testing.assert_allclose(nobody, [[99.5, 49.5, 100]] * 2)


@pytest.mark.parametrize("side", [48.0, 150.0])  # resampled directly / pre-shrunk by an area resize
def test_crop_of_a_linear_image_is_the_affine_map(side):
    h, w, S = 200, 240, 32
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.stack([xs, ys], -1)  # each pixel holds its own coordinates (centres at integers)
    box = np.array([[117.3, 95.6, side]], np.float32)
    crop = crop_images(image[None], box, S)[0]
    u = np.arange(S)
    M = crop_affine(box[0], S)
    inner = slice(2, -2)  # away from the image's edges the bilinear / area resampling of a plane is exact,
    # but for cv2's sampling positions: fixed point in 1/32 of a (pre-shrunk) pixel
    tol = 0.6 / 32 * max(1.0, np.floor(side / S))
    np.testing.assert_allclose(crop[inner, inner, 0], np.broadcast_to(M[0, 0] * u + M[0, 2], (S, S))[inner, inner], atol=tol)
    np.testing.assert_allclose(crop[inner, inner, 1], np.broadcast_to((M[1, 1] * u + M[1, 2])[:, None], (S, S))[inner, inner], atol=tol)


def test_crop_flow_scales_to_crop_pixels():
    flow = np.broadcast_to(np.float32([4.0, -2.0]), (1, 100, 100, 2)).copy()
    out = crop_flow(flow, np.float32([[50, 50, 40]]), 16)
    np.testing.assert_allclose(out[0, 4:-4, 4:-4], np.broadcast_to([1.6, -0.8], (8, 8, 2)), rtol=1e-5)


def test_motion_crops_of_a_known_translation():
    """A texture moving by (3, -2) px per frame: DIS inside the person box, in crop pixels, is the shift * S / side."""
    rng = np.random.default_rng(1)
    tex = cv2.GaussianBlur(rng.uniform(0, 255, (260, 300)).astype(np.float32), (0, 0), 2.0)
    tex = cv2.normalize(tex, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    T, (dx, dy) = 4, (3, -2)
    frames = np.stack([np.repeat(tex[20 - dy * t : 220 - dy * t, 20 - dx * t : 260 - dx * t, None], 3, -1) for t in range(T)])
    # frames[t][y, x] == tex[y + 20 - dy t, x + 20 - dx t]: content moves by (dx, dy) per frame
    kp = np.stack([_rect_keypoints(80 + dx * t, 60 + dy * t, 160 + dx * t, 140 + dy * t) for t in range(T)])
    config = CropConfig(size=32, pad=0.1, smooth=1)
    crops = motion_crops(frames, kp, np.ones(T, bool), config)
    assert crops.rgb.shape == (T, 32, 32, 3) and crops.flow.shape == (T - 1, 32, 32, 2)
    side = 80 * 1.2
    inner = crops.flow[:, 6:-6, 6:-6].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, 0), np.array([dx, dy]) * 32 / side, atol=0.05)
    np.testing.assert_allclose(crops.keypoints[:, :4], keypoints_in_crop(kp, crops.boxes)[:, :4])
    np.testing.assert_allclose(np.abs(crops.keypoints[:, :4]), 0.5 / 1.2, rtol=1e-5)  # the corners, padded


def test_box_cuts_mark_jumps_only():
    boxes = np.float32([[100, 100, 50], [105, 102, 52], [300, 100, 50], [302, 100, 90], [303, 101, 90]])
    np.testing.assert_array_equal(box_cuts(boxes), [False, False, True, True, False])


def test_person_mask_is_the_capsule_between_found_joints():
    from simpose.body.joints import get_joint_set
    from simpose.cues.crops import person_mask

    js = get_joint_set("blazepose33")
    S, r = 64, 0.05
    kp = np.zeros((2, 33, 2))
    conf = np.zeros((2, 33))
    a, b = js.index("left_shoulder"), js.index("left_elbow")
    kp[0, a], kp[0, b] = (-0.25, 0.0), (0.25, 0.0)  # crop units: a horizontal bone through the centre row
    conf[0, [a, b]] = 1
    m = person_mask(kp, conf, S, r)
    assert not m[1].any()  # nothing found: no person
    u = np.arange(S)
    centre = (u + 0.5) / S - 0.5  # crop units of the pixel centres
    # inside: pixels on the segment within the radius (half a pixel of rasterisation slack)
    inside = (np.abs(centre[:, None]) < r - 1 / S) & (np.abs(centre[None]) < 0.25 - 1 / S)
    outside = (np.abs(centre[:, None]) > r + 1 / S) | (np.abs(centre[None]) > 0.25 + r + 1 / S)
    assert m[0][inside].all() and not m[0][outside].any()
    conf[0, b] = 0  # one end not found: no bone
    assert not person_mask(kp, conf, S, r)[0].any()
