"""Partitions of a long stage (render-pairs, build-keypoint-cache) on existing schedulers.

A stage is split into `--num-shards` deterministic partitions (partition i of n takes the shards j with
j % n == i). A partition runs either
- inside a process some scheduler started, with `--shard-index auto` read from its environment
  (`partition_from_env`: SLURM arrays or srun tasks, Kubernetes Indexed Jobs, torchrun), or
- as one task of a job array that this module submits with submitit (`--launcher slurm|local`;
  https://github.com/facebookincubator/submitit): the SLURM executor submits an sbatch job array,
  the local executor runs the same pickled calls as processes on this machine.
A re-run submits only the partitions the stage reports unfinished. See docs/scaling.md.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from .command_line import UsageError, integer

LAUNCHERS = ("local", "slurm")
LOG_FOLDER = ".submitit"  # inside the stage's output folder: pickled calls, results and logs per job
ENV_CONVENTIONS = (  # (index variable, count variable, scheduler), innermost launcher first
    ("RANK", "WORLD_SIZE", "torchrun"),
    ("JOB_COMPLETION_INDEX", None, "Kubernetes Indexed Job"),
    ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM job array"),
    ("SLURM_PROCID", "SLURM_NTASKS", "SLURM tasks"),
)


def shard_index(text: str):
    """argparse type of --shard-index: 'auto' or an integer >= 0."""
    return text if text == "auto" else integer(0)(text)


def add_partition_arguments(parser: argparse.ArgumentParser, resources: str) -> None:
    """--shard-index/--num-shards and the submitit launcher flags; `resources` describes one partition's needs."""
    group = parser.add_argument_group("partitions and cluster launch (docs/scaling.md)")
    group.add_argument("--shard-index", type=shard_index, default=None,
                       help="run only partition I of --num-shards; 'auto' reads it from SLURM_ARRAY_TASK_ID/"
                            "SLURM_ARRAY_TASK_COUNT, SLURM_PROCID/SLURM_NTASKS, JOB_COMPLETION_INDEX (Kubernetes "
                            "Indexed Job, with --num-shards) or RANK/WORLD_SIZE (torchrun) (default: 0)")
    group.add_argument("--num-shards", type=integer(1), default=None,
                       help="number of disjoint partitions of the run (default: 1, or the scheduler's count "
                            "with --shard-index auto)")
    group.add_argument("--launcher", choices=LAUNCHERS,
                       help="submit all unfinished partitions as a submitit job array: slurm (sbatch) or local "
                            "(processes on this machine); waits for them")
    group.add_argument("--slurm-partition", help="SLURM partition (queue) of the job array")
    group.add_argument("--job-timeout", type=integer(1), default=720, help="minutes one partition may run")
    group.add_argument("--max-parallel", type=integer(1),
                       help="partitions running at once (default: local: the cores here; slurm: no limit)")
    group.add_argument("--cpus-per-task", type=integer(1), default=None, help=f"cores per partition ({resources})")
    group.add_argument("--gpus-per-task", type=integer(0), default=0, help="GPUs per partition (slurm)")


def partition_shards(total_shards: int, index: int, count: int) -> list[int]:
    """Shards of partition `index` of `count` among `total_shards`: those j with j % count == index, so the
    partitions are disjoint and their union is every shard; ValueError for an index outside [0, count)."""
    if not 0 <= index < count:
        raise ValueError(f"--shard-index {index} must be in [0, --num-shards {count})")
    return list(range(index, total_shards, count))


@dataclass(frozen=True)
class Partition:
    index: int
    count: int
    origin: str  # where index/count came from: "--shard-index", an environment convention, "launcher"


