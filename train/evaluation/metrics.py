"""Per-image reposing metrics, batched in torch: SSIM, PSNR, masked L1, silhouette IoU and flow end-point error.

Every function takes a batch and returns one value per image ([B] float64), so the evaluation loop can
average them per category and over all samples. Images are [B, 3, H, W] in [0, 1]; masks [B, 1, H, W];
flows [B, 2, H, W] in pixels (the backward convention of eopose.model.flow, as the loader's `flow_gt`).
"""
from __future__ import annotations

import torch

from eopose.dataset.compositing import FOREGROUND_THRESHOLD, foreground
from eopose.model.losses import masked_mean
from eopose.model.ssim import REGION_DILATION, region_ssim, ssim_map

PSNR_MAX_DB = 100.0  # identical images: MSE clamped at 1e-10, so PSNR stays finite (and JSON-safe)
MASK_THRESHOLD = 0.5  # alpha -> binary mask


def ssim(output: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM per image, channels averaged; equals skimage.metrics.structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=...) (Wang et al. 2004, eq. 13)."""
    return ssim_map(output.double(), target.double(), data_range).mean(dim=(1, 2, 3))


def psnr(output: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """10 log10(range^2 / MSE) per image over all channels and pixels (skimage.metrics.peak_signal_noise_ratio)."""
    mse = ((output.double() - target.double()) ** 2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(data_range ** 2 / mse.clamp_min(data_range ** 2 * 10 ** (-PSNR_MAX_DB / 10)))


def masked_l1(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the channels of the pixels inside `mask` (> 0.5); NaN for an empty mask."""
    inside = (mask > MASK_THRESHOLD).double()
    error = (output.double() - target.double()).abs().mean(dim=1, keepdim=True)
    return torch.where(inside.sum(dim=(1, 2, 3)) > 0, masked_mean(error, inside), torch.nan)


def silhouette_iou(output: torch.Tensor, target_mask: torch.Tensor, background,
                   threshold: float = FOREGROUND_THRESHOLD) -> torch.Tensor:
    """IoU of the output's silhouette and the target's mask (> 0.5); 1 when both are empty."""
    ours, theirs = foreground(output, background, threshold), target_mask > MASK_THRESHOLD
    intersection = (ours & theirs).sum(dim=(1, 2, 3)).double()
    union = (ours | theirs).sum(dim=(1, 2, 3)).double()
    return torch.where(union > 0, intersection / union.clamp_min(1), torch.ones_like(union))


BLANK_COVERAGE = 0.1  # an output whose silhouette covers less than this fraction of the target mask is blank


def blank(output: torch.Tensor, target_mask: torch.Tensor, background) -> torch.Tensor:
    """bool [B]: outputs whose silhouette (eopose.dataset.compositing.foreground) covers less than
    BLANK_COVERAGE of the target's mask area: a blank frame, or next to nothing drawn."""
    drawn = foreground(output, background).sum(dim=(1, 2, 3)).double()
    wanted = (target_mask > MASK_THRESHOLD).sum(dim=(1, 2, 3)).double()
    return drawn < BLANK_COVERAGE * wanted


def masked_ssim(output: torch.Tensor, target: torch.Tensor, target_mask: torch.Tensor, background,
                dilation: int = REGION_DILATION) -> torch.Tensor:
    """SSIM averaged over the union of the target's mask and the output's silhouette, dilated by `dilation` px
    ([B]; NaN where both are empty). Full-frame SSIM is dominated by the background, so a blank frame scores
    well on it; inside this region a blank output or one drawn in the wrong place scores low."""
    region = (target_mask > MASK_THRESHOLD) | foreground(output, background)
    score, count = region_ssim(output.double(), target.double(), region, dilation)
    return torch.where(count > 0, score, torch.nan)


def end_point_error(flow: torch.Tensor, flow_gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance (pixels) between two flows over the valid pixels (> 0.5); NaN where none."""
    inside = (valid > MASK_THRESHOLD).double()
    distance = torch.linalg.vector_norm(flow.double() - flow_gt.double(), dim=1, keepdim=True)
    return torch.where(inside.sum(dim=(1, 2, 3)) > 0, masked_mean(distance, inside), torch.nan)
