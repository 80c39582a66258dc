"""Training-time augmentation on the device: horizontal flips of whole samples, and noise on the relative rotation.

Mirroring a sample (appearance, pose, target, their masks, keypoints and the ground-truth flow) left-right
gives another valid sample: a mirrored object in mirrored poses. Images and masks are flipped along W;
keypoints map x -> W - x (pixel centres j + 0.5 -> W - j - 0.5, the convention of eopose.model.flow); the
backward flow is flipped spatially and its x component negated; the camera-frame rotation R becomes M R M with
M = diag(-1, 1, 1), the up axis u becomes M u and the pivot's x maps like a keypoint's. Which samples flip is drawn
from a generator seeded by (run seed, global step), so a resumed run flips exactly as an uninterrupted one; so is
the rotation noise (`data.rotation_noise_deg`), which teaches the volume3d warp to tolerate estimated rotations.
"""
from __future__ import annotations

import torch

from eopose.model.volume_warp import random_rotations

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
    if "rotation" in batch:
        mirror = torch.diag(torch.tensor([-1.0, 1.0, 1.0], device=where.device, dtype=batch["rotation"].dtype))
        out["rotation"] = torch.where(where.view(-1, 1, 1), mirror @ batch["rotation"] @ mirror, batch["rotation"])
        pivot = batch["pivot"].clone()
        pivot[..., 0] = width - pivot[..., 0]
        out["pivot"] = torch.where(where.view(-1, 1), pivot, batch["pivot"])
    if "up_axis" in batch:
        mirrored = batch["up_axis"] * torch.tensor([-1.0, 1.0, 1.0], device=where.device)
        out["up_axis"] = torch.where(where.view(-1, 1), mirrored, batch["up_axis"])
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


def perturb_rotations(batch: dict, seed: int, global_step: int, max_degrees: float) -> dict:
    """`batch` with each `rotation` composed with a random rotation of up to `max_degrees`
    (eopose.model.volume_warp.random_rotations), and its `up_axis` tilted by another, drawn from a generator seeded
    by (seed, global_step)."""
    if max_degrees <= 0 or "rotation" not in batch:
        return batch
    generator = torch.Generator().manual_seed(seed * 1_000_003 + global_step + 500_009)
    noise = random_rotations(len(batch["rotation"]), max_degrees, generator).to(batch["rotation"])
    out = {**batch, "rotation": noise @ batch["rotation"]}
    if "up_axis" in batch:  # the up axis is estimated too (eopose.dataset.image_pose): its own noise
        tilt = random_rotations(len(batch["up_axis"]), max_degrees, generator).to(batch["up_axis"])
        out["up_axis"] = torch.einsum("bij,bj->bi", tilt, batch["up_axis"])
    return out
