"""BlazePose's two networks run directly: the .tflite files inside the mediapipe 0.10.14 wheel.

MediaPipe's legacy Pose solution wraps these models in a graph that follows one person. Run
directly (``ai-edge-litert``), the same models serve any number of people: the detector on any
square crop of the frame, the landmark model on any person's region of interest (ROI). The
decoding here reproduces MediaPipe v0.10.14's graphs, so one person's landmarks agree with
``mp.solutions.pose`` (tests/cues/test_blazepose.py checks it on a real frame):

- ``pose_detection_cpu.pbtxt``: 224x224 input in [-1, 1], the frame letterboxed (zero border);
  SSD anchors (5 layers, strides 8, 16, 32, 32, 32, scales 0.1484375..0.75, fixed size, two
  anchors per layer and cell: 2254); boxes + 4 keypoints decoded against the anchors, scores
  through a sigmoid (clipped at +-100), threshold 0.5; weighted non-max suppression at IoU 0.3.
  The box is centred on the face but its size is nearly constant (a fifth of the input);
  keypoint 0 is the hips' centre, keypoint 1 a point whose distance from it is half the body's
  extent and whose direction gives the body's rotation.
- ``pose_detection_to_roi.pbtxt`` / ``pose_landmarks_to_roi.pbtxt``: the ROI is a square
  centred on point 0, side 2 x 1.25 x |p1 - p0|, rotated so that p0 -> p1 points up.
- ``pose_landmark_by_roi_cpu.pbtxt``: the ROI warped to 256x256 in [0, 1]; 39 landmarks
  (x, y, z, visibility and presence logits) of which 33 are BlazePose's and 33, 34 the next
  frame's ROI points; a pose-presence flag; landmark positions refined on the 64x64 heatmaps
  (7x7 window, min confidence 0.5); world landmarks (metres) rotated by the ROI's rotation.

Pixel coordinates here are MediaPipe's: x right, y down, 0 at the image's left/top edge.
The models are loaded from the installed mediapipe package (optional extra
``simpose[mediapipe]``); nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import numpy as np

from simpose.cues.errors import CueError

__all__ = [
    "Roi", "PoseCandidate", "BlazePose", "ssd_anchors", "decode_detections", "weighted_nms",
    "roi_from_points", "crop_square", "project_landmarks", "to_roi", "refine_on_heatmap", "model_path",
    "DETECTOR_SIZE", "LANDMARK_SIZE", "NUM_LANDMARKS", "ROI_POINTS",
]  # fmt: skip

log = logging.getLogger(__name__)

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
NUM_LANDMARKS = 33  # BlazePose's body landmarks (blazepose33); the model outputs 39
ROI_POINTS = (33, 34)  # the landmark model's own points for the next frame's ROI
# pose_detection_cpu.pbtxt (SsdAnchorsCalculator / TensorsToDetectionsCalculator options)
ANCHOR_STRIDES = (8, 16, 32, 32, 32)
ANCHOR_SCALES = (0.1484375, 0.75)
DETECTION_SCORE_CLIP = 100.0
# pose_detection_to_roi.pbtxt (RectTransformationCalculator scale_x/scale_y)
ROI_SCALE = 1.25
# pose_landmark_by_roi_cpu.pbtxt (RefineLandmarksFromHeatmapCalculator)
HEATMAP_KERNEL = 7
HEATMAP_MIN_CONFIDENCE = 0.5
INSTALL_HINT = "pip install 'simpose[mediapipe]'"


@dataclasses.dataclass(frozen=True)
class Roi:
    """A square, rotated region of the frame (MediaPipe's NormalizedRect with ``square_long``).

    Attributes:
        center: (2,) pixels, x right, y down.
        size: side length in pixels.
        rotation: radians, clockwise on screen (MediaPipe's sign): the crop's "up" is the
            image's up turned by this angle.
    """

    center: np.ndarray
    size: float
    rotation: float = 0.0


@dataclasses.dataclass(frozen=True, eq=False)
class PoseCandidate:
    """One person's landmark-model output, in frame pixels.

    Attributes:
        keypoints: (33, 2) float32 pixels (blazepose33).
        z: (33,) float32 depth relative to the hips, in pixels (MediaPipe's scaled z).
        visibility: (33,) float32 in [0, 1] (sigmoid of the visibility logit).
        presence: (33,) float32 in [0, 1] (sigmoid of the presence logit).
        world: (33, 3) float32 metres, hip-centred, rotated as MediaPipe's world landmarks.
        score: pose-presence flag in [0, 1].
        roi: the ROI the landmarks were computed in.
        next_roi: the ROI for the same person in the next frame (from landmarks 33, 34).
        mask: (256, 256) float32 person probability over ``roi`` (the model's segmentation),
            or None.
    """

    keypoints: np.ndarray
    z: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    world: np.ndarray
    score: float
    roi: Roi
    next_roi: Roi
    mask: np.ndarray | None = None


def model_path(name: str) -> Path:
    """Path of a .tflite model shipped in the installed mediapipe wheel.

    Args:
        name: ``"pose_detection"`` or ``"pose_landmark_full"``.
    Raises:
        CueError: mediapipe not installed, or the file missing from it.
    """
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or spec.origin is None:
        raise CueError(f"the BlazePose models come from the mediapipe wheel, which is not installed: {INSTALL_HINT}")
    folder = "pose_detection" if name == "pose_detection" else "pose_landmark"
    path = Path(spec.origin).parent / "modules" / folder / f"{name}.tflite"
    if not path.is_file():
        raise CueError(f"{path} is missing: mediapipe 0.10.14 ships it ({INSTALL_HINT})")
    return path


def ssd_anchors(
    input_size: int = DETECTOR_SIZE, strides: tuple[int, ...] = ANCHOR_STRIDES, scales: tuple[float, float] = ANCHOR_SCALES
) -> np.ndarray:
    """Anchor centres of MediaPipe's SsdAnchorsCalculator with ``fixed_anchor_size`` (size 1).

    Consecutive layers of one stride share a feature map; each layer gives two anchors per
    cell (aspect ratio 1 and the interpolated scale), all of one size, so only the order and the
    centres matter. ``scales`` only sizes non-fixed anchors and is kept for the record.

    Returns:
        (N, 2) float32 normalised (x, y) centres in [0, 1] of the input, MediaPipe's order
        (per stride group: row, column, anchor). N = 2254 for the defaults.
    """
    out = []
    layer = 0
    while layer < len(strides):
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
        per_cell = 2 * (last - layer)
        n = int(math.ceil(input_size / strides[layer]))
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        centres = np.stack([xs, ys], -1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
        layer = last
    return np.concatenate(out).astype(np.float32)


def decode_detections(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, threshold: float = 0.5, input_size: int = DETECTOR_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode the detector's raw outputs (TensorsToDetectionsCalculator, fixed-size anchors).

    Args:
        raw_boxes: (N, 12) x, y, w, h then 4 keypoints (x, y), in input pixels relative to the anchor.
        raw_scores: (N,) or (N, 1) logits.
        anchors: (N, 2) from :func:`ssd_anchors`.
        threshold: minimum score after the sigmoid.
    Returns:
        boxes: (M, 4) float32 normalised x0, y0, x1, y1 in the detector input.
        keypoints: (M, 4, 2) float32 normalised.
        scores: (M,) float32 in [0, 1], M detections above ``threshold`` in anchor order.
    """
    raw_boxes = np.asarray(raw_boxes, np.float32).reshape(-1, 12)
    logits = np.clip(np.asarray(raw_scores, np.float32).reshape(-1), -DETECTION_SCORE_CLIP, DETECTION_SCORE_CLIP)
    if raw_boxes.shape[0] != anchors.shape[0] or logits.shape[0] != anchors.shape[0]:
        raise ValueError(f"{raw_boxes.shape[0]} boxes and {logits.shape[0]} scores for {anchors.shape[0]} anchors")
    scores = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    keep = scores >= threshold
    raw, anc = raw_boxes[keep] / input_size, anchors[keep]
    centre = raw[:, 0:2] + anc
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = raw[:, 4:12].reshape(-1, 4, 2) + anc[:, None]
    return boxes.astype(np.float32), keypoints.astype(np.float32), scores[keep].astype(np.float32)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (4,) x0, y0, x1, y1 box with (M, 4) boxes -> (M,)."""
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)  # noqa: E731
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's WEIGHTED non-max suppression: each cluster's score-weighted mean box/keypoints.

    The best remaining detection collects every remaining one with IoU > ``iou_threshold``
    (itself included); the output is their score-weighted average with the best one's score.

    Args:
        boxes: (M, 4) x0, y0, x1, y1 (any units); keypoints: (M, K, 2); scores: (M,).
    Returns:
        boxes (D, 4), keypoints (D, K, 2), scores (D,), by decreasing score.
    """
    order = np.argsort(-scores, kind="stable")
    out_b, out_k, out_s = [], [], []
    while order.size:
        best = order[0]
        members = box_iou(boxes[best], boxes[order]) > iou_threshold
        members[0] = True  # a degenerate (zero-area) best box still forms its own cluster
        idx = order[members]
        w = scores[idx][:, None]
        out_b.append((boxes[idx] * w).sum(0) / w.sum())
        out_k.append((keypoints[idx] * w[:, :, None]).sum(0) / w.sum())
        out_s.append(scores[best])
        order = order[~members]
    K = keypoints.shape[1] if keypoints.ndim == 3 else 0
    if not out_s:
        return np.zeros((0, 4), np.float32), np.zeros((0, K, 2), np.float32), np.zeros(0, np.float32)
    return np.asarray(out_b, np.float32), np.asarray(out_k, np.float32), np.asarray(out_s, np.float32)


def roi_from_points(center: np.ndarray, scale_point: np.ndarray, scale: float = ROI_SCALE) -> Roi:
    """The person ROI from two alignment points in pixels (AlignmentPointsRectsCalculator +
    RectTransformationCalculator with ``square_long``): centred on ``center``, side
    ``2 * scale * |scale_point - center|``, rotated so that center -> scale_point points up.

    Args:
        center, scale_point: (2,) pixels (detector keypoints 0, 1 or landmarks 33, 34).
    """
    d = np.asarray(scale_point, np.float64) - np.asarray(center, np.float64)
    angle = math.pi / 2 - math.atan2(-d[1], d[0])
    angle = angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))  # to [-pi, pi)
    return Roi(np.asarray(center, np.float64), float(2 * scale * math.hypot(d[0], d[1])), float(angle))


def crop_square(image: np.ndarray, roi: Roi, out_size: int, border_zero: bool) -> np.ndarray:
    """The ROI warped to ``out_size`` x ``out_size`` as MediaPipe's ImageToTensorCalculator does
    (OpenCV: the rotated rect's corners mapped onto the output's, bilinear).

    Args:
        image: (H, W, 3) uint8 RGB.
        border_zero: black outside the image (detector); else the edge pixels are replicated.
    Returns:
        (out_size, out_size, 3) uint8.
    """
    import cv2

    rect = ((float(roi.center[0]), float(roi.center[1])), (roi.size, roi.size), math.degrees(roi.rotation))
    src = cv2.boxPoints(rect).astype(np.float32)
    s = float(out_size)
    dst = np.array([[0, s], [0, 0], [s, 0], [s, s]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    border = cv2.BORDER_CONSTANT if border_zero else cv2.BORDER_REPLICATE
    return cv2.warpPerspective(image, matrix, (out_size, out_size), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0)


def project_landmarks(points: np.ndarray, roi: Roi) -> np.ndarray:
    """ROI-normalised points to frame pixels (LandmarkProjectionCalculator).

    Args:
        points: (..., 2) in [0, 1] of the ROI crop.
    Returns:
        (..., 2) float64 pixels.
    """
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    x, y = points[..., 0] - 0.5, points[..., 1] - 0.5
    return np.stack([c * x - s * y, s * x + c * y], -1) * roi.size + roi.center


def to_roi(points: np.ndarray, roi: Roi) -> np.ndarray:
    """Frame pixels to ROI-normalised coordinates (the inverse of :func:`project_landmarks`).

    Args:
        points: (..., 2) pixels.
    Returns:
        (..., 2) float64, [0, 1] inside the ROI.
    """
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    d = (np.asarray(points, np.float64) - roi.center) / roi.size
    return np.stack([c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1]], -1) + 0.5


def refine_on_heatmap(points: np.ndarray, heatmap: np.ndarray, kernel: int = HEATMAP_KERNEL, min_confidence: float = HEATMAP_MIN_CONFIDENCE) -> np.ndarray:
    """RefineLandmarksFromHeatmapCalculator: each point moved to the sigmoid-weighted mean cell
    of a ``kernel`` x ``kernel`` window of its heatmap channel, if that window's peak is at
    least ``min_confidence`` (MediaPipe's formula, cell index / size, kept as is).

    Args:
        points: (L, 2) ROI-normalised x, y.
        heatmap: (h, w, C >= L) logits.
    Returns:
        (L, 2) refined points.
    """
    h, w = heatmap.shape[:2]
    L = len(points)
    off = (kernel - 1) // 2
    cols = np.trunc(points[:, 0] * w).astype(int)  # C++ float->int conversion truncates toward zero
    rows = np.trunc(points[:, 1] * h).astype(int)
    inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    # cells outside the heatmap get logit -inf (confidence 0): the same sums and maxima as
    # MediaPipe's window clipped at the edges
    padded = np.pad(heatmap[..., :L].astype(np.float64), ((off, off), (off, off), (0, 0)), constant_values=-np.inf)
    k = np.arange(kernel)
    r = np.clip(rows, 0, h - 1)[:, None, None] + k[None, :, None]  # (L, k, 1), padded index of row - off + k
    c = np.clip(cols, 0, w - 1)[:, None, None] + k[None, None, :]
    conf = 1.0 / (1.0 + np.exp(-padded[r, c, np.arange(L)[:, None, None]]))  # (L, k, k)
    total = conf.sum((1, 2))
    ok = inside & (conf.max((1, 2)) >= min_confidence) & (total > 0)
    x = ((c - off) * conf).sum((1, 2)) / np.maximum(total, 1e-12) / w
    y = ((r - off) * conf).sum((1, 2)) / np.maximum(total, 1e-12) / h
    out = points.copy()
    out[ok] = np.stack([x, y], -1)[ok]
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80, 80)))


