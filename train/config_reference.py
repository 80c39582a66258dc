"""docs/config.md, generated from the configuration dataclasses: every key of a train-eopose config
(eopose.train.config.TrainConfig) and of a train-nocs config (eopose.train.nocs.config.NocsTrainConfig), with its
default, the value each packaged config gives it and its meaning, so the reference cannot drift from the code
(tests/test_config_doc.py checks that the file is current).

    .venv/bin/python -m eopose.train.config_reference > docs/config.md

A key's meaning is the comment beside its field in the source (the nearest class of its MRO that has one); keys
whose field carries no comment take theirs from `MEANINGS` below, keyed by the class that defines the field.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import json
import sys
import textwrap
import tokenize
from functools import cache
from pathlib import Path

from .config import CONFIG_DIR, TrainConfig, load_config
from .nocs.config import CONFIG_DIR as NOCS_CONFIG_DIR
from .nocs.config import NocsTrainConfig, load_nocs_config

# Meanings of the fields that have no comment in the source, by defining class and field.
MEANINGS = {
    "TrainConfig.name": "label of the config, recorded in every checkpoint",
    "NocsTrainConfig.name": "label of the config, recorded in every checkpoint",
    "EOPoseDataConfig.resolution": "square image side in pixels the samples are resized to; a multiple of "
                                   "2**max(model.warp_depth, model.gen_scales)",
    "EOPoseDataConfig.keypoint_method": "which keypoint set of the shards to read (`dino`, `dinov2`, `nocs`, "
                                        "`nocs-net`: written by build-keypoint-cache)",
    "EOPoseDataConfig.background": "RGB in [0, 1] the RGBA views are composited on; the warp writes its grey level "
                                   "where it samples outside Ia",
    "EOPoseDataConfig.num_workers": "DataLoader worker processes per rank",
    "EOPoseDataConfig.split_fractions": "train/val/test fractions of the models (splits by model id, "
                                        "eopose.dataset.splits)",
    "ModelConfig.warp_channels": "width of the warp's Skip-UNet first level (volume3d: of its lift encoder and 2-D "
                                 "refinement UNet)",
    "ModelConfig.num_flows": "flow2d: K flow levels, each twice the size of the previous, the last at H x W (3.2)",
    "ModelConfig.gen_channels": "generator width at full resolution (doubling per scale, at most 8x)",
    "ModelConfig.gen_scales": "generator scales: the pose encoder goes down to H / 2**gen_scales",
    "DiscriminatorConfig.base_channels": "width of the PatchGAN's first layer",
    "WarpLossWeights.perceptual": "VGG perceptual loss on Iwrp (needs VGG19 weights)",
    "WarpLossWeights.style": "Gram style loss on Iwrp (needs VGG19 weights)",
    "WarpLossWeights.tps": "the initial TPS loss: L1 between each flow and the TPS prior (3.2)",
    "WarpLossWeights.flow_gt": "L1 to the rendered ground-truth flow on target pixels visible in Ia (ours; 0 "
                               "turns the flow off, and with it data.with_flow and visibility)",
    "GeneratorLossWeights.l1": "full-image L1 of the generator's output (eq. 6)",
    "GeneratorLossWeights.perceptual": "VGG perceptual loss (eq. 6; needs VGG19 weights)",
    "GeneratorLossWeights.style": "Gram style loss (eq. 6; needs VGG19 weights)",
    "GeneratorLossWeights.adv": "LSGAN adversarial loss against the pose-conditioned discriminator (eq. 6)",
    "EOPoseOptimConfig.warp_steps": "steps of stage 1 (warp module alone)",
    "EOPoseOptimConfig.gen_steps": "steps of stage 2 (generator, warp frozen)",
    "EOPoseOptimConfig.e2e_steps": "steps of stage 3 (end-to-end, eq. 7); 0 skips it",
    "RunConfig.seed": "initial weights, data order and augmentation (train-eopose --seed overrides it)",
    "RunConfig.checkpoint_every": "steps between `checkpoints/last.pt` writes",
    "RunConfig.log_every": "steps between `metrics.jsonl` / TensorBoard records",
    "RunConfig.image_every": "steps between sample images in `samples/`",
    "AugmentConfig.plain": "fraction of views on one random colour",
    "AugmentConfig.gradient": "fraction of views on a random linear gradient",
    "AugmentConfig.contrast": "colour jitter: contrast factors in [1 - x, 1 + x]",
    "AugmentConfig.saturation": "colour jitter: saturation factors in [1 - x, 1 + x]",
    "AugmentConfig.blur_sigma": "largest Gaussian blur sigma, pixels",
    "AugmentConfig.noise_sigma": "largest Gaussian noise sigma (images in [0, 1])",
    "AugmentConfig.jpeg_quality": "JPEG quality range of the round trip",
    "NocsOptimConfig.lr": "Adam learning rate at step 0",
    "NocsOptimConfig.steps": "training steps",
}

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the folder holding train/ (the repository in a checkout)
COMMANDS = (
    ("train-eopose", TrainConfig, load_config, CONFIG_DIR, "eopose.train.config"),
    ("train-nocs", NocsTrainConfig, load_nocs_config, NOCS_CONFIG_DIR, "eopose.train.nocs.config"),
)


@cache
def source_comments(cls) -> tuple[dict, str | None]:
    """({field name: the comment on its line}, the class's own docstring) from the source of `cls`."""
    source = inspect.getsource(cls)
    comments, first_name = {}, {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        line = token.start[0]
        if token.type == tokenize.NAME and line not in first_name:
            first_name[line] = token.string
        elif token.type == tokenize.COMMENT and line in first_name:
            comments[first_name[line]] = token.string.lstrip("#").strip()
    node = ast.parse(textwrap.dedent(source)).body[0]
    return comments, ast.get_docstring(node)


def _own_classes(cls) -> list:
    return [base for base in cls.__mro__ if dataclasses.is_dataclass(base)]


def comment(cls, name: str) -> str:
    """The comment beside field `name` in the nearest class of `cls`'s MRO that declares it with one, or ""."""
    for base in _own_classes(cls):
        text = source_comments(base)[0].get(name)
        if text and name in base.__dict__.get("__annotations__", {}):
            return text
    return ""


def fallback_key(cls, name: str) -> str | None:
    """The MEANINGS key of field `name` of `cls` (defining class along the MRO), or None."""
    for base in _own_classes(cls):
        key = f"{base.__name__}.{name}"
        if name in base.__dict__.get("__annotations__", {}) and key in MEANINGS:
            return key
    return None


def meaning(cls, name: str) -> str:
    """What key `name` of section dataclass `cls` means: its source comment, else its MEANINGS entry, else ""."""
    return comment(cls, name) or MEANINGS.get(fallback_key(cls, name), "")


def section_doc(cls) -> str | None:
    """The first docstring along `cls`'s MRO (dataclasses write a signature into __doc__, so read the source)."""
    for base in _own_classes(cls):
        doc = source_comments(base)[1]
        if doc:
            return " ".join(doc.split())
    return None


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _default(spec: dataclasses.Field):
    return spec.default if spec.default is not dataclasses.MISSING else spec.default_factory()


def _sections(cls) -> list:
    """[(section name or None for the top level, its dataclass)] in field order."""
    top = [spec for spec in dataclasses.fields(cls) if not dataclasses.is_dataclass(_default(spec))]
    nested = [(spec.name, type(_default(spec))) for spec in dataclasses.fields(cls)
              if dataclasses.is_dataclass(_default(spec))]
    return ([(None, cls)] if top else []) + nested


def command_reference(command: str, cls, load, config_dir, module: str) -> list[str]:
    names = sorted(path.stem for path in config_dir.glob("*.toml"))
    configs = {name: load(name).to_dict() for name in names}
    lines = [f"## `{command}` ({module}.{cls.__name__})", "",
             f"Packaged configs ({config_dir.relative_to(PACKAGE_ROOT)}/): {', '.join(f'`{name}`' for name in names)}. "
             "A config's column is empty where it keeps the default.", ""]
    for section, section_cls in _sections(cls):
        title = f"`[{section}]`" if section else "top level"
        declared = [f"{base.__module__}.{base.__name__}" for base in _own_classes(section_cls)
                    if base.__dict__.get("__annotations__")]
        lines += [f"### {title} ({' extending '.join(declared)})", ""]
        doc = section_doc(section_cls) if section else None
        if doc:
            lines += [doc, ""]
        lines += ["| key | default | " + " | ".join(f"`{name}`" for name in names) + " | meaning |",
                  "|---|---|" + "---|" * len(names) + "---|"]
        for spec in dataclasses.fields(section_cls):
            default = _default(spec)
            if dataclasses.is_dataclass(default):
                continue
            cells = []
            for name in names:
                value = configs[name][section][spec.name] if section else configs[name][spec.name]
                value = tuple(value) if isinstance(value, list) else value
                cells.append("" if value == default else f"`{toml_value(value)}`")
            text = meaning(section_cls, spec.name).replace("|", "\\|")
            lines.append(f"| `{spec.name}` | `{toml_value(default)}` | " + " | ".join(cells) + f" | {text} |")
        lines.append("")
    return lines


def reference() -> str:
    """The text of docs/config.md."""
    lines = ["# Configuration reference", "",
             "<!-- Generated by `.venv/bin/python -m eopose.train.config_reference > docs/config.md`; do not edit "
             "by hand (tests/test_config_doc.py checks it is current). -->", "",
             "A config is a TOML file of `[section]` tables; `--config NAME` takes a packaged config by name, any "
             "other value is a path. A key left out keeps its default; an unknown section or key, or a value of "
             "the wrong type, is a one-line error naming the file. Meanings cite the EOPose paper's sections and "
             "equations where the setting is the paper's, and say \"ours\" where it is not.", ""]
    for command in COMMANDS:
        lines += command_reference(*command)
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    sys.stdout.write(reference())


if __name__ == "__main__":
    main()
