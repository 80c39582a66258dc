"""`render-pairs`: render quadruplets (two models of a category, each under the same two random
rotations) into eopose shards with exact mask/depth/NOCS, resumable and partitionable.

    render-pairs --category vases --source procedural --num-quads 64 --out data/vases
    render-pairs --category vases --source dir --mesh-dir meshes/ --num-quads 64 --out data/vases
    render-pairs --category vases --manifest manifests/vases.json --num-quads 8800 --out data/vases \
        --shard-index 3 --num-shards 10      # one of 10 disjoint partitions (any scheduler)

Rerunning the same command resumes (finished shards are kept). See docs/dataset-format.md.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

from eopose.dataset.shard_format import shard_files, shard_name, update_index
from eopose.render import plan
from eopose.render.lighting import hdri_files
from eopose.render.settings import CAMERA_MODES, HDRI_EXTENSIONS, LIGHTING_MODES
from eopose.render.run import FAILURES_NAME, Renderer, RunError, check_existing_settings, read_failures, remove_stale_temps
from eopose.render.sources import SourceError, dir_models, procedural_models, read_manifest


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="render-pairs", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--category", required=True, help="vases, briefcases, file_cabinets, shoes, ...")
    p.add_argument("--source", choices=("objaverse", "procedural", "dir"),
                   help="default: the manifest's source, objaverse with a manifest, else procedural")
    p.add_argument("--mesh-dir", help="folder of meshes (glb, gltf, obj, ply, stl) for --source dir")
    p.add_argument("--manifest", help="JSON selecting models and their canonical rotations (see render/sources.py)")
    p.add_argument("--objaverse-dir", help="objaverse BASE_PATH (default ~/.objaverse)")
    p.add_argument("--num-models", type=int, help="procedural: models 0..N-1 (default: the paper's count); "
                                                  "objaverse: first N LVIS uids")
    p.add_argument("--num-quads", type=int, required=True)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--resolution", type=int, default=256)
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, help="Cycles threads per worker (default: cores // workers)")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quads-per-shard", type=int, default=16)
    p.add_argument("--shard-index", type=int, default=0)
    p.add_argument("--num-shards", type=int, default=1, help="number of partitions of the run")
    p.add_argument("--angle-range", type=float, nargs=2, default=plan.ANGLE_RANGE_DEG, metavar=("LO", "HI"))
    p.add_argument("--lighting", choices=LIGHTING_MODES, default="fixed",
                   help="fixed: one light rig; studio / random: a light rig drawn per quadruplet (render/lighting.py)")
    p.add_argument("--camera", choices=CAMERA_MODES, default="fixed",
                   help="fixed, or random: distance, focal length, elevation and in-plane shift per quadruplet")
    p.add_argument("--hdri-dir", help="folder of .hdr/.exr environment maps lighting studio/random quadruplets")
    p.add_argument("--allow-untextured", action="store_true",
                   help="render models whose textures are missing, flagged in the `untextured` column")
    p.add_argument("--max-faces", type=int, default=2_000_000, help="models with more faces are skipped")
    p.add_argument("--import-timeout", type=float, default=120.0, help="seconds to import one model")
    p.add_argument("--render-timeout", type=float, default=600.0, help="seconds to render one model's 2 views")
    p.add_argument("--recycle-after", type=int, default=200, help="restart a worker after this many models")
    p.add_argument("--cache-dir", help="procedural GLB cache (default $EOPOSE_CACHE/procedural)")
    p.add_argument("--preview", action="store_true", help="write preview.png (contact sheet of the first quads)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    opts = p.parse_args(argv)
    opts.manifest_data = read_manifest(opts.manifest) if opts.manifest else None
    if opts.source is None:  # the manifest's own source, else objaverse with a manifest, else procedural
        opts.source = (opts.manifest_data or {}).get("source") or ("objaverse" if opts.manifest else "procedural")
    opts.threads = opts.threads or max(1, cpu_count() // opts.workers)
    if opts.num_quads < 1 or opts.quads_per_shard < 1 or opts.workers < 1:
        p.error("--num-quads, --quads-per-shard and --workers must be positive")
    if not 0 <= opts.shard_index < opts.num_shards:
        p.error(f"--shard-index must be in [0, --num-shards={opts.num_shards})")
    if opts.source == "dir" and not opts.mesh_dir:
        p.error("--source dir needs --mesh-dir DIR")
    if opts.hdri_dir and opts.lighting == "fixed":
        p.error("--hdri-dir needs --lighting studio or --lighting random")
    if opts.hdri_dir and not (os.path.isdir(opts.hdri_dir) and hdri_files(opts.hdri_dir)):
        p.error(f"--hdri-dir {opts.hdri_dir}: no {' or '.join(HDRI_EXTENSIONS)} files; pass a folder of "
                f"environment maps or leave it out")
    return opts


def load_models(opts):
    manifest = opts.manifest_data if opts.manifest_data and opts.manifest_data["models"] else None
    if manifest and manifest["category"] not in (None, opts.category):
        raise SourceError(f"{opts.manifest} lists {manifest['category']}, not --category {opts.category}")
    if opts.source == "dir":
        return dir_models(opts.category, opts.mesh_dir, manifest)
    if opts.source == "procedural":
        return procedural_models(opts.category, opts.num_models, manifest)
    from eopose.render.objaverse_source import objaverse_models

    return objaverse_models(opts.category, manifest, opts.objaverse_dir, opts.num_models, opts.max_faces)


def render(opts) -> dict:
    """Run one partition; returns the summary (also printed)."""
    t0 = time.monotonic()
    models = load_models(opts)
    if len(models) < 2:
        raise SourceError(f"{opts.source}: found {len(models)} model(s) of {opts.category}; need at least 2")
    opts.out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(opts.out)
    renderer = Renderer(opts, models, opts.out)
    check_existing_settings(opts.out, renderer.settings)
    shards = plan.shards_of_partition(opts.num_quads, opts.quads_per_shard, opts.shard_index, opts.num_shards)
    present = {p.name for p in shard_files(opts.out)}
    pending = [j for j in shards if shard_name(j) not in present]
    try:
        renderer.run(pending)
    finally:
        if shard_files(opts.out):
            update_index(opts.out, renderer.settings)
    if opts.preview:
        from eopose.render.preview import write_preview

        write_preview(opts.out, opts.out / "preview.png")
    wall = time.monotonic() - t0
    summary = {
        "rendered_quads": renderer.rendered, "shards_written": len(renderer.shards_written),
        "shards_skipped": len(shards) - len(pending), "failed_now": dict(renderer.failed_now),
        "failed_total": dict(collections.Counter(read_failures(opts.out).values())),
        "untextured_models": len(renderer.untextured),
        "wall_s": wall, "render_s": renderer.render_seconds,
        "quads_per_min": renderer.rendered / wall * 60 if wall else 0.0,
        "overhead_ratio": wall / renderer.render_seconds if renderer.render_seconds else float("nan"),
        "worker_rss_mb": renderer.rss_mb, "worker": renderer.worker_info,
    }
    if not opts.quiet:
        worker = renderer.worker_info
        print(f"render-pairs: {summary['rendered_quads']} quads in {summary['shards_written']} new shards "
              f"({summary['shards_skipped']} already present), {wall:.1f} s wall, "
              f"Blender {worker.get('blender', '-')} on {worker.get('device', '-')}, "
              f"{summary['quads_per_min']:.1f} quads/min; failed models now {summary['failed_now'] or 'none'}, "
              f"in this folder {summary['failed_total'] or 'none'} ({FAILURES_NAME}); "
              f"rendered with missing textures {summary['untextured_models']}", file=sys.stderr)
    return summary


def main(argv=None) -> int:
    try:
        render(parse_args(argv))
    except (SourceError, RunError) as error:
        print(f"render-pairs: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
