"""nocs-net: a small UNet predicting per-pixel canonical object coordinates (NOCS) and a foreground mask from an
RGB image, so that NOCS matching (nocs_matching.match_nocs) runs on any image of a trained category.

The idea is category-level NOCS (Wang et al., "Normalized Object Coordinate Space for Category-Level 6D Object
Pose and Size Estimation", CVPR 2019), regressed here instead of binned (their 32-bin classification, tried
with soft-label cross-entropy, reached held-out PCK@0.10 0.23-0.26 against 0.29-0.34 for regression after the
demo's 300 steps), by a UNet (Ronneberger et al., MICCAI 2015) trained from scratch on our renders by
`train-nocs` (eopose.train.nocs). A strided 3x3 conv stem (the
UNet runs at 1/stem_stride of the input: a quarter of the cost at stride 2; NOCS vary smoothly, so the outputs
are upsampled bilinearly), then per level two 3x3 conv + BatchNorm + ReLU, 2x2 max-pool down, bilinear x2 up with
skip concatenation; a 1x1 head gives 3 NOCS channels (sigmoid, [0, 1]^3 as the shards' `nocs` field,
docs/dataset-format.md), 1 mask logit and 1 confidence logit (the predicted probability that the pixel's NOCS are
within CONFIDENT_ERROR of the truth, which NOCS matching uses to choose points). The network is fully
convolutional; `predict` composites RGBA on the configured background, resizes to the training resolution (a network
with `crop`: takes the square around the foreground, object_crop) and resizes the outputs back (bilinear), so
images of any size work. Checkpoints are train-nocs'
`RUN/checkpoints/final.pt` (kind "nocs-net"), resolved through eopose.dataset.weights (local files only).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import binary_fill_holes, label
from torch import nn

from ..compositing import composite, opaque
from ..weights import resolve, unloadable
from .accuracy import mask_iou
from .object_crop import crop_thetas, sample_crops, uncrop

CHECKPOINT_KIND = "nocs-net"
# NOCS error (L2, NOCS units) under which the confidence head calls a pixel right: about PCK@0.10's 6.4 px at 64 px,
# where a vase's ~40 px span ~0.6 NOCS units.
CONFIDENT_ERROR = 0.1
# A given foreground covering more of the picture than this is no foreground: a network with `crop` then frames the
# object by its own prediction (predict)
WHOLE_PICTURE = 0.9
MASK_THRESHOLD = 0.5  # predicted foreground probability above which a pixel is the object's


@dataclass(frozen=True)
class NocsNetConfig:
    """The architecture and input convention; stored in every checkpoint."""

    resolution: int = 64  # square input side the network is trained and run at
    channels: tuple = (16, 32, 64, 128)  # UNet widths, finest level first (len - 1 down-samplings)
    stem_stride: int = 2  # the UNet's finest level is input / stem_stride
    background: tuple = (1.0, 1.0, 1.0)  # RGB in [0, 1] that RGBA inputs are composited on (white, as the ViTs)
    crop: float = 0.0  # 0: the whole picture; > 0: the square around the foreground, (1 + crop) x its longer side

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "NocsNetConfig":
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()})


class NocsNetOutput(NamedTuple):
    nocs: torch.Tensor  # [B, 3, H, W] in [0, 1]
    mask_logits: torch.Tensor  # [B, 1, H, W]
    confidence_logits: torch.Tensor  # [B, 1, H, W]: P(the pixel's NOCS error < CONFIDENT_ERROR), as a logit


def _conv(cin: int, cout: int, stride: int = 1) -> list:
    return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(*_conv(cin, cout), *_conv(cout, cout))


class CategoryFiLM(nn.Module):
    """features [B, C, H, W], category [B] -> features * scale[category] + shift[category] (per channel; module
    docstring), the identity at initialisation."""

    def __init__(self, categories: int, channels: int):
        super().__init__()
        self.scale = nn.Embedding(categories, channels)
        self.shift = nn.Embedding(categories, channels)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, features: torch.Tensor, category: torch.Tensor) -> torch.Tensor:
        return features * self.scale(category)[:, :, None, None] + self.shift(category)[:, :, None, None]


class NocsNet(nn.Module):
    """images [B, 3, H, W] in [0, 1] (H, W multiples of stem_stride * 2**(levels - 1)) and, for a network of
    several `categories`, category [B] (indices into them; `category_indices`) -> NocsNetOutput."""

    def __init__(self, config: NocsNetConfig = NocsNetConfig(), categories: tuple = ()):
        super().__init__()
        self.config = config
        self.categories = tuple(categories)
        widths = config.channels
        self.stem = nn.Sequential(*_conv(3, widths[0], config.stem_stride))
        self.down = nn.ModuleList([_block(widths[max(level - 1, 0)], width) for level, width in enumerate(widths)])
        self.up = nn.ModuleList([_block(widths[level + 1] + widths[level], widths[level])
                                 for level in reversed(range(len(widths) - 1))])
        self.head = nn.Conv2d(widths[0], 5, 1)
        if self.conditioned:  # after each down block, then each up block (finest last)
            self.film = nn.ModuleList([CategoryFiLM(len(self.categories), width) for width in
                                       (*widths, *(widths[level] for level in reversed(range(len(widths) - 1))))])

    def missing_category(self) -> str:
        return (f"this nocs-net knows {len(self.categories)} categories ({', '.join(self.categories)}) and needs "
                f"each image's category")

    @property
    def conditioned(self) -> bool:
        """Whether the network takes a category input (it knows several categories)."""
        return len(self.categories) > 1

    def forward(self, images: torch.Tensor, category: torch.Tensor | None = None) -> NocsNetOutput:
        if self.conditioned and category is None:
            raise ValueError(self.missing_category())
        films = iter(self.film) if self.conditioned else None
        x, skips = self.stem(images * 2.0 - 1.0), []
        for level, block in enumerate(self.down):
            x = block(x if level == 0 else F.max_pool2d(x, 2))
            x = next(films)(x, category) if films else x
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = block(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False),
                                 skip], dim=1))
            x = next(films)(x, category) if films else x
        out = self.head(x)
        if out.shape[-2:] != images.shape[-2:]:
            out = F.interpolate(out, size=images.shape[-2:], mode="bilinear", align_corners=False)
        return NocsNetOutput(torch.sigmoid(out[:, :3]), out[:, 3:4], out[:, 4:5])


def parameter_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def category_indices(net: NocsNet, categories, count: int, flag: str = "--weights") -> torch.Tensor | None:
    """category [count] (int64 indices into net.categories) of `count` images whose categories are `categories`
    (one name for all, or one per image); None for a network without a category input. Raises ValueError naming
    the network's categories and the command's weights option `flag` for one it does not know."""
    if not net.conditioned:
        return None
    if categories is None:
        raise ValueError(net.missing_category())
    names = [categories] * count if isinstance(categories, str) else [str(name) for name in categories]
    unknown = sorted({str(name) for name in names} - set(net.categories))
    if unknown:
        raise ValueError(f"category {', '.join(unknown)}: this nocs-net knows {', '.join(net.categories)}; "
                         f"pass {flag} of a network trained on it")
    return torch.tensor([net.categories.index(name) for name in names], dtype=torch.int64)


def picture_foreground(net: NocsNet, rgb: np.ndarray, category: str | None = None,
                       device="cpu") -> tuple[np.ndarray, float]:
    """(bool [H, W], agreement): the object in an opaque picture (uint8 RGB [H, W, 3]) whose background is not one
    plain colour, as the network's predicted foreground (probability > MASK_THRESHOLD, holes filled). `predict` of a
    picture without a foreground looks at the whole picture first, and a network with `crop` then at the square
    around what that found; on clutter that square can hold clutter found beside the object, so such a network
    looks once more, at the square around the largest connected part of what it found (one object per photo).
    `agreement` is the IoU of that part with what the last look found (1 for a network without `crop`): low when
    the looks disagree, as they do where the foreground is wrong (docs/results.md). What `repose` takes as the
    object of a photo on a busy background."""
    picture = opaque(rgb)[None]
    found = predict(net, picture, device, categories=category)[1][0] > MASK_THRESHOLD
    agreement = 1.0
    if net.config.crop > 0 and found.any():
        parts, count = label(found)
        if count > 1:
            found = parts == 1 + int(np.argmax(np.bincount(parts.ravel())[1:]))
        again = predict(net, picture, device, categories=category, masks=found[None])[1][0] > MASK_THRESHOLD
        agreement = mask_iou(found, again)
        found = again
    return binary_fill_holes(found), agreement


def picture_category(net: NocsNet, category: str | None) -> str | None:
    """The category of pictures that carry none (`repose --category`): `category`, else the network's only one;
    raises ValueError naming --category and the choices when the network knows several and none is given, or
    does not know the one given."""
    known = net.categories
    if category is None:
        if len(known) > 1:
            raise ValueError(f"--category: the nocs-net weights know {len(known)} categories; pass --category "
                             f"{'|'.join(known)}")
        return known[0] if known else None
    if known and category not in known:
        raise ValueError(f"--category {category}: the nocs-net weights know {', '.join(known)}; pass one of them")
    return category


def checkpoint_payload(net: NocsNet) -> dict:
    """The part of a checkpoint `load_nocs_net` reads (train-nocs adds its config and progress)."""
    return {"kind": CHECKPOINT_KIND, "net": net.config.to_dict(), "categories": list(net.categories),
            "model": net.state_dict()}


def load_nocs_net(weights, device="cpu") -> tuple[NocsNet, Path]:
    """(network in eval mode, resolved path) of a train-nocs checkpoint; raises WeightsUnavailable naming --weights."""
    path = resolve("nocs-net", weights)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("kind") != CHECKPOINT_KIND:
            raise ValueError("no 'kind': 'nocs-net' entry")
        net = NocsNet(NocsNetConfig.from_dict(payload["net"]), tuple(payload.get("categories", ())))
        net.load_state_dict(payload["model"])
    except Exception as error:  # not a checkpoint, another kind, a damaged file
        raise unloadable("nocs-net", path, error, "pass RUN/checkpoints/final.pt of a train-nocs run") from None
    return net.to(device).eval(), path


def _forward(net: NocsNet, rgba: np.ndarray, category, theta, device, batch_size: int) -> np.ndarray:
    """[B, H, W, 5] (NOCS, foreground probability, confidence) of uint8 RGBA [B, H, W, 4] resized to the network's
    resolution, or for a network with `crop` sampled through the crops `theta` [B, 2, 3] (0 outside them)."""
    config = net.config
    height, width = rgba.shape[1:3]
    outputs = []
    for start in range(0, len(rgba), batch_size):
        part = slice(start, start + batch_size)
        images, _ = composite(rgba[part], config.background)
        if theta is not None:
            images = sample_crops(images, theta[part], config.resolution)
        elif (height, width) != (config.resolution,) * 2:
            images = F.interpolate(images, size=(config.resolution,) * 2, mode="bilinear", antialias=True,
                                   align_corners=False)
        out = net(images.to(device), None if category is None else category[part].to(device))
        both = torch.cat([out.nocs, torch.sigmoid(out.mask_logits), torch.sigmoid(out.confidence_logits)], dim=1)
        if theta is not None:
            both = uncrop(both.float().cpu(), theta[part], height, width)
        elif (height, width) != (config.resolution,) * 2:
            both = F.interpolate(both, size=(height, width), mode="bilinear", align_corners=False)
        outputs.append(both.permute(0, 2, 3, 1).float().cpu().numpy())
    return np.concatenate(outputs)


@torch.inference_mode()
def predict(net: NocsNet, rgba: np.ndarray, device="cpu", batch_size: int = 32,
            categories=None, masks: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """uint8 straight-alpha RGBA [B, H, W, 4] of `categories` (one name or one per image; category_indices) ->
    (NOCS float32 [B, H, W, 3], foreground probability [B, H, W], confidence [B, H, W]: the predicted
    probability that a pixel's NOCS error is under CONFIDENT_ERROR). A network with `crop` (NocsNetConfig) runs on
    the square around each image's foreground, `masks` [B, H, W] (default: alpha > 127), and gives 0 outside it;
    where that foreground is empty or nearly the whole picture (an opaque photo with no foreground estimate), the
    foreground is the network's own prediction on the whole picture first."""
    category = category_indices(net, categories, len(rgba))
    theta = None
    if net.config.crop > 0:
        given = np.asarray(rgba[..., 3] > 127 if masks is None else masks) > 0
        cover = given.mean(axis=(1, 2))
        unknown = np.flatnonzero((cover == 0) | (cover > WHOLE_PICTURE))
        theta = crop_thetas(given, net.config.crop)
        if len(unknown):
            whole = crop_thetas(np.zeros_like(given[unknown]), 0.0)
            probability = _forward(net, rgba[unknown], None if category is None else category[unknown], whole,
                                   device, batch_size)[..., 3]
            theta[unknown] = crop_thetas(probability > 0.5, net.config.crop)
    both = _forward(net, rgba, category, theta, device, batch_size)
    return both[..., :3], both[..., 3], both[..., 4]
