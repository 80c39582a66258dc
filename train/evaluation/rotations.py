"""Where eval-eopose takes the volume3d warp's pose inputs from (`--rotation`): the shards' rendered geometry
(`shard`: the exact relative rotation, pivot and camera) or the two images alone (`estimated`: nocs-net's canonical
coordinates, eopose.dataset.image_pose), as `repose` must on new pictures.
"""
from __future__ import annotations

import numpy as np
import torch

from eopose.dataset.image_pose import estimate_pose_inputs
from eopose.dataset.keypoints.nocs_net import load_nocs_net
from eopose.dataset.pose_estimate import rotation_angle_deg

ROTATION_SOURCES = ("shard", "estimated")


def to_rgba(image: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """uint8 RGBA [B, H, W, 4] of loader images [B, 3, H, W] and masks [B, 1, H, W] in [0, 1]."""
    both = torch.cat([image, mask], dim=1).clamp(0, 1).mul(255).round().to(torch.uint8)
    return both.permute(0, 2, 3, 1).cpu().numpy()


class EstimatedRotations:
    """Replaces a batch's rotation, pivot and camera depth by estimates from its appearance and pose images and
    keeps the angular errors against the shards' rotations."""

    def __init__(self, weights, device="cpu"):
        self.net, self.weights = load_nocs_net(weights, device)  # one-line WeightsUnavailable naming --weights
        self.device = device
        self.errors: list = []
        self.invalid = 0

    def __call__(self, batch: dict) -> dict:
        estimate = estimate_pose_inputs(self.net, to_rgba(batch["appearance"], batch["mask_appearance"]),
                                        to_rgba(batch["pose"], batch["mask_pose"]), self.device)
        if "rotation" in batch:
            relative = estimate["rotation"].double() @ batch["rotation"].double().cpu().transpose(1, 2)
            self.errors += rotation_angle_deg(relative.numpy()).tolist()
        self.invalid += int((~estimate["valid"]).sum())
        device = batch["appearance"].device
        return {**batch, **{key: estimate[key].to(device) for key in ("rotation", "pivot", "camera_depth")}}

    def summary(self) -> dict:
        """Median and 90th-percentile angular error (degrees) against the shards, and pairs without an estimate."""
        errors = np.asarray(self.errors)
        return {"weights": str(self.weights), "pairs": len(errors), "invalid": self.invalid,
                "median_deg": float(np.median(errors)) if len(errors) else None,
                "p90_deg": float(np.percentile(errors, 90)) if len(errors) else None}
