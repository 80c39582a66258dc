"""Input augmentation for train-nocs: what the network meets outside our renders (eopose issues 12 and 23).

Per view, drawn from a torch.Generator (so a step's augmentation is a pure function of the run seed, the
step and the rank, and `--resume` reproduces it):
1. with probability `geometric`, a smaller or larger, off-centre and rolled object: scale s in `scale` (for a
   fraction `small` of those views in `small_scale`: the small object anywhere in a photo that a network with `crop`
   meets on its first, whole-picture pass), shift up to `shift` x the margin |1 - s| each way, an in-plane turn up
   to `roll` degrees, as one affine resampling (bilinear for the premultiplied colour and alpha, nearest for the
   NOCS and mask targets, which move with it), within the render's frame or, for a network with `crop`, within the
   square crop around the object (dataset/keypoints/object_crop.py), which the same resampling takes at the
   network's resolution;
2. a background, no alpha: white (`white`), one colour of any brightness (`plain`), a linear gradient between
   two colours (`gradient`), else a busy texture: smooth coloured noise, random rectangles and ellipses (a
   cluttered table) or stripes and checks at any angle and frequency; the view is composited on it;
3. photometric changes of the whole image, as another camera and its processing would make them: white balance
   (per-channel gains), brightness, contrast (about the image mean), saturation (about the Rec. 601 luma), gamma,
   then with their probabilities a Gaussian blur, Gaussian sensor noise and a JPEG round trip.
"""
from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from eopose.dataset.compositing import composite, over
from eopose.dataset.keypoints.object_crop import compose, crop_thetas, sample_crops

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights


