"""Keypoint-cache speed: eopose's dino method vs the plain loop re-statement of Amir et al.
(tests/amir_reference.py), same random-init ViT-S/8 weights (amir_reference.distinctive_init), images,
stride and CPU threads.

Per training pair, amortised over a quadruplet: eopose describes each of the 4 views once and matches
the 2 distinct view pairs ((0,3)/(3,0), (1,2)/(2,1)), so its time for the 4 samples is divided by 4;
the plain implementation redoes everything per pair (two forward passes per image, as published), so
one pair is timed. Also prints one backbone forward pass (full timm forward_features of one image at the
same stride) for the product target "per pair <= 1.5x one forward".

    python benchmarks/keypoints.py                  # load size 112 (27 x 27 tokens), plain impl included
    python benchmarks/keypoints.py --load-size 224 --skip-reference   # paper setting, eopose only
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from amir_reference import (ReferenceExtractor, count_same_pairs, distinctive_init,  # noqa: E402
                            reference_correspondences)

from eopose.dataset.keypoints.backbones import PRESETS, load_vit  # noqa: E402
from eopose.dataset.keypoints.cache import sample_keypoints  # noqa: E402
from eopose.dataset.keypoints.descriptors import preprocess  # noqa: E402
from eopose.dataset.keypoints.vit_method import VitCorrespondences  # noqa: E402
from eopose.dataset.synthetic import make_quadruplet_rows  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load-size", type=int, default=112)
    parser.add_argument("--resolution", type=int, default=256, help="stored image size")
    parser.add_argument("--k", type=int, default=35)
    parser.add_argument("--repeats", type=int, default=2, help="eopose timings: best of N")
    parser.add_argument("--skip-reference", action="store_true", help="time eopose only (the plain "
                        "implementation needs ~20 min per pair at load size 224)")
    args = parser.parse_args()

    preset = dataclasses.replace(PRESETS["amir-vits8"], load_size=args.load_size)
    model = distinctive_init(load_vit(preset.model, pretrained=False))
    reference = ReferenceExtractor(copy.deepcopy(model), preset.stride)
    method = VitCorrespondences(preset, model, k=args.k)
    rows = make_quadruplet_rows(1, args.resolution, args.resolution, seed=0)
    grid = 1 + (args.load_size - 8) // preset.stride
    print(f"ViT-S/8 random init, stride {preset.stride}, load size {args.load_size} ({grid}x{grid} tokens), "
          f"k {args.k}, {torch.get_num_threads()} threads")

    image = preprocess(rows["rgba"][0, :1], args.load_size)
    for block in reference.model.blocks:
        block.attn.fused_attn = True  # a plain fused timm forward pass, not the hooked reference one
    reference.model._grid = (grid, grid)
    forward = []
    with torch.inference_mode():
        for _ in range(args.repeats):
            start = time.perf_counter()
            reference.model.forward_features(image)
            forward.append(time.perf_counter() - start)
    for block in reference.model.blocks:
        block.attn.fused_attn = False
    print(f"one backbone forward pass (1 image):            {min(forward):8.2f} s")

    ours = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        points_a, points_p, valid = sample_keypoints(method, rows)
        ours.append((time.perf_counter() - start) / 4)
    per_pair = min(ours)
    print(f"eopose, per pair (quadruplet of 4 samples / 4):  {per_pair:8.2f} s  "
          f"= {per_pair / min(forward):.2f}x one forward pass")
    if args.skip_reference:
        return
    start = time.perf_counter()
    expected = reference_correspondences(
        reference, rows["rgba"][0, 0], rows["mask"][0, 0], rows["rgba"][0, 3], rows["mask"][0, 3],
        load_size=args.load_size, layer=preset.layer, hierarchy=preset.bin_hierarchy,
        heads=list(preset.saliency_heads), thresh=preset.threshold, num_pairs=args.k)
    plain = time.perf_counter() - start
    print(f"plain loop implementation, per pair:             {plain:8.2f} s")
    print(f"speed-up: {plain / per_pair:.1f}x")
    got = np.concatenate([points_a[0, 0][valid[0, 0]], points_p[0, 0][valid[0, 0]]], axis=1)
    print(f"sample 0: {count_same_pairs(got, expected)} of {len(expected)} point pairs equal to the plain "
          f"implementation's ({int(valid[0, 0].sum())} from eopose)")


if __name__ == "__main__":
    main()
