"""nocs-net: the network, its category input, its loss modulo each category's symmetry and its augmentation,
train-nocs (loss falls, exact resume, several categories) and the `nocs-net` keypoint method in
build-keypoint-cache / eval-correspondences (one matching path with `nocs`; PCK per category)."""
from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from eopose.dataset.keypoints import cli
from eopose.dataset.keypoints.methods import IMAGE_METHODS, METHODS, build_method
from eopose.dataset.keypoints.nocs_matching import NocsCorrespondences, confident_pixels, match_nocs
from eopose.dataset.keypoints.accuracy import pck_by_category
from eopose.dataset.keypoints.nocs_net import (CONFIDENT_ERROR, NocsNet, NocsNetConfig, NocsNetOutput, load_nocs_net,
                                               picture_category, predict)
from eopose.dataset.keypoints.nocs_net_method import NocsNetCorrespondences
from eopose.dataset.shard_format import open_dataset, shard_name, update_index, verify, write_shard
from eopose.dataset.synthetic import make_quadruplet_rows, write_synthetic_dataset
from eopose.train.nocs import config as nocs_config
from eopose.train.nocs import trainer as nocs_trainer
from eopose.train.nocs.augment import augment_views
from eopose.train.nocs.cli import main as train_nocs
from eopose.train.nocs.config import AugmentConfig, LossConfig
from eopose.train.nocs.loss import SymmetryGroups, nocs_loss, rotate_about_up


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_synthetic_dataset(tmp_path_factory.mktemp("nocs") / "data", quads=10, resolution=64,
                                   quads_per_shard=5)


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("nocs-run") / "run"
    assert train_nocs(["--data", str(data), "--config", "tiny", "--out", str(out)]) == 0
    return out


def _losses(run_dir) -> list[float]:
    return [json.loads(line)["total"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_network_shapes_and_any_size_prediction():
    torch.manual_seed(0)
    net = NocsNet(NocsNetConfig(channels=(8, 16, 32))).eval()
    with torch.no_grad():
        nocs, logits, confidence = net(torch.rand(2, 3, 64, 64))
    assert nocs.shape == (2, 3, 64, 64) and logits.shape == confidence.shape == (2, 1, 64, 64)
    assert float(nocs.min()) >= 0 and float(nocs.max()) <= 1
    rgba = np.random.default_rng(0).integers(0, 256, (3, 48, 80, 4), dtype=np.uint8)
    coords, probability, confidence = predict(net, rgba)
    assert coords.shape == (3, 48, 80, 3) and probability.shape == confidence.shape == (3, 48, 80)


def _sure(nocs):
    logits = torch.full((len(nocs), 1) + tuple(nocs.shape[2:]), 20.0)
    return NocsNetOutput(nocs, logits, logits)


def test_symmetric_loss_forgives_rotation_about_up_only_for_symmetric_views():
    rng = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 16, 16, generator=rng) * 0.6 + 0.2
    mask = torch.ones(2, 1, 16, 16)
    rotated = rotate_about_up(target, torch.tensor([math.pi / 6]))[0]  # one of the 12 symmetric rotations
    radius = lambda n: torch.hypot(n[:, 0] - 0.5, n[:, 1] - 0.5)  # noqa: E731
    assert torch.allclose(radius(rotated), radius(target), atol=1e-6) and torch.equal(rotated[:, 2], target[:, 2])
    groups = SymmetryGroups(("shoes", "vases"), LossConfig().symmetry_steps)
    vases, shoes = torch.tensor([1, 1]), torch.tensor([0, 0])
    _, terms = nocs_loss(_sure(rotated), target, mask, vases, groups, LossConfig())
    assert float(terms["nocs/min_symmetric"]) < 1e-5 and float(terms["nocs/exact"]) > 0.02
    _, terms = nocs_loss(_sure(rotated), target, mask, shoes, groups, LossConfig())
    assert float(terms["nocs/min_symmetric"]) == pytest.approx(float(terms["nocs/exact"]))
    exact, _ = nocs_loss(_sure(target), target, mask, vases, groups, LossConfig())
    up_to_symmetry, _ = nocs_loss(_sure(rotated), target, mask, vases, groups, LossConfig())
    assert float(exact) < float(up_to_symmetry)  # the exact term lets texture break the tie


def test_height_term_costs_the_height_error_alone():
    """loss.height adds height x the foreground-mean height (NOCS z) error: nothing for a vase turned about its axis,
    height x 0.1 for one whose height is 0.1 off (on top of what the other terms charge)."""
    target = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(2)) * 0.6 + 0.2
    mask = torch.ones(1, 1, 16, 16)
    groups, vases = SymmetryGroups(("vases",), 12), torch.tensor([0])
    turned = rotate_about_up(target, torch.tensor([math.pi / 3]))[0]
    raised = turned.clone()
    raised[:, 2] += 0.1
    weighted = dataclasses.replace(LossConfig(), height=2.0)
    for predicted, error in ((turned, 0.0), (raised, 0.1)):
        plain, plain_terms = nocs_loss(_sure(predicted), target, mask, vases, groups, LossConfig())
        total, terms = nocs_loss(_sure(predicted), target, mask, vases, groups, weighted)
        assert float(terms["nocs/height"]) == pytest.approx(error, abs=1e-6) and "nocs/height" not in plain_terms
        assert float(total - plain) == pytest.approx(2.0 * error, abs=1e-6)


