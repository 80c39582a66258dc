"""The full EOPose network (paper, section 3): keypoint heatmaps, warping module, generator,
and the three training stages of section 3.4.2 (warp, then generator with the warp frozen,
then end-to-end with L = alpha1 L_wrp + alpha2 L_gen; the paper gives no alphas).

The discriminator (:class:`eopose.model.discriminator.PatchDiscriminator`) is trained
alongside the generator but is not part of this module; which parts train in which stage is
`eopose.train.stages`.
"""

from __future__ import annotations

import torch
from torch import nn

from typing import NamedTuple

from eopose.dataset.compositing import foreground

from .generator import Generator
from .heatmaps import DEFAULT_SIGMA_FRACTION, gaussian_heatmaps
from .tps import tps_flow
from .volume_warp import VolumeWarp
from .warp_module import WarpModule, WarpOutput

WARPS = ("flow2d", "volume3d")  # the paper's 2-D flow warp (3.2); the 3-D feature-volume warp (volume_warp.py)


class EOPoseOutput(NamedTuple):
    """What one forward pass returns."""

    warp: WarpOutput  # the warping module's flow pyramid and warped images, coarse to fine
    heatmaps_a: torch.Tensor  # [B, k, H, W] Gaussian heatmaps of Pa
    heatmaps_p: torch.Tensor  # [B, k, H, W] of Pp
    output: torch.Tensor | None  # [B, 3, H, W] the generator's image in [0, 1]; None without the generator

    @property
    def flow(self) -> torch.Tensor:
        """The final backward flow [B, 2, H, W] (pixels) of the warping module."""
        return self.warp.flows[-1]

    @property
    def composed(self) -> torch.Tensor:
        """Iwrp [B, 3, H, W]: Ia warped by the final flow, composed with the predicted silhouette and
        visibility (eopose.model.warp_module)."""
        return self.warp.composed


class EOPose(nn.Module):
    """Appearance image + pose image + keypoint pairs -> reposed image.

    Images [B, 3, H, W] in [0, 1]; points [B, k, 2] pixel (x, y); valid [B, k].
    H and W must be multiples of 2**warp_depth (and of 2**gen_scales).
    """

    def __init__(self, num_points: int = 35, warp_channels: int = 64, warp_depth: int = 6,
                 num_flows: int = 4, gen_channels: int = 64, gen_scales: int = 4,
                 sigma_fraction: float = DEFAULT_SIGMA_FRACTION, background: float = 1.0,
                 tps_lambda: float = 1e-2, warp: str = "flow2d", volume_channels: int = 8, volume_size: int = 32,
                 depth_bins: int = 32, gen_silhouette_gate: bool = False):
        super().__init__()
        if warp not in WARPS:
            raise ValueError(f"warp must be one of {WARPS}, got {warp!r}")
        self.num_points = num_points
        self.sigma_fraction = sigma_fraction
        self.background = background
        self.tps_lambda = tps_lambda
        self.warp_kind = warp
        if warp == "flow2d":
            self.warp = WarpModule(num_points, warp_channels, warp_depth, num_flows, background)
        else:
            self.warp = VolumeWarp(volume_channels, depth_bins, volume_size, warp_channels, warp_depth, background)
        self.generator = Generator(num_points, gen_channels, gen_scales, gen_silhouette_gate)

    def heatmaps(self, points: torch.Tensor, valid: torch.Tensor, height: int, width: int):
        """Gaussian heatmaps [B, k, H, W] with this model's sigma."""
        if points.shape[1] != self.num_points:
            raise ValueError(f"model built for {self.num_points} points, got {points.shape[1]}")
        return gaussian_heatmaps(points, valid, height, width,
                                 self.sigma_fraction * max(height, width))

    def prior_flow(self, points_a, points_p, valid, height: int, width: int) -> torch.Tensor:
        """The TPS flow Pa -> Pp the warp module starts from (float32, pixels), also the TPS baseline."""
        with torch.autocast(points_a.device.type, enabled=False):
            return tps_flow(points_a.float(), points_p.float(), valid, height, width, self.tps_lambda)

    def forward(self, appearance, pose, points_a, points_p, valid, mask_a=None, mask_p=None,
                with_generator: bool = True, rotation=None, pivot=None, camera_depth=None, up_axis=None,
                symmetry_order=None) -> EOPoseOutput:
        """Flows are in pixels with the backward convention of :mod:`eopose.model.flow`. Masks [B, 1, H, W]
        (alpha of the renders); without them the pixels differing from the background are used. The
        generator is skipped when ``with_generator`` is False (the warp stage). The `volume3d` warp also needs
        the relative rotation [B, 3, 3] (camera frame), the pivot [B, 2] (pixels) and the camera depth [B]
        (2 f / W) of eopose.model.volume_warp, and uses the appearance object's up axis [B, 3] (camera frame) and
        its category's symmetry order [B] for its shape prior when given."""
        height, width = appearance.shape[-2:]
        mask_a = foreground(appearance, self.background).to(appearance.dtype) if mask_a is None else mask_a
        mask_p = foreground(pose, self.background).to(pose.dtype) if mask_p is None else mask_p
        hm_a = self.heatmaps(points_a, valid, height, width)
        hm_p = self.heatmaps(points_p, valid, height, width)
        if self.warp_kind == "flow2d":
            warp_out = self.warp(appearance, pose, hm_a, hm_p, mask_a, mask_p,
                                 self.prior_flow(points_a, points_p, valid, height, width))
        elif rotation is None or pivot is None or camera_depth is None:
            raise ValueError("the volume3d warp needs rotation, pivot and camera_depth")
        else:
            warp_out = self.warp(appearance, pose, mask_a, mask_p, rotation, pivot, camera_depth, up_axis,
                                 symmetry_order)
        output = None
        if with_generator:
            output = self.generator(warp_out.composed, warp_out.silhouette, warp_out.visibility, hm_p, hm_a)
        return EOPoseOutput(warp_out, hm_a, hm_p, output)


def batch_inputs(batch: dict) -> dict:
    """The keyword arguments of EOPose.forward from a loader batch (eopose.dataset.pairs.PairSampleDataset keys):
    the one place a batch becomes model inputs, for training, evaluation and inference alike."""
    return {"appearance": batch["appearance"], "pose": batch["pose"], "points_a": batch["points_a"],
            "points_p": batch["points_p"], "valid": batch["valid"], "mask_a": batch["mask_appearance"],
            "mask_p": batch["mask_pose"], "rotation": batch.get("rotation"), "pivot": batch.get("pivot"),
            "camera_depth": batch.get("camera_depth"), "up_axis": batch.get("up_axis"),
            "symmetry_order": batch.get("symmetry_order")}
