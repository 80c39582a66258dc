"""Input augmentation for train-nocs: what the network meets outside our renders (eopose issue 12).

Per view, drawn from a torch.Generator (so a step's augmentation is a pure function of the run seed, the
step and the rank, and `--resume` reproduces it):
1. a plain background, no alpha: white, a grey level or a light colour (AugmentConfig fractions and ranges);
   the RGBA view is composited on it (eopose.dataset.compositing);
2. with probability `geometric`, a smaller and/or off-centre object: scale s in `scale`, shift up to
   `shift` x the free margin (1 - s) each way, as one affine resampling (bilinear for the image, where the
   background colour fills the outside; nearest for the NOCS and mask targets, which move with it);
3. colour jitter of the whole image: brightness, contrast (about the image mean) and saturation (about the
   Rec. 601 luma) factors, clamped to [0, 1].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from eopose.dataset.compositing import composite

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights


def _uniform(generator: torch.Generator, count: int, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(count, generator=generator)


def backgrounds(count: int, augment, generator: torch.Generator) -> torch.Tensor:
    """[count, 3] RGB in [0, 1]: white, grey or light colour per view."""
    kind = torch.rand(count, generator=generator)
    grey = _uniform(generator, count, *augment.grey_range)[:, None].expand(count, 3)
    colour = _uniform(generator, 3 * count, *augment.colour_range).view(count, 3)
    return torch.where((kind < augment.white)[:, None], torch.ones(count, 3),
                       torch.where((kind < augment.white + augment.grey)[:, None], grey, colour))


def affine_grids(count: int, size: int, augment, generator: torch.Generator) -> torch.Tensor:
    """Sampling grids [count, size, size, 2]: identity or scale-and-shift (affine_grid, output -> input)."""
    apply = torch.rand(count, generator=generator) < augment.geometric
    scale = torch.where(apply, _uniform(generator, count, *augment.scale), torch.ones(count))
    margin = augment.shift * (1.0 - scale)
    shift = (torch.rand(count, 2, generator=generator) * 2 - 1) * margin[:, None]
    theta = torch.zeros(count, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0 / scale
    theta[:, :, 2] = -shift / scale[:, None]
    return F.affine_grid(theta, (count, 1, size, size), align_corners=False)


def jitter(images: torch.Tensor, augment, generator: torch.Generator) -> torch.Tensor:
    count = len(images)

    def factor(amount: float) -> torch.Tensor:
        return _uniform(generator, count, 1 - amount, 1 + amount).view(count, 1, 1, 1)

    images = images * factor(augment.brightness)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = (images - mean) * factor(augment.contrast) + mean
    luma = (images * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    images = (images - luma) * factor(augment.saturation) + luma
    return images.clamp(0, 1)


def augment_views(rgba: torch.Tensor, nocs: torch.Tensor, mask: torch.Tensor, augment,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """uint8 RGBA [B, R, R, 4], NOCS [B, R, R, 3], mask [B, R, R] -> (images [B, 3, R, R], NOCS [B, 3, R, R],
    mask [B, 1, R, R]) as described in the module docstring."""
    count, size = len(rgba), rgba.shape[1]
    back = backgrounds(count, augment, generator)
    images = torch.stack([composite(view.numpy(), colour.tolist())[0] for view, colour in zip(rgba, back)])
    grids = affine_grids(count, size, augment, generator)
    fill = back.view(count, 3, 1, 1)
    images = fill + F.grid_sample(images - fill, grids, mode="bilinear", padding_mode="zeros", align_corners=False)
    targets = F.grid_sample(torch.cat([nocs.permute(0, 3, 1, 2), mask[:, None]], dim=1), grids, mode="nearest",
                            padding_mode="zeros", align_corners=False)
    return jitter(images, augment, generator), targets[:, :3], targets[:, 3:]
