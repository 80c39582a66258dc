"""Frozen VGG19 feature extractor for the perceptual and style losses.

Weights: torchvision's ImageNet VGG19 (``VGG19_Weights.IMAGENET1K_V1``, file ``vgg19-dcbb9e9d.pth``), resolved
by eopose.dataset.weights (entry ``vgg19``): a local state-dict file (``weights_path``, the ``--vgg-weights``
flag), else the torch-hub cache, else a download when online. Without any, loading raises
:class:`~eopose.dataset.weights.WeightsUnavailable` naming the fix. ``pretrained=False`` builds a randomly
initialised network: for tests only (its losses carry no perceptual meaning), and it warns.
"""

from __future__ import annotations

import os
import warnings

import torch
from torch import nn
from torchvision.models import vgg19

from eopose.dataset.weights import IMAGENET_MEAN, IMAGENET_STD, WEIGHTS, resolve, unloadable

WEIGHTS_FILENAME = os.path.basename(WEIGHTS["vgg19"].url)

# Index of each ReLU output in torchvision's ``vgg19().features``.
LAYER_INDEX = {
    "relu1_1": 1, "relu1_2": 3,
    "relu2_1": 6, "relu2_2": 8,
    "relu3_1": 11, "relu3_2": 13, "relu3_3": 15, "relu3_4": 17,
    "relu4_1": 20, "relu4_2": 22, "relu4_3": 24, "relu4_4": 26,
    "relu5_1": 29, "relu5_2": 31, "relu5_3": 33, "relu5_4": 35,
}


def load_vgg19(weights_path: str | os.PathLike | None = None, pretrained: bool = True) -> nn.Module:
    """torchvision VGG19 with ImageNet weights (from ``weights_path`` if given, see the module docstring)."""
    model = vgg19(weights=None)
    if weights_path is None and not pretrained:
        warnings.warn("VGG19 built with random weights (pretrained=False): perceptual and "
                      "style losses are meaningless; use only in tests", stacklevel=2)
        return model
    path = resolve("vgg19", weights_path, download=True)
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as error:  # a damaged or foreign file
        raise unloadable("vgg19", path, error) from None
    return model


class VGG19Features(nn.Module):
    """Frozen VGG19 returning ``{layer name: features}`` for images in [0, 1]."""

    def __init__(self, layers, weights_path=None, pretrained: bool = True):
        super().__init__()
        self.layers = sorted(set(layers), key=LAYER_INDEX.__getitem__)
        last = LAYER_INDEX[self.layers[-1]]
        features = load_vgg19(weights_path, pretrained).features[: last + 1]
        for module in features:
            if isinstance(module, nn.ReLU):
                module.inplace = False  # a captured activation must not be overwritten
        self.features = features.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self._wanted = {LAYER_INDEX[name]: name for name in self.layers}

    def train(self, mode: bool = True):
        """Stays in eval mode (frozen feature extractor)."""
        return super().train(False)

    def forward(self, image: torch.Tensor) -> dict:
        x = (image - self.mean) / self.std
        out = {}
        for index, module in enumerate(self.features):
            x = module(x)
            if index in self._wanted:
                out[self._wanted[index]] = x
        return out
