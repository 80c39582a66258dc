"""`render-pairs`: render quadruplets (two models of a category, each under the same two random
rotations) into eopose shards with exact mask/depth/NOCS, resumable and partitionable.

    render-pairs --category vases                 # defaults: data/vases, 2,200 quadruplets, procedural models
    render-pairs --category vases --source dir --mesh-dir meshes/ --num-quads 64 --out data/vases
    render-pairs --category vases --manifest manifests/vases.json --num-quads 8800 --out data/vases \\
        --shard-index 3 --num-shards 10      # one of 10 disjoint partitions (any scheduler; 'auto' reads its env)
    render-pairs --category vases --num-shards 64 --launcher slurm --slurm-partition gpu   # a submitit job array

Rerunning the same command resumes (finished shards and partitions are kept). See docs/dataset-format.md
and docs/scaling.md.
"""
from __future__ import annotations

import argparse
import collections
import re
import sys
import time
from pathlib import Path

from eopose.dataset import command_line, launch
from eopose.dataset.command_line import UsageError, existing_file, existing_folder, folder, integer, real
from eopose.dataset.shard_format import DatasetFormatError, commit_index, shard_files, shard_name
from eopose.render import plan
from eopose.render.lighting import hdri_files
from eopose.render.settings import CAMERA_MODES, HDRI_EXTENSIONS, LIGHTING_MODES
from eopose.render.run import FAILURES_NAME, Renderer, RunError, check_existing_settings, read_failures, remove_stale_temps
from eopose.render.sources import PAPER_MODEL_COUNTS, SourceError, dir_models, procedural_models, read_manifest

PROG = "render-pairs"
# The EOPose dataset holds 8,800 object pairs over its 4 categories (Mehrotra et al., sec. 3.4.1 and
# conclusion) without a per-category split; one quadruplet is one object pair, so by default each category
# gets an equal share.
PAPER_PAIRS = 8800
DEFAULT_QUADS = PAPER_PAIRS // len(PAPER_MODEL_COUNTS)
BLENDER_DEVICE = {"auto": "auto", "cpu": "cpu", "cuda": "gpu"}  # --device -> blender_scene.Scene's device


