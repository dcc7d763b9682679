"""2D keypoints and person masks from MediaPipe Pose (the legacy ``mp.solutions`` API).

MediaPipe is an optional extra (``pip install 'simpose[mediapipe]'``), imported only when
:func:`detect_keypoints` runs. Its legacy Pose solution tracks ONE person per video (P = 1):
in a crowd it follows whoever it found first and switches only when it loses them. Multi-person
video needs a person detector in front of it (``simpose.track``).

Per frame it gives the 33 BlazePose landmarks, their visibility, MediaPipe's own metric 3D
("world landmarks": metres, origin between the hips, x right, y down, z away from the camera
— not the camera frame) and a person-vs-background probability, thresholded to a mask. A frame
where no person is found is marked invalid: NaN keypoints, zero confidence, an empty mask.
Nothing is filled in or interpolated here.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable

import numpy as np

from simpose.body.joints import conversion_matrix, convert, get_joint_set
from simpose.cues.errors import CueError

__all__ = ["Keypoints2D", "KeypointConfig", "detect_keypoints", "import_mediapipe"]

MEDIAPIPE_JOINT_SET = "blazepose33"
INSTALL_HINT = "pip install 'simpose[mediapipe]'"


@dataclasses.dataclass(frozen=True, eq=False)
class Keypoints2D:
    """2D keypoints of P people over T frames, in one joint set.

    Attributes:
        keypoints: (T, P, J, 2) float32 pixels (x right, y down) in the frame as read (after
            rotation). MediaPipe's normalised coordinates times (W, H), so 0 is the left/top
            image edge (simpose's cameras put pixel centres at integers: a half-pixel shift).
            NaN where ``valid`` is False.
        confidence: (T, P, J) float32 in [0, 1] (MediaPipe: landmark visibility); 0 where invalid.
        valid: (T, P) bool, whether person p was found in frame t.
        image_size: (width, height) in pixels of the frames.
        joint_set: name of the joint set of axis J (see :mod:`simpose.body.joints`).
        world: (T, P, J, 3) float32 metres, detector's own hip-centred 3D (MediaPipe's world
            landmarks), or None. NaN where invalid.
    """

    keypoints: np.ndarray
    confidence: np.ndarray
    valid: np.ndarray
    image_size: tuple[int, int]
    joint_set: str = MEDIAPIPE_JOINT_SET
    world: np.ndarray | None = None

    def __post_init__(self) -> None:
        J = len(get_joint_set(self.joint_set))
        if self.keypoints.ndim != 4 or self.keypoints.shape[2:] != (J, 2):
            raise ValueError(f"keypoints must be (T, P, {J}, 2) for {self.joint_set}, got {self.keypoints.shape}")
        T, P = self.keypoints.shape[:2]
        if self.confidence.shape != (T, P, J):
            raise ValueError(f"confidence must be {(T, P, J)}, got {self.confidence.shape}")
        if self.valid.shape != (T, P) or self.valid.dtype != bool:
            raise ValueError(f"valid must be bool {(T, P)}, got {self.valid.dtype} {self.valid.shape}")
        if len(self.image_size) != 2 or min(self.image_size) <= 0:
            raise ValueError(f"image_size must be positive (width, height), got {self.image_size}")
        if self.world is not None and self.world.shape != (T, P, J, 3):
            raise ValueError(f"world must be {(T, P, J, 3)}, got {self.world.shape}")

    @property
    def num_frames(self) -> int:
        return self.keypoints.shape[0]

    @property
    def num_people(self) -> int:
        return self.keypoints.shape[1]

    def to_joint_set(self, dst: str, strict: bool = False) -> Keypoints2D:
        """The same keypoints in another joint set (:func:`simpose.body.joints.convert`).

        Joints of ``dst`` derived from several source joints (e.g. h36m17's pelvis, the middle
        of the hips) get the lowest confidence of their sources.

        Args:
            dst: target joint set name, e.g. ``"h36m17"`` or ``"coco17"``.
            strict: raise if a ``dst`` joint has no source; otherwise it is NaN with confidence 0.
        Returns:
            Keypoints2D in ``dst`` (``valid`` unchanged).
        """
        W, has_source = conversion_matrix(self.joint_set, dst, strict=strict)
        kp = convert(self.keypoints, self.joint_set, dst, strict=strict).astype(np.float32)
        world = None if self.world is None else convert(self.world, self.joint_set, dst, strict=strict).astype(np.float32)
        conf = np.zeros(self.confidence.shape[:2] + (W.shape[0],), np.float32)
        for j in np.flatnonzero(has_source):
            conf[..., j] = self.confidence[..., W[j] != 0].min(axis=-1)
        return Keypoints2D(kp, conf, self.valid.copy(), self.image_size, dst, world)

    def boxes(self) -> np.ndarray:
        """(T, P, 4) float32 tight boxes ``x0, y0, x1, y1`` around each person's keypoints
        (pixels, clipped to the image); NaN where invalid."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows of invalid people
            lo = np.nanmin(self.keypoints, axis=2)
            hi = np.nanmax(self.keypoints, axis=2)
        w, h = self.image_size
        out = np.concatenate([lo, hi], axis=-1)
        out = np.clip(out, 0, [w, h, w, h]).astype(np.float32)
        out[~self.valid] = np.nan
        return out


