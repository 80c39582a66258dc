"""eval-eopose: SSIM/PSNR against scikit-image, the other metrics, baselines on a tiny trained checkpoint, the
report files, unavailable learned metrics offline, and one-line errors for bad input."""
import csv
import json

import numpy as np
import pytest
import torch
import torchvision
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torch_fidelity import feature_extractor_inceptionv3 as inception_module

from eopose.dataset import add_keypoints
from eopose.dataset.keypoints.nocs_net import NocsNet, NocsNetConfig, checkpoint_payload
from eopose.dataset.pairs import PairSampleDataset
from eopose.dataset.shard_format import shard_name
from eopose.dataset.synthetic import write_synthetic_dataset
from eopose.model.loading import ModelConfig, build_model
from eopose.train.cli import main as train_main
from eopose.train.evaluation.cli import main as eval_main
from eopose.train.evaluation.metric_models import frechet_distance
from eopose.train.evaluation.metrics import (blank, end_point_error, masked_l1, masked_ssim, psnr, silhouette_iou,
                                             ssim)


def _image_pairs():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:72] / 48.0
    gradient = np.stack([xx / 1.5, yy, 0.5 + 0.5 * np.sin(6 * xx)], -1)
    checker = np.repeat(((np.floor(xx * 8) + np.floor(yy * 8)) % 2)[..., None], 3, -1)
    noise = rng.random((37, 53, 3))
    yield noise, np.clip(noise + rng.normal(0, 0.1, noise.shape), 0, 1)  # random, non-square
    yield rng.random((32, 32, 3)), rng.random((32, 32, 3))  # unrelated
    yield gradient, np.roll(gradient, 3, axis=1)  # structured, shifted
    yield checker, 0.8 * checker + 0.1  # contrast change
    yield np.full((20, 29, 3), 0.5), rng.random((20, 29, 3))  # constant vs noise


@pytest.mark.parametrize("index", range(5))
def test_ssim_and_psnr_agree_with_scikit_image(index):
    a, b = list(_image_pairs())[index]
    ours_ssim = ssim(*(torch.from_numpy(x).permute(2, 0, 1)[None] for x in (a, b)))
    ours_psnr = psnr(*(torch.from_numpy(x).permute(2, 0, 1)[None] for x in (a, b)))
    theirs = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                   data_range=1, channel_axis=-1)
    assert abs(float(ours_ssim) - theirs) < 1e-3
    assert abs(float(ours_psnr) - peak_signal_noise_ratio(a, b, data_range=1)) < 1e-3


def test_ssim_is_batched_per_image():
    pairs = [p for p in _image_pairs() if p[0].shape == (32, 32, 3)] * 3
    batch = [torch.stack([torch.from_numpy(p[i]).permute(2, 0, 1) for p in pairs]) for i in (0, 1)]
    assert torch.allclose(ssim(*batch), ssim(batch[0][:1], batch[1][:1]).expand(3))


def test_masked_l1_iou_epe_and_fid_by_hand():
    target = torch.ones(2, 3, 8, 8)
    mask = torch.zeros(2, 1, 8, 8)
    mask[:, :, 2:6, 2:6] = 1
    output = target.clone()
    output[0, :, 2:6, 2:6] = 0.5  # foreground of sample 0 off by 0.5, silhouette = the mask
    assert masked_l1(output, target, mask).tolist() == [0.5, 0.0]
    assert silhouette_iou(output, mask, (1.0, 1.0, 1.0)).tolist() == [1.0, 0.0]  # sample 1: no silhouette
    flow = torch.zeros(2, 2, 8, 8)
    flow_gt = torch.zeros(2, 2, 8, 8)
    flow_gt[:, 0], flow_gt[:, 1] = 3.0, 4.0
    assert end_point_error(flow, flow_gt, mask).tolist() == [5.0, 5.0]
    assert np.isnan(end_point_error(flow, flow_gt, torch.zeros_like(mask))).all()
    rng = np.random.default_rng(0)
    features = rng.normal(size=(4000, 4))
    assert abs(frechet_distance(features, features)) < 1e-6
    assert abs(frechet_distance(features, features + 2.0) - 16.0) < 0.2  # |mu1 - mu2|^2, equal covariances


