"""Losses of EOPose (paper eqs. 2, 3, 6) and their default weights.

Conventions: images in [0, 1]; flows in pixels with :mod:`eopose.model.flow`'s backward
convention. Flow losses (TV, TPS, ground truth) are measured in grid_sample units
(:func:`eopose.model.flow.flow_to_normalised`, the image spans 2), so their weights do not
depend on resolution and match flow-based try-on code, which works in those units.

The paper names the terms but gives no weights. The defaults, and where each comes from:

* warp stage (eq. 3): L1 1.0 and VGG perceptual 0.2 as in PF-AFN (Ge et al., CVPR 2021,
  ``train_PBAFN_stage1.py``: ``loss_l1 + 0.2 * loss_vgg`` per level), TV 0.01 (PF-AFN,
  ``0.01 * loss_smooth`` on the flows, grid units). Style 200: no source for a warp stage;
  GFLA's style:content ratio (Ren et al., CVPR 2020: ``lambda_style 500``,
  ``lambda_content 0.5``) applied to PF-AFN's 0.2. TPS 1.0 and ground-truth flow 1.0: ours,
  untuned (the TPS loss is "initial": eopose.train.stages switches it off after warm-up).
  Levels are summed with equal weight (eq. 2).
* generator (eq. 6): L1 1.0, perceptual 1.0, adversarial 1.0 as in Pose with Style
  (AlBahar et al. 2021, ``train.py``: ``g_loss = adv + L1 + vgg``); style 500 (GFLA).
* the end-to-end mix (eq. 7, alpha1 * L_wrp + alpha2 * L_gen) has no published values.

Term definitions: perceptual = pix2pixHD's VGG loss (Wang et al., CVPR 2018; used by both
PF-AFN and Pose with Style): L1 between relu1_1..relu5_1 features weighted 1/32, 1/16, 1/8,
1/4, 1. Style = GFLA's: L1 between Gram matrices F F^T / (C H W) of relu2_2, relu3_4,
relu4_4, relu5_2. LSGAN = Mao et al., ICCV 2017, with targets 0 (fake) / 1 (real).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .flow import flow_to_normalised
from .tps import tps_flow
from .vgg_features import VGG19Features
from .warp_module import WarpOutput

PERCEPTUAL_LAYERS = {"relu1_1": 1 / 32, "relu2_1": 1 / 16, "relu3_1": 1 / 8,
                     "relu4_1": 1 / 4, "relu5_1": 1.0}
STYLE_LAYERS = ("relu2_2", "relu3_4", "relu4_4", "relu5_2")


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """F F^T / (C H W) for features [B, C, H, W] -> [B, C, C]."""
    batch, channels, height, width = features.shape
    flat = features.reshape(batch, channels, height * width)
    return flat @ flat.transpose(1, 2) / (channels * height * width)


def total_variation(flow: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring flow vectors (grid units)."""
    flow = flow_to_normalised(flow)
    return ((flow[..., 1:, :] - flow[..., :-1, :]).abs().mean()
            + (flow[..., :, 1:] - flow[..., :, :-1]).abs().mean())


