"""The EOPose paper's Table 1 (section 4) on the offline default: four categories, one model, per-category rows.

Renders the four procedural categories with the paper's model mix (section 3.4.1: 29 vases, 12 briefcases,
11 file cabinets, 8 shoes) times `--scale`, but at least `--min-models` per category (splits are drawn by model id,
10% test: at 3 x 8 = 24 shoes only one would be held out, and a test quadruplet needs two), `--quads-per-model`
quadruplets per model, caches their `nocs`
keypoints, trains one EOPose per warp variant on all four together (the paper's "all together" setting; the
`volume3d` and `flow2d` configs, same steps) and the four-category `nocs-net`, then evaluates every variant on
each category's held-out test models and on all of them together, rotations read from the shards, and nocs-net's
same-model PCK@0.10 per category (eval-correspondences):

    .venv/bin/python benchmarks/table1.py --out out/table1        # `make table1`; about 50 minutes on 2 CPU cores

On a GPU, at the paper's resolution (render here, where bpy runs; the paper config needs VGG-19 weights):

    python benchmarks/table1.py --out out/table1-256 --resolution 256 --samples 32 --configs paper \
        --vgg-weights vgg19-dcbb9e9d.pth --threads 8

Every step skips finished work (a trained run's final checkpoint, an evaluation's metrics.json) or resumes it,
so an interrupted run can simply be started again. Child processes log to OUT/logs/; the tables go to
OUT/table1.md (rows: category x method, cells: masked SSIM / masked L1 / silhouette IoU, and full-frame SSIM)
with the wall time of each phase and its share.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from tqdm import tqdm

from eopose.render.sources import PAPER_MODEL_COUNTS
from eopose.train.evaluation.baselines import METHOD_LABELS

CATEGORIES = ("vases", "briefcases", "file_cabinets", "shoes")
BASELINES = ("tps", "identity", "oracle")
CELL = ("masked_ssim", "masked_l1", "iou")
BIN = Path(sys.executable).parent


class StepFailed(RuntimeError):
    pass


def run_steps(steps: list, logs: Path) -> None:
    """Run (name, argv) steps side by side, each logging to logs/<name>.log; raise StepFailed on the first
    failure (the others are stopped)."""
    logs.mkdir(parents=True, exist_ok=True)
    running = []
    for name, argv in steps:
        handle = open(logs / f"{name}.log", "w")
        running.append((name, subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT), handle))
    try:
        for name, process, handle in running:
            if process.wait() != 0:
                raise StepFailed(f"{name} failed (exit {process.returncode}): see {logs / (name + '.log')}")
    finally:
        for _, process, handle in running:
            if process.poll() is None:
                process.terminate()
                process.wait()
            handle.close()


def data_flags(data: list) -> list:
    return [flag for folder in data for flag in ("--data", folder)]


def sequence(*commands) -> list:
    """One argv running `commands` one after another in a shell (stops at the first failure)."""
    return ["bash", "-c", " && ".join(shlex.join(map(str, argv)) for argv in commands)]


def train_command(script: str, config: str, data: list, out: Path, threads: int, extra=()) -> list | None:
    """`script` (train-eopose or train-nocs) on `data`, resuming a started run; None once its final checkpoint
    exists."""
    if (out / "checkpoints" / "final.pt").exists():
        return None
    resume = ["--resume"] if (out / "checkpoints" / "last.pt").exists() else []
    return ["env", f"OMP_NUM_THREADS={threads}", BIN / script, *data_flags(data),
            "--config", config, "--out", out, *resume, *extra]


def table_markdown(reports: dict) -> str:
    """Rows category x method from each variant's eval-eopose metrics.json: the baselines once (from the first
    variant's report: they do not depend on the model), then each variant's warp alone and its EOPose."""
    first = next(iter(reports.values()))
    groups = sorted(first["table"], key=lambda g: CATEGORIES.index(g) if g in CATEGORIES else len(CATEGORIES))
    lines = ["| category | method | masked SSIM ↑ / masked L1 ↓ / IoU ↑ | SSIM ↑ |", "|---|---|---|---|"]

    def cell(values: dict) -> tuple[str, str]:
        return (" / ".join(f"{values[m]['value']:.3f}" if values[m]["value"] is not None else "n/a" for m in CELL),
                f"{values['ssim']['value']:.3f}" if values["ssim"]["value"] is not None else "n/a")

    for group in groups:
        size = first["info"]["group_sizes"][group]
        rows = [(METHOD_LABELS[m].split(" (")[0], first["table"][group][m]) for m in BASELINES
                if m in first["table"][group]]
        for variant, report in reports.items():
            rows.append((f"Warp only ({variant})", report["table"][group]["warp_only"]))
            rows.append((f"**EOPose ({variant})**", report["table"][group]["eopose"]))
        for label, values in rows:
            main, ssim = cell(values)
            lines.append(f"| {group.replace('_', ' ').capitalize()} ({size}) | {label} | {main} | {ssim} |")
    return "\n".join(lines)


def pck_lines(logs: Path, names: list) -> list:
    """The nocs-net PCK@0.10 line of each category's eval-correspondences log, as a markdown list."""
    lines = []
    for name in names:
        found = [line for line in (logs / f"{name}.log").read_text().splitlines() if line.startswith("PCK@0.10")]
        lines.append(f"- nocs-net, same-model {found[-1].split('  ')[0]} on held-out {name[4:].replace('_', ' ')}"
                     if found else f"- {name}: no PCK line in {logs / (name + '.log')}")
    return ["Four-category nocs-net on the test split (eval-correspondences):", "", *lines, ""] if lines else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/table1"))
    parser.add_argument("--scale", type=int, default=3, help="models per paper model (default %(default)s)")
    parser.add_argument("--min-models", type=int, default=40, help="models per category at least")
    parser.add_argument("--quads-per-model", type=int, default=3)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--samples", type=int, default=8, help="Cycles samples per pixel")
    parser.add_argument("--configs", default="volume3d,flow2d", help="train-eopose configs, one per variant")
    parser.add_argument("--nocs-config", default="nocs-categories", help="train-nocs config ('' to skip)")
    parser.add_argument("--threads", type=int, default=1, help="threads per training (two run side by side)")
    parser.add_argument("--vgg-weights", type=Path, help="passed to train-eopose (configs with VGG losses)")
    args = parser.parse_args()
    variants = [name for name in args.configs.split(",") if name]
    data = [args.out / "data" / category for category in CATEGORIES]
    logs, times = args.out / "logs", {}
    extra = ["--vgg-weights", args.vgg_weights] if args.vgg_weights else []

    def phase(name: str, waves: list, progress) -> None:
        """Run `waves` one after another, the steps of a wave side by side; time the phase."""
        started = time.perf_counter()
        progress.set_description(f"table1: {name}")
        for wave in waves:
            run_steps([step for step in wave if step[1] is not None], logs)
        times[name] = time.perf_counter() - started
        progress.update(1)

    models = {c: max(PAPER_MODEL_COUNTS[c] * args.scale, args.min_models) for c in CATEGORIES}
    render = [(f"render-{c}", None if (d / "index.json").exists() else
               [BIN / "render-pairs", "--category", c, "--source", "procedural", "--num-models", str(models[c]),
                "--num-quads", str(models[c] * args.quads_per_model), "--resolution", str(args.resolution),
                "--samples", str(args.samples), "--workers", "2", "--out", d, "--preview", "--quiet"])
              for c, d in zip(CATEGORIES, data)]
    keypoints = [(f"keypoints-{c}", [BIN / "build-keypoint-cache", d, "--method", "nocs", "--preview", "--quiet"])
                 for c, d in zip(CATEGORIES, data)]
    runs = {variant: args.out / "runs" / variant for variant in variants}
    trainings = [(f"train-{v}", train_command("train-eopose", v, data, runs[v], args.threads, extra))
                 for v in variants]
    if args.nocs_config:  # after the last variant on the second core
        nocs = train_command("train-nocs", args.nocs_config, data, args.out / "runs" / "nocs", args.threads)
        if nocs is not None and len(trainings) > 1:
            name, argv = trainings[-1]
            trainings[-1] = (name + "+nocs", sequence(*[a for a in (argv, nocs) if a is not None]))
        elif nocs is not None:
            trainings.append(("train-nocs", nocs))
    evaluations = [(f"eval-{v}", None if (args.out / f"eval-{v}" / "metrics.json").exists() else
                    ["env", f"OMP_NUM_THREADS={args.threads}", BIN / "eval-eopose", "--checkpoint",
                     runs[v] / "checkpoints" / "final.pt", *data_flags(data),
                     "--split", "test", "--rotation", "shard", "--out", args.out / f"eval-{v}"])
                   for v in variants]
    nocs_weights = args.out / "runs" / "nocs" / "checkpoints" / "final.pt"
    pck = [(f"pck-{c}", [BIN / "eval-correspondences", d, "--method", "nocs-net", "--weights", nocs_weights,
                         "--split", "test"]) for c, d in zip(CATEGORIES, data)] if args.nocs_config else []
    start = time.perf_counter()
    with tqdm(total=4, unit="phase") as progress:
        try:  # render-pairs and build-keypoint-cache use both cores themselves: one category at a time
            phase("render", [[step] for step in render], progress)
            phase("keypoints", [[step] for step in keypoints], progress)
            phase("train", [trainings], progress)
            phase("evaluate", [evaluations] + [[step] for step in pck], progress)
        except StepFailed as error:
            raise SystemExit(f"table1: {error}")
    total = time.perf_counter() - start
    reports = {v: json.loads((args.out / f"eval-{v}" / "metrics.json").read_text()) for v in variants}
    shares = ", ".join(f"{name} {seconds / 60:.1f} min ({100 * seconds / total:.0f}%)"
                       for name, seconds in times.items())
    text = "\n".join([f"# Table 1 on the offline default ({args.resolution} px, {os.cpu_count()} CPU cores)", "",
                      f"Wall time this run {total / 60:.1f} min: {shares} (steps already done were skipped).", "",
                      table_markdown(reports), "", *pck_lines(logs, [name for name, _ in pck])])
    (args.out / "table1.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
