"""A rendered synthetic track with every cue and its true body, for testing and measuring adaptation.

One person, one clip from simpose's own engine (:class:`simpose.synth.writer.ClipSynthesizer`):
the true body moved into each frame's camera frame (a :class:`~simpose.body.fit.BodyFit`),
the intrinsics, the person's mask and the exact forward flow (the rasterizer's), and the
projected keypoints of every joint set with their visibility.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import roma
import torch

from simpose.body.fit import BodyFit

__all__ = ["SyntheticTrack", "synthetic_track", "camera_frame_fit"]


@dataclasses.dataclass(frozen=True, eq=False)
class SyntheticTrack:
    """Attributes:
    fit: true body, camera frame of each frame (T frames).
    K: (3, 3) pixels. image_size: (W, H).
    masks: (T, H, W) bool, the person's pixels. flows: (T-1, H, W, 2) forward flow, pixels.
    joints2d: set -> (T, J, 2) pixels. visible: set -> (T, J) bool. joints3d: set -> (T, J, 3) camera frame, metres.
    rgb: (T, H, W, 3) uint8. depth: (T, H, W) float32 rendered depth, metres (0 = background).
    """

    fit: BodyFit
    K: np.ndarray
    image_size: tuple[int, int]
    masks: np.ndarray
    flows: np.ndarray
    joints2d: dict
    visible: dict
    joints3d: dict
    rgb: np.ndarray
    depth: np.ndarray


def camera_frame_fit(body_params: dict, camera_R: np.ndarray, camera_t: np.ndarray, person: int = 0) -> BodyFit:
    """World-frame body parameters of a clip (``clip['body']``) -> a camera-frame BodyFit.

    The body model maps ``x = M v + trans`` with ``M = R(global) C``; a camera ``x_c = R x + t``
    gives ``R(global_c) = R R(global)`` and ``trans_c = R trans + t``.

    Args:
        body_params: ``pose_rotvecs`` (T,P,19,3), ``global_rotvecs`` (T,P,3), ``trans`` (T,P,3), ``shape_params`` (P,6).
        camera_R: (T, 3, 3). camera_t: (T, 3) world -> camera.
    """
    R = torch.as_tensor(np.asarray(camera_R, np.float64))
    G = roma.rotvec_to_rotmat(torch.as_tensor(np.asarray(body_params["global_rotvecs"][:, person], np.float64)))
    trans = np.einsum("tij,tj->ti", np.asarray(camera_R, np.float64), body_params["trans"][:, person]) + camera_t
    T = len(trans)
    return BodyFit(
        pose_rotvecs=np.asarray(body_params["pose_rotvecs"][:, person], np.float64),
        global_rotvecs=roma.rotmat_to_rotvec(R @ G).numpy(),
        trans=trans,
        shape_params=np.asarray(body_params["shape_params"][person], np.float64),
        valid=np.ones(T, bool),
    )


def synthetic_track(synthesizer, seed: int, index: int) -> SyntheticTrack:
    """Render clip ``index`` of ``seed`` with a :class:`~simpose.synth.writer.ClipSynthesizer` (one person: the first).

    The synthesizer's config should draw one person without occluders or truncation, so the
    mask and flow are the person's own.
    """
    clip = synthesizer.make(seed, index)
    R, t = np.asarray(clip["meta"]["camera_R"]), np.asarray(clip["meta"]["camera_t"])
    S = clip["mask"].shape[1]
    return SyntheticTrack(
        fit=camera_frame_fit(clip["body"], R, t),
        K=np.asarray(clip["K"][0], np.float64),
        image_size=(S, S),
        masks=clip["mask"] == 1,
        flows=clip["flow"],
        joints2d={k: v[:, 0] for k, v in clip["joints2d"].items()},
        visible={k: v[:, 0] for k, v in clip["visible"].items()},
        joints3d={k: v[:, 0] for k, v in clip["joints3d"].items()},
        rgb=clip["rgb"],
        depth=clip["depth"],
    )
