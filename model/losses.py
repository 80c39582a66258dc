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
  untuned (the TPS loss is "initial": eopose.train.stages switches it off after warm-up; with the
  TPS-initialised residual warp it pulls the residual towards 0). Levels are summed with equal weight
  (eq. 2). Beyond the paper (docs/architecture.md): the per-level photometric L1 counts only target pixels
  visible in Ia (a pixel hidden in Ia has no source to copy, and penalising it teaches the flow to fold
  texture); the composed Iwrp gets a full-image L1; the predicted silhouette and visibility get binary
  cross-entropies against the rendered target mask and the ground-truth flow validity (weights 1, ours).
* generator (eq. 6): L1 1.0, perceptual 1.0, adversarial 1.0 as in Pose with Style
  (AlBahar et al. 2021, ``train.py``: ``g_loss = adv + L1 + vgg``); style 500 (GFLA).
* generator object terms (ours, off in the paper config): the full-image L1 is dominated by the background and
  the silhouette's edge, and drives an L1-trained generator to trade the object's interior for its outline and to
  blur its texture; an L1 over the target's mask and 1 - SSIM over that mask dilated by 2 px (Wang et al. 2004;
  as in L1 + SSIM image losses, Zhao et al., "Loss functions for image restoration with neural networks", IEEE
  TCI 2017) weigh the object itself. Measurements: train/configs/demo.toml.
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
from .ssim import region_ssim
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


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B]: the mean of `values` [B,C,H,W] over the channels and the pixels of `mask` [B,1,H,W] (weights in [0, 1]),
    per sample (0 for an empty mask). Losses average it over the batch, so their value does not depend on how a
    batch is split between DDP processes."""
    return (values * mask).sum(dim=(1, 2, 3)) / (values.shape[1] * mask.sum(dim=(1, 2, 3))).clamp_min(1.0)


def flow_l1(flow: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean |flow - target| in grid units, over pixels where ``mask`` [B,1,H,W] is set (per sample, then over the
    batch)."""
    diff = (flow_to_normalised(flow) - flow_to_normalised(target)).abs()
    if mask is None:
        return diff.mean()
    return masked_mean(diff, mask).mean()


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
    """beta_1..beta_5 of eq. 3 plus the terms of the visibility-aware warp (module docstring)."""

    l1: float = 1.0  # photometric L1 of each level's warp, on target pixels visible in Ia
    perceptual: float = 0.2
    style: float = 200.0
    tps: float = 1.0
    tv: float = 0.01  # total variation of the residual flow (flow - TPS prior), grid units
    flow_gt: float = 1.0
    image: float = 1.0  # L1 of the composed Iwrp over the whole image
    silhouette: float = 1.0  # BCE of the predicted silhouette against the target's rendered mask
    visibility: float = 1.0  # BCE of the predicted visibility against the flow validity, inside the target
    shape: float = 1.0  # volume3d only: BCE of the silhouettes rendered from the volume (target's and Ia's own)
    depth: float = 0.3  # volume3d only: L1 of their first-surface depths against the rendered depth passes


@dataclass
class GeneratorLossWeights:
    """alpha_l1, alpha_per, alpha_sty, alpha_adv of eq. 6 (module docstring)."""

    l1: float = 1.0
    perceptual: float = 1.0
    style: float = 500.0
    adv: float = 1.0
    object_l1: float = 0.0  # ours: L1 over the target's mask only (module docstring)
    object_ssim: float = 0.0  # ours: 1 - SSIM over the target's mask dilated by ssim.REGION_DILATION px
    background_l1: float = 0.0  # ours: L1 over the pixels outside the target's mask


