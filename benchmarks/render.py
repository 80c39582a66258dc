"""Renderer throughput: quads/min at 256x256 / 32 samples with lighting and camera variation on
(`--lighting random --camera random`; `--fixed` for the fixed rig), overhead (wall time / sum of the
pure Cycles render calls), the 1 -> 2 worker speedup, the cost of the normals pass; optionally worker
RSS over many models.

    python benchmarks/render.py [--quads 12] [--fixed] [--memory-models 200]

Targets (README, render-pairs): overhead <= 1.15; 2 workers >= 1.8x one worker at 1 Cycles thread
each (threads = cores / workers). Procedural GLBs are generated into the cache before timing.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh

from eopose.render import camera, cli, passes, procedural

VARIATION = ("--lighting", "random", "--camera", "random")


def run(out: Path, category: str, quads: int, workers: int, threads: int, extra=()) -> dict:
    opts = cli.parse_args(["--category", category, "--source", "procedural", "--num-models", "8",
                           "--num-quads", str(quads), "--quads-per-shard", "4", "--out", str(out),
                           "--workers", str(workers), "--threads", str(threads), "--quiet", *extra])
    return cli.render(opts)


def normals_cost(category: str, resolution: int, repeats: int = 5) -> tuple[float, float]:
    """(ms per view of the geometric passes, ms per view of their normals part) on a procedural model."""
    mesh = trimesh.load(procedural.glb_path(category, 0), force="mesh")
    verts = mesh.vertices - mesh.bounding_sphere.primitive.center
    verts /= np.linalg.norm(verts, axis=1).max()
    view = camera.draw_camera("random", 1)
    K, E, rot = view.intrinsics(resolution, resolution), view.extrinsics(), camera.euler_xyz_matrix((40, 70, 120))
    t0 = time.perf_counter()
    for _ in range(repeats):
        passes.geometry_passes(verts, mesh.faces, rot, K, E, resolution, resolution)
    total = (time.perf_counter() - t0) / repeats
    cam = verts @ (E[:3, :3] @ rot).T + E[:3, 3]
    tri_id, bary, _ = passes.rasterize(cam, mesh.faces, K, resolution, resolution)
    hit = tri_id >= 0
    t0 = time.perf_counter()
    for _ in range(repeats):
        passes._facing_normals(cam[mesh.faces[tri_id[hit]]], bary[hit])
    return total * 1e3, (time.perf_counter() - t0) / repeats * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--category", default="vases")
    p.add_argument("--quads", type=int, default=12)
    p.add_argument("--memory-models", type=int, default=0, help="also watch worker RSS over this many models")
    p.add_argument("--fixed", action="store_true", help="the fixed light rig and camera instead of variation")
    args = p.parse_args()
    for seed in range(8):  # warm the GLB cache: generation is not rendering
        procedural.glb_path(args.category, seed)
    cores = os.cpu_count() or 1
    extra = () if args.fixed else VARIATION
    print(f"lighting/camera: {'fixed' if args.fixed else ' '.join(VARIATION)}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = {}
        for name, workers, threads in [("1 worker x %d threads" % cores, 1, cores), ("1 worker x 1 thread", 1, 1),
                                       ("%d workers x 1 thread" % cores, cores, 1)]:
            s = run(Path(tmp) / name.replace(" ", "_"), args.category, args.quads, workers, threads, extra)
            rows[name] = s
            print(f"{name:24s} {s['quads_per_min']:6.2f} quads/min  wall {s['wall_s']:6.1f} s  "
                  f"Cycles render calls {s['render_s']:6.1f} s  wall*workers/render "
                  f"{s['wall_s'] * workers / s['render_s']:.3f}", flush=True)
        one = rows["1 worker x %d threads" % cores]
        print(f"overhead ratio (1 worker, {cores} threads): wall / sum of Cycles render calls = "
              f"{one['overhead_ratio']:.3f} (target <= 1.15)")
        speedup = rows["%d workers x 1 thread" % cores]["quads_per_min"] / rows["1 worker x 1 thread"]["quads_per_min"]
        print(f"speedup 1 -> {cores} workers at 1 thread each: {speedup:.2f}x (target >= 1.8x)")
        print(f"{cores} workers x 1 thread vs 1 worker x {cores} threads: "
              f"{rows['%d workers x 1 thread' % cores]['quads_per_min'] / one['quads_per_min']:.2f}x")
        passes_ms, normals_ms = normals_cost(args.category, 256)
        cycles_ms = one["render_s"] / (4 * args.quads) * 1e3
        print(f"normals pass at 256x256: {normals_ms:.1f} ms/view of {passes_ms:.1f} ms for all geometric passes "
              f"(Cycles {cycles_ms:.0f} ms/view: normals add {normals_ms / cycles_ms * 100:.2f}% of render time)")
        if args.memory_models:
            s = run(Path(tmp) / "memory", args.category, args.memory_models // 2, 1, cores,
                    ["--resolution", "64", "--samples", "1", "--recycle-after", str(10 * args.memory_models)])
            rss = s["worker_rss_mb"]
            print(f"worker RSS over {2 * len(rss)} models: first {rss[0]:.0f} MB, max {max(rss):.0f} MB, "
                  f"last {rss[-1]:.0f} MB ({(rss[-1] / rss[0] - 1) * 100:+.1f}%)")


if __name__ == "__main__":
    main()