def flow_l1(flow: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean |flow - target| in grid units, over pixels where ``mask`` [B,1,H,W] is set.

    Masked means are taken per sample, then averaged over the batch, so the value does not depend
    on how a batch is split between DDP processes.
    """
    diff = (flow_to_normalised(flow) - flow_to_normalised(target)).abs()
    if mask is None:
        return diff.mean()
    per_sample = (diff * mask).sum(dim=(1, 2, 3)) / (2 * mask.sum(dim=(1, 2, 3))).clamp_min(1.0)
    return per_sample.mean()


def lsgan_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Discriminator LSGAN loss 0.5 E[(D(real) - 1)^2] + 0.5 E[D(fake)^2]."""
    return 0.5 * ((real_scores - 1) ** 2).mean() + 0.5 * (fake_scores ** 2).mean()


def lsgan_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator LSGAN loss 0.5 E[(D(fake) - 1)^2]."""
    return 0.5 * ((fake_scores - 1) ** 2).mean()


class VGGLoss(nn.Module):
    """Perceptual and style losses from one frozen VGG19 pass per image.

    ``weights_path``: a local torchvision vgg19 state dict; ``pretrained=False`` (tests
    only) uses random weights. See :mod:`eopose.model.vgg_features`.
    """

    def __init__(self, weights_path=None, pretrained: bool = True):
        super().__init__()
        self.vgg = VGG19Features(list(PERCEPTUAL_LAYERS) + list(STYLE_LAYERS),
                                 weights_path=weights_path, pretrained=pretrained)

    def forward(self, pred: torch.Tensor, target: torch.Tensor):
        """(perceptual, style) between ``pred`` and ``target`` [B, 3, H, W] in [0, 1]."""
        fp = self.vgg(pred)
        with torch.no_grad():
            ft = self.vgg(target)
        perceptual = sum(w * F.l1_loss(fp[n], ft[n]) for n, w in PERCEPTUAL_LAYERS.items())
        style = sum(F.l1_loss(gram_matrix(fp[n]), gram_matrix(ft[n])) for n in STYLE_LAYERS)
        return perceptual, style


@dataclass
class WarpLossWeights:
    """beta_1..beta_5 of eq. 3 plus the optional ground-truth flow term (module docstring)."""

    l1: float = 1.0
    perceptual: float = 0.2
    style: float = 200.0
    tps: float = 1.0
    tv: float = 0.01
    flow_gt: float = 1.0
    tps_lambda: float = 1e-2  # TPS regularisation (normalised coordinates); ours


@dataclass
class GeneratorLossWeights:
    """alpha_l1, alpha_per, alpha_sty, alpha_adv of eq. 6 (module docstring)."""

    l1: float = 1.0
    perceptual: float = 1.0
    style: float = 500.0
    adv: float = 1.0


def _check_vgg(vgg, weights) -> None:
    if vgg is None and (weights.perceptual or weights.style):
        raise ValueError("perceptual/style weights are non-zero but no VGGLoss was given")


class WarpLoss(nn.Module):
    """L_wrp = sum over levels of L_w(I_wrp^l, f_l) (eqs. 2-3), plus the ground-truth flow
    term where the data has one. ``vgg`` may be None only if perceptual and style weights
    are 0."""

    def __init__(self, vgg: VGGLoss | None = None, weights: WarpLossWeights | None = None):
        super().__init__()
        self.vgg = vgg
        self.weights = weights or WarpLossWeights()
        _check_vgg(vgg, self.weights)

    def forward(self, out: WarpOutput, target: torch.Tensor, points_a=None, points_p=None,
                valid=None, flow_gt=None, flow_valid=None, tps_weight: float | None = None):
        """Returns (total, {term: detached sum over levels}). ``tps_weight`` overrides the TPS weight (the
        trainer's warm-up schedule, eopose.train.stages.tps_weight)."""
        w = self.weights
        tps = w.tps if tps_weight is None else tps_weight
        height, width = target.shape[-2:]
        f_tps = None
        if tps:
            if points_a is None or points_p is None or valid is None:
                raise ValueError("the TPS loss needs points_a, points_p and valid")
            f_tps = tps_flow(points_a, points_p, valid, height, width, w.tps_lambda)
        terms = {}

        def add(name, weight, value):
            terms[name] = terms.get(name, 0.0) + weight * value

        for image, flow in zip(out.warped, out.flows):
            add("l1", w.l1, F.l1_loss(image, target))
            if w.perceptual or w.style:
                perceptual, style = self.vgg(image, target)
                add("perceptual", w.perceptual, perceptual)
                add("style", w.style, style)
            add("tv", w.tv, total_variation(flow))
            if f_tps is not None:
                add("tps", tps, flow_l1(flow, f_tps))
            if flow_gt is not None and w.flow_gt:
                add("flow_gt", w.flow_gt, flow_l1(flow, flow_gt, flow_valid))
        total = sum(terms.values())
        return total, {k: v.detach() for k, v in terms.items()}


class GeneratorLoss(nn.Module):
    """L_gen of eq. 6. ``fake_scores`` = D(I_out, Pp) for the adversarial term."""

    def __init__(self, vgg: VGGLoss | None = None, weights: GeneratorLossWeights | None = None):
        super().__init__()
        self.vgg = vgg
        self.weights = weights or GeneratorLossWeights()
        _check_vgg(vgg, self.weights)

    def forward(self, output: torch.Tensor, target: torch.Tensor, fake_scores=None):
        """Returns (total, {term: detached value})."""
        w = self.weights
        terms = {"l1": w.l1 * F.l1_loss(output, target)}
        if w.perceptual or w.style:
            perceptual, style = self.vgg(output, target)
            terms["perceptual"] = w.perceptual * perceptual
            terms["style"] = w.style * style
        if fake_scores is not None and w.adv:
            terms["adv"] = w.adv * lsgan_g_loss(fake_scores)
        total = sum(terms.values())
        return total, {k: v.detach() for k, v in terms.items()}