def test_symmetry_groups_per_category():
    groups = SymmetryGroups(("briefcases", "file_cabinets", "shoes", "vases"), 12)
    assert torch.allclose(groups.angles, torch.arange(12) * (2 * math.pi / 12))  # the half turn is one of the 12
    assert groups.allowed.sum(dim=0).tolist() == [2, 2, 1, 12]
    assert torch.equal(groups.angles[groups.allowed[:, 0]], torch.tensor([0.0, math.pi]))
    assert groups.allowed[0].all()  # the identity belongs to every group
    assert torch.equal(SymmetryGroups(("vases",), 12).angles, torch.arange(12) * (2 * math.pi / 12))


def test_half_turn_forgives_exactly_a_half_turn_for_briefcases_not_for_shoes():
    rng = torch.Generator().manual_seed(1)
    target = torch.rand(1, 3, 16, 16, generator=rng) * 0.6 + 0.2
    mask = torch.ones(1, 1, 16, 16)
    groups = SymmetryGroups(("briefcases", "shoes"), 12)
    briefcase, shoe = torch.tensor([0]), torch.tensor([1])

    def best(angle, category):
        turned = rotate_about_up(target, torch.tensor([angle]))[0]
        _, terms = nocs_loss(_sure(turned), target, mask, category, groups, LossConfig())
        return float(terms["nocs/min_symmetric"]), float(terms["nocs/exact"])
    half_briefcase, half_exact = best(math.pi, briefcase)
    assert half_briefcase < 1e-6 and half_exact > 0.1  # a briefcase turned front to back costs nothing
    assert best(math.pi, shoe) == pytest.approx((half_exact, half_exact))  # a shoe turned toe to heel does
    quarter_briefcase, quarter_exact = best(math.pi / 2, briefcase)
    assert quarter_briefcase == pytest.approx(quarter_exact) and quarter_briefcase > 0.1  # no quarter-turn symmetry


def test_confidence_target_is_the_pixels_within_the_confident_error():
    target = torch.full((1, 3, 4, 4), 0.5)
    predicted = target.clone()
    predicted[0, 0, :2] += 0.05  # 8 pixels off by 0.05 (right), 8 by 0.3 (wrong)
    predicted[0, 0, 2:] += 0.3
    mask = torch.ones(1, 1, 4, 4)
    sure = torch.where(torch.arange(4).view(1, 1, 4, 1) < 2, 20.0, -20.0).expand(1, 1, 4, 4)
    for confidence, expected in ((sure, 0.0), (-sure, 20.0), (torch.zeros(1, 1, 4, 4), math.log(2))):
        _, terms = nocs_loss(NocsNetOutput(predicted, sure, confidence), target, mask, torch.tensor([0]),
                             SymmetryGroups(("shoes",), 12), LossConfig())
        assert float(terms["confidence/right"]) == 0.5
        assert float(terms["confidence/bce"]) == pytest.approx(expected, abs=1e-6)
    assert CONFIDENT_ERROR == 0.1


