"""Generator (EOPose paper, section 3.3; architecture after Pose with Style, AlBahar et al.,
SIGGRAPH Asia 2021): re-renders the warped image Iwrp in the target pose.

* Pose encoder: ResNet over the heatmaps of Pp then Pa (2k channels), down to H / 2**n.
* Texture encoder: ResNet over Iwrp with a top-down path and skip connections, giving
  texture features at every scale H / 2**n, ..., H.
* Decoder, per scale from coarse to fine: (x2 bilinear upsampling), 3x3 conv, texture
  injection ``e = alpha * e_pose + beta`` with alpha, beta from two 1x1 convs with a ReLU
  between them on the texture features (paper eq. 4), noise injection with a learned
  per-layer weight initialised to 0 (paper eq. 5; StyleGAN2's NoiseInjection), LeakyReLU,
  and a tRGB 1x1 conv whose output is added to the bilinearly x2-upsampled RGB of the
  previous scale.

* Composition: the texture encoder also sees the warp module's silhouette and visibility maps. The summed
  tRGB output is a residual on Iwrp, ``G = Iwrp + tanh(rgb)``, and a 1x1 conv on the finest decoder
  features gives a mask m in (0, 1); the output is ``Iwrp + m * (G - Iwrp) = (1 - m) Iwrp + m G``. The tRGB
  convs start at zero (as ReZero, Bachlechner et al. 2020, starts residual branches at 0), so G = Iwrp and
  an untrained generator returns Iwrp exactly, while m and the tRGB convs still receive gradients: the
  generator refines the warp and fills occluded pixels rather than repainting, and warp-only quality is its
  starting point.
* Silhouette gate (``silhouette_gate``, the [model] key ``gen_silhouette_gate``): m is multiplied by the warp's
  silhouette probability S, so the generator redraws inside the silhouette the warp predicted and leaves Iwrp
  (the background) outside it. Ungated, the demo's volume3d generator spends its steps drawing a faint halo just
  outside the warp's silhouette, which the silhouette IoU counts as object (docs/results.md).

Value range: input images are in [0, 1] (the loader's convention, composited on white); the
texture encoder sees them mapped to [-1, 1]; the output may leave [0, 1] slightly during training
(evaluation and `repose` clamp it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _widths(base: int, scales: int) -> list:
    """Channel width at H / 2**i for i = 0..scales."""
    return [min(base * 2 ** i, 8 * base) for i in range(scales + 1)]


class ResBlock(nn.Module):
    """conv3x3-LReLU-conv3x3 with a (strided 1x1) shortcut, LReLU after the sum."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, stride, 1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(out_ch, out_ch, 3, 1, 1))
        self.shortcut = nn.Identity() if stride == 1 and in_ch == out_ch \
            else nn.Conv2d(in_ch, out_ch, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.body(x) + self.shortcut(x), 0.2)


class ResNetEncoder(nn.Module):
    """Stem conv then ``scales`` stride-2 ResBlocks; returns features at H / 2**i, i = 0..scales."""

    def __init__(self, in_ch: int, widths: list):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_ch, widths[0], 3, 1, 1), nn.LeakyReLU(0.2))
        self.blocks = nn.ModuleList(ResBlock(widths[i], widths[i + 1], stride=2)
                                    for i in range(len(widths) - 1))

    def forward(self, x: torch.Tensor) -> list:
        feats = [self.stem(x)]
        for block in self.blocks:
            feats.append(block(feats[-1]))
        return feats


class TextureEncoder(nn.Module):
    """ResNet encoder over Iwrp (and its silhouette and visibility maps) plus a top-down path with skips;
    coarse-to-fine features."""

    def __init__(self, widths: list, in_channels: int = 5):
        super().__init__()
        self.encoder = ResNetEncoder(in_channels, widths)
        self.merge = nn.ModuleList(ResBlock(widths[i + 1] + widths[i], widths[i])
                                   for i in range(len(widths) - 1))

    def forward(self, image: torch.Tensor) -> list:
        feats = self.encoder(image)
        out = [feats[-1]]
        for i in reversed(range(len(feats) - 1)):
            up = F.interpolate(out[-1], scale_factor=2, mode="bilinear", align_corners=False)
            out.append(self.merge[i](torch.cat([up, feats[i]], dim=1)))
        return out


