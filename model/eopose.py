"""The full EOPose network (paper, section 3): keypoint heatmaps, warping module, generator,
and the three training stages of section 3.4.2 (warp, then generator with the warp frozen,
then end-to-end with L = alpha1 L_wrp + alpha2 L_gen; the paper gives no alphas).

The discriminator (:class:`eopose.model.discriminator.PatchDiscriminator`) is trained
alongside the generator but is not part of this module.
"""

from __future__ import annotations

import torch
from torch import nn

from .generator import Generator
from .heatmaps import DEFAULT_SIGMA_FRACTION, gaussian_heatmaps
from .warp_module import WarpModule

STAGES = ("warp", "gen", "e2e")


class EOPose(nn.Module):
    """Appearance image + pose image + keypoint pairs -> reposed image.

    Images [B, 3, H, W] in [0, 1]; points [B, k, 2] pixel (x, y); valid [B, k].
    H and W must be multiples of 2**warp_depth (and of 2**gen_scales).
    """

    def __init__(self, num_points: int = 35, warp_channels: int = 64, warp_depth: int = 6,
                 num_flows: int = 4, gen_channels: int = 64, gen_scales: int = 4,
                 sigma_fraction: float = DEFAULT_SIGMA_FRACTION, background: float = 1.0):
        super().__init__()
        self.num_points = num_points
        self.sigma_fraction = sigma_fraction
        self.warp = WarpModule(num_points, warp_channels, warp_depth, num_flows, background)
        self.generator = Generator(num_points, gen_channels, gen_scales)

    def heatmaps(self, points: torch.Tensor, valid: torch.Tensor, height: int, width: int):
        """Gaussian heatmaps [B, k, H, W] with this model's sigma."""
        if points.shape[1] != self.num_points:
            raise ValueError(f"model built for {self.num_points} points, got {points.shape[1]}")
        return gaussian_heatmaps(points, valid, height, width,
                                 self.sigma_fraction * max(height, width))

    def forward(self, appearance, pose, points_a, points_p, valid, with_generator: bool = True):
        """Returns a dict:

        ``flows``/``warped``: per-level full-resolution flows [B,2,H,W] (pixels, backward
        convention of :mod:`eopose.model.flow`) and warped Ia, coarse to fine;
        ``native_flows``: the flows at their own resolution; ``flow`` and ``warped_final``:
        the last level (Iwrp); ``heatmaps_a``/``heatmaps_p``; ``output``: the generator's
        image in [0, 1] (absent when ``with_generator`` is False, e.g. in the warp stage).
        """
        height, width = appearance.shape[-2:]
        hm_a = self.heatmaps(points_a, valid, height, width)
        hm_p = self.heatmaps(points_p, valid, height, width)
        warp_out = self.warp(appearance, pose, hm_a, hm_p)
        result = {"flows": warp_out.flows, "warped": warp_out.warped,
                  "native_flows": warp_out.native_flows, "flow": warp_out.flows[-1],
                  "warped_final": warp_out.warped[-1], "heatmaps_a": hm_a, "heatmaps_p": hm_p,
                  "warp_output": warp_out}
        if with_generator:
            result["output"] = self.generator(warp_out.warped[-1], hm_p, hm_a)
        return result

    def set_stage(self, stage: str) -> list:
        """Freeze/unfreeze for a training stage; returns the trainable parameters.

        ``warp``: warp module trainable, generator frozen (run forward with
        ``with_generator=False``); ``gen``: generator trainable, warp module frozen;
        ``e2e``: everything trainable.
        """
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        self.warp.requires_grad_(stage in ("warp", "e2e"))
        self.generator.requires_grad_(stage in ("gen", "e2e"))
        return [p for p in self.parameters() if p.requires_grad]
