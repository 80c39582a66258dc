"""`train-nocs`: train nocs-net (per-pixel canonical object coordinates + foreground from an RGB image) on the
train split of eopose shards, single process or under torchrun.

    train-nocs --data out/vases --config demo --out runs/nocs
    torchrun --nproc_per_node 2 -m eopose.train.nocs.cli --data out/vases --config demo --out runs/nocs-ddp
    train-nocs --data out/vases --config demo --out runs/nocs --resume     # after an interruption

Use the result with `--method nocs-net --weights runs/nocs/checkpoints/final.pt` (build-keypoint-cache,
eval-correspondences, repose).
"""
from __future__ import annotations

import argparse
import sys

from eopose.dataset import command_line
from eopose.dataset.shard_format import DatasetFormatError

from ..config import ConfigError
from ..distributed import joined_world
from .config import load_nocs_config
from .trainer import NocsTrainer, NocsTrainingError


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="train-nocs", description=__doc__.split("\n")[0])
    parser.add_argument("--data", action="append", required=True, help="dataset folder (repeatable)")
    parser.add_argument("--config", default="demo", help="packaged config (demo, tiny) or a TOML path")
    parser.add_argument("--out", required=True, help="run folder: checkpoints, metrics, samples, TensorBoard")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        config = load_nocs_config(args.config)
        with joined_world(args.device) as world:
            NocsTrainer(config, args.data, args.out, world, resume=args.resume).run()
        return 0
    except (ConfigError, DatasetFormatError, NocsTrainingError, FileNotFoundError, RuntimeError) as error:
        return command_line.fail("train-nocs", error)


if __name__ == "__main__":
    sys.exit(main())
