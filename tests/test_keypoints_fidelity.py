"""Fidelity: eopose's vectorised dino method returns the same point pairs as the plain loop re-statement of
Amir et al.'s procedure (tests/amir_reference.py) on the same random-init ViT-S/8 weights and images."""
from __future__ import annotations

import copy
import dataclasses

import numpy as np

from amir_reference import ReferenceExtractor, count_same_pairs, distinctive_init, reference_correspondences
from eopose.dataset.keypoints.backbones import PRESETS, load_vit
from eopose.dataset.keypoints.cache import correspond
from eopose.dataset.keypoints.vit_method import VitCorrespondences
from eopose.dataset.synthetic import make_quadruplet_rows

PAIRS = ((0, 3), (1, 2))
K = 10


def test_dino_matches_amir_reference():
    preset = dataclasses.replace(PRESETS["amir-vits8"], load_size=48)  # stride 4 -> 11 x 11 tokens
    model = distinctive_init(load_vit(preset.model, pretrained=False))
    reference = ReferenceExtractor(copy.deepcopy(model), preset.stride)
    rows = make_quadruplet_rows(2, 96, 96, seed=3)
    points_a, points_p, valid = correspond(VitCorrespondences(preset, model, k=K), rows, PAIRS)
    compared = 0
    for n in range(2):
        for slot, (a, p) in enumerate(PAIRS):
            expected = reference_correspondences(
                reference, rows["rgba"][n, a], rows["mask"][n, a], rows["rgba"][n, p], rows["mask"][n, p],
                load_size=preset.load_size, layer=preset.layer, hierarchy=preset.bin_hierarchy,
                heads=list(preset.saliency_heads), thresh=preset.threshold, num_pairs=K)
            ours = valid[n, slot]
            assert ours.sum() == len(expected)
            got = np.concatenate([points_a[n, slot][ours], points_p[n, slot][ours]], axis=1)
            assert count_same_pairs(got, expected) == len(expected)
            compared += len(expected)
    assert compared >= 3 * K  # the comparison covers real matches, not empty sets
