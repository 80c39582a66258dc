"""Image preprocessing for the ViT and Amir et al.'s log-binned descriptors, vectorised.

`log_bin` reproduces `ViTExtractor._log_bin` of github.com/ShirAmir/dino-vit-features (extractor.py):
for level k = 0..hierarchy-1 the descriptor map is average-pooled with a 3^k x 3^k window (stride 1,
padding excluded from the mean) and sampled at the 3x3 offsets (-3^k, 0, 3^k)^2 around each token
(the centre only at level 0), positions outside the grid clamped to the border; the 1 + 8 * hierarchy
sampled vectors are concatenated bin-major. Here the clamping is a replicate pad and the sampling a
slice, so there is no loop over tokens.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..compositing import composite_uint8
from ..weights import IMAGENET_MEAN, IMAGENET_STD

BACKGROUND = 255  # rendered RGBA is composited over white before the ViT sees it


def load_shape(height: int, width: int, load_size: int) -> tuple[int, int]:
    """(h, w) after resizing the shorter side to `load_size`, as torchvision Resize(int) (Amir et al.)."""
    if height <= width:
        return load_size, int(load_size * width / height)
    return int(load_size * height / width), load_size


def preprocess(rgba: np.ndarray, load_size: int) -> torch.Tensor:
    """uint8 RGBA [B,H,W,4] -> normalised float tensor [B,3,h,w] at load size (Lanczos, like Amir et al.)."""
    height, width = rgba.shape[1:3]
    size = load_shape(height, width, load_size)
    resized = np.stack([np.asarray(Image.fromarray(rgb).resize(size[::-1], Image.LANCZOS))
                        for rgb in composite_uint8(rgba, BACKGROUND)])
    images = torch.from_numpy(resized).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (images - mean) / std


def log_bin(features: torch.Tensor, hierarchy: int) -> torch.Tensor:
    """[B, gh, gw, C] -> [B, gh, gw, (1 + 8 * hierarchy) * C] log-binned descriptors (hierarchy 0: unchanged)."""
    if hierarchy == 0:
        return features
    maps = features.permute(0, 3, 1, 2)
    height, width = maps.shape[2:]
    bins = []
    for level in range(hierarchy):
        size = 3 ** level
        pooled = F.avg_pool2d(maps, size, stride=1, padding=size // 2, count_include_pad=False)
        padded = F.pad(pooled, (size, size, size, size), mode="replicate")
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if level and dy == 0 and dx == 0:
                    continue
                top, left = size + dy * size, size + dx * size
                bins.append(padded[:, :, top:top + height, left:left + width])
    return torch.cat(bins, dim=1).permute(0, 2, 3, 1)
