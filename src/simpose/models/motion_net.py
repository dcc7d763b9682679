"""The motion network: per-frame crops of RGB, optical flow and 2D keypoints -> root-relative 3D joints.

One architecture for every combination of inputs (:data:`INPUTS`, chosen by
:attr:`MotionNetConfig.inputs`), so an ablation changes what the network sees and nothing else:

* a per-frame encoder: the image channels that are on (RGB 3, flow 2 + a "flow exists" map 1)
  through a small strided CNN (S px -> S/16, global average pool), and the keypoints (x, y in crop
  units and confidence per joint) through an MLP; their embeddings are concatenated;
* a temporal stack of 1D convolutions (kernel 3, no padding) over the window: a window of
  :attr:`MotionNetConfig.window` frames gives the centre frame's joints of :data:`OUTPUT_SETS`
  (h36m17, then the body's native ``anny`` joints, as the lifter: the body fit reads them) in
  metres, relative to the h36m17 pelvis, camera axes. Over a whole sequence (:meth:`MotionNet.forward_sequence`) the
  per-frame embeddings are computed once and the ends are padded by repeating the edge frames.

Flow of frame t is the flow from frame t - 1 to t (in the crop of frame t - 1); frame 0 of a
sequence (and a frame after a cut) has none: zeros with the "flow exists" map at 0.

:attr:`MotionNetConfig.flow_norm` chooses what the network makes of the flow before its CNN, the
same at training and at test (:data:`FLOW_NORMS`): ``"raw"`` as given; ``"person"`` the flow on
the person (the keypoint skeleton's region of the flow's first frame, the input's 4th channel)
minus the median flow there, zero elsewhere: the limbs' motion relative to the body, without the
camera's or the background's motion and the DIS blobs there, which differ between the renders
and real video (benchmarks/motion_flow_stats.py).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from simpose.body.joints import get_joint_set

__all__ = ["INPUTS", "OUTPUT_SETS", "FLOW_NORMS", "MotionNetConfig", "MotionNet", "parse_inputs", "person_flow"]

INPUTS = ("rgb", "flow", "keypoints")
OUTPUT_SETS = ("h36m17", "anny")  # as the lifter (simpose.models.lifter_input.OUTPUT_SETS)
KEYPOINT_JOINTS = 33  # BlazePose-33: the detector's keypoints
FLOW_NORMS = ("raw", "person")


def parse_inputs(text: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``"flow,keypoints"`` -> ``("flow", "keypoints")`` in :data:`INPUTS` order; ValueError on unknown or none."""
    names = [s.strip() for s in text.split(",")] if isinstance(text, str) else list(text)
    names = [s for s in names if s]
    bad = sorted(set(names) - set(INPUTS))
    if bad or not names:
        raise ValueError(f"inputs must be a non-empty subset of {', '.join(INPUTS)}; got {text!r}")
    return tuple(s for s in INPUTS if s in names)


@dataclasses.dataclass(frozen=True)
class MotionNetConfig:
    """Settings of :class:`MotionNet` (saved in the checkpoint and the card).

    Attributes:
        inputs: a subset of :data:`INPUTS`. crop: the crop side S (a multiple of 16).
        window: frames per window (odd; the temporal stack's receptive field).
        channels: CNN widths of the four strided layers. embed: per-frame embedding width per input kind.
        temporal: width of the temporal stack. dropout: before the output layer.
        flow_norm: one of :data:`FLOW_NORMS` (module docstring); weights saved before it existed
            are ``"raw"``.
    """

    inputs: tuple[str, ...] = ("flow", "keypoints")
    crop: int = 64
    window: int = 9
    channels: tuple[int, ...] = (16, 32, 64, 128)
    embed: int = 128
    temporal: int = 256
    dropout: float = 0.1
    flow_norm: str = "raw"

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", parse_inputs(self.inputs))
        if self.flow_norm not in FLOW_NORMS:
            raise ValueError(f"flow_norm must be one of {', '.join(FLOW_NORMS)}, got {self.flow_norm!r}")
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.window < 3 or self.window % 2 == 0:
            raise ValueError(f"window must be odd and >= 3, got {self.window}")
        if self.crop % 16:
            raise ValueError(f"crop must be a multiple of 16, got {self.crop}")

    @property
    def image_channels(self) -> int:
        return 3 * ("rgb" in self.inputs) + 3 * ("flow" in self.inputs)


def person_flow(flow: torch.Tensor) -> torch.Tensor:
    """The flow on the person minus its median there, zero elsewhere (``flow_norm="person"``).

    Args:
        flow: (N, 4, S, S): dx, dy, "exists", person map (:func:`simpose.models.motion.frame_inputs`).
    Returns:
        (N, 3, S, S): dx, dy (median-free, masked), "exists" unchanged. A frame with no person
        pixel gets zero flow.
    """
    if flow.shape[1] != 4:
        raise ValueError(f"flow_norm 'person' needs the person map as the flow's 4th channel; got {flow.shape[1]} channels")
    on = flow[:, 3:4] > 0.5  # (N, 1, S, S)
    xy = flow[:, :2]
    med = torch.where(on, xy, torch.nan).flatten(2).nanmedian(-1).values.nan_to_num(0.0)  # (N, 2)
    return torch.cat([(xy - med[:, :, None, None]) * on, flow[:, 2:3]], 1)


