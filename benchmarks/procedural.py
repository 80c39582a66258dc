"""Benchmark of the procedural asset library: models per second per category.

    python benchmarks/procedural.py [--models 40]

Times ``generate`` (geometry + texture) and ``generate`` plus GLB export separately.
"""
import argparse
import time

from eopose.render import procedural


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=40, help="models per category")
    args = parser.parse_args()
    print(f"{'category':<14} {'generate/s':>11} {'+glb/s':>8} {'faces':>7} {'glb kB':>7}")
    for category in procedural.CATEGORIES:
        start = time.perf_counter()
        faces = sum(len(procedural.generate(category, seed).faces) for seed in range(args.models))
        generate_rate = args.models / (time.perf_counter() - start)
        start = time.perf_counter()
        size = sum(len(procedural.generate(category, seed).export(file_type="glb")) for seed in range(args.models))
        export_rate = args.models / (time.perf_counter() - start)
        print(f"{category:<14} {generate_rate:>11.1f} {export_rate:>8.1f} {faces // args.models:>7} "
              f"{size / args.models / 1024:>7.0f}")


if __name__ == "__main__":
    main()
