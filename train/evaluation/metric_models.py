"""Learned metrics with their weights: LPIPS (AlexNet) and FID (Inception-v3), each available or not, with a reason.

Weights are resolved by eopose.dataset.weights (entries `lpips-alexnet` and `fid-inception`): a local file
when one is given, else torch.hub's cache, else a download from the real source when there is a network.
Offline with none of them, the metric is *unavailable*: the report shows "unavailable: <reason>" (the
resolver's one-line fix) and never a number.

- LPIPS: Zhang, Isola, Efros, Shechtman & Wang, "The Unreasonable Effectiveness of Deep Features as a
  Perceptual Metric", CVPR 2018; the `lpips` package, v0.1, AlexNet trunk (the paper's default). Its
  linear calibration layers ship with the package; the trunk is torchvision's ImageNet AlexNet
  (`alexnet-owt-7be5be79.pth`), which `--lpips-weights` can point to.
- FID: Heusel, Ramsauer, Unterthiner, Nessler & Hochreiter, "GANs Trained by a Two Time-Scale Update Rule
  Converge to a Local Nash Equilibrium", NeurIPS 2017; torch-fidelity's port of the TF Inception-v3
  (pool3, 2048-d; TF1-compatible bilinear resize to 299 without antialiasing), weights
  `weights-inception-2015-12-05-6726825d.pth`, which `--fid-weights` can point to.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from eopose.dataset.weights import WeightsUnavailable, resolve, unloadable

LPIPS_SLICES = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}  # torchvision alexnet.features index -> lpips `slice{n}`


@dataclass
class Status:
    """Whether a metric can be computed; `reason` says why not."""

    available: bool
    reason: str = ""

    def __str__(self) -> str:
        return "ok" if self.available else f"unavailable: {self.reason}"


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


class LPIPSMetric:
    """LPIPS distance per image pair ([B, 3, H, W] in [0, 1]) -> [B]."""

    def __init__(self, device, weights=None):
        import lpips

        weights = resolve("lpips-alexnet", weights, download=True)
        trunk = torch.load(weights, map_location="cpu", weights_only=True)
        # pnet_rand: build the AlexNet without torchvision downloading anything; the trunk is loaded below
        with warnings.catch_warnings():  # lpips still passes torchvision's deprecated `pretrained=False`
            warnings.simplefilter("ignore", UserWarning)
            self.model = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)
        mapped = {f"net.slice{LPIPS_SLICES[int(key.split('.')[1])]}.{key.split('.', 1)[1]}": value
                  for key, value in trunk.items() if key.startswith("features.")}
        missing = [key for key in self.model.net.state_dict() if f"net.{key}" not in mapped]
        if missing:
            raise ValueError(f"{weights}: not a torchvision AlexNet state dict (missing {missing[:3]})")
        self.model.load_state_dict(mapped, strict=False)
        self.model.to(device).eval()

    @torch.no_grad()
    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.model(output.float(), target.float(), normalize=True).flatten().double().cpu()


class InceptionFeatures:
    """2048-d Inception-v3 pool features of images [B, 3, H, W] in [0, 1] (quantised to uint8 like saved PNGs)."""

    def __init__(self, device, weights=None):
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        path = resolve("fid-inception", weights, download=True)
        self.model = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                                 feature_extractor_weights_path=str(path), verbose=False).to(device)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        pixels = (images.clamp(0, 1) * 255).round().to(torch.uint8)
        return self.model(pixels)[0].double().cpu()


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two feature sets [N, D] (Heusel et al. 2017, eq. 6), torch-fidelity's implementation."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    stats = [fid_features_to_statistics(torch.from_numpy(np.asarray(f, dtype=np.float64)))
             for f in (features_a, features_b)]
    # >= 0 mathematically; the eigenvalue route can return -1e-12 for identical sets
    return max(0.0, float(fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]))


def load_metric(kind: str, device, weights=None):
    """(LPIPSMetric | InceptionFeatures | None, Status) for kind 'lpips' or 'fid'; never raises for missing weights."""
    builder, name = {"lpips": (LPIPSMetric, "lpips-alexnet"), "fid": (InceptionFeatures, "fid-inception")}[kind]
    try:
        return builder(device, weights), Status(True)
    except WeightsUnavailable as error:  # no file, no cache, no network: the resolver's one-line fix
        return None, Status(False, str(error))
    except ImportError as error:
        package = "lpips" if kind == "lpips" else "torch-fidelity"
        return None, Status(False, f"{package} not installed ({_one_line(error)}); pip install {package}")
    except Exception as error:  # a file that does not hold the weights: say which, never fall back to a number
        return None, Status(False, str(unloadable(name, weights, error)))
