"""The one flow convention of eopose, and the warping and upsampling built on it.

Convention (identical to the data loader's ``flow_gt``, see docs/dataset-format.md):

* a flow is a float tensor ``[B, 2, H, W]``; channel 0 is the x (column) displacement and
  channel 1 the y (row) displacement, both in pixels of the image the flow is defined on;
* it is a *backward* flow: output pixel ``p = (x, y)`` takes the source image's value at
  ``p + flow(p)``; zero flow is the identity;
* pixel ``(row i, col j)`` has its centre at ``(j + 0.5, i + 0.5)`` (continuous coordinates,
  origin at the image's top-left corner);
* sampling is bilinear through ``grid_sample(align_corners=False)``, whose normalised
  coordinates -1 and +1 are the outer edges of the image: ``u = 2 x / W - 1``,
  ``v = 2 y / H - 1``, which is exactly the pixel convention above.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from eopose.dataset import geometry


@functools.lru_cache(maxsize=32)
def pixel_centres(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Continuous (x, y) coordinates of all pixel centres, ``[1, 2, H, W]``: the convention's one definition,
    eopose.dataset.geometry.pixel_centres, as a tensor. Cached per (size, device, dtype): every warp asks for
    it, so it is built once instead of on each call; callers must not modify it in place."""
    return torch.from_numpy(geometry.pixel_centres(height, width)).permute(2, 0, 1)[None].to(device, dtype)


def flow_to_normalised(flow: torch.Tensor) -> torch.Tensor:
    """Express a pixel flow in grid_sample units (the image spans 2 in each direction)."""
    height, width = flow.shape[-2:]
    scale = flow.new_tensor([2.0 / width, 2.0 / height]).view(1, 2, 1, 1)
    return flow * scale


def warp(image: torch.Tensor, flow: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """Backward-warp ``image`` [B,C,H,W] with ``flow`` [B,2,H,W] (same size).

    Output pixel p is the bilinear sample of ``image`` at ``p + flow(p)``; samples falling
    outside the image read ``fill`` (the loader composites on white, so the warp module
    uses 1.0 for images in [0, 1]).
    """
    if image.shape[-2:] != flow.shape[-2:]:
        raise ValueError(f"image {tuple(image.shape)} and flow {tuple(flow.shape)} sizes differ")
    height, width = flow.shape[-2:]
    coords = pixel_centres(height, width, flow.device, flow.dtype) + flow
    grid = flow_to_normalised(coords).permute(0, 2, 3, 1) - 1.0
    sampled = F.grid_sample(image - fill, grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False)
    return sampled + fill


def upsample_flow_bilinear(flow: torch.Tensor, factor: int) -> torch.Tensor:
    """Bilinear upsampling of a flow by an integer factor; displacements scale with it.

    ``align_corners=False`` keeps pixel centres where the convention puts them, so a
    constant or affine flow stays constant or affine (away from the last half pixel).
    """
    return factor * F.interpolate(flow, scale_factor=factor, mode="bilinear",
                                  align_corners=False)


def convex_upsample(flow: torch.Tensor, mask_logits: torch.Tensor, factor: int) -> torch.Tensor:
    """RAFT convex upsampling (Teed & Deng, ECCV 2020, section 3.3).

    Each of the ``factor x factor`` fine pixels inside a coarse pixel is a convex
    combination of the 3x3 coarse neighbours' flows (times ``factor``, converting coarse
    to fine pixels); the weights are a softmax over the 9 neighbours of ``mask_logits``
    ``[B, 9 * factor**2, h, w]``. Unlike RAFT (zero padding), the flow is padded by
    replication so a constant flow stays constant up to the image border.
    """
    batch, _, height, width = flow.shape
    if mask_logits.shape != (batch, 9 * factor * factor, height, width):
        raise ValueError(f"mask {tuple(mask_logits.shape)} does not fit flow "
                         f"{tuple(flow.shape)} at factor {factor}")
    weights = mask_logits.view(batch, 1, 9, factor, factor, height, width).softmax(dim=2)
    padded = F.pad(factor * flow, (1, 1, 1, 1), mode="replicate")
    neighbours = F.unfold(padded, kernel_size=3).view(batch, 2, 9, 1, 1, height, width)
    fine = (weights * neighbours).sum(dim=2)  # [B, 2, f, f, h, w]
    fine = fine.permute(0, 1, 4, 2, 5, 3)  # [B, 2, h, f, w, f]
    return fine.reshape(batch, 2, height * factor, width * factor)