@dataclasses.dataclass(frozen=True)
class KeypointConfig:
    """Settings of the MediaPipe Pose detector.

    Attributes:
        static_image_mode: detect afresh in every frame (slower, for unrelated images); False
            tracks the person from frame to frame, as for video.
        model_complexity: 0, 1 or 2 (lite, full, heavy BlazePose; 0.10.14 ships all three).
        min_detection_confidence: person detector threshold.
        min_tracking_confidence: below this the tracker re-detects.
        smooth_landmarks: MediaPipe's own temporal filter (video mode only).
        segmentation: also output the person mask.
        mask_threshold: probability above which a pixel belongs to the person.
    """

    static_image_mode: bool = False
    model_complexity: int = 1
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    smooth_landmarks: bool = True
    segmentation: bool = True
    mask_threshold: float = 0.5


def import_mediapipe():
    """Import mediapipe, or raise :class:`CueError` saying how to install it."""
    try:
        import mediapipe as mp
    except ImportError as e:
        raise CueError(f"2D keypoints need mediapipe, which is not installed: {INSTALL_HINT} ({e})") from e
    if not hasattr(mp, "solutions") or not hasattr(mp.solutions, "pose"):
        raise CueError(
            f"mediapipe {getattr(mp, '__version__', '?')} lacks the legacy mp.solutions.pose API that simpose uses; "
            f"{INSTALL_HINT} installs the supported version"
        )
    return mp


def detect_keypoints(
    frames: Iterable[np.ndarray], config: KeypointConfig = KeypointConfig()
) -> tuple[Keypoints2D, np.ndarray | None]:
    """Run MediaPipe Pose over frames of one video (one person, P = 1).

    Args:
        frames: iterable of (H, W, 3) uint8 RGB frames, all of one size, in time order.
        config: detector settings.
    Returns:
        keypoints: :class:`Keypoints2D` in ``blazepose33``, P = 1, with ``world``.
        masks: (T, 1, H, W) bool person masks (empty where no person was found), or None if
            ``config.segmentation`` is False.
    Raises:
        CueError: mediapipe missing; no frames; frames of different sizes or not uint8 RGB.
    """
    mp = import_mediapipe()
    J = len(get_joint_set(MEDIAPIPE_JOINT_SET))
    kps, confs, worlds, valids, masks = [], [], [], [], []
    size = None
    with mp.solutions.pose.Pose(
        static_image_mode=config.static_image_mode,
        model_complexity=config.model_complexity,
        smooth_landmarks=config.smooth_landmarks,
        enable_segmentation=config.segmentation,
        min_detection_confidence=config.min_detection_confidence,
        min_tracking_confidence=config.min_tracking_confidence,
    ) as pose:
        for t, frame in enumerate(frames):
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise CueError(f"frame {t}: expected (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
            if size is None:
                size = frame.shape[:2]
            elif frame.shape[:2] != size:
                raise CueError(f"frame {t}: size {frame.shape[1]}x{frame.shape[0]} differs from {size[1]}x{size[0]}")
            with warnings.catch_warnings():  # mediapipe 0.10.14 calls a deprecated protobuf API per frame
                warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
                result = pose.process(np.ascontiguousarray(frame))
            kp, conf, world, valid = _parse_landmarks(result, size, J)
            kps.append(kp), confs.append(conf), worlds.append(world), valids.append(valid)
            if config.segmentation:
                mask = np.zeros(size, bool)
                if valid and result.segmentation_mask is not None:
                    mask = np.asarray(result.segmentation_mask) > config.mask_threshold
                masks.append(mask)
    if size is None:
        raise CueError("detect_keypoints got no frames")
    keypoints = Keypoints2D(
        keypoints=np.stack(kps)[:, None],
        confidence=np.stack(confs)[:, None],
        valid=np.array(valids, bool)[:, None],
        joint_set=MEDIAPIPE_JOINT_SET,
        world=np.stack(worlds)[:, None],
        image_size=(size[1], size[0]),
    )
    return keypoints, (np.stack(masks)[:, None] if config.segmentation else None)


def _parse_landmarks(result, size: tuple[int, int], J: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """One MediaPipe result -> (J, 2) pixels, (J,) confidence, (J, 3) metres, found."""
    kp = np.full((J, 2), np.nan, np.float32)
    conf = np.zeros(J, np.float32)
    world = np.full((J, 3), np.nan, np.float32)
    if result.pose_landmarks is None:
        return kp, conf, world, False
    h, w = size
    landmarks = result.pose_landmarks.landmark
    if len(landmarks) != J:
        raise CueError(f"MediaPipe returned {len(landmarks)} landmarks, expected {J} ({MEDIAPIPE_JOINT_SET})")
    for j, lm in enumerate(landmarks):
        kp[j] = (lm.x * w, lm.y * h)
        # the legacy API sets visibility only; presence, where set, also bounds the confidence
        conf[j] = min(lm.visibility, lm.presence) if lm.HasField("presence") else lm.visibility
    if result.pose_world_landmarks is not None:
        world[:] = [(lm.x, lm.y, lm.z) for lm in result.pose_world_landmarks.landmark]
    return kp, np.clip(conf, 0.0, 1.0), world, True
