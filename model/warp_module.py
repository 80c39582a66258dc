"""Warping module (EOPose paper, section 3.2, with the visibility-aware changes of docs/architecture.md): a
Skip-UNet over the appearance and pose images, their masks and keypoint heatmaps, predicting a pyramid of
backward flows that warp the appearance image Ia towards the pose of Ip, the target silhouette and the
visibility of each target pixel in Ia.

* Input channels, in this order: Ia (3), mask of Ia (1), k heatmaps of Pa, Ip (3), mask of Ip (1), k heatmaps
  of Pp, then the TPS prior: its flow in grid units (2), Ia warped by it (3) and Ia's mask warped by it (1)
  (14 + 2k channels; the paper's 76 are the first four groups without the masks).
* Skip-UNet with ``depth`` stride-2 encoder layers and ``depth`` decoder layers (paper: 12 layers, i.e.
  depth 6); H and W must be multiples of 2**depth.
* Flows start at the thin-plate spline fitted to the keypoints (the paper's "initial TPS loss" target) and
  the network predicts a residual: ``num_flows`` = K residual maps on the last K decoder outputs, each twice
  the size of the previous, the last at H x W; level l > 0 refines the bilinearly x2-upsampled residual of
  level l-1, which its head sees in grid units (like its unit-scale features). Every residual is
  convex-upsampled to H x W (RAFT, Teed & Deng 2020; the upsampling-weight head, RAFT's "mask" head, scaled by
  0.25 as in RAFT's ``mask = .25 * self.mask(net)``) and added to the TPS flow; the residual heads start at zero,
  so an untrained module warps exactly like TPS.
* Silhouette and visibility logits at H x W: the shape heads on the finest decoder features plus a prior (the
  silhouette follows Ia's mask warped by the final flow; visibility starts mostly visible).
* Iwrp composes them: ``S * (V * warp(Ia) + (1 - V) * fill) + (1 - S) * background``, with fill the mean
  colour of Ia's foreground: texture where the target pixel is visible in Ia, a neutral colour where it is
  occluded, background outside the predicted silhouette.
* Flow arithmetic, upsampling and sampling run in float32 even under autocast (a bf16 sampling grid rounds
  coordinates above 128 px to whole pixels).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import torch
from torch import nn

from .flow import convex_upsample, flow_to_normalised, upsample_flow_bilinear, warp

# RAFT (Teed & Deng 2020) scales the upsampling-weight ("mask") logits by 0.25 "to balance gradients".
UPSAMPLE_WEIGHT_SCALE = 0.25
SILHOUETTE_PRIOR_GAIN = 8.0  # logit = gain * (warped mask - 0.5): 0.98 inside Ia's warped mask, 0.02 outside
VISIBILITY_PRIOR_LOGIT = 2.0  # sigmoid(2) = 0.88: start by trusting the warp; the head learns occlusions
# parameter names of checkpoints saved before the heads were renamed (_rename_old_keys)
OLD_KEY_NAMES = ((re.compile(r"^mask_heads\."), "shape_heads."),
                 (re.compile(r"^(levels\.\d+\.)mask_head\."), r"\1upsample_head."))


class WarpOutput(NamedTuple):
    """Per level, coarse to fine (index -1 is the final flow), plus the composed Iwrp."""

    flows: list  # [B, 2, H, W] full-resolution flows, pixels (backward convention)
    warped: list  # [B, 3, H, W] Ia warped by each flow (no composition)
    native_flows: list  # residual flows at each level's own resolution H / 2**(K-1-l), its pixels
    prior: torch.Tensor  # [B, 2, H, W] the TPS flow the residuals start from
    silhouette_logits: torch.Tensor  # [B, 1, H, W] target silhouette (object A in the pose of Ip)
    visibility_logits: torch.Tensor  # [B, 1, H, W] target pixel visible in Ia
    composed: torch.Tensor  # [B, 3, H, W] Iwrp
    shape: "RenderedShape | None" = None  # volume3d only: eopose.model.volume_warp.RenderedShape

    @property
    def silhouette(self) -> torch.Tensor:
        return torch.sigmoid(self.silhouette_logits)

    @property
    def visibility(self) -> torch.Tensor:
        return torch.sigmoid(self.visibility_logits)


def _conv(in_ch: int, out_ch: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, stride, 1), nn.LeakyReLU(0.1))


def _zero_init(conv: nn.Conv2d) -> nn.Conv2d:
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


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
    """Residual flow head (zero-initialised) and convex-upsampling weight head of one pyramid level."""

    def __init__(self, channels: int, factor: int):
        super().__init__()
        self.factor = factor
        self.flow_head = nn.Sequential(_conv(channels + 2, channels), _zero_init(nn.Conv2d(channels, 2, 3, 1, 1)))
        self.upsample_head = None
        if factor > 1:  # RAFT's mask head: 3x3 conv, ReLU, 1x1 conv to 9 * factor^2
            self.upsample_head = nn.Sequential(nn.Conv2d(channels, 2 * channels, 3, 1, 1), nn.ReLU(),
                                           nn.Conv2d(2 * channels, 9 * factor * factor, 1))

    def forward(self, features: torch.Tensor, prior: torch.Tensor):
        """(residual at this level's resolution, residual at H x W), both float32 pixels."""
        delta = self.flow_head(torch.cat([features, flow_to_normalised(prior).to(features.dtype)], dim=1))
        weights = None if self.upsample_head is None else UPSAMPLE_WEIGHT_SCALE * self.upsample_head(features)
        with torch.autocast(features.device.type, enabled=False):
            flow = prior + delta.float()
            if weights is None:
                return flow, flow
            return flow, convex_upsample(flow, weights.float(), self.factor)


class WarpModule(nn.Module):
    """Predicts K backward flows, the target silhouette and visibility from (Ia, Pa, Ip, Pp) and composes Iwrp."""

    def __init__(self, num_points: int = 35, base_channels: int = 64, depth: int = 6,
                 num_flows: int = 4, background: float = 1.0):
        super().__init__()
        if not 1 <= num_flows <= depth:
            raise ValueError(f"num_flows must be in [1, depth={depth}], got {num_flows}")
        self.num_points = num_points
        self.background = background
        self.unet = SkipUNet(14 + 2 * num_points, base_channels, depth)
        # decoder output widths, coarse to fine: widths[depth-1], ..., widths[0]
        decoder_widths = self.unet.widths[depth - 1::-1]
        self.levels = nn.ModuleList(
            FlowLevel(decoder_widths[depth - num_flows + l], 2 ** (num_flows - 1 - l))
            for l in range(num_flows))
        finest = self.unet.widths[0]
        self.shape_heads = nn.Sequential(_conv(finest + 1, finest), _zero_init(nn.Conv2d(finest, 2, 3, 1, 1)))
        self.register_load_state_dict_pre_hook(_rename_old_keys)

    def forward(self, appearance: torch.Tensor, pose: torch.Tensor, heatmaps_a: torch.Tensor,
                heatmaps_p: torch.Tensor, mask_a: torch.Tensor, mask_p: torch.Tensor,
                prior: torch.Tensor) -> WarpOutput:
        """Images [B, 3, H, W] in [0, 1], masks [B, 1, H, W], heatmaps [B, k, H, W], prior [B, 2, H, W] pixels."""
        height, width = appearance.shape[-2:]
        multiple = 2 ** self.unet.depth
        if height % multiple or width % multiple:
            raise ValueError(f"image size {height}x{width} must be a multiple of {multiple}")
        appearance, mask_a, prior = appearance.float(), mask_a.float(), prior.float()
        with torch.autocast(appearance.device.type, enabled=False):
            prior_inputs = [flow_to_normalised(prior), warp(appearance, prior, fill=self.background),
                            warp(mask_a, prior, fill=0.0)]
        features = self.unet(torch.cat([appearance, mask_a, heatmaps_a, pose, mask_p, heatmaps_p, *prior_inputs],
                                       dim=1))
        finest = features[-1]
        features = features[len(features) - len(self.levels):]
        flows, warped, native = [], [], []
        residual = None
        for level, feats in zip(self.levels, features):
            residual = feats.new_zeros(feats.shape[0], 2, *feats.shape[-2:], dtype=torch.float32) \
                if residual is None else upsample_flow_bilinear(residual, 2)
            residual, full = level(feats, residual)
            native.append(residual)
            with torch.autocast(appearance.device.type, enabled=False):
                flow = prior + full
                flows.append(flow)
                warped.append(warp(appearance, flow, fill=self.background))
        with torch.autocast(appearance.device.type, enabled=False):
            warped_mask = warp(mask_a, flows[-1], fill=0.0)
        logits = self.shape_heads(torch.cat([finest, warped_mask.to(finest.dtype)], dim=1)).float()
        silhouette_logits = logits[:, :1] + SILHOUETTE_PRIOR_GAIN * (warped_mask - 0.5)
        visibility_logits = logits[:, 1:] + VISIBILITY_PRIOR_LOGIT
        composed = compose(warped[-1], mean_colour(appearance, mask_a), torch.sigmoid(silhouette_logits),
                           torch.sigmoid(visibility_logits), self.background)
        return WarpOutput(flows, warped, native, prior, silhouette_logits, visibility_logits, composed)


def _rename_old_keys(module, state_dict, prefix, *_) -> None:
    """Loads checkpoints saved before the heads' renaming: `mask_heads` -> `shape_heads` (silhouette and
    visibility) and `levels.N.mask_head` -> `levels.N.upsample_head` (convex-upsampling weights)."""
    for key in [k for k in state_dict if k.startswith(prefix)]:
        name = key[len(prefix):]
        for old, new in OLD_KEY_NAMES:
            name = old.sub(new, name)
        if prefix + name != key:
            state_dict[prefix + name] = state_dict.pop(key)


def mean_colour(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B, 3, 1, 1] mean colour of `image` inside `mask` (the image's mean where the mask is empty)."""
    weight = mask.sum(dim=(2, 3), keepdim=True)
    inside = (image * mask).sum(dim=(2, 3), keepdim=True) / weight.clamp_min(1e-6)
    return torch.where(weight > 0.5, inside, image.mean(dim=(2, 3), keepdim=True))


def compose(warped: torch.Tensor, fill: torch.Tensor, silhouette: torch.Tensor, visibility: torch.Tensor,
            background: float) -> torch.Tensor:
    """Iwrp = S * (V * warped + (1 - V) * fill) + (1 - S) * background; `fill` is the colour of what Ia does not
    show ([B, 3, 1, 1] Ia's mean foreground colour in the 2-D module, a predicted map in the 3-D one)."""
    inside = visibility * warped + (1 - visibility) * fill
    return silhouette * inside + (1 - silhouette) * background
