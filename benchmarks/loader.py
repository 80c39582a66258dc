"""Training-loader throughput: samples/s at 256x256 for 0 and 2 DataLoader workers.

Target (the figures this project holds itself to; README, Benchmarks): >= 300 samples/s with 2 workers on the 2-core CPU machine, and >= 3x the training
step rate. Uses analytic shards (eopose.dataset.synthetic) unless --data points at a rendered folder.

    .venv/bin/python benchmarks/loader.py [--data DIR] [--quads 64] [--epochs 2]
"""
import argparse
import tempfile
import time

import torch
from torch.utils.data import DataLoader

from eopose.dataset.pairs import PairSampleDataset
from eopose.dataset.synthetic import write_synthetic_dataset


def samples_per_second(data_dir, workers: int, epochs: int, batch_size: int, with_flow: bool) -> float:
    samples = PairSampleDataset(data_dir, resolution=256, with_flow=with_flow, uint8=True)  # as train-eopose
    loader = DataLoader(samples, batch_size=batch_size, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0, generator=torch.Generator().manual_seed(0))
    next(iter(loader))  # start workers before timing
    start, count = time.perf_counter(), 0
    for _ in range(epochs):
        for batch in loader:
            count += len(batch["index"])
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="dataset folder at 256x256 (default: write analytic shards)")
    parser.add_argument("--quads", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data or write_synthetic_dataset(tmp, quads=args.quads, resolution=256, quads_per_shard=16)
        for with_flow in (False, True):
            rates = {w: samples_per_second(data_dir, w, args.epochs, args.batch_size, with_flow) for w in (0, 2)}
            label = "images+masks+flow" if with_flow else "images+masks"
            print(f"loader {label:18s} 256x256: {rates[0]:7.1f} samples/s with 0 workers, "
                  f"{rates[2]:7.1f} with 2 workers (target >= 300 with 2)")


if __name__ == "__main__":
    main()
