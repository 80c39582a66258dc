"""Keypoint cache: backbone features, log-binning, matching, the nocs method, PCK and the two CLIs."""
from __future__ import annotations

import copy
import dataclasses
import re

import numpy as np
import pytest
import torch
from PIL import Image

from amir_reference import ReferenceExtractor
from eopose.dataset import weights
from eopose.dataset.keypoints import cli
from eopose.dataset.keypoints import nocs_matching
from eopose.dataset.keypoints.accuracy import SAME_MODEL_PAIRS, coverage_distance, pck, point_errors
from eopose.dataset.keypoints.backbones import PRESETS, VitFeatures, load_vit, resample_pos_embed
from eopose.dataset.keypoints.cache import correspond, sample_keypoints
from eopose.dataset.keypoints.descriptors import log_bin, preprocess
from eopose.dataset.keypoints.matching import best_buddies, kmeans, select_per_cluster
from eopose.dataset.keypoints.nocs_matching import NocsCorrespondences, match_nocs
from eopose.dataset.keypoints.vit_method import VitCorrespondences
from eopose.dataset.shard_format import SAMPLE_VIEWS, open_dataset, verify
from eopose.dataset.synthetic import write_synthetic_dataset

SMALL = dataclasses.replace(PRESETS["amir-vits8"], load_size=48)  # 11 x 11 tokens at stride 4


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return write_synthetic_dataset(tmp_path_factory.mktemp("kp") / "data", quads=4, resolution=64, quads_per_shard=2)


@pytest.fixture(scope="module")
def vit_small():
    torch.manual_seed(0)
    return load_vit(SMALL.model, pretrained=False)


def test_log_bin_matches_amir_loop():
    torch.manual_seed(1)
    features = torch.randn(2, 7, 9, 4)  # [B, gh, gw, C]
    extractor = ReferenceExtractor.__new__(ReferenceExtractor)
    extractor.num_patches = (7, 9)
    # Amir's _log_bin takes [B, h, t, d] and concatenates d-major; with one head the orders coincide
    expected = extractor._log_bin(features.reshape(2, 63, 4)[:, None], hierarchy=2)[:, 0]
    ours = log_bin(features, 2)
    assert ours.shape == (2, 7, 9, 17 * 4)
    assert torch.allclose(ours.reshape(2, 63, -1), expected, atol=1e-6)
    # corner token, level 1, offset (-3, -3) is clamped to the corner's own 3x3 mean (4 valid cells)
    assert torch.allclose(ours[0, 0, 0, 9 * 4:10 * 4], features[0, :2, :2].mean(dim=(0, 1)), atol=1e-6)
    assert log_bin(features, 0) is features


def test_resample_pos_embed_keeps_grid_and_resizes():
    pos = torch.randn(1, 28 * 28, 8)
    assert resample_pos_embed(pos, (28, 28)) is pos
    assert resample_pos_embed(pos, (55, 55)).shape == (1, 55 * 55, 8)


def test_vit_features_equal_explicit_attention(vit_small):
    """Our truncated forward (fused attention, CLS row only) against full non-fused forwards with hooks."""
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, size=(2, 48, 48, 4), dtype=np.uint8)
    images = preprocess(rgba, 48)
    keys, saliency = VitFeatures(vit_small, stride=4, layer=9, saliency_heads=(0, 2, 4, 5))(images)
    assert keys.shape == (2, 11, 11, 384) and saliency.shape == (2, 11, 11)
    reference = ReferenceExtractor(copy.deepcopy(vit_small), 4)
    with torch.no_grad():
        expected_keys = reference.extract_descriptors(images, 9, hierarchy=0)[:, 0]
        # Amir et al.'s min-max normalisation broadcasts correctly for one image at a time only
        expected_saliency = torch.cat([reference.extract_saliency_maps(image[None], [0, 2, 4, 5])
                                       for image in images])
    assert torch.allclose(keys.reshape(2, 121, -1), expected_keys, atol=1e-4)
    assert torch.allclose(saliency.reshape(2, -1), expected_saliency, atol=1e-4)
    assert float(saliency.min()) == 0.0 and float(saliency.max()) == 1.0


def test_dinov2_registers_are_not_descriptors():
    torch.manual_seed(0)
    preset = dataclasses.replace(PRESETS["dinov2-vits14-reg"], load_size=56)  # (56 - 14) / 7 + 1 = 7 tokens
    model = load_vit(preset.model, pretrained=False)
    assert model.num_prefix_tokens == 5  # CLS + 4 registers
    method = VitCorrespondences(preset, model, k=5)
    rgba = np.zeros((1, 2, 64, 64, 4), np.uint8)
    rgba[..., 16:48, 16:48, :] = 200
    mask = (rgba[..., 3] > 0).astype(np.uint8)
    state = method.prepare({"rgba": rgba, "mask": mask})
    assert state["descriptors"].shape == (2, 49, 17 * 384)
    centres_inside = state["foreground"].any(dim=0).numpy()
    assert centres_inside.sum() > 0 and not centres_inside[0]  # token (0, 0) is background


