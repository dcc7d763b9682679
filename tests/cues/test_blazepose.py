"""BlazePose run directly: anchors and decoding against analytic cases, ROI geometry round trips,
and agreement with MediaPipe's own Pose solution on a real frame."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simpose.cues.blazepose import (
    Roi, crop_square, decode_detections, project_landmarks, roi_from_points, ssd_anchors, to_roi, weighted_nms,
)  # fmt: skip


def test_anchor_count_and_layout():
    a = ssd_anchors()
    assert a.shape == (2254, 2)  # 28*28*2 + 14*14*2 + 7*7*6, as MediaPipe's pose_detection graph
    np.testing.assert_allclose(a[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[1], a[0])  # two anchors per cell at stride 8
    np.testing.assert_allclose(a[2], [1.5 / 28, 0.5 / 28])  # then the next column
    np.testing.assert_allclose(a[1568], [0.5 / 14, 0.5 / 14])  # the stride-16 map starts
    np.testing.assert_allclose(a[1960:1966], np.tile([0.5 / 7, 0.5 / 7], (6, 1)))  # three stride-32 layers share a map
    np.testing.assert_allclose(a[-1], [6.5 / 7, 6.5 / 7])


def test_decoding_against_an_analytic_detection():
    a = ssd_anchors()
    raw = np.zeros((2254, 12), np.float32)
    logits = np.full(2254, -5.0, np.float32)  # sigmoid 0.0067: below threshold
    i = 1000
    raw[i, :4] = [22.4, -11.2, 44.8, 67.2]  # offsets in input pixels: (+0.1, -0.05), size 0.2 x 0.3
    raw[i, 4:] = np.arange(8) * 2.24  # keypoint k at anchor + (0.02 k, 0.02 k + 0.01)
    logits[i] = 2.0
    boxes, kps, scores = decode_detections(raw, logits[:, None], a)
    cx, cy = a[i] + [0.1, -0.05]
    np.testing.assert_allclose(boxes, [[cx - 0.1, cy - 0.15, cx + 0.1, cy + 0.15]], atol=1e-6)
    np.testing.assert_allclose(kps[0], a[i] + np.arange(8).reshape(4, 2) * 0.01, atol=1e-6)
    np.testing.assert_allclose(scores, [1 / (1 + math.exp(-2))], rtol=1e-6)


def test_weighted_nms_averages_a_cluster_and_keeps_a_separate_box():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    kps = np.array([[[0, 0]], [[3, 3]], [[55, 55]]], np.float32)
    scores = np.array([0.6, 0.9, 0.8], np.float32)
    b, k, s = weighted_nms(boxes, kps, scores, 0.3)
    np.testing.assert_allclose(s, [0.9, 0.8])
    np.testing.assert_allclose(b[0], (0.9 * boxes[1] + 0.6 * boxes[0]) / 1.5, rtol=1e-6)
    np.testing.assert_allclose(k[0, 0], [1.8, 1.8], rtol=1e-6)
    np.testing.assert_allclose(b[1], boxes[2])


def test_heatmap_refinement_moves_to_a_single_peak():
    from simpose.cues.blazepose import refine_on_heatmap

    heatmap = np.full((64, 64, 3), -30.0, np.float32)
    heatmap[20, 30, 0] = 10.0  # channel 0: one confident cell at row 20, column 30
    heatmap[0, 0, 1] = 10.0  # channel 1: a peak in the corner, its window clipped by the edge
    points = np.array([[31.7 / 64, 22.2 / 64], [1.5 / 64, 2.5 / 64], [40 / 64, 40 / 64]])
    out = refine_on_heatmap(points, heatmap)
    np.testing.assert_allclose(out[0], [30 / 64, 20 / 64], atol=1e-9)  # MediaPipe's cell index / size
    np.testing.assert_allclose(out[1], [0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(out[2], points[2])  # channel 2 nowhere confident: unchanged


def test_roi_from_points_upright_and_sideways():
    up = roi_from_points(np.array([100.0, 200.0]), np.array([100.0, 100.0]))
    assert up.size == pytest.approx(250.0) and up.rotation == pytest.approx(0.0)
    right = roi_from_points(np.array([100.0, 200.0]), np.array([200.0, 200.0]))
    assert right.rotation == pytest.approx(math.pi / 2)  # body axis pointing right: a quarter turn clockwise
    # in the ROI's own frame the scale point is straight above the centre
    np.testing.assert_allclose(to_roi(np.array([200.0, 200.0]), right), [0.5, 0.5 - 1 / 2.5], atol=1e-12)


def test_crop_and_projection_agree():
    """A dot drawn in the frame appears in the rotated crop where to_roi puts it, and
    project_landmarks maps it back (MediaPipe's crop and landmark projection share conventions)."""
    roi = Roi(np.array([160.0, 120.0]), 150.0, math.radians(30))
    dot = np.array([190.0, 100.0])
    image = np.zeros((240, 320, 3), np.uint8)
    image[int(dot[1]) - 2 : int(dot[1]) + 3, int(dot[0]) - 2 : int(dot[0]) + 3] = 255
    crop = crop_square(image, roi, 256, border_zero=True).astype(np.float64)[..., 0]
    ys, xs = np.nonzero(crop > 0)
    w = crop[ys, xs]
    found = np.array([(xs * w).sum() / w.sum() + 0.5, (ys * w).sum() / w.sum() + 0.5]) / 256  # pixel centres
    centre = dot + 0.5  # the drawn 5x5 block's centre in edge-origin pixels
    np.testing.assert_allclose(found, to_roi(centre, roi), atol=1.0 / 256)
    np.testing.assert_allclose(project_landmarks(to_roi(centre, roi), roi), centre, atol=1e-9)


def test_agrees_with_mediapipe_pose_on_a_real_frame(shared, mediapipe):
    """The decoding reproduces mp.solutions.pose (static mode) for the one person of the demo."""
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed: pip install 'simpose[mediapipe]'")
    from simpose.cues.blazepose import BlazePose
    from simpose.cues.keypoints import KeypointConfig, detect_keypoints
    from simpose.cues.people import detect_people_image
    from simpose.cues.video import open_video

    frames = [f for i, f in open_video(shared / "real" / "videos" / "single_person_demo.mp4").frames(end=17) if i in (0, 16)]
    ref, _ = detect_keypoints(frames, KeypointConfig(static_image_mode=True, smooth_landmarks=False, segmentation=False))
    model = BlazePose()
    for t, frame in enumerate(frames):
        _, kps, _ = model.detect(frame)
        mine = model.landmarks(frame, roi_from_points(kps[0, 0], kps[0, 1]))
        err = np.linalg.norm(mine.keypoints - ref.keypoints[t, 0], axis=-1)  # 1080x1920 frame, ROI ~1600 px
        assert np.median(err) < 2.0 and err.max() < 15.0, (np.median(err), err.max())
        np.testing.assert_allclose(mine.visibility, ref.confidence[t, 0], atol=0.02)
        people = detect_people_image(frame, model=model)  # the multi-person path finds the same one person,
        assert len(people) == 1  # through another ROI (a tile's detection): close, not identical
        err = np.linalg.norm(people[0].keypoints - ref.keypoints[t, 0], axis=-1)
        assert np.median(err) < 0.02 * people[0].roi.size, (np.median(err), people[0].roi.size)


def test_mirrored_detection_maps_back_to_the_frame(shared):
    """detect(mirror=True) on a frame equals detect() on the mirrored frame, mirrored back."""
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed: pip install 'simpose[mediapipe]'")
    pytest.importorskip("mediapipe", reason="mediapipe not installed")
    from simpose.cues.blazepose import BlazePose
    from simpose.cues.video import open_video

    frame = next(open_video(shared / "real" / "videos" / "single_person_demo.mp4").frames(end=1))[1]
    w = frame.shape[1]
    model = BlazePose()
    _, kps, scores = model.detect(frame, mirror=True)
    _, kps_ref, scores_ref = model.detect(np.ascontiguousarray(frame[:, ::-1]))
    assert len(scores) == len(scores_ref) >= 1
    # MediaPipe's warp samples pixel j at j, not j + 0.5: the mirrored crop and the crop of the
    # mirrored frame differ by one input pixel (1920 / 224 = 8.6 frame px), and the detector's
    # keypoints move by up to a few input pixels with it; a wrong mapping is off by hundreds
    px = 3 * max(frame.shape[:2]) / 224
    np.testing.assert_allclose(scores, scores_ref, atol=0.02)
    np.testing.assert_allclose(kps[..., 0], w - kps_ref[..., 0], atol=px)
    np.testing.assert_allclose(kps[..., 1], kps_ref[..., 1], atol=px)
