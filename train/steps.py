"""One training step's losses for each stage (paper, 3.4.2), shared by the trainer and the DDP tests.

- warp: L_wrp of the warping module alone (eqs. 2-3; plus the ground-truth flow term when enabled);
- gen: L_gen of the generator with the warp module frozen (eq. 6), LSGAN discriminator conditioned on Pp;
- e2e: L = alpha1 L_wrp + alpha2 L_gen (eq. 7), everything trainable.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from eopose.model.eopose import EOPoseOutput, batch_inputs
from eopose.model.losses import lsgan_d_loss

from .stages import Stage


def to_device(batch: dict, device: torch.device) -> dict:
    """Move a batch to `device`; uint8 images and masks (PairSampleDataset(uint8=True)) become floats in [0,1]."""
    moved = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            value = value.to(device, non_blocking=True)
            if value.dtype == torch.uint8:
                value = value.float().div_(255.0)
        moved[key] = value
    return moved


@dataclass
class StepResult:
    loss: torch.Tensor  # what the model's optimiser minimises
    terms: dict  # name -> detached value, for logging
    outputs: EOPoseOutput  # the model's forward outputs


def model_losses(stage: Stage, step: int, model, discriminator, warp_loss, gen_loss, batch: dict) -> StepResult:
    """Forward pass and losses of `stage` at its `step` on one batch (no backward, no optimiser step)."""
    out = model(**batch_inputs(batch), with_generator=stage.with_generator)
    weights = stage.loss_weights(step)
    terms = {}
    loss = 0.0
    if stage.with_warp_loss:
        warp_total, warp_terms = warp_loss(out.warp, batch, tps_weight=weights.tps)
        terms.update({f"warp/{k}": v for k, v in warp_terms.items()})
        terms["warp/total"] = warp_total.detach()
        loss = loss + weights.alpha_warp * warp_total
    if stage.with_generator:
        fake_scores = discriminator(out.output, out.heatmaps_p)
        gen_total, gen_terms = gen_loss(out.output, batch["target"], fake_scores, adv_weight=weights.adv,
                                        mask_target=batch["mask_target"])
        terms.update({f"gen/{k}": v for k, v in gen_terms.items()})
        terms["gen/total"] = gen_total.detach()
        loss = loss + weights.alpha_gen * gen_total
    terms["total"] = loss.detach()
    return StepResult(loss=loss, terms=terms, outputs=out)


def discriminator_loss(discriminator, outputs: EOPoseOutput, batch: dict) -> torch.Tensor:
    """LSGAN loss of the discriminator on real targets vs the (detached) generated images, both given Pp."""
    heatmaps_p = outputs.heatmaps_p.detach()
    # one forward over [real; fake] (InstanceNorm is per sample), so DDP sees one forward per backward
    scores = discriminator(torch.cat([batch["target"], outputs.output.detach()]), torch.cat([heatmaps_p] * 2))
    real, fake = scores.chunk(2)
    return lsgan_d_loss(real, fake)