def _uniform(generator: torch.Generator, count: int, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(count, generator=generator)


def _coordinates(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates (x, y) in [0, 1], each [size, size]."""
    axis = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    return axis[None, :].expand(size, size), axis[:, None].expand(size, size)


def _gradient(size: int, generator: torch.Generator) -> torch.Tensor:
    first, second = torch.rand(2, 3, 1, 1, generator=generator)
    angle = float(torch.rand(1, generator=generator)) * 2 * math.pi
    x, y = _coordinates(size)
    t = x * math.cos(angle) + y * math.sin(angle)
    t = (t - t.min()) / (t.max() - t.min()).clamp(min=1e-6)
    return first * (1 - t) + second * t


def _noise(size: int, generator: torch.Generator) -> torch.Tensor:
    """Smooth coloured noise: two octaves of random colour grids, bicubically upsampled."""
    cells = int(torch.randint(2, 12, (1,), generator=generator))
    image = torch.zeros(3, size, size)
    for octave, weight in ((cells, 1.0), (2 * cells, 0.5)):
        grid = torch.rand(1, 3, octave, octave, generator=generator)
        image += weight * F.interpolate(grid, size=(size, size), mode="bicubic", align_corners=False)[0]
    return (image / 1.5).clamp(0, 1)


def _clutter(size: int, generator: torch.Generator) -> torch.Tensor:
    """A gradient covered by 4-24 random rectangles and ellipses of random colours."""
    image = _gradient(size, generator)
    x, y = _coordinates(size)
    for _ in range(int(torch.randint(4, 25, (1,), generator=generator))):
        cx, cy, half_w, half_h, kind = torch.rand(5, generator=generator).tolist()
        half_w, half_h = 0.03 + 0.3 * half_w, 0.03 + 0.3 * half_h
        if kind < 0.5:
            inside = ((x - cx).abs() < half_w) & ((y - cy).abs() < half_h)
        else:
            inside = ((x - cx) / half_w) ** 2 + ((y - cy) / half_h) ** 2 < 1
        image = torch.where(inside, torch.rand(3, 1, 1, generator=generator), image)
    return image


def _stripes(size: int, generator: torch.Generator) -> torch.Tensor:
    """Two colours in stripes (or, half the time, checks) at a random angle and period."""
    first, second = torch.rand(2, 3, 1, 1, generator=generator)
    angle, period, phase, checks = torch.rand(4, generator=generator).tolist()
    angle, frequency = angle * math.pi, 2 + 14 * period
    x, y = _coordinates(size)
    along = torch.sin(2 * math.pi * (frequency * (x * math.cos(angle) + y * math.sin(angle)) + phase))
    if checks < 0.5:
        along = along * torch.sin(2 * math.pi * frequency * (-x * math.sin(angle) + y * math.cos(angle)))
    t = (along > 0).float()
    return first * (1 - t) + second * t


TEXTURES = (_noise, _clutter, _stripes)


def backgrounds(count: int, size: int, augment, generator: torch.Generator) -> torch.Tensor:
    """[count, 3, size, size] in [0, 1]: white, plain, gradient or textured per view (module docstring)."""
    kinds = torch.rand(count, generator=generator).tolist()
    out = []
    for kind in kinds:
        if kind < augment.white:
            out.append(torch.ones(3, size, size))
        elif kind < augment.white + augment.plain:
            out.append(torch.rand(3, 1, 1, generator=generator).expand(3, size, size))
        elif kind < augment.white + augment.plain + augment.gradient:
            out.append(_gradient(size, generator))
        else:
            out.append(TEXTURES[int(torch.randint(len(TEXTURES), (1,), generator=generator))](size, generator))
    return torch.stack(out)


def affine_thetas(count: int, augment, generator: torch.Generator) -> torch.Tensor:
    """Affine maps [count, 2, 3]: identity or scale, shift and roll (affine_grid's, output -> input)."""
    apply = torch.rand(count, generator=generator) < augment.geometric
    scale = torch.where(apply, _uniform(generator, count, *augment.scale), torch.ones(count))
    if augment.small > 0:  # drawn only when asked, so configs without it keep their random stream
        small = apply & (torch.rand(count, generator=generator) < augment.small)
        scale = torch.where(small, _uniform(generator, count, *augment.small_scale), scale)
    margin = augment.shift * (1.0 - scale).abs()
    shift = (torch.rand(count, 2, generator=generator) * 2 - 1) * margin[:, None]
    roll = torch.where(apply, _uniform(generator, count, -augment.roll, augment.roll), torch.zeros(count))
    cos, sin = torch.cos(torch.deg2rad(roll)), torch.sin(torch.deg2rad(roll))
    theta = torch.zeros(count, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = cos / scale, -sin / scale, sin / scale, cos / scale
    theta[:, :, 2] = -(theta[:, :, :2] @ shift[:, :, None])[:, :, 0]
    return theta


def _factor(generator: torch.Generator, count: int, amount: float) -> torch.Tensor:
    return _uniform(generator, count, 1 - amount, 1 + amount).view(count, 1, 1, 1)


def jitter(images: torch.Tensor, augment, generator: torch.Generator) -> torch.Tensor:
    """White balance, brightness, contrast, saturation and gamma of [B, 3, H, W] images in [0, 1]."""
    count = len(images)
    gains = _uniform(generator, 3 * count, 1 - augment.white_balance, 1 + augment.white_balance).view(count, 3, 1, 1)
    images = (images * gains * _factor(generator, count, augment.brightness)).clamp(0, 1)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = (images - mean) * _factor(generator, count, augment.contrast) + mean
    luma = (images * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    images = ((images - luma) * _factor(generator, count, augment.saturation) + luma).clamp(0, 1)
    gamma = torch.exp(_uniform(generator, count, -math.log(augment.gamma), math.log(augment.gamma)))
    return images.clamp(min=1e-6) ** gamma.view(count, 1, 1, 1)


def _blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(2.5 * sigma))
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float32) / sigma) ** 2)
    taps = taps / taps.sum()
    padded = F.pad(image[None], (radius, radius, radius, radius), mode="replicate")
    rows = F.conv2d(padded, taps.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)
    return F.conv2d(rows, taps.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)[0]


def jpeg_round_trip(image: torch.Tensor, quality: int) -> torch.Tensor:
    """[3, H, W] in [0, 1] -> the same image after JPEG compression at `quality` (Pillow, 4:2:0 chroma)."""
    pixels = (image * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    decoded = np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(decoded).permute(2, 0, 1)


def degrade(images: torch.Tensor, augment, generator: torch.Generator) -> torch.Tensor:
    """Per image, with their probabilities: Gaussian blur, Gaussian noise, a JPEG round trip."""
    out = []
    for image in images:
        blur, noise, jpeg, sigma, level, quality = torch.rand(6, generator=generator).tolist()
        if blur < augment.blur:
            image = _blur(image, 0.3 + sigma * (augment.blur_sigma - 0.3))
        if noise < augment.noise:
            image = image + torch.randn(image.shape, generator=generator) * level * augment.noise_sigma
        image = image.clamp(0, 1)
        if jpeg < augment.jpeg:
            low, high = augment.jpeg_quality
            image = jpeg_round_trip(image, int(low + quality * (high - low)))
        out.append(image)
    return torch.stack(out)


def augment_views(rgba: torch.Tensor, nocs: torch.Tensor, mask: torch.Tensor, augment, generator: torch.Generator,
                  crop: float = 0.0, size: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """uint8 RGBA [B, S, S, 4], NOCS [B, S, S, 3], mask [B, S, S] -> (images [B, 3, R, R], NOCS [B, 3, R, R],
    mask [B, 1, R, R]) as described in the module docstring, R = `size` (default S). With `crop` > 0 (a nocs-net's
    NocsNetConfig.crop) step 1 moves the object within its own square crop (object_crop), not within the frame."""
    count, source = len(rgba), rgba.shape[1]
    size = size or source
    premultiplied, alpha = composite(rgba.numpy(), (0.0, 0.0, 0.0))
    theta = affine_thetas(count, augment, generator)
    colour, targets = torch.cat([premultiplied, alpha], dim=1), torch.cat([nocs.permute(0, 3, 1, 2), mask[:, None]],
                                                                          dim=1)
    if crop > 0:
        theta = compose(crop_thetas(mask.numpy(), crop), theta)
        moved = sample_crops(colour, theta, size, "bilinear", "zeros")
        targets = sample_crops(targets, theta, size, "nearest", "zeros")
    else:
        grids = F.affine_grid(theta, (count, 1, size, size), align_corners=False)
        moved = F.grid_sample(colour, grids, mode="bilinear", padding_mode="zeros", align_corners=False)
        targets = F.grid_sample(targets, grids, mode="nearest", padding_mode="zeros", align_corners=False)
    images = over(moved, backgrounds(count, size, augment, generator))
    images = degrade(jitter(images, augment, generator), augment, generator)
    return images, targets[:, :3], targets[:, 3:]