CLEAN = dict(white_balance=0.0, brightness=0.0, contrast=0.0, saturation=0.0, gamma=1.0, blur=0.0, noise=0.0,
             jpeg=0.0)  # no photometric change


def _square_views(count: int = 8):
    rgba = np.zeros((count, 32, 32, 4), np.uint8)
    rgba[:, 8:24, 8:24] = (200, 30, 30, 255)
    nocs = torch.zeros(count, 32, 32, 3)
    nocs[:, 8:24, 8:24] = 0.5
    mask = torch.zeros(count, 32, 32)
    mask[:, 8:24, 8:24] = 1
    return torch.from_numpy(rgba), nocs, mask


def test_augmentation_moves_targets_with_the_object_and_is_seeded():
    rgba, nocs, mask = _square_views()
    config = AugmentConfig(geometric=1.0, white=1.0, **CLEAN)
    images, targets, masks = augment_views(rgba, nocs, mask, config, torch.Generator().manual_seed(1))
    again = augment_views(rgba, nocs, mask, config, torch.Generator().manual_seed(1))
    assert torch.equal(images, again[0]) and torch.equal(masks, again[2])
    assert not torch.equal(masks[:, 0], mask)  # rescaled, shifted, rolled
    assert torch.all((targets[:, 0] > 0) == (masks[:, 0] > 0))  # NOCS and mask move together
    inside, outside = masks[:, 0] > 0, masks[:, 0] == 0
    assert float((images[:, 1][inside] < 0.2).float().mean()) > 0.8  # the object (green 30/255) follows the mask
    assert float((images[:, 1][outside] > 0.99).float().mean()) > 0.9  # white around it
    sizes = masks.sum(dim=(1, 2, 3)) / mask[0].sum()
    assert 0.2 < float(sizes.min()) and float(sizes.max()) < 1.3 and float(sizes.std()) > 0.05  # scale 0.5-1.1


def test_small_views_draw_from_their_own_scale_and_leave_other_configs_untouched():
    rgba, nocs, mask = _square_views()
    area = float(mask[0].sum())
    small = AugmentConfig(geometric=1.0, roll=0.0, white=1.0, small=1.0, small_scale=(0.4, 0.5), **CLEAN)
    masks = augment_views(rgba, nocs, mask, small, torch.Generator().manual_seed(4))[2]
    sizes = (masks.sum(dim=(1, 2, 3)) / area).sqrt()  # the linear scale each view was drawn at
    assert 0.35 < float(sizes.min()) and float(sizes.max()) < 0.55
    plain = AugmentConfig(geometric=1.0, white=1.0, **CLEAN)
    off = augment_views(rgba, nocs, mask, dataclasses.replace(plain, small=0.0, small_scale=(0.1, 0.2)),
                        torch.Generator().manual_seed(4))
    assert torch.equal(off[0], augment_views(rgba, nocs, mask, plain, torch.Generator().manual_seed(4))[0])


def test_augmentation_busy_backgrounds_and_photometric_changes():
    rgba, nocs, mask = _square_views(32)
    textured = AugmentConfig(geometric=0.0, white=0.0, plain=0.0, gradient=0.0, **CLEAN)
    images, _, masks = augment_views(rgba, nocs, mask, textured, torch.Generator().manual_seed(2))
    outside = masks[:, 0] == 0
    spread = torch.stack([image[:, out].std(dim=1).mean() for image, out in zip(images, outside)])
    assert float((spread > 0.05).float().mean()) > 0.8  # busy: noise, clutter, stripes and checks
    assert torch.allclose(images[:, :, 8:24, 8:24], torch.tensor([200, 30, 30]).view(1, 3, 1, 1) / 255.0)
    camera = AugmentConfig(geometric=0.0, white=1.0, blur=1.0, noise=1.0, jpeg=1.0)
    degraded, _, _ = augment_views(rgba, nocs, mask, camera, torch.Generator().manual_seed(3))
    assert degraded.min() >= 0 and degraded.max() <= 1
    clean, _, _ = augment_views(rgba, nocs, mask, AugmentConfig(geometric=0.0, white=1.0, **CLEAN),
                                torch.Generator().manual_seed(3))
    change = (degraded - clean).abs().mean(dim=(1, 2, 3))
    assert float(change.min()) > 0.005 and float(change.max()) < 0.3  # every view changed, none destroyed


