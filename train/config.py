"""Training configuration: TOML files holding every hyper-parameter, validated into dataclasses.

`load_config("tiny")` reads the packaged `train/configs/tiny.toml`; any other value is a path. Unknown
sections or keys are errors naming the file, so a typo never silently falls back to a default.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from eopose.dataset.pairs import PairSampleDataset
from eopose.model.discriminator import DiscriminatorConfig
from eopose.model.loading import ModelConfig
from eopose.model.losses import GeneratorLossWeights, WarpLossWeights

CONFIG_DIR = Path(__file__).parent / "configs"


class ConfigError(ValueError):
    """A config file that cannot be used; the message is one line naming the file."""


@dataclass
class EOPoseDataConfig:
    resolution: int = 256
    keypoint_method: str = "nocs"
    background: tuple = (1.0, 1.0, 1.0)
    num_workers: int = 2
    with_flow: bool = True  # the ground-truth flow loss needs it (beyond the paper)
    split_fractions: tuple = (0.8, 0.1, 0.1)
    flip_probability: float = 0.5  # horizontal flips of whole samples (eopose.train.augment)
    rotation_noise_deg: float = 0.0  # volume3d: random rotations up to this angle on the relative rotation; ours


@dataclass
class WarpLossConfig(WarpLossWeights):
    tps_warmup_steps: int = 2000  # "initial" TPS loss (paper 3.2): switched off after this many warp steps; ours


@dataclass
class GenLossConfig(GeneratorLossWeights):
    adv_warmup_steps: int = 0  # adversarial weight 0, then ramped to `adv` (eopose.train.stages); ours


@dataclass
class EOPoseOptimConfig:
    lr: float = 1e-4  # paper, section 4 (Adam, 1e-4 for both modules)
    betas: tuple = (0.9, 0.999)  # Adam defaults; the paper does not say
    batch_size_warp: int = 32  # paper, section 4
    batch_size_gen: int = 8  # paper, section 4
    warp_steps: int = 20000
    gen_steps: int = 20000
    e2e_steps: int = 10000
    e2e_alpha_warp: float = 1.0  # alpha1 of eq. 7; no published value
    e2e_alpha_gen: float = 1.0  # alpha2 of eq. 7; no published value
    warmup_steps: int = 0  # linear learning-rate warm-up at the start of every stage (eopose.train.stages); ours


@dataclass
class RunConfig:
    """The [run] settings the training loop of both trainers reads (eopose.train.loop)."""

    seed: int = 0
    checkpoint_every: int = 500
    log_every: int = 10
    image_every: int = 500


@dataclass
class EOPoseRunConfig(RunConfig):
    collapse_patience: int = 50  # steps of mostly blank generator outputs before the run stops (train/collapse.py)
    threads: int = 0  # torch CPU threads (0: torch's default); fixed for run-to-run reproducible numbers


@dataclass
class TrainConfig:
    name: str = "custom"
    data: EOPoseDataConfig = field(default_factory=EOPoseDataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    warp_loss: WarpLossConfig = field(default_factory=WarpLossConfig)
    gen_loss: GenLossConfig = field(default_factory=GenLossConfig)
    optim: EOPoseOptimConfig = field(default_factory=EOPoseOptimConfig)
    run: EOPoseRunConfig = field(default_factory=EOPoseRunConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def uses_flow(self) -> bool:
        """The loader reads the ground-truth flow: data.with_flow is on and warp_loss.flow_gt weighs it."""
        return self.data.with_flow and self.warp_loss.flow_gt > 0

    def inert_settings(self) -> str | None:
        """A note naming the settings that do nothing in this config because the flow is not read, or None."""
        if self.uses_flow:
            return None
        reason = "warp_loss.flow_gt = 0" if self.data.with_flow else "data.with_flow = false"
        inert = ["data.with_flow" if self.data.with_flow else "warp_loss.flow_gt"]
        if self.warp_loss.visibility:
            inert.append("warp_loss.visibility")
        return (f"{reason}: no ground-truth flow is read, so {' and '.join(inert)} have no effect and the warp's "
                f"photometric L1 counts every target pixel, visible in Ia or not")

    @property
    def uses_vgg(self) -> bool:
        return any((self.warp_loss.perceptual, self.warp_loss.style, self.gen_loss.perceptual, self.gen_loss.style))


def pair_samples(config: "TrainConfig", data_dirs, split: str | None, with_flow: bool,
                 uint8: bool = False) -> PairSampleDataset:
    """The (appearance, pose -> target) samples of `split` (None: every sample) of `data_dirs` as a run of `config`
    sees them: its resolution, background, keypoint method and split fractions, and the rendered rotations and
    depths its volume3d warp needs."""
    data = config.data
    return PairSampleDataset(data_dirs, split=split, resolution=data.resolution, background=data.background,
                             keypoint_method=data.keypoint_method, with_flow=with_flow,
                             split_fractions=data.split_fractions, uint8=uint8,
                             with_rotation=config.model.warp == "volume3d")


def build_config(cls, values: dict, where: str, source: Path):
    """An instance of dataclass `cls` from a TOML table; unknown keys and wrong types are one-line errors."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown} in [{where}]; known: {sorted(known)}")
    kwargs = {}
    for name, value in values.items():
        default = known[name].default if known[name].default is not dataclasses.MISSING \
            else known[name].default_factory()
        if dataclasses.is_dataclass(default):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: [{name}] must be a table")
            kwargs[name] = build_config(type(default), value, name, source)
        elif isinstance(default, tuple):
            kwargs[name] = tuple(value)
        elif isinstance(default, bool) or not isinstance(default, (int, float)) or isinstance(value, bool):
            if type(value) is not type(default):
                raise ConfigError(f"{source}: {where}.{name} must be {type(default).__name__}, got {value!r}")
            kwargs[name] = value
        else:
            if not isinstance(value, (int, float)) or (isinstance(default, int) and not isinstance(value, int)):
                raise ConfigError(f"{source}: {where}.{name} must be {type(default).__name__}, got {value!r}")
            kwargs[name] = type(default)(value)
    return cls(**kwargs)


def read_config_file(name_or_path: str, config_dir: Path, cls):
    """(config of dataclass `cls`, path) from a packaged config name in `config_dir` or a TOML file path; errors
    are one-line ConfigErrors naming the file."""
    path = config_dir / f"{name_or_path}.toml"
    if not path.is_file():
        path = Path(name_or_path)
    if not path.is_file():
        packaged = sorted(p.stem for p in config_dir.glob("*.toml"))
        raise ConfigError(f"{name_or_path}: no such config file; use one of {packaged} or a path to a TOML file")
    try:
        values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML ({error})") from None
    return build_config(cls, values, "top level", path), path


def load_config(name_or_path: str) -> TrainConfig:
    """A packaged config by name (`paper`, `tiny`, `demo`) or a TOML file path."""
    config, path = read_config_file(name_or_path, CONFIG_DIR, TrainConfig)
    if config.data.resolution % (2 ** max(config.model.warp_depth, config.model.gen_scales)):
        raise ConfigError(f"{path}: data.resolution {config.data.resolution} must be a multiple of "
                          f"2**max(model.warp_depth, model.gen_scales)")
    return config


def config_from_dict(values: dict, source) -> TrainConfig:
    """The TrainConfig of a `TrainConfig.to_dict()` (a checkpoint's "config"); errors name `source`."""
    return build_config(TrainConfig, dict(values), "top level", Path(source))
