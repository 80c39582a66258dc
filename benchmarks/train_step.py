"""Training throughput per stage (samples/s) for the paper and tiny configs, next to the loader's samples/s.

Target (the figures this project holds itself to; README, Benchmarks): the loader delivers >= 3x the training step rate. Timing only: analytic shards with
random keypoints, and for configs with VGG terms a randomly initialised VGG19 (same cost as the real one).

    .venv/bin/python benchmarks/train_step.py [--configs tiny paper] [--steps 3] [--batch 4]
"""
import argparse
import tempfile
import time

import numpy as np
import torch
from torch.utils.data import DataLoader

from eopose.dataset import add_keypoints
from eopose.dataset.pairs import PairSampleDataset
from eopose.dataset.shard_format import shard_name
from eopose.dataset.synthetic import write_synthetic_dataset
from eopose.model.losses import GeneratorLoss, VGGLoss, WarpLoss
from eopose.model.loading import build_discriminator, build_model
from eopose.train.config import load_config
from eopose.train.stages import STAGE_ORDER, build_stage
from eopose.train.steps import discriminator_loss, model_losses, to_device
from eopose.train.trainer import use_channels_last


def keyed_dataset(folder, resolution: int, k: int):
    data_dir = write_synthetic_dataset(folder, quads=16, resolution=resolution, quads_per_shard=16)
    rng = np.random.default_rng(0)
    points = rng.uniform(0.1 * resolution, 0.9 * resolution, (16, 4, k, 2)).astype(np.float32)
    add_keypoints(data_dir / shard_name(0), "timing", points, points + 3, np.ones((16, 4, k), bool), {})
    return data_dir


def loader_rate(samples, batch: int, workers: int, batches: int = 8) -> float:
    loader = DataLoader(samples, batch_size=batch, shuffle=True, num_workers=workers, persistent_workers=workers > 0)
    iterator = iter(loader)
    next(iterator)
    start = time.perf_counter()
    count = 0
    for _, data in zip(range(batches), iterator):
        count += len(data["index"])
    return count / (time.perf_counter() - start)


def stage_rate(config, stage: str, batch: dict, steps: int, vgg) -> float:
    torch.manual_seed(0)
    model = build_model(config.model, config.data.background)
    discriminator = build_discriminator(config.model, config.discriminator)
    use_channels_last(model, discriminator, torch.device("cpu"))
    stage = build_stage(config, stage)
    params = stage.set_trainable(model)
    optimiser = torch.optim.Adam(params, lr=1e-4)
    d_optimiser = torch.optim.Adam(discriminator.parameters(), lr=1e-4)
    warp_loss, gen_loss = WarpLoss(vgg, config.warp_loss), GeneratorLoss(vgg, config.gen_loss)

    def step():
        result = model_losses(stage, 0, model, discriminator, warp_loss, gen_loss, batch)
        optimiser.zero_grad()
        result.loss.backward()
        optimiser.step()
        if stage.with_discriminator:
            d_optimiser.zero_grad()
            discriminator_loss(discriminator, result.outputs, batch).backward()
            d_optimiser.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * len(batch["appearance"]) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "paper"])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4, help="samples per step (CPU: smaller than the paper's)")
    args = parser.parse_args()
    print(f"device: cpu, {torch.get_num_threads()} threads")
    for name in args.configs:
        config = load_config(name)
        resolution, k = config.data.resolution, config.model.num_points
        with tempfile.TemporaryDirectory() as tmp:
            samples = PairSampleDataset(keyed_dataset(tmp, resolution, k), resolution=resolution,
                                        keypoint_method="timing", with_flow=config.warp_loss.flow_gt > 0,
                                        uint8=True)  # as train-eopose loads them
            workers = 2
            loader = loader_rate(samples, args.batch, workers)
            items = [samples[i] for i in range(args.batch)]
            batch = to_device({key: torch.stack([item[key] for item in items]) for key in items[0]
                               if isinstance(items[0][key], torch.Tensor)}, torch.device("cpu"))
            vgg = VGGLoss(pretrained=False) if config.uses_vgg else None
            for stage in STAGE_ORDER:
                rate = stage_rate(config, stage, batch, args.steps, vgg)
                print(f"{name:6s} {resolution}x{resolution} {stage:4s}: {rate:8.2f} samples/s per training step "
                      f"(batch {args.batch}); loader {loader:7.1f} samples/s with {workers} workers = "
                      f"{loader / rate:6.1f}x the step rate (target >= 3x)")


if __name__ == "__main__":
    main()
