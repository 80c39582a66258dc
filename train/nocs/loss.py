"""The nocs-net loss: NOCS regression that does not punish an unresolvable symmetry, a foreground mask, and a
confidence head that learns where the regression is right.

Rotational symmetry (Wang et al., "Normalized Object Coordinate Space for Category-Level 6D Object Pose and Size
Estimation", CVPR 2019, their symmetric loss: for symmetric categories, the minimum of the loss over the
symmetric rotations of the target). Vases are surfaces of revolution about the canonical up axis (+Z,
docs/dataset-format.md; NOCS = (X_object + 1) / 2, so the axis is x = y = 0.5 in NOCS), so their geometry cannot
tell a rotation about it apart; their printed texture can (the label sits at a fixed canonical azimuth,
render/procedural/vases.py). Per view, with foreground-mean L1 distances e(theta) between the prediction and the
target rotated by theta about that axis, theta in {2 pi j / symmetry_steps}:

    loss = min_theta e(theta)  +  exact * e(0)  +  mask * BCE(mask logits, true mask)
           +  confidence * BCE(confidence logits, [|prediction - target| < CONFIDENT_ERROR])

The minimum keeps a prediction that is right up to the symmetry from being pulled towards a blurred average over
the ambiguous rotations; the exact term rewards the texture-consistent solution wherever the print shows it,
which is what same-model matching needs (exact = 1: held-out PCK@0.10 0.34 against 0.29 at 0.2 and 0.32 with
the exact term alone, 300 demo steps). Views of categories without the symmetry use e(0) only (weight 1 +
exact). The confidence target is the (detached) exact per-pixel L2 error under CONFIDENT_ERROR, averaged over the
foreground: the head predicts where the NOCS can be trusted, which nocs_matching uses to choose points.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from eopose.dataset.keypoints.nocs_net import CONFIDENT_ERROR, NocsNetOutput


def rotate_about_up(nocs: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """NOCS [B, 3, H, W] -> [S, B, 3, H, W] rotated by each of `angles` [S] about the axis x = y = 0.5."""
    cos, sin = torch.cos(angles).view(-1, 1, 1, 1), torch.sin(angles).view(-1, 1, 1, 1)
    x, y, z = nocs[:, 0] - 0.5, nocs[:, 1] - 0.5, nocs[:, 2]
    return torch.stack([cos * x - sin * y + 0.5, sin * x + cos * y + 0.5, z.expand_as(cos * x)], dim=2)


def nocs_loss(output: NocsNetOutput, target: torch.Tensor, mask: torch.Tensor, symmetric: torch.Tensor,
              config) -> tuple[torch.Tensor, dict]:
    """(loss, terms) for a NocsNet output, targets [B, 3, H, W] / [B, 1, H, W] and symmetric [B]."""
    predicted = output.nocs
    angles = torch.arange(config.symmetry_steps, device=predicted.device) * (2 * math.pi / config.symmetry_steps)
    inside = mask[:, 0] > 0  # the errors are taken over foreground pixels only: gather them once
    view = torch.arange(len(mask), device=mask.device)[:, None, None].expand_as(inside)[inside]
    points = predicted.permute(0, 2, 3, 1)[inside].T  # [3, N]
    turned = rotate_about_up(target.permute(0, 2, 3, 1)[inside].T[None, :, :, None], angles)[:, 0, :, :, 0]
    per_pixel = (points[None] - turned).abs().mean(dim=1)  # [S, N]; angle 0 is the exact target
    pixels = mask.sum(dim=(1, 2, 3)).clamp(min=1.0)
    errors = per_pixel.new_zeros(len(angles), len(mask)).index_add_(1, view, per_pixel) / pixels
    exact = errors[0]
    best = torch.where(symmetric, errors.min(dim=0).values, exact)
    weight = (mask.sum(dim=(1, 2, 3)) > 0).float()  # views with an object (augmentation never removes it all)

    def over_views(values: torch.Tensor) -> torch.Tensor:
        return (values * weight).sum() / weight.sum().clamp(min=1.0)

    mask_term = F.binary_cross_entropy_with_logits(output.mask_logits, mask)
    right = ((predicted.detach() - target).norm(dim=1, keepdim=True) < CONFIDENT_ERROR).float()
    foreground = mask.sum().clamp(min=1.0)
    confidence_term = (F.binary_cross_entropy_with_logits(output.confidence_logits, right, reduction="none")
                       * mask).sum() / foreground
    loss = over_views(best + config.exact * exact) + config.mask * mask_term + config.confidence * confidence_term
    return loss, {"total": loss.detach(), "nocs/min_symmetric": over_views(best).detach(),
                  "nocs/exact": over_views(exact).detach(), "mask/bce": mask_term.detach(),
                  "confidence/bce": confidence_term.detach(), "confidence/right": (right * mask).sum() / foreground}
