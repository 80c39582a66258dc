"""`train-eopose`: staged EOPose training on eopose shards, single process or under torchrun.

    train-eopose --data out/vases --config tiny --stage all --out runs/tiny
    torchrun --nproc_per_node 2 -m eopose.train.cli --data out/vases --config tiny --out runs/ddp
    train-eopose --data out/vases --config tiny --out runs/tiny --resume     # after an interruption
"""
from __future__ import annotations

import argparse
import sys

from eopose.dataset.shard_format import DatasetFormatError
from eopose.model.vgg_features import VGGWeightsUnavailable

from .config import ConfigError, load_config
from .distributed import close_world, init_world
from .trainer import NonFiniteLoss, Trainer, TrainingError


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="train-eopose", description=__doc__.split("\n")[0])
    parser.add_argument("--data", action="append", required=True, help="dataset folder (repeatable)")
    parser.add_argument("--config", default="tiny", help="packaged config (paper, tiny, demo) or a TOML path")
    parser.add_argument("--stage", default="all", choices=("warp", "gen", "e2e", "all"))
    parser.add_argument("--out", required=True, help="run folder: checkpoints, metrics, samples, TensorBoard")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--vgg-weights", help="local torchvision VGG19 state dict (vgg19-dcbb9e9d.pth)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    world = None
    try:
        config = load_config(args.config)
        world = init_world(args.device)
        trainer = Trainer(config, args.data, args.out, world, stage=args.stage, resume=args.resume,
                          vgg_weights=args.vgg_weights)
        trainer.run()
        return 0
    except (ConfigError, DatasetFormatError, TrainingError, VGGWeightsUnavailable, FileNotFoundError,
            ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 3 if isinstance(error, NonFiniteLoss) else 2
    finally:
        if world is not None:
            close_world(world)


if __name__ == "__main__":
    sys.exit(main())
