"""The structural similarity map (Wang, Bovik, Sheikh & Simoncelli, "Image quality assessment: from error
visibility to structural similarity", IEEE TIP 2004), shared by the evaluation metrics
(eopose.train.evaluation.metrics) and the generator's object-SSIM loss (eopose.model.losses).

Section III-C of the paper: an 11x11 circular-symmetric Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03,
L = the dynamic range (1 for images in [0, 1]); the window is scikit-image's (gaussian_weights=True,
truncate 3.5), and only pixels whose window fits inside the image are kept, so the map equals scikit-image's
after its crop of (win_size - 1) // 2 pixels. `region_ssim` averages the map over a dilated mask: the
masked-SSIM metric's region and the loss's.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # scikit-image: int(truncate * sigma + 0.5) with truncate 3.5 -> an 11-tap window
SSIM_K1, SSIM_K2 = 0.01, 0.03
REGION_DILATION = 2  # px: how far a masked SSIM's region reaches past its mask (the metric's and the loss's)


def _gaussian_window(dtype, device) -> torch.Tensor:
    """The normalised 1-D Gaussian taps scipy.ndimage.gaussian_filter uses for sigma 1.5, truncate 3.5."""
    x = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=dtype, device=device)
    taps = torch.exp(-0.5 * (x / SSIM_SIGMA) ** 2)
    return taps / taps.sum()


def _band(taps: torch.Tensor, size: int) -> torch.Tensor:
    """[size - 10, size] matrix whose row i holds the taps at columns i..i+10: a 'valid' 1-D filter as a product."""
    return torch.stack([F.pad(taps, (i, size - len(taps) - i)) for i in range(size - len(taps) + 1)])


def _blur_valid(images: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter without padding: [N, C, H, W] -> [N, C, H-10, W-10].

    scikit-image filters with reflect padding and then crops (win_size - 1) // 2 = 5 pixels from every
    border before averaging; the kept pixels never reach the padding, so a 'valid' convolution is exact. It runs
    as two matrix products with banded matrices (BLAS, fast in float64, where a grouped convolution is not)."""
    taps = _gaussian_window(images.dtype, images.device)
    height, width = images.shape[-2:]
    return _band(taps, height) @ images @ _band(taps, width).T


def ssim_map(output: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """The per-pixel, per-channel SSIM map [B, C, H - 10, W - 10] (the pixels whose window fits the image), in the
    inputs' precision but at least float32 and outside autocast (the metrics pass float64; the loss float32)."""
    if min(output.shape[-2:]) < 2 * SSIM_RADIUS + 1:
        raise ValueError(f"SSIM needs images of at least {2 * SSIM_RADIUS + 1} px per side, got {tuple(output.shape)}")
    dtype = torch.promote_types(torch.promote_types(output.dtype, target.dtype), torch.float32)
    with torch.autocast(output.device.type, enabled=False):
        x, y = output.to(dtype), target.to(dtype)
        c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
        mu_x, mu_y, xx, yy, xy = _blur_valid(torch.cat([x, y, x * x, y * y, x * y], dim=1)).chunk(5, dim=1)
        var_x, var_y, cov = xx - mu_x ** 2, yy - mu_y ** 2, xy - mu_x * mu_y  # population covariance
        return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))


def region_ssim(output: torch.Tensor, target: torch.Tensor, region: torch.Tensor,
                dilation: int = REGION_DILATION) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean SSIM [B] over `region` [B, 1, H, W] (bool) dilated by `dilation` px, channels averaged; 0 where the
    region is empty, number of its pixels [B]) on the SSIM map's pixels (ssim_map), in ssim_map's precision."""
    if dilation:
        region = F.max_pool2d(region.float(), 2 * dilation + 1, stride=1, padding=dilation) > 0
    score = ssim_map(output, target).mean(dim=1, keepdim=True)
    region = region[..., SSIM_RADIUS:-SSIM_RADIUS, SSIM_RADIUS:-SSIM_RADIUS].to(score.dtype)  # the map's pixels
    count = region.sum(dim=(1, 2, 3))
    return (score * region).sum(dim=(1, 2, 3)) / count.clamp_min(1), count
