"""Alpha compositing, the one definition every stage uses: straight-alpha RGBA over a background colour (and
`over` for premultiplied colour that was resampled first).

Renders are stored with straight (unpremultiplied) alpha (docs/dataset-format.md); the loader, the
keypoint methods, contact sheets, previews and `repose` all see them composited onto a background with
out = rgb * a + background * (1 - a), a = alpha / 255.
"""
from __future__ import annotations

import numpy as np
import torch


def opaque(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB [..., 3] -> uint8 RGBA [..., 4] with alpha 255 everywhere (a picture without alpha)."""
    return np.concatenate([rgb, np.full(rgb.shape[:-1] + (1,), 255, np.uint8)], axis=-1)


def composite_uint8(rgba: np.ndarray, background=(255, 255, 255)) -> np.ndarray:
    """uint8 RGBA [..., 4] over `background` (RGB 0..255, a colour or an image broadcastable to [..., 3])
    -> uint8 RGB [..., 3], rounded."""
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    back = np.asarray(background, dtype=np.float32)
    rgb = rgba[..., :3].astype(np.float32) * alpha + back * (1.0 - alpha)
    return np.round(rgb).astype(np.uint8)


def composite(rgba: np.ndarray, background) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 [..., H, W, 4] straight-alpha RGBA -> (rgb float [..., 3, H, W] in [0, 1] on `background` (RGB in
    [0, 1], or an image [3, H, W]), alpha [..., 1, H, W])."""
    pixels = torch.from_numpy(np.ascontiguousarray(rgba)).movedim(-1, -3).float().div_(255.0)
    rgb, alpha = pixels[..., :3, :, :], pixels[..., 3:, :, :]
    back = torch.as_tensor(background, dtype=torch.float32)
    back = back.view(3, 1, 1) if back.ndim == 1 else back
    return rgb * alpha + back * (1.0 - alpha), alpha


def over(premultiplied: torch.Tensor, background) -> torch.Tensor:
    """Premultiplied colour and alpha [..., 4, H, W] (what a resampling of `composite(rgba, black)` gives) over
    `background` (RGB in [0, 1], or images broadcastable to [..., 3, H, W]) -> rgb [..., 3, H, W]."""
    back = torch.as_tensor(background, dtype=premultiplied.dtype, device=premultiplied.device)
    back = back.view(3, 1, 1) if back.ndim == 1 else back
    return premultiplied[..., :3, :, :] + back * (1 - premultiplied[..., 3:, :, :])


FOREGROUND_THRESHOLD = 0.1  # a pixel differing from the background by more than this in some channel is object


def foreground(image: torch.Tensor, background, threshold: float = FOREGROUND_THRESHOLD) -> torch.Tensor:
    """bool [B, 1, H, W]: pixels of a composited image [B, 3, H, W] in [0, 1] that differ from `background` (an
    RGB triple or a grey level) by more than `threshold` in some channel: the silhouette of an image that comes
    without a mask (a generated image, or a photo on a plain background)."""
    back = torch.as_tensor(background, dtype=image.dtype, device=image.device).reshape(1, -1, 1, 1)
    return (image - back).abs().amax(dim=1, keepdim=True) > threshold
