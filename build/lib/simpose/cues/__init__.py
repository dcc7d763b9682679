"""simpose.cues: video I/O and the image cues that cross the sim-to-real gap.

- :mod:`~simpose.cues.video`: ``open_video(path) -> VideoSource`` (video files, image folders).
- :mod:`~simpose.cues.keypoints`: 2D keypoints, MediaPipe's 3D and person masks (MediaPipe
  Pose, optional extra ``simpose[mediapipe]``; one person per video).
- :mod:`~simpose.cues.flow`: DIS optical flow between consecutive frames.
- :mod:`~simpose.cues.pipeline`: ``extract_cues(video, cache_dir) -> Cues``, cached per video.

Importing this package imports neither mediapipe nor OpenCV; they load when first used.
"""

from simpose.cues.errors import CueError, VideoError
from simpose.cues.flow import FlowConfig, compute_flow, pair_boxes, person_boxes
from simpose.cues.keypoints import KeypointConfig, Keypoints2D, detect_keypoints
from simpose.cues.pipeline import CueConfig, Cues, extract_cues
from simpose.cues.video import ImageSequence, VideoFile, VideoSource, open_video, rotate_frame

__all__ = [
    "CueError", "VideoError",
    "VideoSource", "VideoFile", "ImageSequence", "open_video", "rotate_frame",
    "Keypoints2D", "KeypointConfig", "detect_keypoints",
    "FlowConfig", "compute_flow", "person_boxes", "pair_boxes",
    "CueConfig", "Cues", "extract_cues",
]  # fmt: skip
