"""Console entry points `build-keypoint-cache` (store keypoints of every training sample in the shards)
and `eval-correspondences` (PCK of a method on same-model view pairs against rendered geometry).

build-keypoint-cache is resumable: a shard that already holds the method with identical params
(preset, k, seed, weights sha256, ...) is skipped; every shard update is atomic (shard_format.add_keypoints).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..shard_format import SAMPLE_VIEWS, DatasetFormatError, add_keypoints, open_dataset, sha256_of
from .accuracy import PCK_ALPHAS, SAME_MODEL_PAIRS, pck, point_errors
from .backbones import DEFAULT_PRESET, PRESETS, MissingWeightsError, cached_weights, load_vit
from .cache import correspond, sample_keypoints
from .nocs_matching import NocsCorrespondences
from .preview import draw_preview
from .vit_method import VitCorrespondences

FIELDS = ("rgba", "mask", "nocs")
K_DEFAULT = 35  # EOPose paper 3.1: "we set k = 35 points"
PREVIEW_QUADS = 2  # the preview shows the 4 samples of the first 2 quadruplets


def method_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_dir", type=Path, help="dataset folder (index.json + shards)")
    parser.add_argument("--method", choices=("dino", "dinov2", "nocs"), default="dino",
                        help="dino/dinov2: Amir et al. on ViT features (needs weights); nocs: from the rendered "
                             "NOCS pass (no weights, the offline default)")
    parser.add_argument("--preset", choices=sorted(PRESETS),
                        help=f"ViT settings (default: {DEFAULT_PRESET['dino']} for dino, "
                             f"{DEFAULT_PRESET['dinov2']} for dinov2)")
    parser.add_argument("--weights", type=Path, help="backbone weights: DINO .pth or timm .safetensors "
                                                     "(default: the local timm / Hugging Face cache)")
    parser.add_argument("--k", type=int, default=K_DEFAULT, help="points per sample (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="k-means seed (default: %(default)s)")
    parser.add_argument("--load-size", type=int, help="override the preset's ViT input size (shorter side)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--batch-size", type=int, default=4, help="images per ViT forward pass")


def build_method(args):
    """The method object of the parsed arguments; raises MissingWeightsError / ValueError."""
    if args.method == "nocs":
        return NocsCorrespondences(k=args.k, seed=args.seed)
    preset = PRESETS[args.preset or DEFAULT_PRESET[args.method]]
    if preset.method != args.method:
        raise ValueError(f"--preset {args.preset} belongs to --method {preset.method}, not {args.method}")
    if args.load_size:
        preset = replace(preset, load_size=args.load_size)
    weights = args.weights or cached_weights(preset.model)
    model = load_vit(preset.model, weights=weights)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device here; use --device auto or cpu")
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    return VitCorrespondences(preset, model, k=args.k, seed=args.seed, device=device, batch_size=args.batch_size,
                              weights_sha256=sha256_of(Path(weights)))


def _setup(prog: str, argv, extra) -> tuple:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    method_arguments(parser)
    extra(parser)
    args = parser.parse_args(argv)
    try:
        dataset = open_dataset(args.data_dir)
        method = build_method(args)
    except (DatasetFormatError, MissingWeightsError, ValueError) as error:
        print(f"{prog}: {error}", file=sys.stderr)
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


def build_main(argv=None) -> int:
    args, dataset, method = _setup("build-keypoint-cache", argv, lambda parser: parser.add_argument(
        "--preview", action="store_true", help="write DATA_DIR/keypoints-<method>-preview.png (first samples)"))
    if method is None:
        return 2
    params = json.loads(json.dumps(method.params()))  # as stored: tuples become lists
    quads_per_step = max(1, args.batch_size // 4)
    done = skipped = 0
    with torch.inference_mode(), tqdm(total=len(dataset), unit="quad", desc=f"keypoints/{method.name}") as bar:
        for shard, path in enumerate(dataset.shard_paths):
            rows_in_shard = dataset.rows_per_shard[shard]
            if dataset.keypoint_methods(shard).get(method.name) == params:
                skipped += 1
                bar.update(rows_in_shard)
                continue
            rows = dataset.read_rows(shard, FIELDS)
            points_a = np.zeros((rows_in_shard, len(SAMPLE_VIEWS), args.k, 2), np.float32)
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
    print(f"build-keypoint-cache: keypoints/{method.name} written to {done} shard(s), {skipped} already up to date")
    if args.preview and len(dataset):
        out = write_preview(open_dataset(args.data_dir), method.name,
                            args.data_dir / f"keypoints-{method.name}-preview.png")
        print(f"build-keypoint-cache: preview {out}")
    return 0


def eval_main(argv=None) -> int:
    args, dataset, method = _setup("eval-correspondences", argv, lambda parser: parser.add_argument(
        "--max-quads", type=int, help="evaluate only the first N quadruplets"))
    if method is None:
        return 2
    count = len(dataset) if args.max_quads is None else min(args.max_quads, len(dataset))
    errors, hidden, points = [], 0, 0
    with torch.inference_mode(), tqdm(total=count, unit="quad", desc=f"eval/{method.name}") as bar:
        for index in range(count):
            record = dataset.read(index, FIELDS + ("depth", "rotations", "nocs_to_object", "intrinsics",
                                                   "extrinsics"))
            rows = {name: record[name][None] for name in FIELDS}
            points_a, points_p, valid = correspond(method, rows, SAME_MODEL_PAIRS)
            for slot, (a, b) in enumerate(SAME_MODEL_PAIRS):
                pair_errors, pair_hidden = point_errors(record, a, b, points_a[0, slot], points_p[0, slot],
                                                        valid[0, slot])
                errors.append(pair_errors)
                hidden += pair_hidden
                points += int(valid[0, slot].sum())
            bar.update()
    size = int(max(dataset.read(0, ("mask",))["mask"].shape[1:])) if count else 0
    errors = np.concatenate(errors) if errors else np.zeros(0)
    scores = pck(errors, size)
    print(f"eval-correspondences: method {method.name}, {count} quadruplets, {count * len(SAME_MODEL_PAIRS)} "
          f"same-model pairs, {points} points ({hidden} of them hidden in the other view)")
    for alpha in PCK_ALPHAS:
        print(f"PCK@{alpha:.2f} {scores[alpha]:.4f}  (threshold {alpha * size:.1f} px of max(H, W) = {size})")
    return 0