def test_masked_ssim_and_blank_rank_a_blank_frame_last():
    """A mostly white target: full-frame SSIM rates a blank white frame highly; masked SSIM (target mask union
    output silhouette, dilated) and the blank count do not."""
    target = torch.ones(2, 3, 64, 64)
    mask = torch.zeros(2, 1, 64, 64)
    mask[..., 26:38, 26:38] = 1.0
    target[:, :, 26:38, 26:38] = torch.linspace(0.1, 0.5, 12).view(1, 1, 1, 12)
    blank_frame = torch.ones_like(target)
    shifted = target.roll(2, dims=-1)  # the object drawn, 2 px off
    assert ssim(blank_frame, target).min() > 0.7
    assert masked_ssim(blank_frame, target, mask, (1, 1, 1)).max() < 0.2
    assert (masked_ssim(shifted, target, mask, (1, 1, 1)) > masked_ssim(blank_frame, target, mask, (1, 1, 1))).all()
    assert torch.allclose(masked_ssim(target, target, mask, (1, 1, 1)), torch.ones(2, dtype=torch.float64))
    assert blank(blank_frame, mask, (1, 1, 1)).tolist() == [True, True]
    assert blank(shifted, mask, (1, 1, 1)).tolist() == [False, False]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two categories of analytic shards with stored 'nocs' keypoints and a tiny checkpoint trained on them."""
    root = tmp_path_factory.mktemp("eval")
    rng = np.random.default_rng(0)
    data = []
    for category in ("vases", "shoes"):
        folder = write_synthetic_dataset(root / category, quads=8, resolution=64, quads_per_shard=8,
                                         category=category)
        points = rng.uniform(8, 56, (8, 4, 35, 2)).astype(np.float32)
        add_keypoints(folder / shard_name(0), "nocs", points, points + rng.normal(0, 2, points.shape),
                      rng.random((8, 4, 35)) > 0.1, {"source": "test"})
        data.append(folder)
    assert train_main(["--data", str(data[0]), "--data", str(data[1]), "--config", "tiny",
                       "--out", str(root / "run")]) == 0
    alexnet = root / "alexnet-random.pth"  # a local trunk file: exercises --lpips-weights (not a real score)
    torch.save(torchvision.models.alexnet().state_dict(), alexnet)
    return {"data": data, "checkpoint": root / "run" / "checkpoints" / "final.pt", "alexnet": alexnet}


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    unreachable = lambda *a, **k: (_ for _ in ()).throw(OSError("network unreachable"))  # noqa: E731
    monkeypatch.setattr(torch.hub, "download_url_to_file", unreachable)  # eopose.dataset.weights downloads with it
    monkeypatch.setattr(inception_module, "load_state_dict_from_url", unreachable)  # torch-fidelity's own, unused


def _data_args(trained):
    return ["--checkpoint", str(trained["checkpoint"]), "--data", str(trained["data"][0]),
            "--data", str(trained["data"][1])]


def test_report_with_baselines_and_offline_fid(trained, offline, tmp_path, capsys):
    out = tmp_path / "report"
    assert eval_main(_data_args(trained) + ["--out", str(out), "--lpips-weights", str(trained["alexnet"]),
                                            "--batch-size", "6"]) == 0
    assert "report.html" in capsys.readouterr().out
    report = json.loads((out / "metrics.json").read_text())
    assert report["info"]["group_sizes"] == {"shoes": 12, "vases": 4, "All together": 16}
    table = report["table"]
    assert list(table) == ["shoes", "vases", "All together"]
    for group in table.values():
        assert list(group) == ["tps", "warp_only", "identity", "oracle", "eopose"]
        for method, cells in group.items():
            for metric in ("ssim", "masked_ssim", "psnr", "lpips", "masked_l1", "iou"):
                assert cells[metric]["status"] == "ok" and np.isfinite(cells[metric]["value"]), (method, metric)
            assert cells["fid"]["value"] is None and cells["fid"]["status"].startswith("unavailable: ")
            assert (cells["epe"]["value"] is None) == (method == "eopose")
    assert "no download" in report["metrics"]["fid"]["status"] and "--fid-weights" in \
        report["metrics"]["fid"]["status"]
    # identity baseline on exactly the test samples: Ia against Igt
    samples = PairSampleDataset(trained["data"], split="test", resolution=64, keypoint_method="nocs")
    expected = np.mean([float(ssim(s["appearance"][None], s["target"][None])) for s in samples])
    assert abs(table["All together"]["identity"]["ssim"]["value"] - expected) < 1e-9
    # the oracle draws the target's own silhouette with the exact flow: the ceiling of every warp
    oracle, identity = table["All together"]["oracle"], table["All together"]["identity"]
    assert oracle["iou"]["value"] > 0.95 and oracle["epe"]["value"] < 1e-6
    assert oracle["masked_l1"]["value"] < identity["masked_l1"]["value"]
    # the report files: table, status and example grid in each
    markdown = (out / "report.md").read_text()
    assert "| Experiments | TPS SSIM ↑ | TPS LPIPS ↓ | TPS FID ↓ | Warp only SSIM ↑" in markdown
    assert "| All together |" in markdown and "![examples](examples.png)" in markdown
    html = (out / "report.html").read_text()
    assert html.count("<table>") == 2 and "All together" in html and "TPS SSIM ↑" in html
    assert 'src="data:image/png;base64,' in html and "Ground truth" in html
    assert "FID</b>: unavailable: " in html
    assert (out / "examples.png").stat().st_size > 1000
    with open(out / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    fid_rows = [r for r in rows if r["metric"] == "fid"]
    assert len(rows) == 3 * 5 * 9 and all(r["value"] == "" and r["status"].startswith("unavailable: ")
                                          for r in fid_rows)


def test_offline_lpips_is_reported_unavailable_never_as_a_number(trained, offline, tmp_path):
    out = tmp_path / "report"
    assert eval_main(_data_args(trained) + ["--out", str(out), "--max-samples", "4", "--examples", "2"]) == 0
    report = json.loads((out / "metrics.json").read_text())
    status = report["metrics"]["lpips"]["status"]
    assert status.startswith("unavailable: ") and "--lpips-weights" in status
    assert all(methods[m]["lpips"] == {"value": None, "status": status}
               for methods in report["table"].values() for m in methods)
    assert f"LPIPS: {status}" in (out / "report.md").read_text()
    assert "| unavailable |" in (out / "report.md").read_text()
    assert "unavailable: " in (out / "report.html").read_text()
    with open(out / "metrics.csv", newline="") as handle:
        lpips_rows = [r for r in csv.DictReader(handle) if r["metric"] == "lpips"]
    assert lpips_rows and all(r["value"] == "" and r["status"] == status for r in lpips_rows)
    assert report["info"]["samples"] == 4


def _one_line_error(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    return err[0]


def test_bad_input_fails_in_one_line(trained, tmp_path, capsys):
    missing = tmp_path / "nope.pt"
    assert eval_main(["--checkpoint", str(missing), "--data", str(trained["data"][0]), "--out",
                      str(tmp_path / "r")]) == 2
    assert str(missing) in _one_line_error(capsys)
    bare = write_synthetic_dataset(tmp_path / "bare", quads=2, resolution=64, quads_per_shard=2)
    assert eval_main(["--checkpoint", str(trained["checkpoint"]), "--data", str(bare), "--out",
                      str(tmp_path / "r")]) == 2
    error = _one_line_error(capsys)
    assert shard_name(0) in error and "build-keypoint-cache" in error and "--method nocs" in error
    assert eval_main(["--checkpoint", str(trained["checkpoint"]), "--data", str(trained["data"][1]), "--split",
                      "val", "--out", str(tmp_path / "r")]) == 2  # the shoes shards hold no val quadruplet
    error = _one_line_error(capsys)
    assert "no 'val' samples" in error and "--split" in error
    assert not (tmp_path / "r").exists()


def test_estimated_rotations_refuse_a_category_the_nocs_net_does_not_know_up_front(trained, tmp_path, capsys):
    """A volume3d checkpoint (the tiny run's, its warp rebuilt as volume3d) with rotations estimated by a nocs-net of
    briefcases and shoes on vases and shoes: one line naming --nocs-weights and the categories, before the first
    batch (no progress bar) and without a report."""
    payload = torch.load(trained["checkpoint"], weights_only=True)
    payload["config"]["model"]["warp"] = "volume3d"
    payload["model"] = build_model(ModelConfig(**payload["config"]["model"]),
                                   payload["config"]["data"]["background"]).state_dict()
    checkpoint, nocs = tmp_path / "volume3d.pt", tmp_path / "nocs.pt"
    torch.save(payload, checkpoint)
    torch.save(checkpoint_payload(NocsNet(NocsNetConfig(channels=(8, 16, 32)), ("briefcases", "shoes"))), nocs)
    assert eval_main(["--checkpoint", str(checkpoint), "--data", str(trained["data"][0]), "--data",
                      str(trained["data"][1]), "--rotation", "estimated", "--nocs-weights", str(nocs), "--out",
                      str(tmp_path / "r")]) == 2
    assert _one_line_error(capsys) == ("eval-eopose: error: category vases: this nocs-net knows briefcases, shoes; "
                                       "pass --nocs-weights of a network trained on it")
    assert not (tmp_path / "r").exists()


def test_split_all_scores_every_sample_of_an_evaluation_only_folder(trained, offline, tmp_path):
    out = tmp_path / "all"
    assert eval_main(["--checkpoint", str(trained["checkpoint"]), "--data", str(trained["data"][1]), "--split",
                      "all", "--out", str(out), "--examples", "2"]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["info"]["samples"] == 4 * 8  # every quadruplet of the folder, whatever its split
    assert report["info"]["warp_only_checkpoint"].endswith("warp.pt")  # the stage-1 warp, not the tuned one
    assert report["table"]["All together"]["eopose"]["blank"]["value"] in range(0, 33)