def test_train_nocs_reduces_its_loss_and_writes_the_run_folder(run):
    losses = _losses(run)
    assert losses[-1] < 0.9 * losses[0]
    for name in ("checkpoints/last.pt", "checkpoints/final.pt", "config.json", "split.json", "samples/nocs-000030.png"):
        assert (run / name).is_file()
    assert any((run / "tensorboard").iterdir())
    split = json.loads((run / "split.json").read_text())
    assert split["train_quadruplets"] > 0 and split["models"]["test"]


def test_train_nocs_resume_continues_to_the_same_losses(data, run, tmp_path, monkeypatch, capsys):
    original = nocs_trainer.NocsTrainer._after_step

    def interrupted(self, *args):
        original(self, *args)
        if self.step == 13:
            raise KeyboardInterrupt  # after the step-10 checkpoint
    monkeypatch.setattr(nocs_trainer.NocsTrainer, "_after_step", interrupted)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train_nocs(["--data", str(data), "--config", "tiny", "--out", str(out)])
    monkeypatch.setattr(nocs_trainer.NocsTrainer, "_after_step", original)
    assert train_nocs(["--data", str(data), "--config", "tiny", "--out", str(out)]) == 2  # refuses to overwrite
    assert "--resume" in capsys.readouterr().err
    assert train_nocs(["--data", str(data), "--config", "tiny", "--out", str(out), "--resume"]) == 0
    assert _losses(out) == pytest.approx(_losses(run), rel=1e-5)


def test_train_nocs_in_bf16_autocast_follows_the_float32_run(data, run, tmp_path):
    config = tmp_path / "tiny-bf16.toml"
    config.write_text((Path(nocs_config.__file__).parent / "configs" / "tiny.toml").read_text()
                      .replace("steps = 30", "steps = 30\nbf16 = true"))
    out = tmp_path / "run"
    assert train_nocs(["--data", str(data), "--config", str(config), "--out", str(out)]) == 0
    bf16, float32 = _losses(out), _losses(run)
    assert bf16[0] == pytest.approx(float32[0], rel=0.02)  # the same first batch, rounded to bfloat16
    assert bf16[0] != float32[0] and bf16[-1] < 0.9 * bf16[0]
    net, _ = load_nocs_net(out / "checkpoints" / "final.pt")
    assert all(parameter.dtype == torch.float32 for parameter in net.parameters())  # float32 weights, as always


def test_method_registry_and_one_matching_path():
    assert set(METHODS) == {"dino", "dinov2", "nocs", "nocs-net"}
    assert "nocs-net" in IMAGE_METHODS and "nocs" not in IMAGE_METHODS
    assert NocsNetCorrespondences.match is NocsCorrespondences.match  # oracle and predictor differ in prepare only
    assert isinstance(build_method("nocs", k=8), NocsCorrespondences)


def test_confidence_selection_keeps_confident_pixels_and_a_floor_of_the_most_confident():
    mask = np.zeros((4, 5))
    mask[:, :4] = 1  # 16 foreground pixels
    confidence = np.zeros((4, 5))
    confidence[:, :4] = (np.arange(16) / 16 + 0.01).reshape(4, 4)  # 8 of them at >= 0.5
    assert np.array_equal(confident_pixels(mask, None), np.flatnonzero(mask))
    assert len(confident_pixels(mask, np.ones((4, 5)))) == 16  # rendered NOCS: confidence 1, everything matches
    assert len(confident_pixels(mask, confidence)) == 8
    assert len(confident_pixels(mask, confidence * 0.5)) == 4  # unsure everywhere: the top quarter stays
    rng = np.random.default_rng(0)
    nocs = rng.random((16, 16, 3)).astype(np.float32)
    full = np.ones((16, 16))
    plain = match_nocs(nocs, full, nocs, full, 8)
    assert all(np.array_equal(x, y) for x, y in zip(plain, match_nocs(nocs, full, nocs, full, 8, 0, full, full)))