class BlazePose:
    """The detector and the full landmark model, loaded once (a thin stateful wrapper around
    the pure functions of this module).

    Args:
        num_threads: TFLite interpreter threads.
        detection_threshold: detector score threshold (MediaPipe: 0.5).
        nms_iou: weighted-NMS IoU threshold (MediaPipe: 0.3).
    """

    def __init__(self, num_threads: int = 1, detection_threshold: float = 0.5, nms_iou: float = 0.3) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as e:
            raise CueError(f"running BlazePose for several people needs ai-edge-litert: {INSTALL_HINT} ({e})") from e
        self.detector = Interpreter(model_path=str(model_path("pose_detection")), num_threads=num_threads)
        self.landmarker = Interpreter(model_path=str(model_path("pose_landmark_full")), num_threads=num_threads)
        for it in (self.detector, self.landmarker):
            it.allocate_tensors()
        self._det_in = self.detector.get_input_details()[0]["index"]
        outs = sorted(self.detector.get_output_details(), key=lambda d: d["shape"][-1])
        self._det_scores, self._det_boxes = outs[0]["index"], outs[1]["index"]  # (1, N, 1), (1, N, 12)
        self._lm_in = self.landmarker.get_input_details()[0]["index"]
        by_size = {int(np.prod(d["shape"])): d["index"] for d in self.landmarker.get_output_details()}
        # 39 x 5 landmarks, 1 flag, 256 x 256 mask, 64 x 64 x 39 heatmap, 39 x 3 world
        sizes = (("landmarks", 195), ("flag", 1), ("mask", 256 * 256), ("heatmap", 64 * 64 * 39), ("world", 117))
        self._lm_out = {k: by_size[n] for k, n in sizes}
        self.anchors = ssd_anchors()
        self.detection_threshold = detection_threshold
        self.nms_iou = nms_iou

    def detect(self, image: np.ndarray, roi: Roi | None = None, mirror: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Face boxes and alignment keypoints of the people in a square crop of the frame.

        Args:
            image: (H, W, 3) uint8 RGB frame.
            roi: the square region to look in (rotation 0); None: the whole frame, letterboxed.
            mirror: look in the left-right mirrored crop (the detector finds other people
                there); results are mapped back to the frame.
        Returns:
            boxes (D, 4) pixels x0, y0, x1, y1 of the face; keypoints (D, 4, 2) pixels; scores (D,),
            after weighted NMS within this crop.
        """
        if roi is None:
            h, w = image.shape[:2]
            roi = Roi(np.array([w / 2, h / 2]), float(max(w, h)), 0.0)
        crop = crop_square(image, roi, DETECTOR_SIZE, border_zero=True)
        if mirror:
            crop = np.ascontiguousarray(crop[:, ::-1])
        self.detector.set_tensor(self._det_in, (crop.astype(np.float32) / 127.5 - 1.0)[None])
        self.detector.invoke()
        boxes, kps, scores = decode_detections(
            self.detector.get_tensor(self._det_boxes)[0], self.detector.get_tensor(self._det_scores)[0], self.anchors, self.detection_threshold
        )
        boxes, kps, scores = weighted_nms(boxes, kps, scores, self.nms_iou)
        if mirror:  # x -> 1 - x (the crop's pixel edges map onto each other)
            boxes = np.stack([1 - boxes[:, 2], boxes[:, 1], 1 - boxes[:, 0], boxes[:, 3]], -1)
            kps = np.concatenate([1 - kps[..., :1], kps[..., 1:]], -1)
        corner = roi.center - roi.size / 2
        return boxes * roi.size + np.tile(corner, 2), kps * roi.size + corner, scores

    def landmarks(self, image: np.ndarray, roi: Roi) -> PoseCandidate:
        """The landmark model on one person's ROI.

        Args:
            image: (H, W, 3) uint8 RGB frame.
            roi: from :func:`roi_from_points` (a detection's keypoints 0, 1, or the previous
                frame's :attr:`PoseCandidate.next_roi`).
        Returns:
            :class:`PoseCandidate` (its ``score`` is the pose-presence flag).
        """
        crop = crop_square(image, roi, LANDMARK_SIZE, border_zero=False)
        self.landmarker.set_tensor(self._lm_in, (crop.astype(np.float32) / 255.0)[None])
        self.landmarker.invoke()
        raw = self.landmarker.get_tensor(self._lm_out["landmarks"]).reshape(39, 5)
        flag = float(self.landmarker.get_tensor(self._lm_out["flag"]).reshape(-1)[0])
        heatmap = self.landmarker.get_tensor(self._lm_out["heatmap"])[0]
        world = self.landmarker.get_tensor(self._lm_out["world"]).reshape(39, 3)
        norm = refine_on_heatmap(raw[:, :2] / LANDMARK_SIZE, heatmap)
        pixels = project_landmarks(norm, roi)
        c, s = math.cos(roi.rotation), math.sin(roi.rotation)
        world_rot = np.stack([c * world[:, 0] - s * world[:, 1], s * world[:, 0] + c * world[:, 1], world[:, 2]], -1)
        n = NUM_LANDMARKS
        return PoseCandidate(
            keypoints=pixels[:n].astype(np.float32),
            z=(raw[:n, 2] / LANDMARK_SIZE * roi.size).astype(np.float32),
            visibility=_sigmoid(raw[:n, 3]).astype(np.float32),
            presence=_sigmoid(raw[:n, 4]).astype(np.float32),
            world=world_rot[:n].astype(np.float32),
            score=flag,
            roi=roi,
            next_roi=roi_from_points(pixels[ROI_POINTS[0]], pixels[ROI_POINTS[1]]),
            mask=_sigmoid(self.landmarker.get_tensor(self._lm_out["mask"]).reshape(LANDMARK_SIZE, LANDMARK_SIZE)).astype(np.float32),
        )
