"""Gaussian keypoint heatmaps: the point representation fed to the warp module and the
generator's pose encoder (EOPose paper, section 3.2: "encoding each point's x and y
coordinates as Gaussian distributions centered at their respective locations").

Channel ``j`` is point ``j`` of the keypoint cache's fixed order; invalid points give an
all-zero channel. Values peak at 1 (unnormalised Gaussians).
"""

from __future__ import annotations

import torch

# The paper gives no sigma. Ours: 1/64 of the longer image side (4 px at 256 px), the
# half-width of a DINO ViT-S/8 patch at 256 px, the localisation scale of the keypoints.
DEFAULT_SIGMA_FRACTION = 1.0 / 64.0


def default_sigma(height: int, width: int) -> float:
    """The default heatmap sigma in pixels for an image of this size."""
    return DEFAULT_SIGMA_FRACTION * max(height, width)


def gaussian_heatmaps(points: torch.Tensor, valid: torch.Tensor, height: int, width: int,
                      sigma: float | None = None) -> torch.Tensor:
    """Heatmaps ``[B, k, H, W]`` for ``points`` ``[B, k, 2]`` in pixel (x, y).

    The Gaussian is evaluated at pixel centres ``(j + 0.5, i + 0.5)``; ``valid`` ``[B, k]``
    (bool or 0/1) zeroes the channels of missing points. ``sigma`` is in pixels
    (default :func:`default_sigma`).
    """
    if points.dim() != 3 or points.shape[-1] != 2:
        raise ValueError(f"points must be [B, k, 2], got {tuple(points.shape)}")
    sigma = default_sigma(height, width) if sigma is None else float(sigma)
    dtype = points.dtype if points.is_floating_point() else torch.float32
    xs = torch.arange(width, device=points.device, dtype=dtype) + 0.5
    ys = torch.arange(height, device=points.device, dtype=dtype) + 0.5
    px = points[..., 0:1].to(dtype)  # [B, k, 1]
    py = points[..., 1:2].to(dtype)
    gx = torch.exp(-((xs - px) ** 2) / (2 * sigma ** 2))  # [B, k, W]
    gy = torch.exp(-((ys - py) ** 2) / (2 * sigma ** 2))  # [B, k, H]
    maps = gy.unsqueeze(-1) * gx.unsqueeze(-2)
    return maps * valid.to(dtype)[..., None, None]
