"""gzip vs lzf (vs none) for shard image fields: bytes on disk and per-row decode time.

    .venv/bin/python benchmarks/compression.py [--data DIR]

Reads the first shard of DIR (default: analytic 256x256 shards), rewrites its image fields with each
filter and times reading single rows, which is what the training loader does.
"""
import argparse
import os
import tempfile
import time
from pathlib import Path

import h5py

from eopose.dataset import open_dataset
from eopose.dataset.synthetic import write_synthetic_dataset

FIELDS = ("rgba", "mask", "depth", "nocs")


def row_read_ms(handle: h5py.File, name: str, rows: int, repeats: int = 3) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        for row in range(rows):
            handle[name][row]
    return (time.perf_counter() - start) / (repeats * rows) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="dataset folder (default: analytic 256x256 shards)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data or write_synthetic_dataset(Path(tmp) / "data", quads=16, resolution=256,
                                                        quads_per_shard=16)
        columns = open_dataset(data_dir).read_rows(0, FIELDS)
        rows = len(columns["rgba"])
        for filter_name, options in (("none", {}), ("lzf", {"compression": "lzf"}),
                                     ("gzip-4", {"compression": "gzip", "compression_opts": 4}),
                                     ("gzip-1", {"compression": "gzip", "compression_opts": 1})):
            path = Path(tmp) / f"{filter_name}.h5"
            start = time.perf_counter()
            with h5py.File(path, "w") as handle:
                for name, array in columns.items():
                    handle.create_dataset(name, data=array, chunks=(1,) + array.shape[1:], **options)
            write_s = time.perf_counter() - start
            with h5py.File(path, "r") as handle:
                times = {name: row_read_ms(handle, name, rows) for name in FIELDS}
            print(f"{filter_name:7s} {os.path.getsize(path) / rows / 1e6:6.2f} MB/quad, write {write_s / rows * 1000:6.1f}"
                  f" ms/quad, read ms/row " + " ".join(f"{n}={t:.2f}" for n, t in times.items()))


if __name__ == "__main__":
    main()
