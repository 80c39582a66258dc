"""Shared conventions of every eopose console script: one error style, help that shows defaults,
argument types that check values up front, the dataset-folder argument and `--device`.

Every bad input ends the same way: one line `<prog>: error: <what is wrong and how to fix it>` on stderr,
exit status 2, nothing written. Usage:

    parser = command_line.ArgumentParser(prog="tool", description=...)
    parser.add_argument("data", type=command_line.dataset_folder, help="dataset folder")
    parser.add_argument("--resolution", type=command_line.integer(8, 4096), default=256, help="pixels")
    command_line.add_device_argument(parser)
    args = parser.parse_args(argv)            # bad values: `tool: error: argument --resolution: ...`, exit 2
    try:
        device = command_line.resolve_device(args.device)
    except command_line.UsageError as error:
        return command_line.fail(parser.prog, error)
"""
from __future__ import annotations

import argparse
import functools
import math
import os
import sys
from pathlib import Path

DEVICES = ("auto", "cpu", "cuda")


class UsageError(ValueError):
    """Bad input found after parsing (one line naming the flag or file and the fix); reported by `fail`."""


def fail(prog: str, message) -> int:
    """Print `<prog>: error: <message>` on stderr and return the exit status 2."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def fails_on(prog: str, *errors):
    """Decorator of a console entry point `main(argv) -> int`: an exception of `errors` raised anywhere in it
    (e.g. a corrupt shard met while reading, long after the dataset opened) ends as `fail(prog, error)`."""

    def decorate(main):
        @functools.wraps(main)
        def guarded(argv=None) -> int:
            try:
                return main(argv)
            except errors as error:
                return fail(prog, error)

        return guarded

    return decorate


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's layout; appends `(default: X)` to every option that has a default."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("%(default)" not in text and action.option_strings and action.default is not None
                and action.default is not False and action.default is not argparse.SUPPRESS):
            text += " (default: %(default)s)"
        return text


class ArgumentParser(argparse.ArgumentParser):
    """argparse with `HelpFormatter` and one-line errors (`<prog>: error: ...`, exit 2, no usage dump)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _bounds(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f"in [{lo}, {hi}]"
    return f">= {lo}" if lo is not None else f"<= {hi}"


def integer(lo: int | None = None, hi: int | None = None):
    """argparse type: an int within [lo, hi] (either bound optional)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer {_bounds(lo, hi)}, got {text!r}") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be an integer {_bounds(lo, hi)}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def real(lo: float | None = None, hi: float | None = None, above: float | None = None):
    """argparse type: a finite float within [lo, hi]; `above` is an exclusive lower bound (e.g. 0 for timeouts)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        wanted = f"> {above}" if above is not None else _bounds(lo, hi) if (lo, hi) != (None, None) else "finite"
        if (not math.isfinite(value) or (lo is not None and value < lo) or (hi is not None and value > hi)
                or (above is not None and value <= above)):
            raise argparse.ArgumentTypeError(f"must be a number {wanted}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


def folder(text: str) -> Path:
    """argparse type: a folder to write into (created when missing); refuses an existing file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder; pass a folder path (created if missing)")
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(f"{text}: {parent} is a file; pass a path inside a folder")
            break
    return path


def existing_folder(text: str) -> Path:
    """argparse type: a folder that must exist (input folders such as a folder of meshes)."""
    return _existing(text, "folder")


def dataset_folder(text: str) -> Path:
    """argparse type: an existing dataset folder (index.json + shard-XXXXX.h5 files; docs/dataset-format.md)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a dataset folder; pass the folder render-pairs "
                                         f"wrote (it holds index.json)")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} does not exist; render a dataset first, e.g. "
                                         f"`render-pairs --category vases --out {text}`")
    return path


def existing_file(text: str) -> Path:
    """argparse type: a file that must exist (weights, manifests, configs)."""
    return _existing(text, "file")


def _existing(text: str, kind: str) -> Path:
    """`text` as a Path if it names an existing `kind` ("file" or "folder"), else the argparse error saying what
    it names instead."""
    path = Path(text)
    if path.is_file() if kind == "file" else path.is_dir():
        return path
    what = ("does not exist" if not path.exists() else "is a folder" if path.is_dir() else "is a file"
            if path.is_file() else "is neither a file nor a folder")
    raise argparse.ArgumentTypeError(f"{text} {what}; pass an existing {kind}")


def add_device_argument(parser: argparse.ArgumentParser, help: str = "where to compute: auto picks CUDA when "
                        "available (under torchrun the process's LOCAL_RANK GPU), else the CPU") -> None:
    parser.add_argument("--device", choices=DEVICES, default="auto", help=help)


def resolve_device(choice: str) -> str:
    """'cpu', 'cuda' or 'cuda:<LOCAL_RANK>' (torchrun) for a `--device` choice; UsageError when cuda is missing."""
    if choice not in DEVICES:
        raise UsageError(f"--device {choice}: choose one of {', '.join(DEVICES)}")
    if choice == "cpu":
        return "cpu"
    import torch

    if not torch.cuda.is_available():
        if choice == "cuda":
            raise UsageError("--device cuda: no CUDA device is visible here; use --device auto or --device cpu")
        return "cpu"
    local_rank = os.environ.get("LOCAL_RANK")
    return f"cuda:{int(local_rank) % torch.cuda.device_count()}" if local_rank is not None else "cuda"