class MotionNet(nn.Module):
    """The network (module docstring).

    Inputs of :meth:`forward` (those of the configured inputs; others may be None):
        rgb: (B, W, 3, S, S) float, pixel / 255 - 0.5.
        flow: (B, W, 3 or 4, S, S) float: flow (dx, dy) in crop pixels / 4, the "exists" map, and
            the person map (needed by ``flow_norm="person"``, ignored by ``"raw"``).
        keypoints: (B, W, 33, 3) float: x, y in crop units, confidence (0: not found).
    Output: (B, J_out, 3) metres, centre frame, relative to the h36m17 pelvis (J_out: the joints
    of :data:`OUTPUT_SETS` side by side).
    """

    def __init__(self, config: MotionNetConfig = MotionNetConfig()) -> None:
        super().__init__()
        self.config = config
        self.out_joints = sum(len(get_joint_set(s).names) for s in OUTPUT_SETS)
        width = 0
        if config.image_channels:
            layers, c_in = [], config.image_channels
            for i, c in enumerate(config.channels):
                k = 5 if i == 0 else 3
                layers += [nn.Conv2d(c_in, c, k, stride=2, padding=k // 2, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
                c_in = c
            self.cnn = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, config.embed), nn.ReLU(inplace=True))
            width += config.embed
        if "keypoints" in config.inputs:
            self.mlp = nn.Sequential(nn.Linear(3 * KEYPOINT_JOINTS, config.embed), nn.ReLU(inplace=True), nn.Linear(config.embed, config.embed), nn.ReLU(inplace=True))
            width += config.embed
        layers, c_in = [], width
        for _ in range((config.window - 1) // 2):  # kernel 3, no padding: each layer eats 2 frames
            layers += [nn.Conv1d(c_in, config.temporal, 3, bias=False), nn.BatchNorm1d(config.temporal), nn.ReLU(inplace=True)]
            c_in = config.temporal
        self.temporal = nn.Sequential(*layers, nn.Dropout(config.dropout))
        self.head = nn.Conv1d(config.temporal, self.out_joints * 3, 1)
        with torch.no_grad():  # start near the zero pose: small first errors, stable early steps
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()

    def embed_frames(self, rgb: torch.Tensor | None, flow: torch.Tensor | None, keypoints: torch.Tensor | None) -> torch.Tensor:
        """Per-frame embeddings. Inputs (N, C, S, S) / (N, 33, 3) over N frames -> (N, D) (C: as :meth:`forward`)."""
        parts = []
        if self.config.image_channels:
            images = [x for name, x in (("rgb", rgb), ("flow", flow)) if name in self.config.inputs]
            if any(x is None for x in images):
                raise ValueError(f"this network reads {self.config.inputs}: give each of them")
            if "flow" in self.config.inputs:  # the CNN reads dx, dy, exists
                images[-1] = person_flow(flow) if self.config.flow_norm == "person" else flow[:, :3]
            parts.append(self.cnn(torch.cat(images, 1)))
        if "keypoints" in self.config.inputs:
            if keypoints is None:
                raise ValueError("this network reads keypoints: give them")
            parts.append(self.mlp(keypoints.flatten(1)))
        return torch.cat(parts, 1)

    def _decode(self, emb: torch.Tensor) -> torch.Tensor:
        """(B, L, D) embeddings -> (B, L - window + 1, J_out, 3)."""
        y = self.head(self.temporal(emb.transpose(1, 2)))  # (B, 3 J_out, L')
        return y.transpose(1, 2).reshape(emb.shape[0], -1, self.out_joints, 3)

    def forward(self, rgb: torch.Tensor | None = None, flow: torch.Tensor | None = None, keypoints: torch.Tensor | None = None) -> torch.Tensor:
        B, W = next(x for x in (rgb, flow, keypoints) if x is not None).shape[:2]
        if W != self.config.window:
            raise ValueError(f"windows of {self.config.window} frames expected, got {W}")
        flat = [None if x is None else x.flatten(0, 1) for x in (rgb, flow, keypoints)]
        emb = self.embed_frames(*flat).reshape(B, W, -1)
        return self._decode(emb)[:, 0]

    def forward_sequence(self, rgb: torch.Tensor | None = None, flow: torch.Tensor | None = None, keypoints: torch.Tensor | None = None, batch: int = 256) -> torch.Tensor:
        """A whole sequence: inputs (T, ...) without the batch axis -> (T, J_out, 3), the ends padded
        by repeating the first and last frame's embedding (window // 2 frames each)."""
        T = len(next(x for x in (rgb, flow, keypoints) if x is not None))
        emb = torch.cat([self.embed_frames(*[None if x is None else x[i : i + batch] for x in (rgb, flow, keypoints)]) for i in range(0, T, batch)])
        h = self.config.window // 2
        emb = torch.cat([emb[:1].expand(h, -1), emb, emb[-1:].expand(h, -1)])
        return self._decode(emb[None])[0]