def test_each_cluster_keeps_the_pair_the_network_trusts_most():
    rng = np.random.default_rng(1)
    nocs = rng.random((16, 16, 3)).astype(np.float32)  # two identical views: every pixel pairs with itself, distance 0
    full = np.ones((16, 16))
    first, _, _ = match_nocs(nocs, full, nocs, full, 1)
    assert first[0].tolist() == [0.5, 0.5]  # all pairs tie: the first in raster order
    trusted = np.full((16, 16), 0.6)
    trusted[10, 12] = 0.95
    unsure_pose = trusted.copy()
    unsure_pose[10, 12] = 0.55  # the pose view doubts that pixel: the pair is as sure as its less sure pixel
    unsure_pose[3, 4] = 0.9
    trusted[3, 4] = 0.8
    points_a, points_p, valid = match_nocs(nocs, full, nocs, full, 1, 0, trusted, trusted)
    assert valid[0] and points_a[0].tolist() == points_p[0].tolist() == [12.5, 10.5]
    points_a, _, _ = match_nocs(nocs, full, nocs, full, 1, 0, trusted, unsure_pose)
    assert points_a[0].tolist() == [4.5, 3.5]


def test_build_cache_and_eval_with_nocs_net(data, run, tmp_path, capsys):
    copy = shutil.copytree(data, tmp_path / "data")
    weights = str(run / "checkpoints" / "final.pt")
    assert cli.build_main([str(copy), "--method", "nocs-net", "--weights", weights, "--k", "8"]) == 0
    assert "written to 2 shard(s)" in capsys.readouterr().out
    dataset = open_dataset(copy)
    params = dataset.keypoint_methods(0)["nocs-net"]
    assert params["method"] == "nocs-net" and len(params["weights_sha256"]) == 64 and params["net"]["channels"]
    assert dataset.read_keypoints(0, "nocs-net")["points_a"].shape == (4, 8, 2)
    assert verify(copy) == [] and not list(copy.glob("*.tmp-*"))  # atomic shard updates
    assert cli.build_main([str(copy), "--method", "nocs-net", "--weights", weights, "--k", "8"]) == 0
    assert "0 shard(s), 2 already up to date" in capsys.readouterr().out
    assert cli.eval_main([str(copy), "--method", "nocs-net", "--weights", weights, "--split", "train"]) == 0
    out = capsys.readouterr().out
    assert "of split train" in out and re.search(r"PCK@0.10 [\d.]+", out)
    assert float(re.search(r"NOCS error ([\d.]+) mean", out).group(1)) < 0.5


