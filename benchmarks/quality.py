"""Reposing quality against CPU training time: EOPose and its baselines on the same held-out samples.

For each budget (minutes of training), trains the demo config with its stage steps scaled to fit the budget
(the step rate of each stage is measured first, on this machine), then scores the checkpoint with
eval-eopose's evaluation on the test split (and on `--holdout` folders with every sample). Prints one table
row per (budget, data, method): masked SSIM, masked L1, silhouette IoU, full-frame SSIM, blank outputs. A volume3d
config turns its volume by the shards' rotation unless `--nocs-weights` is given (then by nocs-net's estimate, as
`eval-eopose --rotation estimated`).

    .venv/bin/python benchmarks/quality.py --data out/demo/vases --holdout out/demo/urns --minutes 2 4 8 16
    .venv/bin/python benchmarks/quality.py --data out/demo/vases --holdout out/demo/urns --config volume64 --minutes 5 10
"""
import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from eopose.train.config import load_config
from eopose.train.distributed import init_world
from eopose.train.evaluation.baselines import METHODS
from eopose.train.evaluation.evaluate import EvalSettings, evaluate
from eopose.train.trainer import Trainer
from eopose.train.stages import STAGE_ORDER, build_stages

COLUMNS = ("masked_ssim", "masked_l1", "iou", "ssim", "blank")


def scaled_config(config, minutes: float, seconds_per_step: dict):
    """The config with its stage steps scaled by one factor so that the run takes about `minutes`."""
    stages = build_stages(config)
    planned = sum(stage.steps * seconds_per_step[name] for name, stage in stages.items())
    factor = 60 * minutes / planned
    steps = {f"{name}_steps": max(1, round(stage.steps * factor)) if stage.steps else 0
             for name, stage in stages.items()}  # a stage the config skips stays skipped
    warm = {"tps_warmup_steps": max(1, round(config.warp_loss.tps_warmup_steps * factor))}
    adv = {"adv_warmup_steps": round(config.gen_loss.adv_warmup_steps * factor)}
    return dataclasses.replace(config, optim=dataclasses.replace(config.optim, **steps),
                               warp_loss=dataclasses.replace(config.warp_loss, **warm),
                               gen_loss=dataclasses.replace(config.gen_loss, **adv))


def step_rates(config, data, probe_steps: int) -> dict:
    """Seconds per step of each stage: the time difference between short runs of 2 x `probe_steps` and
    `probe_steps` steps, divided by `probe_steps`, so that a run's start-up (opening shards, building the model,
    starting the loader's worker) does not count as training time."""
    def timed(stage: str, steps: int, folder: Path) -> float:
        probe = dataclasses.replace(config, optim=dataclasses.replace(
            config.optim, **{f"{name}_steps": steps for name in STAGE_ORDER}))
        start = time.perf_counter()
        Trainer(probe, data, folder, init_world("cpu"), stage=stage).run()
        return time.perf_counter() - start

    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for stage in STAGE_ORDER:
            short = timed(stage, probe_steps, Path(tmp) / f"{stage}-short")
            rates[stage] = max(timed(stage, 2 * probe_steps, Path(tmp) / f"{stage}-long") - short, 1e-3) / probe_steps
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder with nocs keypoints")
    parser.add_argument("--holdout", type=Path, action="append", default=[],
                        help="evaluation-only folder scored on all its samples (e.g. a held-out style)")
    parser.add_argument("--config", default="demo")
    parser.add_argument("--minutes", type=float, nargs="+", default=[2, 4, 8, 16])
    parser.add_argument("--probe-steps", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("runs/quality"))
    parser.add_argument("--nocs-weights", type=Path,
                        help="nocs-net checkpoint: volume3d rotations estimated by it (default: the shards')")
    args = parser.parse_args()
    config = load_config(args.config)
    run_dirs = {minutes: args.out / f"{minutes:g}min" for minutes in args.minutes}
    earlier = [str(folder) for folder in run_dirs.values() if folder.exists()]
    if earlier:  # a run of another config or budget would be scored as this one
        raise SystemExit(f"quality.py: {', '.join(earlier)} already hold(s) a run; remove it or pass another --out")
    rates = step_rates(config, [args.data], args.probe_steps)
    print(f"device: cpu, {torch.get_num_threads()} threads; s/step " +
          ", ".join(f"{stage} {rate:.2f}" for stage, rate in rates.items()))
    print(f"{'minutes':>7} {'data':<10} {'method':<10} " + " ".join(f"{c:>11}" for c in COLUMNS))
    for minutes in args.minutes:
        run_dir = run_dirs[minutes]
        budget = scaled_config(config, minutes, rates)
        start = time.perf_counter()
        Trainer(budget, [args.data], run_dir, init_world("cpu")).run()
        wall = (time.perf_counter() - start) / 60
        for data, split in [(args.data, "test")] + [(folder, "all") for folder in args.holdout]:
            result = evaluate(EvalSettings(checkpoint=run_dir / "checkpoints" / "final.pt", data_dirs=[data],
                                           split=split, examples=0, nocs_weights=args.nocs_weights,
                                           rotation="estimated" if args.nocs_weights else "shard"))
            table = result.table["All together"]
            for method in METHODS:
                cells = " ".join(f"{table[method][c]['value']:11.4f}" for c in COLUMNS)
                print(f"{minutes:7g} {data.name + '/' + split:<10} {method:<10} {cells}  (trained {wall:.1f} min)")


if __name__ == "__main__":
    main()
