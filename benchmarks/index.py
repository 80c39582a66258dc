"""Time to finish one partition as the dataset grows: rebuilding index.json by rehashing every shard (what
render-pairs did before: `update_index`, still what `eopose-dataset index` does on request) against
committing only the partition's own shard from its sidecar (`commit_index`, what partitions do now).

    .venv/bin/python benchmarks/index.py [--shards 10 100 1000] [--resolution 64] [--repeats 5]

Shards are synthetic (dataset/synthetic.py rows, copied); the figure that matters is the growth with N.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from eopose.dataset.shard_format import commit_index, shard_name, update_index, write_shard
from eopose.dataset.synthetic import make_quadruplet_rows


def _median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(count: int, rows: dict, repeats: int, root: Path) -> tuple[float, float, int]:
    folder = root / f"n{count}"
    folder.mkdir()
    write_shard(folder / shard_name(0), rows)
    for j in range(1, count):
        shutil.copyfile(folder / shard_name(0), folder / shard_name(j))
    update_index(folder)  # every shard recorded and indexed: the state other partitions leave behind
    mine = folder / shard_name(count - 1)
    write_shard(mine, rows)  # this partition's shard, recorded when written (not timed)
    before = _median_seconds(lambda: update_index(folder), repeats)
    after = _median_seconds(lambda: commit_index(folder, [mine]), repeats)
    size = mine.stat().st_size
    shutil.rmtree(folder)
    return before, after, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--quads-per-shard", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = make_quadruplet_rows(args.quads_per_shard, args.resolution, args.resolution, seed=0)
    print(f"finishing one partition (median of {args.repeats}); shards of {args.quads_per_shard} quads at "
          f"{args.resolution}x{args.resolution}")
    print(f"{'shards':>7} {'shard KB':>9} {'rehash all (before)':>20} {'commit own (after)':>19} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as root:
        for count in args.shards:
            before, after, size = measure(count, rows, args.repeats, Path(root))
            print(f"{count:>7} {size / 1024:>9.0f} {before * 1000:>17.1f} ms {after * 1000:>16.2f} ms "
                  f"{before / after:>6.0f}x")


if __name__ == "__main__":
    main()