def test_best_buddies_mutual_and_foreground():
    desc_a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    desc_p = torch.tensor([[0.9, 0.1], [0.1, 0.9], [0.95, 0.05]])
    everything = torch.ones(3, dtype=torch.bool)
    index_a, index_p = best_buddies(desc_a, desc_p, everything, everything)
    # a0 <-> p2 (p2 is closer to a0 than p0), a1 <-> p1; a2's nearest is p1, whose nearest is a1: no buddy
    assert index_a.tolist() == [0, 1] and index_p.tolist() == [2, 1]
    index_a, _ = best_buddies(desc_a, desc_p, everything, torch.tensor([True, True, False]))
    assert index_a.tolist() == [1]


def test_kmeans_separates_blobs_and_is_seeded():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]], dtype=np.float32)
    points = torch.from_numpy(np.concatenate([c + rng.normal(0, 0.5, (30, 2)) for c in centres]).astype(np.float32))
    labels = kmeans(points, 3, seed=0)
    assert len({tuple(labels[i:i + 30].unique().tolist()) for i in (0, 30, 60)}) == 3
    assert all(len(labels[i:i + 30].unique()) == 1 for i in (0, 30, 60))
    assert torch.equal(labels, kmeans(points, 3, seed=0))


def test_select_per_cluster_highest_rank_first_on_ties():
    labels = np.array([0, 1, 0, 1, 2, 0])
    ranks = np.array([0.5, 0.9, 0.7, 0.9, 0.1, 0.7])
    assert sorted(select_per_cluster(labels, ranks).tolist()) == [1, 2, 4]


def test_nocs_same_model_pck_and_sample_swap(dataset_dir):
    dataset = open_dataset(dataset_dir)
    method = NocsCorrespondences(k=35)
    errors = []
    for index in range(len(dataset)):
        record = dataset.read(index)
        rows = {name: record[name][None] for name in ("rgba", "mask", "nocs")}
        points_a, points_p, valid = correspond(method, rows, SAME_MODEL_PAIRS)
        assert valid.sum() >= 2 * 30
        for slot, (a, b) in enumerate(SAME_MODEL_PAIRS):
            errors.append(point_errors(record, a, b, points_a[0, slot], points_p[0, slot], valid[0, slot])[0])
    scores = pck(np.concatenate(errors), 64)
    assert scores[0.05] >= 0.95 and scores[0.10] >= 0.98
    rows = dataset.read_rows(0, ("rgba", "mask", "nocs"))
    points_a, points_p, valid = sample_keypoints(method, rows)
    assert points_a.shape == (2, 4, 35, 2) and valid.shape == (2, 4, 35)
    # (0,3)/(3,0) and (1,2)/(2,1) are one pair each way round (channels re-sorted for the swapped sample)
    for sample, swapped in ((0, 3), (1, 2)):
        for n in range(2):
            pairs = {tuple(np.r_[a, p]) for a, p in zip(points_a[n, sample], points_p[n, sample])}
            assert pairs == {tuple(np.r_[p, a]) for a, p in zip(points_a[n, swapped], points_p[n, swapped])}
    # points lie on the foreground of their own views, in raster order of the appearance point
    for sample, (a, p, _) in enumerate(SAMPLE_VIEWS):
        for n in range(2):
            ok = valid[n, sample]
            for view, points in ((a, points_a), (p, points_p)):
                cols, rws = np.floor(points[n, sample][ok]).T.astype(int)
                assert rows["mask"][n, view][rws, cols].all()
            raster = np.floor(points_a[n, sample][ok, 1]) * 64 + np.floor(points_a[n, sample][ok, 0])
            assert np.all(np.diff(raster) > 0)


def test_coverage_distance():
    mask = np.zeros((8, 8), np.uint8)
    mask[2:4, 2:4] = 1  # pixel centres (2.5 | 3.5, 2.5 | 3.5)
    assert coverage_distance(mask, np.array([[3.0, 3.0]]), np.array([True])) == pytest.approx(np.sqrt(0.5))
    assert coverage_distance(mask, np.array([[3.0, 3.0], [0.5, 0.5]]), np.array([False, True])) == pytest.approx(
        np.mean([np.hypot(2, 2), np.hypot(3, 2), np.hypot(2, 3), np.hypot(3, 3)]))
    assert coverage_distance(mask, np.zeros((2, 2)), np.zeros(2, bool)) == pytest.approx(np.hypot(8, 8))


def _crossing_surfaces(size: int = 64):
    """Two views of one 40 x 40 px square whose NOCS surfaces (a flat and a tilted plane, as two models of
    different shape) meet only along the line u = 0.5 (image column 32)."""
    mask = np.zeros((size, size), np.uint8)
    mask[12:52, 12:52] = 1
    rows, cols = np.mgrid[0:size, 0:size]
    u, v = (cols - 12 + 0.5) / 40, (rows - 12 + 0.5) / 40
    flat = np.stack([u, v, np.full_like(u, 0.5)], axis=-1) * mask[..., None]
    tilted = np.stack([u, v, 0.5 + 0.3 * (u - 0.5)], axis=-1) * mask[..., None]
    return flat.astype(np.float32), tilted.astype(np.float32), mask


