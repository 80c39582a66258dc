"""Training-time augmentation on the device: horizontal flips of whole samples.

Mirroring a sample (appearance, pose, target, their masks, keypoints and the ground-truth flow) left-right
gives another valid sample: a mirrored object in mirrored poses. Images and masks are flipped along W;
keypoints map x -> W - x (pixel centres j + 0.5 -> W - j - 0.5, the convention of eopose.model.flow); the
backward flow is flipped spatially and its x component negated. Which samples flip is drawn from a generator
seeded by (run seed, global step), so a resumed run flips exactly as an uninterrupted one.
"""
from __future__ import annotations

import torch

IMAGE_KEYS = ("appearance", "pose", "target", "mask_appearance", "mask_pose", "mask_target", "flow_valid")
POINT_KEYS = ("points_a", "points_p")


def flip_samples(batch: dict, flip: torch.Tensor) -> dict:
    """`batch` with the samples where `flip` [B] (bool) is set mirrored left-right."""
    out = dict(batch)
    where = flip.to(batch["appearance"].device).view(-1, 1, 1, 1)
    width = batch["appearance"].shape[-1]
    for key in IMAGE_KEYS:
        if key in batch:
            out[key] = torch.where(where, batch[key].flip(-1), batch[key])
    for key in POINT_KEYS:
        if key in batch:
            mirrored = batch[key].clone()
            mirrored[..., 0] = width - mirrored[..., 0]
            out[key] = torch.where(where.view(-1, 1, 1), mirrored, batch[key])
    if "flow_gt" in batch:
        mirrored = batch["flow_gt"].flip(-1) * torch.tensor([-1.0, 1.0], device=where.device).view(1, 2, 1, 1)
        out["flow_gt"] = torch.where(where, mirrored, batch["flow_gt"])
    return out


def random_flips(batch: dict, seed: int, global_step: int, probability: float = 0.5) -> dict:
    """Flip each sample with `probability`, drawn from a generator seeded by (seed, global_step)."""
    if probability <= 0:
        return batch
    generator = torch.Generator().manual_seed(seed * 1_000_003 + global_step)
    flip = torch.rand(len(batch["appearance"]), generator=generator) < probability
    return flip_samples(batch, flip)