class TextureInjection(nn.Module):
    """e_out = alpha * e_pose + beta, (alpha, beta) = conv1x1(ReLU(conv1x1(e_texture)))."""

    def __init__(self, texture_ch: int, pose_ch: int):
        super().__init__()
        self.params = nn.Sequential(nn.Conv2d(texture_ch, pose_ch, 1), nn.ReLU(),
                                    nn.Conv2d(pose_ch, 2 * pose_ch, 1))

    def forward(self, pose_feat: torch.Tensor, texture_feat: torch.Tensor) -> torch.Tensor:
        alpha, beta = self.params(texture_feat).chunk(2, dim=1)
        return alpha * pose_feat + beta


class NoiseInjection(nn.Module):
    """x + w * N(0, 1) noise shared over channels, w a learned scalar starting at 0."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if noise is None:
            noise = torch.randn(x.shape[0], 1, *x.shape[-2:], device=x.device, dtype=x.dtype)
        return x + self.weight * noise


class DecoderBlock(nn.Module):
    """One scale of the decoder: conv, texture injection, noise, activation, tRGB."""

    def __init__(self, in_ch: int, out_ch: int, texture_ch: int):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, 1, 1)
        self.inject = TextureInjection(texture_ch, out_ch)
        self.noise = NoiseInjection()
        self.to_rgb = nn.Conv2d(out_ch, 3, 1)
        nn.init.zeros_(self.to_rgb.weight)  # the residual starts at 0 (module docstring)
        nn.init.zeros_(self.to_rgb.bias)

    def forward(self, x: torch.Tensor, texture: torch.Tensor):
        x = F.leaky_relu(self.noise(self.inject(self.conv(x), texture)), 0.2)
        return x, self.to_rgb(x)


class Generator(nn.Module):
    """Iwrp, its silhouette and visibility + heatmaps(Pp), heatmaps(Pa) -> output image [B, 3, H, W] in [0, 1].

    ``scales`` downsamplings (H and W must be multiples of 2**scales).
    """

    def __init__(self, num_points: int = 35, base_channels: int = 64, scales: int = 4, silhouette_gate: bool = False):
        super().__init__()
        widths = _widths(base_channels, scales)
        self.scales, self.silhouette_gate = scales, silhouette_gate
        self.pose_encoder = ResNetEncoder(2 * num_points, widths)
        self.texture_encoder = TextureEncoder(widths)
        coarse_to_fine = widths[::-1]
        self.blocks = nn.ModuleList(
            DecoderBlock(coarse_to_fine[max(i - 1, 0)], coarse_to_fine[i], coarse_to_fine[i])
            for i in range(scales + 1))
        self.blend = nn.Conv2d(widths[0], 1, 1)

    def forward(self, warped: torch.Tensor, silhouette: torch.Tensor, visibility: torch.Tensor,
                heatmaps_p: torch.Tensor, heatmaps_a: torch.Tensor) -> torch.Tensor:
        multiple = 2 ** self.scales
        if warped.shape[-2] % multiple or warped.shape[-1] % multiple:
            raise ValueError(f"image size {tuple(warped.shape[-2:])} must be a multiple of {multiple}")
        x = self.pose_encoder(torch.cat([heatmaps_p, heatmaps_a], dim=1))[-1]
        textures = self.texture_encoder(torch.cat([2 * warped - 1, silhouette, visibility], dim=1))
        rgb = None
        for i, (block, texture) in enumerate(zip(self.blocks, textures)):
            if i:
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
                rgb = F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False)
            x, block_rgb = block(x, texture)
            rgb = block_rgb if rgb is None else rgb + block_rgb
        blend = torch.sigmoid(self.blend(x))
        return warped + (blend * silhouette if self.silhouette_gate else blend) * torch.tanh(rgb)
