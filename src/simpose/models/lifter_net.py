"""The lifter's network: dilated temporal convolutions over 2D keypoint windows (VideoPose3D-style).

Input ``(B, T, J_in, 3)`` normalised features (:func:`simpose.models.lifter_input.normalize_keypoints`),
output root-relative joints of every set of ``OUTPUT_SETS`` in metres, for the window's centre
frame and its last frame (two heads). :class:`simpose.models.lifter.Lifter` is the API around it.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["TemporalLifterNet"]


class TemporalLifterNet(nn.Module):
    """Dilated temporal convolutions from per-frame features to per-frame 3D.

    Args:
        in_joints: J_in (features per frame: 3 J_in: x, y, confidence).
        out_joints: J_out (the union of ``OUTPUT_SETS``).
        filter_widths: kernel widths; the receptive field is their product.
        channels: width of every layer.
        dropout: dropout probability during training.
        heads: outputs per window (centre frame, last frame).
    """

    def __init__(
        self,
        in_joints: int,
        out_joints: int,
        filter_widths: tuple[int, ...] = (3, 3, 3),
        channels: int = 512,
        dropout: float = 0.25,
        heads: int = 2,
    ) -> None:
        super().__init__()
        if any(w % 2 == 0 for w in filter_widths):
            raise ValueError(f"filter widths must be odd, got {filter_widths}")
        self.filter_widths = tuple(int(w) for w in filter_widths)
        self.in_joints, self.out_joints, self.heads = in_joints, out_joints, heads
        self.expand = nn.Conv1d(3 * in_joints, channels, filter_widths[0], bias=False)
        self.expand_bn = nn.BatchNorm1d(channels, momentum=0.1)
        self.convs = nn.ModuleList()
        self.bns = nn.ModuleList()
        for w in filter_widths[1:]:
            self.convs.append(nn.Conv1d(channels, channels, w, bias=False))
            self.bns.append(nn.BatchNorm1d(channels, momentum=0.1))
            self.convs.append(nn.Conv1d(channels, channels, 1, bias=False))
            self.bns.append(nn.BatchNorm1d(channels, momentum=0.1))
        self.shrink = nn.Conv1d(channels, heads * out_joints * 3, 1)
        with torch.no_grad():  # start near the zero pose: a small first error, stable early steps
            self.shrink.weight.mul_(0.1)
            self.shrink.bias.zero_()
        self.drop = nn.Dropout(dropout)

    @property
    def receptive_field(self) -> int:
        return math.prod(self.filter_widths)

    def _dense(self, x: torch.Tensor) -> torch.Tensor:
        fw = self.filter_widths
        x = x.transpose(1, 2)  # (B, F, T)
        x = self.drop(F.relu(self.expand_bn(self.expand(x))))
        dilation = fw[0]
        for i, w in enumerate(fw[1:]):
            pad = (w - 1) * dilation // 2
            res = x[:, :, pad : x.shape[2] - pad]
            x = self.drop(F.relu(self.bns[2 * i](F.conv1d(x, self.convs[2 * i].weight, dilation=dilation))))
            x = res + self.drop(F.relu(self.bns[2 * i + 1](self.convs[2 * i + 1](x))))
            dilation *= w
        out = self.shrink(x)  # (B, H*J*3, T')
        B, _, Tp = out.shape
        return out.view(B, self.heads, self.out_joints, 3, Tp).permute(0, 4, 1, 2, 3)

    @staticmethod
    def _strided(x: torch.Tensor, conv: nn.Conv1d, w: int) -> torch.Tensor:
        """A convolution with stride = width on channels-last (B, T, C) as one matrix product."""
        B, T, C = x.shape
        weight = conv.weight.permute(0, 2, 1).reshape(conv.out_channels, w * C)
        return F.linear(x.reshape(B, T // w, w * C), weight, conv.bias)

    @staticmethod
    def _bn(x: torch.Tensor, bn: nn.BatchNorm1d) -> torch.Tensor:
        B, T, C = x.shape
        return bn(x.reshape(B * T, C)).view(B, T, C)

    def _layers(self) -> list[tuple[nn.Conv1d, nn.BatchNorm1d | None]]:
        """The convolutions in order, each with the batch norm that follows it (None: the last)."""
        return [(self.expand, self.expand_bn)] + list(zip(self.convs, self.bns)) + [(self.shrink, None)]

    def _folded(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Inference weights of the strided path: each convolution flattened to (out, w C) with its
        batch norm folded in (``W g / s``, ``beta - mean g / s``); cached until a weight changes.
        For one window at a time (streaming) the per-layer overhead is most of the cost."""
        # Watched: the version counters of the tensors folded in, which every in-place change
        # bumps (optimiser steps, load_state_dict, batch-norm statistics); building this key
        # from the modules on every call cost streaming 4%.
        if getattr(self, "_folded_watch", None) is None:
            layers = self._layers()
            self._folded_watch = [c.weight for c, _ in layers] + [c.bias for c, _ in layers if c.bias is not None]
            self._folded_watch += [t for _, bn in layers if bn is not None for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var)]
        key = [t._version for t in self._folded_watch]
        if getattr(self, "_folded_key", None) != key:
            folded = []
            for conv, bn in self._layers():
                w = conv.weight.detach().permute(0, 2, 1).reshape(conv.out_channels, -1)
                b = conv.bias.detach() if conv.bias is not None else torch.zeros(conv.out_channels)
                if bn is not None:
                    g = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
                    w, b = w * g[:, None], bn.bias.detach() + (b - bn.running_mean) * g
                folded.append((w.contiguous(), b.contiguous()))
            self._folded_cache, self._folded_key = folded, key
        return self._folded_cache

    def _windows(self, x: torch.Tensor) -> torch.Tensor:
        fw = self.filter_widths
        if not self.training and not torch.is_grad_enabled():  # inference: batch norms folded in
            folded = self._folded()

            def layer(k: int, x: torch.Tensor, w: int) -> torch.Tensor:
                B, T, C = x.shape
                return F.linear(x.reshape(B, T // w, w * C), *folded[k])

        else:
            pairs = self._layers()

            def layer(k: int, x: torch.Tensor, w: int) -> torch.Tensor:
                conv, bn = pairs[k]
                y = self._strided(x, conv, w)
                return y if bn is None else self._bn(y, bn)

        drop = self.drop if self.training else (lambda t: t)  # a no-op call per layer costs streaming ~10%
        x = drop(F.relu(layer(0, x, fw[0])))
        for i, w in enumerate(fw[1:]):
            res = x[:, w // 2 :: w]
            x = drop(F.relu(layer(1 + 2 * i, x, w)))
            x = res + drop(F.relu(layer(2 + 2 * i, x, 1)))
        out = layer(len(fw) * 2 - 1, x, 1)  # (B, 1, H*J*3)
        return out.view(x.shape[0], self.heads, self.out_joints, 3)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Dense sliding prediction.

        Args:
            features: (B, T, 3 J_in) normalised input, T >= RF.
        Returns:
            (B, T - RF + 1, heads, J_out, 3): output i is the window of frames i .. i + RF - 1
            (head 0 predicts its centre frame, head 1 its last frame), metres.
        """
        return self._dense(features)

    def forward_windows(self, features: torch.Tensor) -> torch.Tensor:
        """One prediction per window (strided convolutions; the same result, cheaper for training).

        Args:
            features: (B, RF, 3 J_in).
        Returns:
            (B, heads, J_out, 3).
        """
        if features.shape[1] != self.receptive_field:
            raise ValueError(f"windows must have {self.receptive_field} frames, got {features.shape[1]}")
        return self._windows(features)
