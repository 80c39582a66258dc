"""`repose`: put the object of an appearance image into the pose of a pose image with a trained checkpoint.

    repose --appearance A.png --pose P.png --checkpoint runs/x/checkpoints/final.pt --out OUT.png \\
           [--method dino|dinov2|nocs-net] [--weights vits8.safetensors | RUN/checkpoints/final.pt]
           [--category vases] [--show-keypoints]
    repose --pairs pairs.csv --out-dir DIR --checkpoint ...    # CSV columns appearance,pose[,out]
    repose --pairs FOLDER --out-dir DIR --checkpoint ...       # FOLDER/appearance/NAME.* with FOLDER/pose/NAME.*

Relative paths in a CSV are taken from the CSV's folder; outputs default to DIR/<appearance stem>.png
(folder form: DIR/NAME.png). Keypoints are computed on the fly (see train/inference/repose.py for the EXIF
orientation, the framing, the foreground: alpha, the border estimate or, on clutter, nocs-net's, and the output
size).
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from tqdm import tqdm

from eopose.dataset import command_line
from eopose.dataset.keypoints.backbones import PRESETS
from eopose.dataset.keypoints.methods import IMAGE_METHODS
from eopose.dataset.weights import WeightsUnavailable
from eopose.model.loading import CheckpointError

from ..config import ConfigError
from ..evaluation.evaluate import EvaluationError
from .repose import Reposer, ReposeError, load_rgba, save_outputs


def parse_args(argv=None) -> argparse.Namespace:
    parser = command_line.ArgumentParser(prog="repose", description=__doc__.split("\n")[0])
    parser.add_argument("--appearance", type=Path, help="image of the object to repose")
    parser.add_argument("--pose", type=Path, help="image of an object of the same category in the target pose")
    parser.add_argument("--out", type=Path, help="output PNG (single pair)")
    parser.add_argument("--pairs", type=Path, help="CSV of pairs or a folder with appearance/ and pose/ (batch)")
    parser.add_argument("--out-dir", type=Path, help="output folder (batch)")
    parser.add_argument("--checkpoint", type=Path, required=True, help="train-eopose checkpoint (final.pt)")
    parser.add_argument("--method", choices=IMAGE_METHODS,
                        help="keypoint method (default: the checkpoint's where it runs on images; nocs-net for a "
                             "checkpoint trained on nocs keypoints; else dino)")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="ViT preset (default: the method's default)")
    parser.add_argument("--load-size", type=int, help="override the preset's ViT input size")
    parser.add_argument("--weights", type=Path, help="dino/dinov2: ViT weights, DINO .pth or timm .safetensors "
                                                     "(default: the local caches); nocs-net: RUN/checkpoints/final.pt "
                                                     "of train-nocs")
    parser.add_argument("--category", help="the pictures' object category, as nocs-net takes it (default: the "
                                           "nocs-net weights' only category; required when they know several)")
    parser.add_argument("--show-keypoints", action="store_true", help="also write <out>.keypoints.png (Ia | Ip "
                                                                      "with the matched points)")
    command_line.add_device_argument(parser)
    parser.add_argument("--seed", type=int, default=0, help="k-means and noise-injection seed")
    args = parser.parse_args(argv)
    single, batch = args.appearance or args.pose or args.out, args.pairs or args.out_dir
    if bool(single) == bool(batch) or (single and not (args.appearance and args.pose and args.out)) or (
            batch and not (args.pairs and args.out_dir)):
        parser.error("give either --appearance, --pose and --out, or --pairs and --out-dir")
    return args


def read_pairs(pairs: Path, out_dir: Path) -> list[tuple[Path, Path, Path]]:
    """[(appearance, pose, out)] of a CSV or a folder (see the module docstring)."""
    if pairs.is_dir():
        appearances = {p.stem: p for p in sorted((pairs / "appearance").glob("*")) if p.is_file()}
        poses = {p.stem: p for p in sorted((pairs / "pose").glob("*")) if p.is_file()}
        if not appearances or set(appearances) != set(poses):
            raise ReposeError(f"{pairs}: needs appearance/ and pose/ subfolders with the same file names "
                              f"(unmatched: {sorted(set(appearances) ^ set(poses))[:5]})")
        return [(appearances[name], poses[name], out_dir / f"{name}.png") for name in sorted(appearances)]
    if not pairs.is_file():
        raise ReposeError(f"{pairs}: no such CSV file or folder; pass a CSV with columns appearance,pose[,out]")
    with open(pairs, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"appearance", "pose"} <= set(rows[0]):
        raise ReposeError(f"{pairs}: needs a header with columns appearance,pose[,out] and at least one row")
    base = pairs.parent
    return [(base / row["appearance"], base / row["pose"],
             out_dir / (row.get("out") or f"{Path(row['appearance']).stem}.png")) for row in rows]


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        device = command_line.resolve_device(args.device)
        jobs = ([(args.appearance, args.pose, args.out)] if args.appearance
                else read_pairs(args.pairs, args.out_dir))
        for appearance, pose, _ in jobs:
            for path in (appearance, pose):
                if not path.is_file():
                    raise ReposeError(f"{path}: no such image; check the path")
        reposer = Reposer(args.checkpoint, args.method, args.weights, args.preset, args.load_size, device, args.seed,
                          args.category)
        if reposer.note:
            print(f"repose: note: {reposer.note}", file=sys.stderr)
        for appearance, pose, out in tqdm(jobs, desc="repose", unit="pair", disable=len(jobs) == 1):
            (rgba_a, how_a), (rgba_p, how_p) = (load_rgba(path, reposer.nocs_net, reposer.category)
                                                for path in (appearance, pose))
            result = reposer(rgba_a, rgba_p, names=(str(appearance), str(pose)))
            for warning in result.warnings:
                print(f"repose: warning: {warning}", file=sys.stderr)
            written = save_outputs(result, out, args.show_keypoints)
            print(f"repose: {out} ({int(result.valid.sum())} keypoint pairs; foreground: {appearance.name} "
                  f"{how_a}, {pose.name} {how_p})" + (f"; keypoints {written[1]}" if len(written) > 1 else ""))
    except (command_line.UsageError, ReposeError, WeightsUnavailable, EvaluationError, ConfigError, CheckpointError,
            FileNotFoundError, ValueError) as error:
        return command_line.fail("repose", error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
