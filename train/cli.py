"""`train-eopose`: staged EOPose training on eopose shards, single process or under torchrun.

    train-eopose --data out/vases --config tiny --stage all --out runs/tiny
    torchrun --nproc_per_node 2 -m eopose.train.cli --data out/vases --config tiny --out runs/ddp
    train-eopose --data out/vases --config tiny --out runs/tiny --resume     # after an interruption
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from eopose.dataset import command_line
from eopose.dataset.shard_format import DatasetFormatError
from eopose.dataset.weights import WeightsUnavailable

from .config import ConfigError, load_config
from .distributed import joined_world
from .loop import NonFiniteLoss, TrainingError
from .trainer import GeneratorCollapse, Trainer


def parse_args(argv=None) -> argparse.Namespace:
    parser = command_line.ArgumentParser(prog="train-eopose", description=__doc__)
    parser.add_argument("--data", action="append", required=True, type=command_line.dataset_folder,
                        help="dataset folder with keypoints (repeatable)")
    parser.add_argument("--config", default="demo",
                        help="packaged config (paper: the paper's GPU setting, demo: ~7 CPU minutes at 64 px, "
                             "tiny: smoke tests) or a TOML path")
    parser.add_argument("--stage", default="all", choices=("warp", "gen", "e2e", "all"),
                        help="train one stage (warp, gen, e2e) or all in order")
    parser.add_argument("--out", type=command_line.folder,
                        help="run folder: checkpoints, metrics, samples, TensorBoard (default: runs/<data>-<config>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--seed", type=command_line.integer(0),
                        help="override the config's run.seed (initial weights, data order, flips)")
    parser.add_argument("--vgg-weights", type=command_line.existing_file,
                        help="local torchvision VGG19 state dict (vgg19-dcbb9e9d.pth) for the perceptual and style "
                             "terms")
    command_line.add_device_argument(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config)
        if args.seed is not None:
            config = dataclasses.replace(config, run=dataclasses.replace(config.run, seed=args.seed))
        out = args.out
        if out is None:
            out = Path("runs") / f"{Path(args.data[0]).name}-{config.name}"
            print(f"train-eopose: note: no --out given; training into {out}", file=sys.stderr)
        with joined_world(command_line.resolve_device(args.device)) as world:
            Trainer(config, args.data, out, world, stage=args.stage, resume=args.resume,
                    vgg_weights=args.vgg_weights).run()
        return 0
    except (ConfigError, DatasetFormatError, TrainingError, WeightsUnavailable, command_line.UsageError,
            FileNotFoundError, ValueError) as error:
        command_line.fail("train-eopose", error)
        return 3 if isinstance(error, (NonFiniteLoss, GeneratorCollapse)) else 2


if __name__ == "__main__":
    sys.exit(main())