def object_ssim_loss(image: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1 - mean SSIM over the target's mask (> 0.5) dilated as the masked-SSIM metric's region
    (eopose.model.ssim.region_ssim), per sample then over the batch."""
    return (1 - region_ssim(image, target, mask > 0.5)[0]).mean()


def _check_vgg(vgg, weights) -> None:
    if vgg is None and (weights.perceptual or weights.style):
        raise ValueError("perceptual/style weights are non-zero but no VGGLoss was given")


def masked_mean_l1(image: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean |image - target| over the pixels of `mask` [B,1,H,W], per sample then over the batch."""
    per_sample = ((image - target).abs() * mask).sum(dim=(1, 2, 3)) / (3 * mask.sum(dim=(1, 2, 3))).clamp_min(1.0)
    return per_sample.mean()


class WarpLoss(nn.Module):
    """L_wrp = sum over levels of L_w(I_wrp^l, f_l) (eqs. 2-3) with the photometric term restricted to target
    pixels visible in Ia, plus (final level) the composed image, silhouette and visibility terms and, per level,
    the ground-truth flow term where the data has one. ``vgg`` may be None only if perceptual and style
    weights are 0."""

    def __init__(self, vgg: VGGLoss | None = None, weights: WarpLossWeights | None = None):
        super().__init__()
        self.vgg = vgg
        self.weights = weights or WarpLossWeights()
        _check_vgg(vgg, self.weights)

    def forward(self, out: WarpOutput, batch: dict, tps_weight: float | None = None):
        """Returns (total, {term: detached sum over levels}). `batch` holds ``target``, ``mask_target`` and,
        optionally, ``flow_gt``/``flow_valid``; ``tps_weight`` overrides the TPS weight (the trainer's warm-up
        schedule, eopose.train.stages.Stage.loss_weights)."""
        w = self.weights
        tps = w.tps if tps_weight is None else tps_weight
        target, mask_target = batch["target"], (batch["mask_target"] > 0.5).float()
        flow_gt, flow_valid = batch.get("flow_gt"), batch.get("flow_valid")
        visible = mask_target if flow_valid is None else flow_valid * mask_target
        terms = {}

        def add(name, weight, value):
            if weight:
                terms[name] = terms.get(name, 0.0) + weight * value

        for image, flow in zip(out.warped, out.flows):
            add("l1", w.l1, masked_mean_l1(image, target, visible))
            add("tv", w.tv, total_variation(flow - out.prior))
            if tps:
                add("tps", tps, flow_l1(flow, out.prior))
            if flow_gt is not None:
                add("flow_gt", w.flow_gt, flow_l1(flow, flow_gt, visible))
        add("image", w.image, F.l1_loss(out.composed, target))
        if w.perceptual or w.style:
            perceptual, style = self.vgg(out.composed, target)
            add("perceptual", w.perceptual, perceptual)
            add("style", w.style, style)
        add("silhouette", w.silhouette, F.binary_cross_entropy_with_logits(out.silhouette_logits, mask_target))
        if flow_valid is not None:
            bce = F.binary_cross_entropy_with_logits(out.visibility_logits, flow_valid, reduction="none")
            add("visibility", w.visibility, masked_mean(bce, mask_target).mean())
        if out.shape is not None and w.shape:
            add("shape", w.shape, shape_loss(out.shape, batch))
        if out.shape is not None and w.depth and "depth_target" in batch:
            add("depth", w.depth, depth_loss(out.shape, batch))
        total = sum(terms.values())
        return total, {k: v.detach() for k, v in terms.items()}


def shape_loss(shape, batch: dict) -> torch.Tensor:
    """BCE of the volume3d warp's rendered silhouettes (eopose.model.volume_warp.RenderedShape): the turned
    volume's against the target's mask plus Ia's own volume's against Ia's mask, in float32."""
    with torch.autocast(shape.silhouette.device.type, enabled=False):
        return sum(F.binary_cross_entropy(image.float().clamp(1e-4, 1 - 1e-4), (batch[key] > 0.5).float())
                   for image, key in ((shape.silhouette, "mask_target"), (shape.own_silhouette, "mask_appearance")))


def depth_loss(shape, batch: dict) -> torch.Tensor:
    """L1 of the rendered first-surface depths against the rendered depth passes (`depth_target`,
    `depth_appearance`, frustum units) inside each view's mask, per sample then over the batch."""
    with torch.autocast(shape.depth.device.type, enabled=False):
        return sum(masked_mean((depth.float() - batch[key].float()).abs(), (batch[mask] > 0.5).float()).mean()
                   for depth, key, mask in ((shape.depth, "depth_target", "mask_target"),
                                            (shape.own_depth, "depth_appearance", "mask_appearance")))


class GeneratorLoss(nn.Module):
    """L_gen of eq. 6. ``fake_scores`` = D(I_out, Pp) for the adversarial term."""

    def __init__(self, vgg: VGGLoss | None = None, weights: GeneratorLossWeights | None = None):
        super().__init__()
        self.vgg = vgg
        self.weights = weights or GeneratorLossWeights()
        _check_vgg(vgg, self.weights)

    def forward(self, output: torch.Tensor, target: torch.Tensor, fake_scores=None, adv_weight: float | None = None,
                mask_target: torch.Tensor | None = None):
        """Returns (total, {term: detached value}). ``adv_weight`` overrides the adversarial weight (the
        trainer's warm-up schedule, eopose.train.stages.Stage.loss_weights); ``mask_target`` [B, 1, H, W] (the target's
        rendered alpha) is needed by the object terms."""
        w = self.weights
        adv = w.adv if adv_weight is None else adv_weight
        terms = {"l1": w.l1 * F.l1_loss(output, target)}
        if (w.object_l1 or w.object_ssim or w.background_l1) and mask_target is None:
            raise ValueError("object_l1/object_ssim/background_l1 weights are non-zero but no target mask was given")
        inside = None if mask_target is None else (mask_target > 0.5).float()
        if w.object_l1:
            terms["object_l1"] = w.object_l1 * masked_mean_l1(output, target, inside)
        if w.background_l1:
            terms["background_l1"] = w.background_l1 * masked_mean_l1(output, target, 1 - inside)
        if w.object_ssim:
            terms["object_ssim"] = w.object_ssim * object_ssim_loss(output, target, mask_target)
        if w.perceptual or w.style:
            perceptual, style = self.vgg(output, target)
            terms["perceptual"] = w.perceptual * perceptual
            terms["style"] = w.style * style
        if fake_scores is not None and adv:
            terms["adv"] = adv * lsgan_g_loss(fake_scores)
        total = sum(terms.values())
        return total, {k: v.detach() for k, v in terms.items()}