def partition_from_env(num_shards: int | None, environ=os.environ) -> Partition:
    """The partition of this process from the scheduler's environment (first convention found in
    ENV_CONVENTIONS); a SLURM array's index is taken relative to SLURM_ARRAY_TASK_MIN."""
    for index_var, count_var, scheduler in ENV_CONVENTIONS:
        if index_var not in environ:
            continue
        index = int(environ[index_var]) - (int(environ.get("SLURM_ARRAY_TASK_MIN", 0))
                                           if index_var == "SLURM_ARRAY_TASK_ID" else 0)
        if count_var is None:
            if num_shards is None:
                raise UsageError(f"--shard-index auto: {index_var}={index} ({scheduler}) gives no count; "
                                 f"pass --num-shards (the Job's completions)")
            count = num_shards
        else:
            count = int(environ.get(count_var, 0))
            if num_shards is not None and num_shards != count:
                raise UsageError(f"--shard-index auto: {count_var}={count} ({scheduler}) but --num-shards "
                                 f"{num_shards}; drop --num-shards or make them agree")
        if not 0 <= index < count:
            raise UsageError(f"--shard-index auto: {index_var}={index} is outside [0, {count}) ({scheduler})")
        return Partition(index, count, f"{index_var}/{count_var or '--num-shards'} ({scheduler})")
    raise UsageError("--shard-index auto: no partition in the environment (SLURM_ARRAY_TASK_ID, SLURM_PROCID, "
                     "JOB_COMPLETION_INDEX or RANK); pass --shard-index N --num-shards M")


def resolve_partition(args, environ=os.environ) -> Partition:
    """The partition of parsed --shard-index/--num-shards/--launcher; UsageError on contradictions."""
    if args.launcher and args.shard_index is not None:
        raise UsageError(f"--launcher {args.launcher} runs every partition itself; drop --shard-index")
    if args.shard_index == "auto":
        return partition_from_env(args.num_shards, environ)
    count = args.num_shards or 1
    index = args.shard_index or 0
    if not 0 <= index < count:
        raise UsageError(f"--shard-index {index} must be in [0, --num-shards {count})")
    return Partition(index, count, "launcher" if args.launcher else "--shard-index")


def check_launcher(args) -> None:
    """UsageError when the chosen launcher cannot work here (before anything is written)."""
    if args.launcher == "slurm" and shutil.which("sbatch") is None:
        raise UsageError("--launcher slurm: sbatch is not on PATH; run on a SLURM login node or use --launcher local")
    if args.launcher != "slurm" and args.slurm_partition:
        raise UsageError("--slurm-partition needs --launcher slurm")


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_partitions(function, arguments: list, partitions: list[int], args, folder: Path, name: str) -> dict:
    """Run `function(*arguments, partition)` for every partition as a submitit job array and wait.

    Returns partition -> result, or -> a one-line failure (exception type, log file) for those that failed.
    """
    import submitit

    executor = submitit.AutoExecutor(folder=folder / LOG_FOLDER / "%j", cluster=args.launcher)
    parallel = args.max_parallel or (cpu_count() if args.launcher == "local" else len(partitions))
    params = {"timeout_min": args.job_timeout, "name": name, "gpus_per_node": args.gpus_per_task}
    if args.cpus_per_task:
        params["cpus_per_task"] = args.cpus_per_task
    if args.launcher == "slurm":
        params.update(slurm_array_parallelism=parallel, tasks_per_node=1, nodes=1)
        if args.slurm_partition:
            params["slurm_partition"] = args.slurm_partition
    executor.update_parameters(**params)
    queue, running, outcome = list(partitions), {}, {}
    with tqdm(total=len(partitions), unit="partition", desc=f"{name} ({args.launcher})", dynamic_ncols=True) as bar:
        if args.launcher == "slurm":  # one sbatch job array; SLURM enforces the parallelism
            jobs = executor.map_array(function, *([a] * len(queue) for a in arguments), queue)
            running, queue = dict(zip(partitions, jobs)), []
        while queue or running:
            while queue and len(running) < parallel:  # local: start as cores free up
                index = queue.pop(0)
                running[index] = executor.submit(function, *arguments, index)
            for index, job in list(running.items()):
                if job.done():
                    del running[index]
                    error = job.exception()
                    outcome[index] = job.result() if error is None else (
                        f"partition {index}: {type(error).__name__}, log {job.paths.stderr}")
                    bar.update()
            time.sleep(0.5)
    return outcome


def report(prog: str, outcome: dict) -> list[str]:
    """Print one line per failed partition; returns those lines."""
    failed = [value for value in outcome.values() if isinstance(value, str)]
    for line in failed:
        print(f"{prog}: error: {line}", file=sys.stderr)
    if failed:
        print(f"{prog}: {len(failed)} of {len(outcome)} partitions did not finish; run the same command again to "
              f"resubmit only those", file=sys.stderr)
    return failed
