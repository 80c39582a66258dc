"""Every pretrained or trained weight file the project can use, where each may come from, and one resolver.

After timm's pretrained_cfg idea (one table of weight sources): `WEIGHTS` names each weight set, the flag that
passes a local file, and its sources. `resolve(name, path)` returns a local file, trying in order
1. `path` (the user's flag), which must exist;
2. the caches: the torch-hub checkpoint folder (`torch.hub.get_dir()/checkpoints`, where torchvision and
   `torch.hub.load_state_dict_from_url` keep downloads) under the source's file name, and, for timm models,
   the Hugging Face hub cache (`model.safetensors` / `pytorch_model.bin` of the model's hub id);
3. with `download=True` only, the source URL into the torch-hub checkpoint folder.
Anything else raises `WeightsUnavailable`, the one offline error: a one-line message naming the flag and the
cache folder that fix it. Weights trained here (`nocs-net`, `eopose`) are local files only.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# ImageNet statistics the torchvision VGG19 weights and the DINO / DINOv2 ViTs were trained with (torchvision's
# VGG19_Weights.IMAGENET1K_V1 transforms; timm pretrained_cfg mean/std of the .dino and .lvd142m models).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

HF_FILENAMES = ("model.safetensors", "pytorch_model.bin")  # what timm's hub loader looks for


class WeightsUnavailable(RuntimeError):
    """Weights are neither given, nor cached, nor (where allowed) downloadable; the message says the fix."""


@dataclass(frozen=True)
class WeightSource:
    """One weight set: what it is, the flag that passes a local file, and where else it may come from."""

    name: str
    what: str  # human description, with the expected file format
    flag: str  # command-line flag taking a local file
    url: str = ""  # download source; its basename is the torch-hub cache file name
    timm_model: str = ""  # timm model name whose Hugging Face hub cache also holds the weights
    hint: str = ""  # how to make the file when it is trained here (local only)

    @property
    def cache_file(self) -> Path | None:
        return hub_checkpoints() / os.path.basename(self.url) if self.url else None

    def cached(self) -> Path | None:
        """A local file from the caches (step 2 of the module docstring), if any."""
        if self.cache_file is not None and self.cache_file.is_file():
            return self.cache_file
        if self.timm_model:
            from huggingface_hub import try_to_load_from_cache

            for filename in HF_FILENAMES:
                found = try_to_load_from_cache(f"timm/{self.timm_model}", filename)
                if isinstance(found, str):
                    return Path(found)
        return None

    def missing_message(self) -> str:
        if not self.url:
            return f"no {self.what} given: pass {self.flag} PATH ({self.hint})"
        places = f"put {self.cache_file.name} in {self.cache_file.parent}"
        if self.timm_model:
            places += f" or populate the Hugging Face cache (timm/{self.timm_model})"
        return f"no {self.what} here and no download: pass {self.flag} PATH or {places}"


def hub_checkpoints() -> Path:
    """The torch-hub checkpoint folder ($TORCH_HOME/hub/checkpoints)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


_DINO = "https://dl.fbaipublicfiles.com/dino"
WEIGHTS = {source.name: source for source in (
    # ViTs of the keypoint cache (dataset/keypoints/backbones.py PRESETS); URLs as in timm's pretrained_cfg
    WeightSource("vit_small_patch8_224.dino", "DINO ViT-S/8 weights (DINO .pth or timm .safetensors)", "--weights",
                 url=f"{_DINO}/dino_deitsmall8_pretrain/dino_deitsmall8_pretrain.pth",
                 timm_model="vit_small_patch8_224.dino"),
    WeightSource("vit_base_patch8_224.dino", "DINO ViT-B/8 weights (DINO .pth or timm .safetensors)", "--weights",
                 url=f"{_DINO}/dino_vitbase8_pretrain/dino_vitbase8_pretrain.pth",
                 timm_model="vit_base_patch8_224.dino"),
    WeightSource("vit_small_patch14_reg4_dinov2.lvd142m", "DINOv2 ViT-S/14-reg weights (.pth or timm .safetensors)",
                 "--weights", url="https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_reg4_pretrain.pth",
                 timm_model="vit_small_patch14_reg4_dinov2.lvd142m"),
    # perceptual / style losses (model/vgg_features.py): torchvision VGG19_Weights.IMAGENET1K_V1
    WeightSource("vgg19", "VGG19 ImageNet weights (a torchvision vgg19 state dict)", "--vgg-weights",
                 url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"),
    # learned metrics (train/evaluation/metric_models.py): LPIPS AlexNet trunk, torch-fidelity's FID Inception
    WeightSource("lpips-alexnet", "LPIPS AlexNet trunk (a torchvision alexnet state dict)", "--lpips-weights",
                 url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"),
    WeightSource("fid-inception", "FID Inception-v3 weights (torch-fidelity)", "--fid-weights",
                 url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                     "weights-inception-2015-12-05-6726825d.pth"),
    # trained here: local files only
    WeightSource("nocs-net", "nocs-net checkpoint", "--weights", hint="RUN/checkpoints/final.pt of train-nocs"),
    WeightSource("eopose", "EOPose checkpoint", "--checkpoint", hint="RUN/checkpoints/final.pt of train-eopose"),
)}


def resolve(name: str, path=None, download: bool = False) -> Path:
    """A local file of weight set `name` (see the module docstring); raises WeightsUnavailable."""
    source = WEIGHTS[name]
    if path is not None:
        path = Path(path)
        if not path.is_file():
            made = f" ({source.hint})" if source.hint else ""
            raise WeightsUnavailable(f"{source.flag} {path}: file not found; pass the path of the {source.what}{made}")
        return path
    found = source.cached()
    if found is not None:
        return found
    if download and source.url:
        import torch

        source.cache_file.parent.mkdir(parents=True, exist_ok=True)
        try:  # download_url_to_file writes a temp file and renames it when complete
            torch.hub.download_url_to_file(source.url, str(source.cache_file), progress=False)
            return source.cache_file
        except Exception as error:  # offline, blocked, interrupted
            raise WeightsUnavailable(f"{source.missing_message()} ({type(error).__name__})") from None
    raise WeightsUnavailable(source.missing_message())


def unloadable(name: str, path, error: BaseException, fix: str = "") -> WeightsUnavailable:
    """The error for a file that exists but does not hold weight set `name`."""
    source = WEIGHTS[name]
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return WeightsUnavailable(f"{source.flag} {path}: not a {source.what} ({reason}); "
                              f"{fix or f'pass the {source.what}'}")