def test_missing_or_wrong_weights_one_line_naming_the_fix(data, run, tmp_path, capsys):
    assert cli.build_main([str(data), "--method", "nocs-net"]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "--weights PATH" in error and "train-nocs" in error
    wrong = tmp_path / "wrong.pt"
    torch.save({"model": {}, "config": {}}, wrong)  # e.g. a train-eopose checkpoint
    for path in (wrong, tmp_path / "missing.pt", run / "config.json"):
        assert cli.eval_main([str(data), "--method", "nocs-net", "--weights", str(path)]) == 2
        error = capsys.readouterr().err.strip()
        assert "\n" not in error and f"--weights {path}" in error
    assert list(data.glob("*.tmp-*")) == [] and "nocs-net" not in open_dataset(data).keypoint_methods(0)


@pytest.fixture(scope="module")
def two_categories(tmp_path_factory):
    """Two dataset folders of analytic ellipsoids labelled briefcases and shoes, and one folder holding both."""
    root = tmp_path_factory.mktemp("nocs-categories")
    folders = [write_synthetic_dataset(root / name, quads=10, resolution=64, quads_per_shard=5, seed=seed,
                                       category=name) for seed, name in enumerate(("briefcases", "shoes"))]
    mixed = root / "mixed"
    mixed.mkdir()
    for shard, (seed, name) in enumerate(enumerate(("briefcases", "shoes"))):
        write_shard(mixed / shard_name(shard), make_quadruplet_rows(6, 64, 64, seed, name), {"seed": seed})
    update_index(mixed, {})
    return folders, mixed


@pytest.fixture(scope="module")
def categories_run(two_categories, tmp_path_factory):
    out = tmp_path_factory.mktemp("nocs-categories-run") / "run"
    folders, _ = two_categories
    assert train_nocs(["--data", str(folders[0]), "--data", str(folders[1]), "--config", "tiny", "--out",
                       str(out)]) == 0
    return out


def test_category_input_starts_as_identity_and_changes_the_output_once_trained(two_categories, categories_run):
    rgba = open_dataset(two_categories[0][0]).read(0, ("rgba",))["rgba"]
    fresh = NocsNet(NocsNetConfig(channels=(8, 16, 32)), ("briefcases", "shoes")).eval()
    assert len(fresh.film) == 5  # after 3 down and 2 up blocks
    assert np.array_equal(predict(fresh, rgba, categories="briefcases")[0], predict(fresh, rgba, categories="shoes")[0])
    net, _ = load_nocs_net(categories_run / "checkpoints" / "final.pt")
    assert net.categories == ("briefcases", "shoes") and net.conditioned
    as_briefcase, as_shoe = (predict(net, rgba, categories=name)[0] for name in ("briefcases", "shoes"))
    assert float(np.abs(as_briefcase - as_shoe).mean()) > 1e-3
    assert np.array_equal(predict(net, rgba, categories=["shoes"] * 4)[0], as_shoe)
    with pytest.raises(ValueError, match="knows 2 categories"):
        predict(net, rgba)
    with pytest.raises(ValueError, match="category vases: this nocs-net knows briefcases, shoes"):
        predict(net, rgba, categories="vases")


def test_single_category_checkpoint_has_no_category_input(data, run, tmp_path):
    payload = torch.load(run / "checkpoints" / "final.pt", weights_only=True)
    assert payload["categories"] == ["ellipsoids"] and not any("film" in name for name in payload["model"])
    old = tmp_path / "before-categories.pt"  # a checkpoint saved before categories were recorded
    torch.save({key: value for key, value in payload.items() if key != "categories"}, old)
    net, _ = load_nocs_net(run / "checkpoints" / "final.pt")
    old_net, _ = load_nocs_net(old)
    assert old_net.categories == () and not old_net.conditioned
    rgba = open_dataset(data).read(0, ("rgba",))["rgba"]
    expected = predict(net, rgba)
    for out in (predict(old_net, rgba), predict(net, rgba, categories="shoes"), predict(old_net, rgba, categories="x")):
        assert all(np.array_equal(a, b) for a, b in zip(out, expected))
    assert picture_category(net, None) == "ellipsoids" and picture_category(old_net, None) is None


def test_pck_by_category():
    errors = [np.array([1.0, 5.0]), np.array([20.0]), np.array([2.0, 3.0, 9.0])]
    scores = pck_by_category(errors, ["shoes", "vases", "shoes"], 64)  # thresholds 3.2 and 6.4 px
    assert list(scores) == ["shoes", "vases"]
    assert scores["shoes"] == {0.05: 0.6, 0.10: 0.8} and scores["vases"] == {0.05: 0.0, 0.10: 0.0}


def test_eval_correspondences_per_category_and_unknown_category(two_categories, categories_run, data, capsys):
    _, mixed = two_categories
    weights = str(categories_run / "checkpoints" / "final.pt")
    assert cli.eval_main([str(mixed), "--method", "nocs-net", "--weights", weights]) == 0
    out = capsys.readouterr().out
    rows = dict(re.findall(r"^(briefcases|shoes): PCK@0.05 [\d.]+  PCK@0.10 ([\d.]+)  \(12 same-model pairs\)$", out,
                           re.MULTILINE))
    assert set(rows) == {"briefcases", "shoes"} and all(0.0 <= float(value) <= 1.0 for value in rows.values())
    assert cli.eval_main([str(data), "--method", "nocs-net", "--weights", weights]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "category ellipsoids: this nocs-net knows briefcases, shoes" in error
    assert cli.build_main([str(data), "--method", "nocs-net", "--weights", weights]) == 2
    assert "--weights" in capsys.readouterr().err
