"""The nocs-net loss: NOCS regression that does not punish an unresolvable shape symmetry, a foreground mask, and a
confidence head that learns where the regression is right.

Shape symmetry (Wang et al., "Normalized Object Coordinate Space for Category-Level 6D Object Pose and Size
Estimation", CVPR 2019, their symmetric loss: for symmetric categories, the minimum of the loss over the
symmetric rotations of the target). Each view's category has a group of rotations about the canonical up axis
that leave its shape unchanged (eopose.dataset.categories: vases every angle, sampled at `symmetry_steps`;
briefcases and file cabinets a half turn {0, pi}; shoes and undeclared categories none {0}). NOCS =
(X_object + 1) / 2, so the axis is x = y = 0.5 in NOCS. Geometry cannot tell these rotations apart; the printed
texture can (a vase's label, a briefcase's brand plate sit at a fixed canonical azimuth, render/procedural). Per
view, with foreground-mean L1 distances e(theta) between the prediction and the target rotated by theta about the
axis, theta in the view's group G:

    loss = min_{theta in G} e(theta)  +  exact * e(0)  +  height * h  +  mask * BCE(mask logits, true mask)
           +  confidence * BCE(confidence logits, [|prediction - target| < CONFIDENT_ERROR])

The minimum keeps a prediction that is right up to the symmetry from being pulled towards a blurred average over
the ambiguous rotations; the exact term rewards the texture-consistent solution wherever the print shows it,
which is what same-model matching needs (exact = 1: held-out PCK@0.10 0.34 against 0.29 at 0.2 and 0.32 with
the exact term alone, 300 demo steps on vases). h is the foreground-mean L1 error of the height alone (NOCS z, which
every turn of the group keeps): a view's up axis, which the volume3d warp turns the object by, is fitted mostly
from it (benchmarks/up_axis.py: with the rendered height in place of the demo network's, the fitted axis's median
error halves; with the rendered azimuth it hardly moves). A view without a symmetry gets e(0) only (weight 1 +
exact). The confidence target is the (detached) exact per-pixel L2 error under CONFIDENT_ERROR, averaged over the
foreground: the head predicts where the NOCS can be trusted, which nocs_matching uses to choose points.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from eopose.dataset.categories import symmetry_of
from eopose.dataset.keypoints.nocs_net import CONFIDENT_ERROR, NocsNetOutput


def rotate_about_up(nocs: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """NOCS [B, 3, H, W] -> [S, B, 3, H, W] rotated by each of `angles` [S] about the axis x = y = 0.5."""
    cos, sin = torch.cos(angles).view(-1, 1, 1, 1), torch.sin(angles).view(-1, 1, 1, 1)
    x, y, z = nocs[:, 0] - 0.5, nocs[:, 1] - 0.5, nocs[:, 2]
    return torch.stack([cos * x - sin * y + 0.5, sin * x + cos * y + 0.5, z.expand_as(cos * x)], dim=2)


class SymmetryGroups:
    """The rotations about the up axis the loss takes its minimum over, for views of `categories`: `angles` [S]
    (float32, the union of the categories' groups, ascending, so the identity first) and `allowed` [S, C] (bool:
    angle s belongs to category c's group)."""

    def __init__(self, categories, continuous_steps: int):
        groups = [group_angles(symmetry_of(category), continuous_steps) for category in categories]
        self.angles = torch.unique(torch.cat(groups))
        self.allowed = torch.stack([torch.isclose(self.angles[:, None], group[None], rtol=0.0, atol=1e-6).any(dim=1)
                                    for group in groups], dim=1)

    def of_views(self, category: torch.Tensor) -> torch.Tensor:
        """allowed [S, B] of views whose categories are `category` [B] (indices into the categories)."""
        return self.allowed.to(category.device)[:, category]


def group_angles(symmetry, continuous_steps: int) -> torch.Tensor:
    """The angles of `symmetry`'s group (categories.Symmetry.angles) as float32 computed in float32, the way
    train-nocs has always computed its vase angles, so a vase run's losses stay bit for bit what they were."""
    count = len(symmetry.angles(continuous_steps))
    return torch.arange(count) * (2 * math.pi / count)


def nocs_loss(output: NocsNetOutput, target: torch.Tensor, mask: torch.Tensor, category: torch.Tensor,
              symmetries: SymmetryGroups, config) -> tuple[torch.Tensor, dict]:
    """(loss, terms) for a NocsNet output, targets [B, 3, H, W] / [B, 1, H, W] and the views' categories [B]
    (indices into `symmetries`' categories)."""
    predicted = output.nocs
    angles = symmetries.angles.to(predicted.device)
    inside = mask[:, 0] > 0  # the errors are taken over foreground pixels only: gather them once
    view = torch.arange(len(mask), device=mask.device)[:, None, None].expand_as(inside)[inside]
    points = predicted.permute(0, 2, 3, 1)[inside].T  # [3, N]
    turned = rotate_about_up(target.permute(0, 2, 3, 1)[inside].T[None, :, :, None], angles)[:, 0, :, :, 0]
    per_pixel = (points[None] - turned).abs().mean(dim=1)  # [S, N]; angle 0 is the exact target
    pixels = mask.sum(dim=(1, 2, 3)).clamp(min=1.0)
    errors = per_pixel.new_zeros(len(angles), len(mask)).index_add_(1, view, per_pixel) / pixels
    exact = errors[0]
    best = errors.masked_fill(~symmetries.of_views(category), math.inf).min(dim=0).values
    weight = (mask.sum(dim=(1, 2, 3)) > 0).float()  # views with an object (augmentation never removes it all)

    def over_views(values: torch.Tensor) -> torch.Tensor:
        return (values * weight).sum() / weight.sum().clamp(min=1.0)

    mask_term = F.binary_cross_entropy_with_logits(output.mask_logits, mask)
    right = ((predicted.detach() - target).norm(dim=1, keepdim=True) < CONFIDENT_ERROR).float()
    foreground = mask.sum().clamp(min=1.0)
    confidence_term = (F.binary_cross_entropy_with_logits(output.confidence_logits, right, reduction="none")
                       * mask).sum() / foreground
    loss = over_views(best + config.exact * exact) + config.mask * mask_term + config.confidence * confidence_term
    terms = {"nocs/min_symmetric": over_views(best).detach(), "nocs/exact": over_views(exact).detach(),
             "mask/bce": mask_term.detach(), "confidence/bce": confidence_term.detach(),
             "confidence/right": (right * mask).sum() / foreground}
    if config.height > 0:  # the height along the up axis: what every symmetric turn keeps
        height = over_views((predicted[:, 2:3] - target[:, 2:3]).abs().mul(mask).sum(dim=(1, 2, 3)) / pixels)
        loss = loss + config.height * height
        terms["nocs/height"] = height.detach()
    return loss, {"total": loss.detach(), **terms}
