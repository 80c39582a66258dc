"""train-eopose: staged runs, exact resume after kill -9, DDP gradients, and its one-line errors."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from eopose.dataset import add_keypoints, open_dataset
from eopose.dataset.shard_format import shard_name
from eopose.dataset.synthetic import write_synthetic_dataset
from eopose.model.loading import read_checkpoint as load_checkpoint
from eopose.train.cli import main as train_main

from ddp_gradients import gradients

RESUME_CONFIG = """
name = "resume-test"
[data]
resolution = 64
keypoint_method = "nocs"
num_workers = 0
[model]
warp_channels = 8
warp_depth = 4
num_flows = 3
gen_channels = 8
gen_scales = 3
[discriminator]
base_channels = 8
n_layers = 2
[warp_loss]
perceptual = 0.0
style = 0.0
tps_warmup_steps = 5
[gen_loss]
perceptual = 0.0
style = 0.0
[optim]
batch_size_warp = 4
batch_size_gen = 4
warp_steps = 12
gen_steps = 12
e2e_steps = 12
[run]
checkpoint_every = 3
log_every = 1
image_every = 50
"""


@pytest.fixture(scope="module")
def keyed_dataset(tmp_path_factory):
    """Analytic shards with a stored keypoint set named 'nocs' (random pairs: training only needs some)."""
    data_dir = write_synthetic_dataset(tmp_path_factory.mktemp("train"), quads=16, resolution=64, quads_per_shard=8)
    rng = np.random.default_rng(0)
    for shard in range(2):
        points = rng.uniform(8, 56, (8, 4, 35, 2)).astype(np.float32)
        add_keypoints(data_dir / shard_name(shard), "nocs", points, points + rng.normal(0, 2, points.shape),
                      rng.random((8, 4, 35)) > 0.1, {"source": "test"})
    return data_dir


def _cli(*args):
    return [sys.executable, "-m", "eopose.train.cli", *map(str, args)]


def _metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_all_stages_write_checkpoints_metrics_and_grids(keyed_dataset, tmp_path):
    run_dir = tmp_path / "run"
    assert train_main(["--data", str(keyed_dataset), "--config", "tiny", "--out", str(run_dir)]) == 0
    final = load_checkpoint(run_dir / "checkpoints" / "final.pt")
    assert final["stages"] == ["warp", "gen", "e2e"] and final["progress"]["global_step"] == 10
    stages = [m["stage"] for m in _metrics(run_dir)]
    assert stages == ["warp"] * 4 + ["gen"] * 3 + ["e2e"] * 3
    assert {"warp/l1", "warp/tps", "warp/flow_gt", "warp/tv"} <= set(_metrics(run_dir)[0])
    assert {"gen/adv", "disc/lsgan", "warp/total"} <= set(_metrics(run_dir)[-1])
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == ["e2e-000003.png", "gen-000003.png",
                                                                       "warp-000004.png"]
    split = json.loads((run_dir / "split.json").read_text())
    assert not set(split["models"]["train"]) & set(split["models"]["test"])
    # a second run into the same folder without --resume is refused
    assert train_main(["--data", str(keyed_dataset), "--config", "tiny", "--out", str(run_dir)]) == 2


def test_stages_can_be_run_one_invocation_at_a_time(keyed_dataset, tmp_path):
    run_dir = tmp_path / "staged"
    common = ["--data", str(keyed_dataset), "--config", "tiny", "--out", str(run_dir)]
    assert train_main(common + ["--stage", "warp"]) == 0
    warp_only = load_checkpoint(run_dir / "checkpoints" / "final.pt")
    assert warp_only["stages"] == ["warp"]
    assert train_main(common + ["--stage", "gen", "--resume"]) == 0
    after_gen = load_checkpoint(run_dir / "checkpoints" / "final.pt")
    assert after_gen["stages"] == ["warp", "gen"] and after_gen["progress"]["global_step"] == 7
    warp_keys = [key for key in warp_only["model"] if key.startswith("warp.")]
    assert all(torch.equal(warp_only["model"][k], after_gen["model"][k]) for k in warp_keys)  # warp frozen
    assert any(not torch.equal(warp_only["model"][k], after_gen["model"][k]) for k in after_gen["model"]
               if k.startswith("generator."))
    assert [m["stage"] for m in _metrics(run_dir)] == ["warp"] * 4 + ["gen"] * 3
    assert train_main(common + ["--stage", "warp", "--resume"]) == 0  # already trained: nothing to do
    assert load_checkpoint(run_dir / "checkpoints" / "final.pt")["progress"]["global_step"] == 7


def test_resume_after_kill_reproduces_uninterrupted_losses(keyed_dataset, tmp_path):
    config = tmp_path / "resume.toml"
    config.write_text(RESUME_CONFIG)
    whole = tmp_path / "whole"
    subprocess.run(_cli("--data", keyed_dataset, "--config", config, "--out", whole), check=True,
                   capture_output=True)
    killed = tmp_path / "killed"
    process = subprocess.Popen(_cli("--data", keyed_dataset, "--config", config, "--out", killed),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while True:  # kill -9 somewhere in the generator stage, between checkpoints
        lines = (killed / "metrics.jsonl").read_text().splitlines() if (killed / "metrics.jsonl").exists() else []
        if lines and json.loads(lines[-1])["global_step"] >= 17:
            break
        assert process.poll() is None and time.time() < deadline, "run ended before it could be killed"
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / "checkpoints" / "final.pt").exists()
    subprocess.run(_cli("--data", keyed_dataset, "--config", config, "--out", killed, "--resume"), check=True,
                   capture_output=True)
    expected, resumed = _metrics(whole), _metrics(killed)
    assert [m["global_step"] for m in resumed] == list(range(1, 37))
    assert resumed == expected  # every loss term of every step, bit for bit


def test_two_process_gloo_ddp_matches_single_process_gradients(keyed_dataset, tmp_path):
    for stage in ("warp", "gen"):
        out = tmp_path / f"{stage}.pt"
        subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        os.path.join(os.path.dirname(__file__), "ddp_gradients.py"), str(out), str(keyed_dataset),
                        stage], check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        distributed = torch.load(out)
        single = gradients(stage, keyed_dataset, list(range(8)))
        compared = [name for name in single if "noise" not in name]  # noise draws differ per process by design
        assert len(compared) > 10 and set(compared) <= set(distributed)
        for name in compared:
            # float32 sums over 8 x 64 x 64 pixels in another order: the silhouette/visibility head's gradients
            # differ by up to ~3e-4 relative with one thread per process; a batch-coupled loss differs by O(1)
            torch.testing.assert_close(distributed[name], single[name], rtol=1e-3, atol=1e-5, msg=name)


def test_torchrun_trains_with_two_processes(keyed_dataset, tmp_path):
    run_dir = tmp_path / "ddp"
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                             "-m", "eopose.train.cli", "--data", str(keyed_dataset), "--config", "tiny",
                             "--out", str(run_dir)], capture_output=True, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(2 processes)" in (run_dir / "run.log").read_text()
    assert load_checkpoint(run_dir / "checkpoints" / "final.pt")["progress"]["global_step"] == 10


def test_missing_keypoints_name_build_keypoint_cache(tmp_path, capsys):
    data_dir = write_synthetic_dataset(tmp_path / "bare", quads=4, resolution=64, quads_per_shard=4)
    assert train_main(["--data", str(data_dir), "--config", "tiny", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "run `build-keypoint-cache" in err and "--method nocs" in err


def test_paper_config_offline_without_vgg_weights_fails_in_one_line(keyed_dataset, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("network unreachable")))
    config = tmp_path / "paper-nocs.toml"
    from eopose.train.config import CONFIG_DIR
    config.write_text((CONFIG_DIR / "paper.toml").read_text().replace('keypoint_method = "dino"',
                                                                      'keypoint_method = "nocs"'))
    code = train_main(["--data", str(keyed_dataset), "--config", str(config), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--vgg-weights" in err


def test_nan_loss_stops_and_keeps_last_good_checkpoint(keyed_dataset, tmp_path, capsys):
    import shutil
    from torch.utils.data import DistributedSampler
    from eopose.dataset.pairs import PairSampleDataset
    data_dir = shutil.copytree(keyed_dataset, tmp_path / "data")
    samples = PairSampleDataset(data_dir, split="train", resolution=64, keypoint_method="nocs")
    sampler = DistributedSampler(samples, num_replicas=1, rank=0, shuffle=True, seed=0, drop_last=True)
    sampler.set_epoch(0)
    order = list(sampler)
    poisoned = next(i for i in order[8:12] if i not in order[:8])  # first seen in warp step 2 (batch 4)
    quad = samples.quads[poisoned // 4][1]
    shard, row = samples.datasets[0].locate(quad)
    stored = open_dataset(data_dir).read_rows(shard, ["keypoints/nocs/points_a", "keypoints/nocs/points_p",
                                                      "keypoints/nocs/valid"])
    points_a = stored["keypoints/nocs/points_a"]
    points_a[row, poisoned % 4] = np.nan
    add_keypoints(data_dir / shard_name(shard), "nocs", points_a, stored["keypoints/nocs/points_p"],
                  stored["keypoints/nocs/valid"], {"poisoned": True})
    run_dir = tmp_path / "run"
    code = train_main(["--data", str(data_dir), "--config", "tiny", "--out", str(run_dir)])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("train-eopose: error:")]
    assert code == 3 and len(errors) == 1
    assert "non-finite loss at stage warp step 2" in errors[0] and "last good checkpoint is kept" in errors[0]
    kept = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert kept["progress"] == {"completed": [], "stage": "warp", "step": 2, "global_step": 2}
    assert all(torch.isfinite(v).all() for v in kept["model"].values())
    assert not (run_dir / "checkpoints" / "final.pt").exists()


def test_checkpoint_config_equals_the_config_the_run_started_with(keyed_dataset, tmp_path):
    """The TPS and adversarial warm-ups are schedules (eopose.train.stages), not writes into the config."""
    from eopose.train.config import config_from_dict, load_config
    run_dir = tmp_path / "run"
    assert train_main(["--data", str(keyed_dataset), "--config", "tiny", "--out", str(run_dir)]) == 0
    started = load_config("tiny")
    for name in ("warp.pt", "last.pt", "final.pt"):
        stored = config_from_dict(load_checkpoint(run_dir / "checkpoints" / name)["config"], name)
        assert stored == started, name
    assert started.warp_loss.tps > 0  # the warm-up switched the TPS loss off in training, not in the config
    assert json.loads((run_dir / "config.json").read_text())["warp_loss"]["tps"] == started.warp_loss.tps


def test_collapse_guard_stops_a_blank_generator_and_keeps_the_last_good_checkpoint(keyed_dataset, tmp_path, capsys,
                                                                                  monkeypatch):
    from eopose.model.generator import Generator
    from eopose.train.config import CONFIG_DIR
    config = tmp_path / "collapsing.toml"
    config.write_text((CONFIG_DIR / "tiny.toml").read_text().replace("[run]\n", "[run]\ncollapse_patience = 2\n"))
    monkeypatch.setattr(Generator, "forward", lambda self, warped, *rest: torch.ones_like(warped) + 0 * warped)
    run_dir = tmp_path / "run"
    code = train_main(["--data", str(keyed_dataset), "--config", str(config), "--out", str(run_dir)])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("train-eopose: error:")]
    assert code == 3 and len(errors) == 1
    assert "generator collapsed at stage gen step 1" in errors[0] and "last good checkpoint is kept" in errors[0]
    kept = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert kept["progress"]["completed"] == ["warp"] and kept["progress"]["stage"] is None  # saved before gen
    assert not (run_dir / "checkpoints" / "final.pt").exists()


def test_flip_augmentation_keeps_flow_points_and_masks_consistent(keyed_dataset):
    from eopose.dataset.pairs import PairSampleDataset
    from eopose.model.flow import warp
    from eopose.train.augment import flip_samples
    samples = PairSampleDataset(keyed_dataset, resolution=64, keypoint_method="nocs", with_flow=True)
    items = [samples[i] for i in range(4)]
    batch = {k: torch.stack([item[k] for item in items]) for k in items[0] if torch.is_tensor(items[0][k])}
    flipped = flip_samples(batch, torch.tensor([True, False, True, True]))
    assert torch.equal(flipped["appearance"][1], batch["appearance"][1])  # unflipped sample untouched
    assert torch.equal(flip_samples(flipped, torch.tensor([True, False, True, True]))["flow_gt"], batch["flow_gt"])

    # a target made from the appearance by a known smooth flow: mirroring all three must keep them consistent
    generator = torch.Generator().manual_seed(0)
    smooth = torch.nn.functional.interpolate(torch.randn(4, 2, 4, 4, generator=generator), size=(64, 64),
                                             mode="bicubic", align_corners=False)
    batch["flow_gt"] = 6 * smooth
    batch["target"] = warp(batch["appearance"], batch["flow_gt"], fill=1.0)
    flipped = flip_samples(batch, torch.tensor([True, False, True, True]))

    def warp_error(b):
        return float((warp(b["appearance"], b["flow_gt"], fill=1.0) - b["target"]).abs().max())

    assert warp_error(flipped) < 1e-5 and warp_error(batch) < 1e-5
    assert warp_error(dict(flipped, flow_gt=batch["flow_gt"])) > 0.1  # an unflipped flow would not fit
    # a keypoint lands on the mirrored pixel: x -> W - x maps pixel centre j + 0.5 to (W - 1 - j) + 0.5
    point = batch["points_a"][0, 0]
    mirrored = flipped["points_a"][0, 0]
    assert torch.allclose(mirrored, torch.stack([64 - point[0], point[1]]))
    col, row = int(point[0]), int(point[1])
    assert flipped["appearance"][0, :, row, 63 - col].tolist() == batch["appearance"][0, :, row, col].tolist()


def test_a_config_that_reads_no_flow_names_its_inert_settings():
    from eopose.train.config import load_config
    paper = load_config("paper")  # warp_loss.flow_gt = 0
    assert not paper.uses_flow
    assert "data.with_flow and warp_loss.visibility have no effect" in paper.inert_settings()
    assert load_config("demo").uses_flow and load_config("demo").inert_settings() is None


def test_one_learning_rate_schedule_for_both_trainers():
    from eopose.train.loop import learning_rate
    assert [learning_rate(1e-3, step, warmup_steps=4) for step in (0, 3, 9)] == pytest.approx([2.5e-4, 1e-3, 1e-3])
    cosine = [learning_rate(1.0, step, decay_steps=10, final_fraction=0.05) for step in (0, 5, 10, 20)]
    assert cosine == pytest.approx([1.0, 0.525, 0.05, 0.05])
