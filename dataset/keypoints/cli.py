"""Console entry points `build-keypoint-cache` (store keypoints of every training sample in the shards)
and `eval-correspondences` (PCK of a method on same-model view pairs against rendered geometry).

build-keypoint-cache is resumable: a shard that already holds the method with identical params
(preset, k, seed, weights sha256, ...) is skipped; every shard update is atomic (shard_format.add_keypoints).
It partitions like render-pairs (`--shard-index/--num-shards`, `--shard-index auto` under SLURM, Kubernetes
or torchrun with one process per GPU, `--launcher slurm|local`; eopose.dataset.launch, docs/scaling.md):
partition i of n takes the shards j with j % n == i, so the union of the partitions is a single-process run.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .. import command_line, launch
from ..command_line import UsageError, dataset_folder, integer
from ..shard_format import SAMPLE_VIEWS, DatasetFormatError, add_keypoints, open_dataset
from ..splits import SPLITS, split_of_quad
from ..weights import WeightsUnavailable
from .accuracy import PCK_ALPHAS, SAME_MODEL_PAIRS, coverage_distance, nocs_error, pck, pck_by_category, point_errors
from .backbones import DEFAULT_PRESET, PRESETS
from .cache import correspond, sample_keypoints
from .methods import K_DEFAULT, METHODS
from .methods import build_method as build_named_method
from .nocs_net import category_indices
from .nocs_net_method import NocsNetCorrespondences
from .preview import draw_preview

FIELDS = ("rgba", "mask", "nocs", "category")  # the category: nocs-net of several categories takes it as input
PREVIEW_QUADS = 2  # the preview shows the 4 samples of the first 2 quadruplets


def method_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_dir", type=dataset_folder, help="dataset folder (index.json + shards)")
    parser.add_argument("--method", choices=sorted(METHODS), default="dino",
                        help="; ".join(f"{name}: {info.help}" for name, info in METHODS.items()))
    parser.add_argument("--preset", choices=sorted(PRESETS),
                        help=f"ViT settings (default: {DEFAULT_PRESET['dino']} for dino, "
                             f"{DEFAULT_PRESET['dinov2']} for dinov2)")
    parser.add_argument("--weights", type=Path, help="dino/dinov2: backbone weights, DINO .pth or timm .safetensors "
                                                     "(default: the local caches); nocs-net: RUN/checkpoints/final.pt "
                                                     "of train-nocs")
    parser.add_argument("--k", type=integer(1, 4096), default=K_DEFAULT, help="points per sample")
    parser.add_argument("--seed", type=integer(0), default=0, help="k-means seed")
    parser.add_argument("--load-size", type=integer(16, 4096), help="override the preset's ViT input size (shorter side)")
    command_line.add_device_argument(parser)
    parser.add_argument("--batch-size", type=integer(1, 4096), default=4, help="images per ViT forward pass")


def build_method(args):
    """The method object of the parsed arguments (methods.build_method) on this process's device
    (command_line.resolve_device: under torchrun the LOCAL_RANK GPU); raises WeightsUnavailable / ValueError."""
    return build_named_method(args.method, weights=args.weights, preset=args.preset,
                              device=command_line.resolve_device(args.device), k=args.k, seed=args.seed,
                              load_size=args.load_size, batch_size=args.batch_size)


def _setup(prog: str, argv, extra, check=None) -> tuple:
    """Parse (one-line errors, exit 2), run `check(args)` (may raise UsageError), open the dataset, build the method."""
    parser = command_line.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    method_arguments(parser)
    extra(parser)
    args = parser.parse_args(argv)
    try:
        if check is not None:
            check(args)
        dataset = open_dataset(args.data_dir)
        method = build_method(args)
        if isinstance(method, NocsNetCorrespondences):  # a category the network does not know: say so up front
            categories = dataset.column("category")
            category_indices(method.net, categories, len(categories))
    except (DatasetFormatError, WeightsUnavailable, ValueError) as error:  # UsageError is a ValueError
        command_line.fail(prog, error)
        return args, None, None
    return args, dataset, method


def write_preview(dataset, method_name: str, out_path: Path) -> Path:
    pairs = []
    for index in range(min(PREVIEW_QUADS, len(dataset))):
        record = dataset.read(index, FIELDS)
        keypoints = dataset.read_keypoints(index, method_name)
        for sample, (a, p, _) in enumerate(SAMPLE_VIEWS):
            pairs.append((record["rgba"][a], record["rgba"][p], keypoints["points_a"][sample],
                          keypoints["points_p"][sample], keypoints["valid"][sample]))
    return draw_preview(pairs, out_path)


BUILD = "build-keypoint-cache"


def _build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preview", action="store_true",
                        help="write DATA_DIR/keypoints-<method>-preview.png (first samples)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    launch.add_partition_arguments(parser, resources="default: 1")


def _check_partition(args) -> None:
    partition = launch.resolve_partition(args)
    launch.check_launcher(args)
    args.shard_index, args.num_shards, args.partition_origin = partition.index, partition.count, partition.origin


def _params(method) -> dict:
    return json.loads(json.dumps(method.params()))  # as stored: tuples become lists


@command_line.fails_on(BUILD, DatasetFormatError)
def build_main(argv=None) -> int:
    args, dataset, method = _setup(BUILD, argv, _build_arguments, _check_partition)
    if method is None:
        return 2
    if not args.quiet:
        where = (f"{args.num_shards} partitions on the {args.launcher} launcher" if args.launcher else
                 f"partition {args.shard_index} of {args.num_shards} (from {args.partition_origin})")
        print(f"{BUILD}: method {args.method}, k {args.k}, {where}; --method, --k, --shard-index/--num-shards "
              f"change them", file=sys.stderr)
    if args.launcher:
        params = _params(method)
        total = len(dataset.shard_paths)
        pending = [i for i in range(args.num_shards)
                   if any(dataset.keypoint_methods(j).get(method.name) != params
                          for j in launch.partition_shards(total, i, args.num_shards))]
        print(f"{BUILD}: submitting {len(pending)} of {args.num_shards} partitions ({args.num_shards - len(pending)} "
              f"already finished) with the {args.launcher} launcher; logs in {args.data_dir / launch.LOG_FOLDER}",
              file=sys.stderr)
        outcome = launch.run_partitions(build_partition, [args], pending, args, args.data_dir, f"{BUILD}-{method.name}")
        counts = [value for value in outcome.values() if isinstance(value, tuple)]
        done, skipped = sum(c[0] for c in counts), sum(c[1] for c in counts)
        if launch.report(BUILD, outcome):
            return 1
    else:
        shards = launch.partition_shards(len(dataset.shard_paths), args.shard_index, args.num_shards)
        done, skipped = cache_shards(dataset, method, shards, _quads_per_step(args), args.quiet)
    print(f"{BUILD}: keypoints/{method.name} written to {done} shard(s), {skipped} already up to date")
    if args.preview and len(dataset) and (args.launcher or args.shard_index == 0):
        out = write_preview(open_dataset(args.data_dir), method.name,
                            args.data_dir / f"keypoints-{method.name}-preview.png")
        print(f"{BUILD}: preview {out}")
    return 0


def build_partition(args, index: int) -> tuple[int, int]:
    """One task of a launched job array: (shards written, shards already up to date) of partition `index`."""
    print(f"{BUILD}: partition {index} of {args.num_shards} started", flush=True)
    dataset, method = open_dataset(args.data_dir), build_method(args)
    shards = launch.partition_shards(len(dataset.shard_paths), index, args.num_shards)
    return cache_shards(dataset, method, shards, _quads_per_step(args), quiet=True)


def _quads_per_step(args) -> int:
    return max(1, args.batch_size // 4)


def cache_shards(dataset, method, shards: list[int], quads_per_step: int, quiet: bool = False) -> tuple[int, int]:
    """Compute and store `method`'s keypoints in `shards` of `dataset`, skipping those already up to date;
    returns (written, skipped)."""
    params = _params(method)
    done = skipped = 0
    total = sum(dataset.rows_per_shard[j] for j in shards)
    with torch.inference_mode(), tqdm(total=total, unit="quad", desc=f"keypoints/{method.name}", disable=quiet) as bar:
        for shard in shards:
            path = dataset.shard_paths[shard]
            rows_in_shard = dataset.rows_per_shard[shard]
            if dataset.keypoint_methods(shard).get(method.name) == params:
                skipped += 1
                bar.update(rows_in_shard)
                continue
            rows = dataset.read_rows(shard, FIELDS)
            points_a = np.zeros((rows_in_shard, len(SAMPLE_VIEWS), method.k, 2), np.float32)
            points_p = np.zeros_like(points_a)
            valid = np.zeros(points_a.shape[:3], bool)
            for start in range(0, rows_in_shard, quads_per_step):
                step = slice(start, start + quads_per_step)
                points_a[step], points_p[step], valid[step] = sample_keypoints(
                    method, {name: value[step] for name, value in rows.items()})
                bar.update(len(points_a[step]))
            dataset.close()  # the shard file is about to be replaced
            add_keypoints(path, method.name, points_a, points_p, valid, params)
            done += 1
    return done, skipped


def _eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", choices=SPLITS, help="evaluate only quadruplets of this split (by model id, "
                                                        "eopose.dataset.splits; e.g. test: models held out of training)")
    parser.add_argument("--max-quads", type=int, help="evaluate only the first N (selected) quadruplets")


def image_coverage(record: dict, views: tuple, points_a, points_p, valid) -> list[float]:
    """accuracy.coverage_distance of the two images of one view pair, against their rendered masks."""
    return [coverage_distance(record["mask"][view], points, valid) for view, points in zip(views, (points_a, points_p))]


@command_line.fails_on("eval-correspondences", DatasetFormatError)
def eval_main(argv=None) -> int:
    args, dataset, method = _setup("eval-correspondences", argv, _eval_arguments)
    if method is None:
        return 2
    model_ids = dataset.column("model_id")
    selected = [index for index in range(len(dataset))
                if args.split is None or split_of_quad(model_ids[index]) == args.split][:args.max_quads]
    count = len(selected)
    errors, pair_categories, nocs_errors, hidden, points = [], [], [], 0, 0
    coverage = {"same-model pairs": [], "training samples": []}
    sample_points = 0
    with torch.inference_mode(), tqdm(total=count, unit="quad", desc=f"eval/{method.name}") as bar:
        for index in selected:
            record = dataset.read(index, FIELDS + ("depth", "rotations", "nocs_to_object", "intrinsics",
                                                   "extrinsics"))
            rows = {name: record[name][None] for name in FIELDS}
            state = method.prepare(rows)
            points_a, points_p, valid = correspond(method, rows, SAME_MODEL_PAIRS, state)
            if getattr(method, "predicts_nocs", False):
                nocs_errors.append(nocs_error(state["nocs"][0], record["nocs"], record["mask"]))
            for slot, (a, b) in enumerate(SAME_MODEL_PAIRS):
                pair_errors, pair_hidden = point_errors(record, a, b, points_a[0, slot], points_p[0, slot],
                                                        valid[0, slot])
                errors.append(pair_errors)
                pair_categories.append(str(record["category"]))
                hidden += pair_hidden
                points += int(valid[0, slot].sum())
                coverage["same-model pairs"] += image_coverage(record, (a, b), points_a[0, slot], points_p[0, slot],
                                                               valid[0, slot])
            # the (appearance, pose) pairs the model trains on: two models, no exact match to score, coverage only
            sample_pairs = [(a, p) for a, p, _ in SAMPLE_VIEWS]
            for pair, chosen_a, chosen_p, chosen in zip(sample_pairs, *(array[0] for array in correspond(
                    method, rows, sample_pairs, state))):
                coverage["training samples"] += image_coverage(record, pair, chosen_a, chosen_p, chosen)
                sample_points += int(chosen.sum())
            bar.update()
    size = int(max(dataset.read(0, ("mask",))["mask"].shape[1:])) if count else 0
    by_category = pck_by_category(errors, pair_categories, size)
    errors = np.concatenate(errors) if errors else np.zeros(0)
    scores = pck(errors, size)
    print(f"eval-correspondences: method {method.name}, {count} quadruplets"
          f"{f' of split {args.split}' if args.split else ''}, {count * len(SAME_MODEL_PAIRS)} "
          f"same-model pairs, {points} points ({hidden} of them hidden in the other view)")
    for alpha in PCK_ALPHAS:
        print(f"PCK@{alpha:.2f} {scores[alpha]:.4f}  (threshold {alpha * size:.1f} px of max(H, W) = {size})")
    if len(by_category) > 1:
        for category, category_scores in by_category.items():
            print(f"{category}: " + "  ".join(f"PCK@{alpha:.2f} {category_scores[alpha]:.4f}" for alpha in PCK_ALPHAS)
                  + f"  ({pair_categories.count(category)} same-model pairs)")
    print(f"{sample_points} points on the {count * len(SAMPLE_VIEWS)} training samples' (appearance, pose) pairs")
    for pairs, distances in coverage.items():
        if distances:
            print(f"coverage, {pairs}: {np.nanmean(distances):.2f} px = {np.nanmean(distances) / size:.4f} of "
                  f"max(H, W), 90th percentile {np.nanpercentile(distances, 90):.2f} px (mean distance from a "
                  f"rendered-foreground pixel to the nearest point of its image, over {len(distances)} images)")
    if nocs_errors:
        nocs_errors = np.concatenate(nocs_errors)
        print(f"NOCS error {nocs_errors.mean():.4f} mean, {np.median(nocs_errors):.4f} median (L2 in NOCS units "
              f"over {len(nocs_errors)} rendered-foreground pixels)")
    return 0
