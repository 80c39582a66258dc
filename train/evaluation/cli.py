"""`eval-eopose`: score a trained checkpoint and its baselines (TPS, warp only, identity) on a test split.

    eval-eopose --checkpoint runs/demo/checkpoints/final.pt --data out/demo/vases --out reports/demo
    eval-eopose ... --lpips-weights alexnet-owt-7be5be79.pth --fid-weights weights-inception-2015-12-05-6726825d.pth

Writes report.md, metrics.csv, metrics.json, report.html and examples.png into --out (see eopose.train.evaluation.report).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


from eopose.dataset import command_line
from eopose.dataset.shard_format import DatasetFormatError
from eopose.dataset.weights import WeightsUnavailable

from eopose.model.loading import CheckpointError

from ..config import ConfigError
from .evaluate import EvalSettings, EvaluationError, evaluate
from .rotations import ROTATION_SOURCES
from .report import write_report


def parse_args(argv=None) -> argparse.Namespace:
    parser = command_line.ArgumentParser(prog="eval-eopose", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="train-eopose checkpoint (run/checkpoints/"
                                                                       "final.pt)")
    parser.add_argument("--data", type=Path, action="append", required=True, help="dataset folder (repeatable)")
    parser.add_argument("--split", default="test", choices=("train", "val", "test", "all"),
                        help="samples to score: a split by model id, or all (a folder rendered only for evaluation, "
                             "e.g. a held-out style) (default: %(default)s)")
    parser.add_argument("--out", type=Path, required=True, help="report folder")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-samples", type=int, help="evaluate N samples evenly spaced over the split")
    parser.add_argument("--examples", type=int, default=8, help="rows of the example grid (default: %(default)s)")
    parser.add_argument("--lpips-weights", type=Path, help="torchvision AlexNet state dict (alexnet-owt-7be5be79.pth)"
                                                           "; default: torch.hub cache, else download")
    parser.add_argument("--fid-weights", type=Path, help="torch-fidelity Inception-v3 weights (weights-inception-"
                                                         "2015-12-05-6726825d.pth); default: torch.hub cache, else "
                                                         "download")
    command_line.add_device_argument(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of the generator's noise injection")
    parser.add_argument("--rotation", choices=ROTATION_SOURCES,
                        help="volume3d checkpoints: the relative rotation from the shards' rendered geometry or "
                             "estimated from the two images with nocs-net (default: estimated)")
    parser.add_argument("--nocs-weights", type=Path, help="train-nocs checkpoint for estimated rotations "
                                                          "(RUN/checkpoints/final.pt)")
    parser.add_argument("--attach", type=Path, action="append", default=[],
                        help="image file to copy into the report and show in report.html (repeatable), e.g. "
                             "repose outputs")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        device = command_line.resolve_device(args.device)
    except command_line.UsageError as error:
        return command_line.fail("eval-eopose", error)
    settings = EvalSettings(checkpoint=args.checkpoint, data_dirs=args.data, split=args.split,
                            batch_size=args.batch_size, max_samples=args.max_samples,
                            lpips_weights=args.lpips_weights, fid_weights=args.fid_weights, device=device,
                            examples=args.examples, seed=args.seed, rotation=args.rotation,
                            nocs_weights=args.nocs_weights)
    missing = [str(path) for path in args.attach if not path.is_file()]
    if missing:
        print(f"eval-eopose: error: --attach {missing[0]}: no such file; pass an existing image", file=sys.stderr)
        return 2
    try:
        result = evaluate(settings)
    except (EvaluationError, DatasetFormatError, ConfigError, CheckpointError, FileNotFoundError,
            ValueError, WeightsUnavailable) as error:
        print(f"eval-eopose: error: {error}", file=sys.stderr)
        return 2
    paths = write_report(result, args.out, args.attach)
    for name, status in result.statuses.items():
        if status != "ok":
            print(f"eval-eopose: {name} {status}", file=sys.stderr)
    print(f"eval-eopose: {result.info['samples']} samples; report {paths['html']} (also {paths['markdown'].name}, "
          f"{paths['csv'].name}, {paths['json'].name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