def test_nocs_matching_covers_the_overlap_not_one_rim(monkeypatch):
    flat, tilted, mask = _crossing_surfaces()
    points_a, points_p, valid = match_nocs(flat, mask, tilted, mask, 35)
    assert valid.sum() == 35
    assert points_a[:, 0].min() < 20 and points_a[:, 0].max() > 44  # across the 40 px square
    assert coverage_distance(mask, points_a, valid) < 3.5 and coverage_distance(mask, points_p, valid) < 3.5
    again = match_nocs(flat, mask, tilted, mask, 35)
    assert all(np.array_equal(x, y) for x, y in zip((points_a, points_p, valid), again))  # deterministic
    # strict mutual nearest neighbours (no cycle slack) only exist next to the line where the surfaces meet
    monkeypatch.setattr(nocs_matching, "CYCLE_FRACTION", 0.0)
    strict_a, _, strict_valid = match_nocs(flat, mask, tilted, mask, 35)
    assert np.abs(strict_a[strict_valid, 0] - 32).max() <= 5
    assert coverage_distance(mask, strict_a, strict_valid) > 7.0


def test_build_cache_nocs_resumable_with_preview(dataset_dir, capsys):
    assert cli.build_main([str(dataset_dir), "--method", "nocs", "--preview"]) == 0
    assert "written to 2 shard(s)" in capsys.readouterr().out
    dataset = open_dataset(dataset_dir)
    record = dataset.read_keypoints(3, "nocs")
    assert record["points_a"].shape == (4, 35, 2) and record["valid"].sum() >= 4 * 25
    params = dataset.keypoint_methods(1)["nocs"]
    assert params["k"] == 35 and params["method"] == "nocs"
    mtimes = [path.stat().st_mtime_ns for path in dataset.shard_paths]
    assert cli.build_main([str(dataset_dir), "--method", "nocs"]) == 0
    assert "0 shard(s), 2 already up to date" in capsys.readouterr().out
    assert [path.stat().st_mtime_ns for path in dataset.shard_paths] == mtimes
    assert verify(dataset_dir) == []
    preview = Image.open(dataset_dir / "keypoints-nocs-preview.png")
    assert preview.size == (2 * 256, 8 * 256)  # 64 px upscaled 4x; Ia | Ip; 2 quadruplets x 4 samples


def test_build_cache_dino_with_weights_file(dataset_dir, vit_small, tmp_path, capsys):
    from safetensors.torch import save_file

    weights = tmp_path / "vits8.safetensors"
    save_file({name: value.contiguous() for name, value in vit_small.state_dict().items()}, weights)
    argv = [str(dataset_dir), "--method", "dino", "--weights", str(weights), "--load-size", "48", "--k", "8",
            "--batch-size", "8"]
    assert cli.build_main(argv) == 0
    dataset = open_dataset(dataset_dir)
    params = dataset.keypoint_methods(0)["dino"]
    assert params["model"] == "vit_small_patch8_224.dino" and params["stride"] == 4 and params["layer"] == 9
    assert params["load_size"] == 48 and len(params["weights_sha256"]) == 64
    stored = dataset.read_keypoints(0, "dino")
    assert stored["valid"].sum() >= 4 * 4
    # the stored points are what the method computes with the same weights
    method = VitCorrespondences(dataclasses.replace(SMALL, load_size=48), vit_small, k=8)
    rows = {name: value[:1] for name, value in dataset.read_rows(0, ("rgba", "mask", "nocs")).items()}
    points_a, points_p, valid = sample_keypoints(method, rows)
    assert np.array_equal(valid[0], stored["valid"]) and np.allclose(points_a[0], stored["points_a"])
    assert "dino" in dataset.keypoint_methods(1) and "nocs" in dataset.keypoint_methods(1)
    capsys.readouterr()
    assert cli.build_main(argv) == 0
    assert "already up to date" in capsys.readouterr().out


def test_dino_without_weights_exits_with_one_line(dataset_dir, monkeypatch, capsys):
    monkeypatch.setattr(weights.WeightSource, "cached", lambda self: None)  # an empty cache
    assert cli.build_main([str(dataset_dir)]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "--weights PATH" in error and "dino_deitsmall8_pretrain.pth" in error
    assert str(weights.hub_checkpoints()) in error


def test_eval_correspondences_nocs(dataset_dir, capsys):
    assert cli.eval_main([str(dataset_dir), "--method", "nocs"]) == 0
    out = capsys.readouterr().out
    scores = {float(a): float(v) for a, v in re.findall(r"PCK@([\d.]+) ([\d.]+)", out)}
    assert scores[0.05] >= 0.95 and scores[0.10] >= scores[0.05]
    assert "4 quadruplets, 8 same-model pairs" in out
    coverage = dict(re.findall(r"coverage, ([\w -]+): ([\d.]+) px", out))
    # analytic ellipsoids filling ~85% of 64 px: 35 points leave every foreground pixel a few pixels from one
    assert 1.0 < float(coverage["same-model pairs"]) < 8.0 and 1.0 < float(coverage["training samples"]) < 10.0
    assert "560 points on the 16 training samples' (appearance, pose) pairs" in out
