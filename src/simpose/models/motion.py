"""The motion model's API: network inputs from crops, weights + card, and a video in, 3D joints out.

:func:`frame_inputs` turns one person's crops (:class:`simpose.cues.crops.MotionCrops` or the
motion crop cache) into the tensors :class:`~simpose.models.motion_net.MotionNet` reads; training
and inference both call it. :class:`MotionModel` holds a network and its card (inputs, crop
settings, window, frame rate); :mod:`simpose.track.motion_video` runs it on a video.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from simpose.body.joints import get_joint_set
from simpose.cues.crops import person_mask
from simpose.models.motion_net import OUTPUT_SETS, MotionNet, MotionNetConfig

__all__ = ["FLOW_SCALE", "frame_inputs", "MotionModel"]

FLOW_SCALE = 4.0  # crop pixels per input unit: typical person motion at 30 fps is a few crop pixels


def frame_inputs(rgb: np.ndarray, flow: np.ndarray, keypoints: np.ndarray, confidence: np.ndarray, flow_exists: np.ndarray | None = None) -> dict[str, torch.Tensor]:
    """The per-frame network inputs of one track.

    Args:
        rgb: (T, S, S, 3) uint8 crops. flow: (T - 1, S, S, 2) flow t -> t + 1 in crop pixels
            (NaN read as 0). keypoints: (T, 33, 2) crop units. confidence: (T, 33), 0 where not found.
        flow_exists: (T,) bool, frames whose incoming flow is meaningful (None: all but frame 0);
            False after a cut.
    Returns:
        ``rgb`` (T, 3, S, S), ``flow`` (T, 4, S, S) (frame t: the flow t - 1 -> t / FLOW_SCALE,
        the "exists" map, and the person's region in frame t - 1, where that flow starts:
        :func:`simpose.cues.crops.person_mask`, 0 at frame 0), ``keypoints`` (T, 33, 3); float32.
    """
    T, S = rgb.shape[:2]
    exists = np.ones(T, bool) if flow_exists is None else np.asarray(flow_exists, bool).copy()
    exists[0] = False
    conf = np.asarray(confidence, np.float32)
    f = np.zeros((T, S, S, 4), np.float32)
    f[1:, ..., :2] = np.nan_to_num(np.asarray(flow, np.float32)) / FLOW_SCALE
    f[..., :2] *= exists[:, None, None, None]
    f[..., 2] = exists[:, None, None]
    f[1:, ..., 3] = person_mask(np.asarray(keypoints)[:-1], conf[:-1], S)
    kp = np.concatenate([np.asarray(keypoints, np.float32) * (conf[..., None] > 0), conf[..., None]], -1)
    return {
        "rgb": torch.from_numpy(np.ascontiguousarray(rgb.transpose(0, 3, 1, 2))).float().div_(255).sub_(0.5),
        "flow": torch.from_numpy(np.ascontiguousarray(f.transpose(0, 3, 1, 2))),
        "keypoints": torch.from_numpy(kp),
    }


@dataclasses.dataclass
class MotionModel:
    """A trained :class:`MotionNet` and its card.

    Attributes:
        net: the network (eval mode). card: the json card (``net_config``, ``crop``, ``fps``, ...).
    """

    net: MotionNet
    card: dict

    @classmethod
    def from_weights(cls, path: str | Path) -> "MotionModel":
        """Load ``X.pt`` (state dict, ``weights_only``) with its card ``X.json`` beside it."""
        path = Path(path)
        card = json.loads(path.with_suffix(".json").read_text())
        net = MotionNet(MotionNetConfig(**card["net_config"]))
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return cls(net.eval(), card)

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.net.config.inputs

    @torch.no_grad()
    def predict(self, inputs: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        """Joint set -> (T, J, 3) metres relative to the h36m17 pelvis, camera axes (every set of
        :data:`~simpose.models.motion_net.OUTPUT_SETS`), from :func:`frame_inputs` of a whole track."""
        self.net.eval()
        x = {k: (v if k in self.inputs else None) for k, v in inputs.items()}
        y = self.net.forward_sequence(x["rgb"], x["flow"], x["keypoints"]).numpy().astype(np.float64)
        out, start = {}, 0
        for s in OUTPUT_SETS:
            n = len(get_joint_set(s).names)
            out[s], start = y[:, start : start + n], start + n
        return out
