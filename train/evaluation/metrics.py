"""Per-image reposing metrics, batched in torch: SSIM, PSNR, masked L1, silhouette IoU and flow end-point error.

Every function takes a batch and returns one value per image ([B] float64), so the evaluation loop can
average them per category and over all samples. Images are [B, 3, H, W] in [0, 1]; masks [B, 1, H, W];
flows [B, 2, H, W] in pixels (the backward convention of eopose.model.flow, as the loader's `flow_gt`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from eopose.dataset.compositing import FOREGROUND_THRESHOLD, foreground

# Wang, Bovik, Sheikh & Simoncelli, "Image quality assessment: from error visibility to structural
# similarity", IEEE TIP 2004, section III-C: 11x11 circular-symmetric Gaussian window, sigma 1.5,
# K1 = 0.01, K2 = 0.03, L = dynamic range (1 for images in [0, 1]).
SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # scikit-image: int(truncate * sigma + 0.5) with truncate 3.5 -> an 11-tap window
SSIM_K1, SSIM_K2 = 0.01, 0.03
PSNR_MAX_DB = 100.0  # identical images: MSE clamped at 1e-10, so PSNR stays finite (and JSON-safe)
MASK_THRESHOLD = 0.5  # alpha -> binary mask


def _gaussian_window(dtype, device) -> torch.Tensor:
    """The normalised 1-D Gaussian taps scipy.ndimage.gaussian_filter uses for sigma 1.5, truncate 3.5."""
    x = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=dtype, device=device)
    taps = torch.exp(-0.5 * (x / SSIM_SIGMA) ** 2)
    return taps / taps.sum()


def _blur_valid(images: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter without padding: [N, C, H, W] -> [N, C, H-10, W-10].

    scikit-image filters with reflect padding and then crops (win_size - 1) // 2 = 5 pixels from every
    border before averaging; the kept pixels never reach the padding, so a 'valid' convolution is exact."""
    channels = images.shape[1]
    taps = _gaussian_window(images.dtype, images.device)
    horizontal = taps.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    vertical = taps.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    return F.conv2d(F.conv2d(images, horizontal, groups=channels), vertical, groups=channels)


def ssim(output: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM per image, channels averaged; equals skimage.metrics.structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=...) (Wang et al. 2004, eq. 13)."""
    return ssim_map(output, target, data_range).mean(dim=(1, 2, 3))


def ssim_map(output: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """The per-pixel, per-channel SSIM map [B, C, H - 10, W - 10] (the pixels whose window fits the image)."""
    if min(output.shape[-2:]) < 2 * SSIM_RADIUS + 1:
        raise ValueError(f"SSIM needs images of at least {2 * SSIM_RADIUS + 1} px per side, got {tuple(output.shape)}")
    x, y = output.double(), target.double()
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    mu_x, mu_y, xx, yy, xy = _blur_valid(torch.cat([x, y, x * x, y * y, x * y], dim=1)).chunk(5, dim=1)
    var_x, var_y, cov = xx - mu_x ** 2, yy - mu_y ** 2, xy - mu_x * mu_y  # population covariance
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))


def psnr(output: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """10 log10(range^2 / MSE) per image over all channels and pixels (skimage.metrics.peak_signal_noise_ratio)."""
    mse = ((output.double() - target.double()) ** 2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(data_range ** 2 / mse.clamp_min(data_range ** 2 * 10 ** (-PSNR_MAX_DB / 10)))


def masked_l1(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the channels of the pixels inside `mask` (> 0.5); NaN for an empty mask."""
    inside = (mask > MASK_THRESHOLD).double()
    error = (output.double() - target.double()).abs().mean(dim=1, keepdim=True)
    count = inside.sum(dim=(1, 2, 3))
    return torch.where(count > 0, (error * inside).sum(dim=(1, 2, 3)) / count.clamp_min(1), torch.nan)


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
                dilation: int = 2) -> torch.Tensor:
    """SSIM averaged over the union of the target's mask and the output's silhouette, dilated by `dilation` px
    ([B]; NaN where both are empty). Full-frame SSIM is dominated by the background, so a blank frame scores
    well on it; inside this region a blank output or one drawn in the wrong place scores low."""
    region = (target_mask > MASK_THRESHOLD) | foreground(output, background)
    if dilation:
        region = F.max_pool2d(region.float(), 2 * dilation + 1, stride=1, padding=dilation) > 0
    region = region[..., SSIM_RADIUS:-SSIM_RADIUS, SSIM_RADIUS:-SSIM_RADIUS].double()  # the SSIM map's pixels
    score = ssim_map(output, target).mean(dim=1, keepdim=True)
    count = region.sum(dim=(1, 2, 3))
    return torch.where(count > 0, (score * region).sum(dim=(1, 2, 3)) / count.clamp_min(1), torch.nan)


def end_point_error(flow: torch.Tensor, flow_gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance (pixels) between two flows over the valid pixels (> 0.5); NaN where none."""
    inside = (valid > MASK_THRESHOLD).double()[:, 0]
    distance = torch.linalg.vector_norm(flow.double() - flow_gt.double(), dim=1)
    count = inside.sum(dim=(1, 2))
    return torch.where(count > 0, (distance * inside).sum(dim=(1, 2)) / count.clamp_min(1), torch.nan)
