"""Where eval-eopose takes the volume3d warp's pose inputs from (`--rotation`): the shards' rendered geometry
(`shard`: the exact relative rotation, pivot and camera) or the two images alone (`estimated`: nocs-net's canonical
coordinates, eopose.dataset.image_pose), as `repose` must on new pictures.
"""
from __future__ import annotations

import numpy as np
import torch

from eopose.dataset.categories import Symmetry
from eopose.dataset.image_pose import estimate_pose_inputs
from eopose.dataset.keypoints.nocs_net import category_indices, load_nocs_net
from eopose.dataset.pose_estimate import rotation_error_deg

ROTATION_SOURCES = ("shard", "estimated")


def to_rgba(image: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """uint8 RGBA [B, H, W, 4] of loader images [B, 3, H, W] and masks [B, 1, H, W] in [0, 1]."""
    both = torch.cat([image, mask], dim=1).clamp(0, 1).mul(255).round().to(torch.uint8)
    return both.permute(0, 2, 3, 1).cpu().numpy()


def quantile(values: np.ndarray, percent: float) -> float | None:
    return float(np.percentile(values, percent)) if len(values) else None


class EstimatedRotations:
    """Replaces a batch's rotation, pivot, camera depth and up axis by estimates from its appearance and pose images and
    keeps the angular errors against the shards' rotations: plain, and modulo the shape symmetry of each sample's
    dataset (the batch's `up_axis` and `symmetry_order`, dataset.pairs; rotation_error_deg)."""

    def __init__(self, weights, categories, device="cpu"):
        """`categories`: those of the samples to come; one the network does not know is refused here, before any
        batch, with a ValueError naming --nocs-weights and the network's categories (category_indices)."""
        self.net, self.weights = load_nocs_net(weights, device)  # one-line WeightsUnavailable naming --weights
        category_indices(self.net, list(categories), len(categories), flag="--nocs-weights")
        self.device = device
        self.errors: list = []
        self.symmetric_errors: list = []
        self.invalid = 0

    def __call__(self, batch: dict) -> dict:
        estimate = estimate_pose_inputs(self.net, to_rgba(batch["appearance"], batch["mask_appearance"]),
                                        to_rgba(batch["pose"], batch["mask_pose"]), self.device,
                                        categories=batch["category"])
        if "rotation" in batch:
            estimated, truth = estimate["rotation"].double().numpy(), batch["rotation"].double().cpu().numpy()
            self.errors += rotation_error_deg(estimated, truth).tolist()
            axes, orders = batch["up_axis"].double().cpu().numpy(), batch["symmetry_order"].tolist()
            self.symmetric_errors += [float(rotation_error_deg(estimated[i], truth[i], Symmetry(order), axes[i]))
                                      for i, order in enumerate(orders)]
        self.invalid += int((~estimate["valid"]).sum())
        device = batch["appearance"].device
        # the symmetry order stays the dataset's: the category is known from the shards
        return {**batch, **{key: estimate[key].to(device) for key in ("rotation", "pivot", "camera_depth", "up_axis")}}

    def summary(self) -> dict:
        """Median and 90th-percentile angular error (degrees) against the shards, plain and modulo the shape
        symmetry, and pairs without an estimate."""
        errors, symmetric = np.asarray(self.errors), np.asarray(self.symmetric_errors)
        return {"weights": str(self.weights), "pairs": len(errors), "invalid": self.invalid,
                "median_deg": quantile(errors, 50), "p90_deg": quantile(errors, 90),
                "median_mod_symmetry_deg": quantile(symmetric, 50), "p90_mod_symmetry_deg": quantile(symmetric, 90)}
