"""train-nocs configuration: TOML files holding every hyper-parameter, validated into dataclasses the same way
as train-eopose's (eopose.train.config: unknown keys and wrong types are errors naming the file).

`load_nocs_config("demo")` reads the packaged `train/nocs/configs/demo.toml`; any other value is a path.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from eopose.dataset.keypoints.nocs_net import NocsNetConfig

from ..config import ConfigError, RunConfig, read_config_file

CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass
class NocsDataConfig:
    num_workers: int = 0  # HDF5 reads of 64 px views are cheap next to the step; workers compete for 2 cores
    split_fractions: tuple = (0.8, 0.1, 0.1)  # eopose.dataset.splits: only the train split is ever read


@dataclass
class AugmentConfig:
    """Inputs the renders never show (train/nocs/augment.py): other backgrounds, object sizes and positions,
    cameras and image processing."""

    geometric: float = 0.7  # fraction of views rescaled, shifted and rolled
    scale: tuple = (0.5, 1.1)  # object scale range (1 = as rendered)
    small: float = 0.0  # fraction of those views drawn from small_scale instead: a small object anywhere in the
    small_scale: tuple = (0.3, 0.75)  # frame, as a network with `crop` sees a photo on its first, whole-picture pass
    shift: float = 0.8  # shift range as a fraction of the margin |1 - scale| on each side
    roll: float = 15.0  # in-plane turn range, degrees either way
    white: float = 0.2  # background fractions: white, one colour, a gradient; the rest textured
    plain: float = 0.2
    gradient: float = 0.15
    white_balance: float = 0.15  # per-channel gains in [1 - x, 1 + x]
    brightness: float = 0.25  # colour jitter: factors in [1 - x, 1 + x]
    contrast: float = 0.25
    saturation: float = 0.4
    gamma: float = 1.4  # gamma in [1 / x, x] (log-uniform)
    blur: float = 0.3  # fraction of views blurred, Gaussian sigma up to blur_sigma pixels
    blur_sigma: float = 1.2
    noise: float = 0.4  # fraction of views with Gaussian noise, sigma up to noise_sigma
    noise_sigma: float = 0.05
    jpeg: float = 0.3  # fraction of views through a JPEG round trip at a quality in jpeg_quality
    jpeg_quality: tuple = (30, 90)


@dataclass
class LossConfig:
    """train/nocs/loss.py."""

    symmetry_steps: int = 12  # angles a continuous symmetry (vases) is sampled at; groups: dataset/categories.py
    exact: float = 1.0  # weight of the exact (unrotated) term, which lets texture break the symmetry's tie
    mask: float = 1.0  # weight of the foreground BCE
    height: float = 0.0  # weight of an extra L1 term on the NOCS height (z), which the fitted up axis rests on
    confidence: float = 0.5  # weight of the confidence head's BCE (target: the pixel's NOCS error < CONFIDENT_ERROR)


@dataclass
class NocsOptimConfig:
    lr: float = 3e-3
    batch_size: int = 32  # views per step (all ranks), a multiple of 4 (a quadruplet's views)
    steps: int = 1000
    final_lr_fraction: float = 0.05  # cosine decay to this fraction of lr at the last step
    bf16: bool = False  # the network's forward in bfloat16 autocast (channels_last on the CPU): 1.6-1.9x a step here


@dataclass
class NocsRunConfig(RunConfig):
    checkpoint_every: int = 200
    log_every: int = 20
    image_every: int = 200


@dataclass
class NocsTrainConfig:
    name: str = "custom"
    net: NocsNetConfig = field(default_factory=NocsNetConfig)  # the [net] table: the architecture
    data: NocsDataConfig = field(default_factory=NocsDataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: NocsOptimConfig = field(default_factory=NocsOptimConfig)
    run: NocsRunConfig = field(default_factory=NocsRunConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_nocs_config(name_or_path: str) -> NocsTrainConfig:
    """A packaged config by name or a TOML file path."""
    config, path = read_config_file(name_or_path, CONFIG_DIR, NocsTrainConfig)
    factor = config.net.stem_stride * 2 ** (len(config.net.channels) - 1)
    if config.net.resolution % factor or config.optim.batch_size % 4:
        raise ConfigError(f"{path}: net.resolution must be a multiple of net.stem_stride * 2**(len(net.channels) - 1)"
                          f" = {factor} and optim.batch_size a multiple of 4")
    return config
