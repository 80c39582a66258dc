"""Building an EOPose network (and the discriminator that trains its generator) from its configuration and loading
a trained one: the single way training, evaluation and `repose` obtain a model.

A train-eopose checkpoint is a `torch.save` dict of plain types and tensors (loadable with
`weights_only=True`) holding at least ``model`` (the state dict) and ``config`` (the run's configuration as a
dict whose ``model`` section is a :class:`ModelConfig` and whose ``data.background`` is the RGB colour images
were composited on).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from .discriminator import DiscriminatorConfig, PatchDiscriminator
from .eopose import EOPose


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line naming the file and the fix."""


@dataclass
class ModelConfig:
    """The architecture hyper-parameters of EOPose (the [model] table of a training config)."""

    num_points: int = 35  # k = 35 (paper, 3.1)
    warp_channels: int = 64
    warp_depth: int = 6  # 6 down + 6 up = the paper's 12-layer Skip-UNet (3.2)
    num_flows: int = 4
    gen_channels: int = 64
    gen_scales: int = 4
    tps_lambda: float = 1e-2  # regularisation of the TPS prior flow (normalised coordinates, model/tps.py); ours
    warp: str = "flow2d"  # "flow2d": the paper's warping module; "volume3d": eopose.model.volume_warp
    volume_channels: int = 8  # volume3d: feature channels per voxel
    volume_size: int = 32  # volume3d: voxels across the image (h = w)
    depth_bins: int = 32  # volume3d: voxels along the camera rays
    gen_silhouette_gate: bool = False  # the generator redraws only inside the warp's silhouette (model/generator.py)


def warp_fill(background) -> float:
    """The value the warp module writes where it samples outside the appearance image: the grey level of the
    RGB background the training images were composited on."""
    return float(sum(background) / len(background))


def build_model(model: ModelConfig, background) -> EOPose:
    """A freshly initialised EOPose (uses torch's global RNG) for images composited on `background`."""
    return EOPose(**dataclasses.asdict(model), background=warp_fill(background))


def build_discriminator(model: ModelConfig, discriminator: DiscriminatorConfig) -> PatchDiscriminator:
    """A freshly initialised pose-conditioned discriminator (uses torch's global RNG) for the EOPose of `model`."""
    return PatchDiscriminator(model.num_points, **dataclasses.asdict(discriminator))


def read_checkpoint(path, map_location="cpu") -> dict:
    """A checkpoint dict written by train-eopose (plain types and tensors only)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint; train first with train-eopose or check --out/--checkpoint")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # a damaged file: name it, never guess
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(error).__name__}: "
                              f"{str(error).splitlines()[0]}); resume from an earlier run folder or retrain") from None


def load_trained(path, device="cpu") -> tuple[EOPose, dict]:
    """(the trained EOPose of a train-eopose checkpoint in eval mode on `device`, the run's config dict)."""
    state = read_checkpoint(path)
    config = state.get("config")
    if "model" not in state or not isinstance(config, dict) or "model" not in config:
        raise CheckpointError(f"{path}: not a train-eopose checkpoint (needs 'model' and 'config'); "
                              f"pass a run's checkpoints/final.pt")
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(config["model"]) - known)
    if unknown:
        raise CheckpointError(f"{path}: model settings {unknown} unknown to this eopose version; "
                              f"evaluate it with the eopose version that trained it")
    model = build_model(ModelConfig(**config["model"]), config["data"]["background"])
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise CheckpointError(f"{path}: weights do not fit the stored architecture "
                              f"({str(error).splitlines()[0]}); retrain with this eopose version") from None
    return model.to(device).eval(), config
