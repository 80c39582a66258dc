"""`eopose-dataset`: inspect, verify and re-index dataset folders from the shell.

    eopose-dataset info DIR      shards, rows, image size, categories, keypoint sets, splits
    eopose-dataset verify DIR    recompute sha256 and check the schema of every shard (exit 1 on problems)
    eopose-dataset index DIR     rebuild index.json from the shard files present
    eopose-dataset export DIR --out FOLDER [--quads N]   the views of the first N quadruplets as RGBA PNGs
"""
from __future__ import annotations

import argparse
import collections
import sys

from . import command_line
from .shard_format import VIEW_NAMES, DatasetFormatError, open_dataset, update_index, verify
from .splits import split_of_quad

PROG = "eopose-dataset"


def _info(path: str) -> int:
    data = open_dataset(path)
    categories = collections.Counter(str(c) for c in data.column("category"))
    splits = collections.Counter(str(split_of_quad(ids)) for ids in data.column("model_id"))
    methods = sorted({m for shard in range(len(data.shard_paths)) for m in data.keypoint_methods(shard)})
    size = "-"
    if len(data):
        rgba = data.read(0, ["rgba"])["rgba"]
        size = f"{rgba.shape[2]}x{rgba.shape[1]}"
    print(f"{data.path}: {len(data)} quadruplets ({4 * len(data)} samples) in {len(data.shard_paths)} shards, "
          f"images {size}")
    print(f"  categories: {dict(categories)}")
    print(f"  splits (quadruplets; None = models in different splits): {dict(splits)}")
    print(f"  keypoint sets: {methods or 'none (run build-keypoint-cache)'}")
    return 0


def report_problems(problems: list[str], all_good: str, prog: str | None = None) -> int:
    """Print each problem as a `<prog>: error:` line on stderr (or `all_good` when none); the exit code."""
    for problem in problems:
        print(f"{prog + ': ' if prog else ''}error: {problem}", file=sys.stderr)
    if not problems:
        print(all_good)
    return 1 if problems else 0


def _verify(path: str) -> int:
    return report_problems(verify(path), f"{path}: all shards match index.json and the schema", PROG)


def _index(path: str) -> int:
    index = update_index(path)
    print(f"{path}: index.json lists {len(index['shards'])} shards")
    return 0


def _export(path: str, out, quads: int) -> int:
    """Write `<out>/quad<i>-<view>.png` (straight-alpha RGBA, as rendered) for the first `quads` quadruplets:
    inputs for `repose` that come with their true renders."""
    from PIL import Image

    data = open_dataset(path)
    out.mkdir(parents=True, exist_ok=True)
    for quad in range(min(quads, len(data))):
        for view, rgba in zip(VIEW_NAMES, data.read(quad, ["rgba"])["rgba"]):
            Image.fromarray(rgba).save(out / f"quad{quad}-{view}.png")
    print(f"{path}: views of {min(quads, len(data))} quadruplets written to {out}")
    return 0


def main(argv=None) -> int:
    parser = command_line.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument("command", choices=("info", "verify", "index", "export"),
                        help="info: summary; verify: recompute every sha256 and check the schema; index: rebuild "
                             "index.json (rehashing every shard); export: views as PNG files")
    parser.add_argument("path", help="dataset folder (holds index.json and shard-XXXXX.h5)")
    parser.add_argument("--out", type=command_line.folder, help="export: folder for the PNG files")
    parser.add_argument("--quads", type=command_line.integer(1), default=2, help="export: quadruplets to write")
    args = parser.parse_args(argv)
    if args.command == "export" and args.out is None:
        return command_line.fail(PROG, "export needs --out FOLDER")
    try:
        command_line.dataset_folder(args.path)
        if args.command == "export":
            return _export(args.path, args.out, args.quads)
        return {"info": _info, "verify": _verify, "index": _index}[args.command](args.path)
    except (DatasetFormatError, argparse.ArgumentTypeError) as error:
        return command_line.fail(PROG, error)


if __name__ == "__main__":
    sys.exit(main())
