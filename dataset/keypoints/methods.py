"""The keypoint-method factory: every correspondence method by name, whether it runs on plain images, and one
`build_method` used by build-keypoint-cache, eval-correspondences and repose (library code, no CLI).

Methods: `dino` / `dinov2` (Amir et al. on ViT features, vit_method.py; weights through eopose.dataset.weights),
`nocs` (rendered NOCS, nocs_matching.py; shards only) and `nocs-net` (NOCS predicted by a train-nocs network,
nocs_net_method.py; any image).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..shard_format import sha256_of
from ..weights import resolve
from .backbones import DEFAULT_PRESET, PRESETS, load_vit
from .nocs_matching import NocsCorrespondences
from .nocs_net import load_nocs_net
from .nocs_net_method import NocsNetCorrespondences
from .vit_method import VitCorrespondences

K_DEFAULT = 35  # EOPose paper 3.1: "we set k = 35 points"


@dataclass(frozen=True)
class MethodInfo:
    name: str
    on_images: bool  # runs on plain RGB(A) images, without rendered geometry (what repose needs)
    help: str
    image_method: str = ""  # the method that runs on images in its place (empty: itself when on_images)

    @property
    def for_images(self) -> str:
        return self.image_method or self.name


METHODS = {info.name: info for info in (
    MethodInfo("dino", True, "Amir et al. on DINO ViT features (needs --weights or a cached download)"),
    MethodInfo("dinov2", True, "Amir et al. on DINOv2 ViT features (needs --weights or a cached download)"),
    MethodInfo("nocs", False, "from the rendered NOCS pass (no weights; needs rendered geometry)", "nocs-net"),
    MethodInfo("nocs-net", True, "NOCS matching on NOCS predicted by train-nocs (--weights RUN/checkpoints/final.pt)"),
)}
IMAGE_METHODS = tuple(name for name, info in METHODS.items() if info.on_images)


def build_method(name: str, weights=None, preset: str | None = None, device: str = "cpu", k: int = K_DEFAULT,
                 seed: int = 0, load_size: int | None = None, batch_size: int = 4):
    """The correspondence method `name` (see cache.py for the interface) on torch `device` (a `--device` choice
    goes through eopose.dataset.command_line.resolve_device first); raises WeightsUnavailable (missing or wrong
    weights, naming --weights) or ValueError (a setting that does not fit the method)."""
    if name not in METHODS:
        raise ValueError(f"--method {name}: unknown; choose one of {', '.join(METHODS)}")
    if name == "nocs":
        return NocsCorrespondences(k=k, seed=seed)
    if name == "nocs-net":
        net, path = load_nocs_net(weights, device)
        return NocsNetCorrespondences(net, k=k, seed=seed, device=device, weights_sha256=sha256_of(path))
    vit = PRESETS[preset or DEFAULT_PRESET[name]]
    if vit.method != name:
        raise ValueError(f"--preset {preset} belongs to --method {vit.method}, not {name}")
    if load_size:
        vit = replace(vit, load_size=load_size)
    path = resolve(vit.model, weights)
    return VitCorrespondences(vit, load_vit(vit.model, weights=path), k=k, seed=seed, device=device,
                              batch_size=batch_size, weights_sha256=sha256_of(path))