def build_parser() -> command_line.ArgumentParser:
    p = command_line.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0] + "\n\n" +
                                    __doc__.split("\n\n")[1])
    p.add_argument("--category", required=True,
                   help="object category (procedural: vases, briefcases, file_cabinets, shoes)")
    p.add_argument("--source", choices=("objaverse", "procedural", "dir"),
                   help="model source (default: the manifest's source, objaverse with a manifest, else procedural)")
    p.add_argument("--mesh-dir", type=existing_folder, help="folder of meshes (glb, gltf, obj, ply, stl) for --source dir")
    p.add_argument("--manifest", type=existing_file,
                   help="JSON selecting models and their canonical rotations (see render/sources.py)")
    p.add_argument("--objaverse-dir", type=folder, help="objaverse BASE_PATH (default ~/.objaverse)")
    p.add_argument("--num-models", type=integer(2), help="procedural: models 0..N-1 (default: the paper's count); "
                                                         "objaverse: first N LVIS uids")
    p.add_argument("--styles", type=lambda text: tuple(sorted(set(filter(None, text.split(","))))),
                   help="procedural: only models of these comma-separated styles (e.g. bottle,bowl; see "
                        "render/procedural), to hold a style out of training")
    p.add_argument("--num-quads", type=integer(1),
                   help=f"quadruplets in the whole run (default: {DEFAULT_QUADS}, the paper's {PAPER_PAIRS:,} pairs "
                        f"split over its {len(PAPER_MODEL_COUNTS)} categories)")
    p.add_argument("--out", type=folder, help="dataset folder (default: data/<category>)")
    p.add_argument("--resolution", type=integer(8, 8192), default=256, help="image width and height in pixels")
    p.add_argument("--samples", type=integer(1, 1 << 16), default=32, help="Cycles samples per pixel")
    p.add_argument("--workers", type=integer(1, 256), default=1, help="Blender worker processes")
    p.add_argument("--threads", type=integer(1, 1024), help="Cycles threads per worker (default: cores // workers)")
    command_line.add_device_argument(p, help="Cycles device: auto uses a GPU when Blender finds one, cuda asks "
                                             "for the GPU (Blender falls back to the CPU without one)")
    p.add_argument("--seed", type=integer(0), default=0, help="run seed (rotations, pairing, Cycles noise)")
    p.add_argument("--quads-per-shard", type=integer(1), default=16, help="quadruplets per shard file")
    p.add_argument("--angle-range", type=real(-360, 360), nargs=2, default=plan.ANGLE_RANGE_DEG, metavar=("LO", "HI"),
                   help="per-axis Euler angle range of the random rotations, degrees")
    p.add_argument("--max-faces", type=integer(1), default=2_000_000, help="models with more faces are skipped")
    p.add_argument("--import-timeout", type=real(above=0), default=120.0, help="seconds to import one model")
    p.add_argument("--render-timeout", type=real(above=0), default=600.0, help="seconds to render one model's 2 views")
    p.add_argument("--recycle-after", type=integer(1), default=200, help="restart a worker after this many models")
    p.add_argument("--cache-dir", type=folder, help="procedural GLB cache (default $EOPOSE_CACHE/procedural)")
    p.add_argument("--lighting", choices=LIGHTING_MODES, default="fixed",
                   help="fixed: one light rig for the dataset; studio/random: drawn per quadruplet (render/lighting.py)")
    p.add_argument("--camera", choices=CAMERA_MODES, default="fixed",
                   help="fixed camera, or one drawn per quadruplet (render/camera.py)")
    p.add_argument("--hdri-dir", type=existing_folder, help="folder of .hdr/.exr environment maps for studio/random "
                                                           "lighting")
    p.add_argument("--allow-untextured", action="store_true",
                   help="render models whose textures are missing instead of skipping them")
    p.add_argument("--preview", action="store_true", help="write preview.png (contact sheet of the first quads)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    launch.add_partition_arguments(p, resources="default: --workers x --threads")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """Parse and check every option; exits 2 with one line on bad input, before anything is written."""
    p = build_parser()
    opts = p.parse_args(argv)
    try:
        check_options(opts)
    except (UsageError, SourceError) as error:
        p.error(str(error))
    return opts


def check_options(opts) -> None:
    """Fill in defaults (noted in one line) and reject contradictions; UsageError / SourceError."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", opts.category):
        raise UsageError(f"--category {opts.category!r}: use letters, digits, '_' or '-' (e.g. vases)")
    opts.manifest_data = read_manifest(opts.manifest) if opts.manifest else None
    chosen = []
    if opts.source is None:  # the manifest's own source, else objaverse with a manifest, else procedural
        opts.source = (opts.manifest_data or {}).get("source") or ("objaverse" if opts.manifest else "procedural")
        chosen.append(f"source {opts.source}")
    if opts.source == "dir" and not opts.mesh_dir:
        raise UsageError("--source dir needs --mesh-dir DIR (a folder of glb/gltf/obj/ply/stl files)")
    if opts.source == "procedural":
        from eopose.render import procedural

        if opts.category not in procedural.CATEGORIES:
            raise UsageError(f"--category {opts.category}: no procedural generator; choose one of "
                             f"{', '.join(procedural.CATEGORIES)} or use --source dir/objaverse")
    if opts.hdri_dir and opts.lighting == "fixed":
        raise UsageError("--hdri-dir needs --lighting studio or --lighting random")
    if opts.hdri_dir and not hdri_files(opts.hdri_dir):
        raise UsageError(f"--hdri-dir {opts.hdri_dir}: no {' or '.join(HDRI_EXTENSIONS)} files; pass a folder of "
                         f"environment maps or leave it out")
    if opts.angle_range[0] >= opts.angle_range[1]:
        raise UsageError(f"--angle-range {opts.angle_range[0]:g} {opts.angle_range[1]:g}: LO must be below HI")
    if opts.num_quads is None:
        opts.num_quads = DEFAULT_QUADS
        chosen.append(f"--num-quads {DEFAULT_QUADS}")
    if opts.out is None:
        opts.out = folder(str(Path("data") / opts.category))
        chosen.append(f"--out {opts.out}")
    partition = launch.resolve_partition(opts)
    launch.check_launcher(opts)
    opts.shard_index, opts.num_shards = partition.index, partition.count
    if partition.origin not in ("--shard-index", "launcher"):
        chosen.append(f"partition {partition.index} of {partition.count} from {partition.origin}")
    opts.device = BLENDER_DEVICE[opts.device]
    if opts.launcher == "slurm" and opts.cpus_per_task:  # the threads of the allocation, not of this machine
        opts.threads = opts.threads or max(1, opts.cpus_per_task // opts.workers)
    parallel = min(opts.num_shards, opts.max_parallel or launch.cpu_count()) if opts.launcher == "local" else 1
    opts.threads = opts.threads or max(1, launch.cpu_count() // (opts.workers * parallel))
    opts.cpus_per_task = opts.cpus_per_task or opts.workers * opts.threads
    if chosen and not opts.quiet:
        print(f"{PROG}: chose {', '.join(chosen)} (pass the flags to change them)", file=sys.stderr)


def load_models(opts):
    manifest = opts.manifest_data if opts.manifest_data and opts.manifest_data["models"] else None
    if manifest and manifest["category"] not in (None, opts.category):
        raise SourceError(f"{opts.manifest} lists {manifest['category']}, not --category {opts.category}")
    if opts.source == "dir":
        return dir_models(opts.category, opts.mesh_dir, manifest)
    if opts.source == "procedural":
        return procedural_models(opts.category, opts.num_models, manifest, opts.styles)
    from eopose.render.objaverse_source import objaverse_models

    return objaverse_models(opts.category, manifest, opts.objaverse_dir, opts.num_models, opts.max_faces)


def prepare(opts) -> Renderer:
    """Load the models, create the folder and check it against the run's settings (once per partition or launch)."""
    models = load_models(opts)
    if len(models) < 2:
        raise SourceError(f"{opts.source}: found {len(models)} model(s) of {opts.category}; need at least 2")
    opts.out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(opts.out)
    renderer = Renderer(opts, models, opts.out)
    check_existing_settings(opts.out, renderer.shard_settings)
    return renderer


def partition_shards(opts, index: int) -> list[int]:
    return launch.partition_shards(plan.num_shards(opts.num_quads, opts.quads_per_shard), index, opts.num_shards)


def render(opts) -> dict:
    """Run one partition; commits its shards to index.json (O(its own shards)) and returns the summary."""
    t0 = time.monotonic()
    renderer = prepare(opts)
    shards = partition_shards(opts, opts.shard_index)
    present = {p.name for p in shard_files(opts.out)}
    pending = [j for j in shards if shard_name(j) not in present]
    try:
        renderer.run(pending)
    finally:
        mine = [opts.out / shard_name(j) for j in shards if (opts.out / shard_name(j)).is_file()]
        if mine:
            commit_index(opts.out, mine, renderer.shard_settings)
    wall = time.monotonic() - t0
    return {
        "rendered_quads": renderer.rendered, "shards_written": len(renderer.shards_written),
        "shards_skipped": len(shards) - len(pending), "failed_now": dict(renderer.failed_now),
        "failed_total": dict(collections.Counter(read_failures(opts.out).values())),
        "untextured_models": len(renderer.untextured),
        "wall_s": wall, "render_s": renderer.render_seconds,
        "quads_per_min": renderer.rendered / wall * 60 if wall else 0.0,
        "overhead_ratio": wall / renderer.render_seconds if renderer.render_seconds else float("nan"),
        "worker_rss_mb": renderer.rss_mb, "worker": renderer.worker_info,
    }


def print_summary(summary: dict, out: Path) -> None:
    worker = summary["worker"]
    print(f"{PROG}: {summary['rendered_quads']} quads in {summary['shards_written']} new shards "
          f"({summary['shards_skipped']} already present), {summary['wall_s']:.1f} s wall, "
          f"Blender {worker.get('blender', '-')} on {worker.get('device', '-')}, "
          f"{summary['quads_per_min']:.1f} quads/min; failed models now {summary['failed_now'] or 'none'}, "
          f"in this folder {summary['failed_total'] or 'none'} ({out / FAILURES_NAME}); "
          f"rendered with missing textures {summary['untextured_models']}", file=sys.stderr)


def render_partition(opts, index: int) -> dict:
    """One task of a launched job array (runs in the scheduler's process; its output goes to the job's log)."""
    print(f"{PROG}: partition {index} of {opts.num_shards} started", flush=True)
    summary = render(argparse.Namespace(**{**vars(opts), "shard_index": index, "launcher": None, "quiet": True}))
    print_summary(summary, opts.out)
    return summary


def launch_partitions(opts) -> int:
    """Submit the unfinished partitions as a job array (submitit), wait, commit and summarise."""
    t0 = time.monotonic()
    prepare(opts)  # bad sources or settings fail here once, not in every task
    present = {p.name for p in shard_files(opts.out)}
    pending = [i for i in range(opts.num_shards) if any(shard_name(j) not in present for j in partition_shards(opts, i))]
    print(f"{PROG}: submitting {len(pending)} of {opts.num_shards} partitions ({opts.num_shards - len(pending)} "
          f"already finished) with the {opts.launcher} launcher; logs in {opts.out / launch.LOG_FOLDER}",
          file=sys.stderr)
    outcome = launch.run_partitions(render_partition, [opts], pending, opts, opts.out, f"{PROG}-{opts.category}")
    finished = shard_files(opts.out)
    if finished:  # partitions killed between their last shard and their commit
        commit_index(opts.out, finished)
    failed = launch.report(PROG, outcome)
    done = [s for s in outcome.values() if isinstance(s, dict)]
    print(f"{PROG}: {len(done)} partitions finished now, {sum(s['rendered_quads'] for s in done)} quads rendered, "
          f"{len(finished)} shards in {opts.out}, {time.monotonic() - t0:.1f} s wall", file=sys.stderr)
    return 1 if failed else 0


def main(argv=None) -> int:
    opts = parse_args(argv)
    try:
        if opts.launcher:
            status = launch_partitions(opts)
        else:
            summary = render(opts)
            if not opts.quiet:
                print_summary(summary, opts.out)
            status = 0
        if opts.preview and shard_files(opts.out):
            from eopose.render.preview import write_preview

            write_preview(opts.out, opts.out / "preview.png")
    except (SourceError, RunError, DatasetFormatError, UsageError) as error:
        return command_line.fail(PROG, error)
    return status


if __name__ == "__main__":
    sys.exit(main())
