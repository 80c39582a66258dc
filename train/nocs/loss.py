"""The nocs-net loss: NOCS regression that does not punish an unresolvable symmetry, plus a foreground mask.

Rotational symmetry (Wang et al., "Normalized Object Coordinate Space for Category-Level 6D Object Pose and Size
Estimation", CVPR 2019, their symmetric loss: for symmetric categories, the minimum of the loss over the
symmetric rotations of the target). Vases are surfaces
of revolution about the canonical up axis (+Z, docs/dataset-format.md; NOCS = (X_object + 1) / 2, so the axis
is x = y = 0.5 in NOCS), so their geometry cannot tell a rotation about it apart; their printed texture can.
Per view, with foreground-mean L1 distances e(theta) between the prediction and the target rotated by theta
about that axis, theta in {2 pi j / symmetry_steps}:

    loss = min_theta e(theta)  +  exact * e(0)  +  mask * BCE(mask logits, true mask)

The minimum keeps a prediction that is right up to the symmetry (no blurred average over the ambiguous
rotations); the smaller exact term still rewards the texture-consistent solution wherever the print shows it,
so the prediction, and hence nocs-net matching, prefers texture-consistent points. Views of categories without
the symmetry use e(0) only (weight 1 + exact).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def rotate_about_up(nocs: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """NOCS [B, 3, H, W] -> [S, B, 3, H, W] rotated by each of `angles` [S] about the axis x = y = 0.5."""
    cos, sin = torch.cos(angles).view(-1, 1, 1, 1), torch.sin(angles).view(-1, 1, 1, 1)
    x, y, z = nocs[:, 0] - 0.5, nocs[:, 1] - 0.5, nocs[:, 2]
    return torch.stack([cos * x - sin * y + 0.5, sin * x + cos * y + 0.5, z.expand_as(cos * x)], dim=2)


def nocs_loss(predicted: torch.Tensor, logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
              symmetric: torch.Tensor, config) -> tuple[torch.Tensor, dict]:
    """(loss, terms) for predictions [B, 3, H, W] / [B, 1, H, W], targets of the same shapes and symmetric [B]."""
    angles = torch.arange(config.symmetry_steps, device=predicted.device) * (2 * math.pi / config.symmetry_steps)
    targets = rotate_about_up(target, angles)  # [S, B, 3, H, W]; angle 0 is the exact target
    pixels = mask.sum(dim=(1, 2, 3)).clamp(min=1.0)
    errors = ((predicted[None] - targets).abs().mean(dim=2, keepdim=True) * mask[None]).sum(dim=(2, 3, 4)) / pixels
    exact = errors[0]
    best = torch.where(symmetric, errors.min(dim=0).values, exact)
    weight = (mask.sum(dim=(1, 2, 3)) > 0).float()  # views with an object (augmentation never removes it all)

    def over_views(values: torch.Tensor) -> torch.Tensor:
        return (values * weight).sum() / weight.sum().clamp(min=1.0)

    mask_term = F.binary_cross_entropy_with_logits(logits, mask)
    loss = over_views(best + config.exact * exact) + config.mask * mask_term
    return loss, {"total": loss.detach(), "nocs/min_symmetric": over_views(best).detach(),
                  "nocs/exact": over_views(exact).detach(), "mask/bce": mask_term.detach()}
