"""Pose-conditioned PatchGAN discriminator for the generator's LSGAN loss (EOPose paper,
section 3.3: "LSGAN loss, applied with the target pose Pp").

pix2pix's N-layer PatchGAN (Isola et al., CVPR 2017; 70x70 receptive field for
``n_layers=3``: 4x4 convs, stride 2 then 1, InstanceNorm, LeakyReLU 0.2) over the image
(in [0, 1], mapped to [-1, 1]) concatenated with the k heatmaps of Pp. Outputs raw patch
scores (no sigmoid), as LSGAN needs. Every convolution is spectrally normalised (Miyato et al., ICLR
2018), which bounds the discriminator's Lipschitz constant so it cannot overpower the generator (on the CPU
demo without it the LSGAN loss fell to ~0.001 and the generator collapsed to a blank frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class DiscriminatorConfig:
    """The [discriminator] table of a training config (eopose.model.loading.build_discriminator)."""

    base_channels: int = 64
    n_layers: int = 3  # pix2pix 70x70 PatchGAN


class PatchDiscriminator(nn.Module):
    def __init__(self, num_points: int = 35, base_channels: int = 64, n_layers: int = 3):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        layers = [sn(nn.Conv2d(3 + num_points, base_channels, 4, 2, 1)), nn.LeakyReLU(0.2)]
        width = base_channels
        for i in range(1, n_layers + 1):
            out = base_channels * min(2 ** i, 8)
            stride = 2 if i < n_layers else 1
            layers += [sn(nn.Conv2d(width, out, 4, stride, 1)), nn.InstanceNorm2d(out),
                       nn.LeakyReLU(0.2)]
            width = out
        layers.append(sn(nn.Conv2d(width, 1, 4, 1, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, heatmaps_p: torch.Tensor) -> torch.Tensor:
        """Patch scores [B, 1, h, w] for ``image`` [B,3,H,W] in the pose of ``heatmaps_p``."""
        return self.net(torch.cat([2 * image - 1, heatmaps_p], dim=1))
