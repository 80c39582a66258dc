"""Scale-out: partitions on submitit's local executor equal a single-process run (render: same rows and
pixels; keypoints: same shard bytes), a re-run resubmits only the partition that was killed, `--shard-index
auto` reads SLURM / Kubernetes / torchrun variables, and concurrent index commits lose no entry."""
import importlib.util
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eopose.dataset import launch
from eopose.dataset.command_line import UsageError
from eopose.dataset.keypoints import cli as keypoints_cli
from eopose.dataset.shard_format import (commit_index, open_dataset, read_index, sha256_of, shard_files, shard_name,
                                         verify, write_shard)
from eopose.dataset.synthetic import make_quadruplet_rows, write_synthetic_dataset

HAVE_BPY = importlib.util.find_spec("bpy") is not None  # found, not imported: bpy stays out of the test process
TINY = ["--category", "vases", "--source", "procedural", "--num-models", "4", "--num-quads", "6",
        "--quads-per-shard", "1", "--resolution", "32", "--samples", "2", "--threads", "1", "--quiet"]


# --- where a partition comes from -------------------------------------------------------------------------------

@pytest.mark.parametrize("environ, num_shards, expected", [
    ({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "64", "SLURM_ARRAY_TASK_MIN": "0"}, None, (5, 64)),
    ({"SLURM_ARRAY_TASK_ID": "6", "SLURM_ARRAY_TASK_COUNT": "64", "SLURM_ARRAY_TASK_MIN": "1"}, None, (5, 64)),
    ({"SLURM_PROCID": "3", "SLURM_NTASKS": "8"}, None, (3, 8)),
    ({"JOB_COMPLETION_INDEX": "7", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"}, 10, (7, 10)),
    ({"RANK": "1", "WORLD_SIZE": "4", "SLURM_PROCID": "0", "SLURM_NTASKS": "2"}, None, (1, 4)),  # torchrun inside
])
def test_partition_from_each_environment(environ, num_shards, expected):
    partition = launch.partition_from_env(num_shards, environ)
    assert (partition.index, partition.count) == expected


@pytest.mark.parametrize("environ, num_shards, message", [
    ({}, None, "no partition in the environment"),
    ({"JOB_COMPLETION_INDEX": "2"}, None, "pass --num-shards"),
    ({"RANK": "0", "WORLD_SIZE": "4"}, 8, "WORLD_SIZE=4 .* but --num-shards 8"),
    ({"JOB_COMPLETION_INDEX": "12"}, 10, "outside"),
])
def test_partition_from_environment_errors(environ, num_shards, message):
    with pytest.raises(UsageError, match=message):
        launch.partition_from_env(num_shards, environ)


# --- keypoint partitions ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def six_shards(tmp_path_factory):
    """12 quadruplets at 32x32 in 6 shards, so 3 partitions get 2 shards each (copy before modifying)."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("six"), quads=12, resolution=32, quads_per_shard=2)


def _shard_bytes(folder):
    return {path.name: sha256_of(path) for path in shard_files(folder)}


def _has_keypoints(folder):
    data = open_dataset(folder)
    return [bool(data.keypoint_methods(shard)) for shard in range(len(data.shard_paths))]


def test_keypoint_partitions_from_each_environment_equal_single_process(six_shards, tmp_path, monkeypatch):
    single, parts = shutil.copytree(six_shards, tmp_path / "single"), shutil.copytree(six_shards, tmp_path / "parts")
    assert keypoints_cli.build_main([str(single), "--method", "nocs", "--quiet"]) == 0
    conventions = [({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "3"}, []),
                   ({"JOB_COMPLETION_INDEX": "1"}, ["--num-shards", "3"]),
                   ({"RANK": "2", "WORLD_SIZE": "3", "LOCAL_RANK": "0"}, [])]
    for variables, extra in conventions:
        for name in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "JOB_COMPLETION_INDEX", "RANK", "WORLD_SIZE",
                     "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS"):
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        assert keypoints_cli.build_main([str(parts), "--method", "nocs", "--shard-index", "auto", "--quiet", *extra]) == 0
        if "SLURM_ARRAY_TASK_ID" in variables:  # partition 0 of 3 only: shards 0 and 3
            assert _has_keypoints(parts) == [True, False, False, True, False, False]
    assert _shard_bytes(parts) == _shard_bytes(single)  # bit for bit
    assert read_index(parts)["shards"] == read_index(single)["shards"]
    assert verify(parts) == []


def test_keypoint_partitions_on_local_executor_equal_single_process(six_shards, tmp_path, capsys):
    single, parts = shutil.copytree(six_shards, tmp_path / "single"), shutil.copytree(six_shards, tmp_path / "parts")
    assert keypoints_cli.build_main([str(single), "--method", "nocs", "--quiet"]) == 0
    assert keypoints_cli.build_main([str(parts), "--method", "nocs", "--num-shards", "3", "--launcher", "local"]) == 0
    assert "submitting 3 of 3 partitions" in capsys.readouterr().err
    assert _shard_bytes(parts) == _shard_bytes(single)
    assert verify(parts) == []
    assert keypoints_cli.build_main([str(parts), "--method", "nocs", "--num-shards", "3", "--launcher", "local"]) == 0
    assert "submitting 0 of 3 partitions (3 already finished)" in capsys.readouterr().err


# --- index commits ----------------------------------------------------------------------------------------------

def _commit_one_by_one(folder, paths, barrier):
    barrier.wait()
    for path in paths:
        commit_index(folder, [path])


def test_concurrent_partitions_committing_lose_no_entry(tmp_path):
    rows = make_quadruplet_rows(1, 8, 8)
    paths = [tmp_path / shard_name(j) for j in range(60)]
    for path in paths:
        write_shard(path, rows)
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(3)
    workers = [context.Process(target=_commit_one_by_one, args=(tmp_path, paths[i::3], barrier)) for i in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert [entry["file"] for entry in read_index(tmp_path)["shards"]] == [p.name for p in paths]
    assert verify(tmp_path) == []
    assert len(open_dataset(tmp_path)) == 60


# --- render partitions with Blender -----------------------------------------------------------------------------

def _render(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "eopose.render.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


def _children(pid):
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found] + [grandchild for child in found for grandchild in _children(int(child))]


def _kill_partition(out, index, process, deadline=300):
    """SIGKILL the submitit task of partition `index` (and its Blender workers) once its log says it started."""
    stop = time.monotonic() + deadline
    while time.monotonic() < stop and process.poll() is None:
        for log in (out / launch.LOG_FOLDER).glob("*/*_0_log.out"):
            if f"partition {index} of 3 started" in log.read_text():
                controller = int(log.parent.name)  # the local executor's job id is its controller's pid
                for pid in _children(controller):
                    os.kill(pid, signal.SIGKILL)
                return
        time.sleep(0.05)
    raise AssertionError(f"partition {index} never started")


@pytest.mark.skipif(not HAVE_BPY, reason="bpy (Blender as a Python module) is not installed")
def test_render_partitions_on_local_executor_equal_single_process_and_resume_killed_one(tmp_path):
    cache = ["--cache-dir", tmp_path / "glb"]
    single = _render(*TINY, *cache, "--out", tmp_path / "single")
    assert single.returncode == 0, single.stderr
    out = tmp_path / "parts"
    launched = [*TINY, *cache, "--out", out, "--num-shards", 3, "--launcher", "local", "--max-parallel", 3]
    process = subprocess.Popen([sys.executable, "-m", "eopose.render.cli", *map(str, launched)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _kill_partition(out, 1, process)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 1, err
    assert "1 of 3 partitions did not finish" in err and "partition 1: " in err
    kept = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in shard_files(out)}
    assert set(kept) == {shard_name(j) for j in (0, 2, 3, 5)}  # partition 1 (shards 1, 4) was killed at start
    again = _render(*launched)
    assert again.returncode == 0, again.stderr
    assert "submitting 1 of 3 partitions (2 already finished)" in again.stderr
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in shard_files(out) if p.name in kept} == kept
    expected, got = open_dataset(tmp_path / "single"), open_dataset(out)
    assert [e["rows"] for e in read_index(out)["shards"]] == [e["rows"] for e in read_index(tmp_path / "single")["shards"]]
    assert len(got) == len(expected) == 6
    for quad in range(6):
        a, b = expected[quad], got[quad]
        assert a.keys() == b.keys()
        for name in a:
            assert (a[name] == b[name]).all(), f"quad {quad} field {name}"
    assert verify(out) == []
