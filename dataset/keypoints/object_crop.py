"""Object-centred framing for nocs-net: the network sees a square crop around the object's foreground, whatever
the camera made of it, and its outputs go back to the whole picture.

A renderer's camera frames every object alike; a user's photo or another rig does not (small, off-centre objects;
eopose issue 23). A network of the demo's size learns one framing far faster than every scale and position, so a
nocs-net with `crop` > 0 (NocsNetConfig) is trained and run on the square of side (1 + crop) x the longer side
of the foreground's bounding box, centred on the box (the detect-then-crop scheme of two-stage category-level pose
estimators, e.g. Wang et al., CVPR 2019, who run NOCS on detected regions). Every caller has a foreground: the
rendered mask in shards, the alpha or the border estimate in `repose`.

Affine maps are in the normalised coordinates of torch's affine_grid / grid_sample with align_corners=False (-1 and
1 are the outer edges of the first and last pixels), as 2 x 3 matrices from output to input coordinates, so the
same map samples an image of any pixel size.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def foreground_bounds(mask) -> tuple[float, float, float, float] | None:
    """(left, top, right, bottom) pixel edges of the bounding box of `mask` [H, W] (> 0.5); None when empty."""
    rows, cols = np.nonzero(np.asarray(mask) > 0.5)
    if len(rows) == 0:
        return None
    return float(cols.min()), float(rows.min()), cols.max() + 1.0, rows.max() + 1.0


def square_theta(centre_x: float, centre_y: float, side: float, height: int, width: int) -> torch.Tensor:
    """theta [2, 3] from crop to picture coordinates of the square of `side` pixels centred on (x, y) in a picture
    of height x width pixels."""
    return torch.tensor([[side / width, 0.0, 2 * centre_x / width - 1],
                         [0.0, side / height, 2 * centre_y / height - 1]], dtype=torch.float32)


def crop_thetas(masks, margin: float) -> torch.Tensor:
    """theta [B, 2, 3] from crop to picture coordinates of the square crops around the foregrounds `masks`
    [B, H, W] (bool or > 0.5), (1 + margin) x the box's longer side. A view without foreground gets the whole
    picture (the square of side max(H, W) on its centre)."""
    masks = np.asarray(masks)
    height, width = masks.shape[1:]
    thetas = []
    for mask in masks:
        box = foreground_bounds(mask)
        if box is None:
            thetas.append(square_theta(width / 2, height / 2, float(max(height, width)), height, width))
            continue
        left, top, right, bottom = box
        side = max(right - left, bottom - top) * (1.0 + margin)
        thetas.append(square_theta((left + right) / 2, (top + bottom) / 2, side, height, width))
    return torch.stack(thetas) if thetas else torch.zeros(0, 2, 3)


def _homogeneous(theta: torch.Tensor) -> torch.Tensor:
    bottom = torch.tensor([0.0, 0.0, 1.0]).expand(len(theta), 1, 3)
    return torch.cat([theta, bottom], dim=1)


def compose(outer: torch.Tensor, inner: torch.Tensor) -> torch.Tensor:
    """The map `outer` after `inner` ([B, 2, 3] each): x -> outer(inner(x))."""
    return (_homogeneous(outer) @ _homogeneous(inner))[:, :2]


def invert(theta: torch.Tensor) -> torch.Tensor:
    """The inverse of the affine maps `theta` [B, 2, 3]."""
    return torch.linalg.inv(_homogeneous(theta))[:, :2]


def sample_crops(images: torch.Tensor, theta: torch.Tensor, size: int, mode: str = "bilinear",
                 padding_mode: str = "border") -> torch.Tensor:
    """images [B, C, H, W] -> [B, C, size, size] through `theta` (output -> input). Bilinear sampling first shrinks
    a picture whose crop is more than `size` pixels across so that it is `size` across, with an antialiasing
    filter (no aliasing from large photos); nearest sampling (targets) reads the pixels as they are."""
    height, width = images.shape[-2:]
    sides = (torch.linalg.det(theta[:, :, :2]).abs() * height * width).sqrt()  # the crop's side, pixels
    shrink = (sides > size) if mode == "bilinear" else torch.zeros(len(images), dtype=torch.bool)
    grid = F.affine_grid(theta, (len(images), images.shape[1], size, size), align_corners=False)
    out = images.new_empty(len(images), images.shape[1], size, size)
    keep = ~shrink  # crops sampled as they are, in one call
    out[keep] = F.grid_sample(images[keep], grid[keep], mode=mode, padding_mode=padding_mode, align_corners=False)
    for view in torch.nonzero(shrink)[:, 0].tolist():
        side = float(sides[view])
        shape = (max(1, round(height * size / side)), max(1, round(width * size / side)))
        image = F.interpolate(images[view:view + 1], size=shape, mode="bilinear", antialias=True,
                              align_corners=False)
        out[view] = F.grid_sample(image, grid[view:view + 1], mode=mode, padding_mode=padding_mode,
                                  align_corners=False)[0]
    return out


def uncrop(outputs: torch.Tensor, theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Crop-frame outputs [B, C, R, R] -> [B, C, height, width] on the picture (bilinear; 0 outside the crop)."""
    grid = F.affine_grid(invert(theta), (len(outputs), outputs.shape[1], height, width), align_corners=False)
    return F.grid_sample(outputs, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
