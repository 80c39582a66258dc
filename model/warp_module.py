"""Warping module (EOPose paper, section 3.2): a Skip-UNet over [Ia, H(Pa), Ip, H(Pp)]
predicting a pyramid of backward flows that warp the appearance image Ia towards the pose
of Ip.

* Input channels, in this order: Ia (3), k heatmaps of Pa, Ip (3), k heatmaps of Pp
  (76 channels for the paper's k = 35).
* Skip-UNet with ``depth`` stride-2 encoder layers and ``depth`` decoder layers (paper: 12
  layers, i.e. depth 6); H and W must be multiples of 2**depth.
* ``num_flows`` = K flow maps on the last K decoder outputs, each twice the size of the
  previous, the last at H x W (the paper does not state K; default 4). Level 0 is
  predicted directly, level l > 0 refines the bilinearly x2-upsampled level l-1 flow
  residually.
* Every level is convex-upsampled to H x W (RAFT; mask head scaled by 0.25 as in RAFT's
  ``mask = .25 * self.mask(net)``) and warps Ia (:func:`eopose.model.flow.warp`, fill =
  ``background``). The finest level is already at H x W (factor 1: used as is).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .flow import convex_upsample, upsample_flow_bilinear, warp

# RAFT (Teed & Deng 2020) scales the upsampling-mask logits by 0.25 "to balance gradients".
MASK_SCALE = 0.25


class WarpOutput(NamedTuple):
    """Per level, coarse to fine (index -1 is the final flow / Iwrp)."""

    flows: list  # [B, 2, H, W] full-resolution flows, pixels (backward convention)
    warped: list  # [B, 3, H, W] Ia warped by each flow
    native_flows: list  # flows at each level's own resolution H / 2**(K-1-l), its pixels


def _conv(in_ch: int, out_ch: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, stride, 1), nn.LeakyReLU(0.1))


class SkipUNet(nn.Module):
    """U-Net with skip connections; returns the decoder outputs from coarse to fine."""

    def __init__(self, in_channels: int, base_channels: int = 64, depth: int = 6,
                 max_channels: int | None = None):
        super().__init__()
        max_channels = max_channels or 8 * base_channels
        widths = [min(base_channels * 2 ** i, max_channels) for i in range(depth + 1)]
        self.widths = widths
        self.depth = depth
        self.stem = _conv(in_channels, widths[0])
        self.down = nn.ModuleList(
            nn.Sequential(_conv(widths[i], widths[i + 1], stride=2), _conv(widths[i + 1], widths[i + 1]))
            for i in range(depth))
        self.up = nn.ModuleList(
            _conv(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(depth)))
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> list:
        skips = [self.stem(x)]
        for layer in self.down:
            skips.append(layer(skips[-1]))
        y = skips.pop()
        outputs = []
        for layer in self.up:
            y = layer(torch.cat([self.upsample(y), skips.pop()], dim=1))
            outputs.append(y)
        return outputs


class FlowLevel(nn.Module):
    """Flow head (residual delta) and convex-upsampling mask head of one pyramid level."""

    def __init__(self, channels: int, factor: int):
        super().__init__()
        self.factor = factor
        self.flow_head = nn.Sequential(_conv(channels + 2, channels), nn.Conv2d(channels, 2, 3, 1, 1))
        self.mask_head = None
        if factor > 1:  # RAFT's mask head: 3x3 conv, ReLU, 1x1 conv to 9 * factor^2
            self.mask_head = nn.Sequential(nn.Conv2d(channels, 2 * channels, 3, 1, 1), nn.ReLU(),
                                           nn.Conv2d(2 * channels, 9 * factor * factor, 1))

    def forward(self, features: torch.Tensor, prior: torch.Tensor):
        flow = prior + self.flow_head(torch.cat([features, prior], dim=1))
        if self.mask_head is None:
            return flow, flow
        return flow, convex_upsample(flow, MASK_SCALE * self.mask_head(features), self.factor)


class WarpModule(nn.Module):
    """Predicts K backward flows from (Ia, Pa, Ip, Pp) and warps Ia with each."""

    def __init__(self, num_points: int = 35, base_channels: int = 64, depth: int = 6,
                 num_flows: int = 4, background: float = 1.0):
        super().__init__()
        if not 1 <= num_flows <= depth:
            raise ValueError(f"num_flows must be in [1, depth={depth}], got {num_flows}")
        self.num_points = num_points
        self.background = background
        self.unet = SkipUNet(6 + 2 * num_points, base_channels, depth)
        # decoder output widths, coarse to fine: widths[depth-1], ..., widths[0]
        decoder_widths = self.unet.widths[depth - 1::-1]
        self.levels = nn.ModuleList(
            FlowLevel(decoder_widths[depth - num_flows + l], 2 ** (num_flows - 1 - l))
            for l in range(num_flows))

    def forward(self, appearance: torch.Tensor, pose: torch.Tensor, heatmaps_a: torch.Tensor,
                heatmaps_p: torch.Tensor) -> WarpOutput:
        height, width = appearance.shape[-2:]
        multiple = 2 ** self.unet.depth
        if height % multiple or width % multiple:
            raise ValueError(f"image size {height}x{width} must be a multiple of {multiple}")
        features = self.unet(torch.cat([appearance, heatmaps_a, pose, heatmaps_p], dim=1))
        features = features[len(features) - len(self.levels):]
        flows, warped, native = [], [], []
        prior = None
        for level, feats in zip(self.levels, features):
            prior = feats.new_zeros(feats.shape[0], 2, *feats.shape[-2:]) if prior is None \
                else upsample_flow_bilinear(prior, 2)
            flow, full = level(feats, prior)
            native.append(flow)
            flows.append(full)
            warped.append(warp(appearance, full, fill=self.background))
            prior = flow
        return WarpOutput(flows, warped, native)
