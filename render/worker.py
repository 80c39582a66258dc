"""Render worker process: one long-lived Blender scene (bpy imported inside the spawned process)
rendering many quadruplets, and the parent-side handle that starts, feeds, times out, kills and
recycles it.

Protocol (parent -> worker): a `quad.QuadJob` per quadruplet, or None to stop. Worker -> parent:
("ready", info), ("loading", m), ("rendering", m), ("model_failed", m, reason, detail),
("done", quad.RenderedViews). `m` is 0 for M1, 1 for M2; the parent uses the last stage message to blame the
right model when the worker hangs past a timeout or dies (the process is then replaced). A job
carries the quadruplet's `Lighting` and `Camera`, applied once for its four views.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import re
import sys
import time
from dataclasses import dataclass

import numpy as np

from eopose.render import passes
from eopose.render.quad import QuadJob, RenderedViews
from eopose.render.settings import RenderSettings
from eopose.render.sources import ModelError, resolve_path

BPY_SCRIPTS = re.compile(r"/bpy/\d+\.\d+/scripts(/|$)")


@dataclass(frozen=True)
class WorkerConfig:
    """What every worker of a run is started with: the render settings, Cycles threads and the model limits."""

    render_settings: RenderSettings
    threads: int
    max_faces: int
    import_timeout: float  # seconds to import one model
    render_timeout: float  # seconds to render one model's 2 views
    cache_dir: object  # procedural GLB cache folder (None: the default)
    allow_untextured: bool


def worker_main(conn, config: WorkerConfig) -> None:
    """Entry point of the spawned process."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # Blender and Cycles log to stdout/stderr; the parent owns the terminal
    os.dup2(devnull, 2)
    # A parent that imported bpy passes on sys.path entries inside bpy's bundled scripts
    # (spawn copies sys.path); there `import bpy` finds the scripts package, not the module.
    sys.path[:] = [p for p in sys.path if not BPY_SCRIPTS.search(p.replace(os.sep, "/"))]
    import bpy

    from eopose.render.blender_scene import Scene

    scene = Scene(config.render_settings, config.threads)
    conn.send(("ready", {"blender": bpy.app.version_string, "device": scene.device, "pid": os.getpid()}))
    try:
        while True:
            try:
                job = conn.recv()
            except EOFError:
                return
            if job is None:
                return
            views = _render_quad(scene, job, config, conn)
            scene.unload()
            if views is not None:
                conn.send(("done", views))
    finally:
        scene.close()


def _render_quad(scene, job: QuadJob, config: WorkerConfig, conn) -> RenderedViews | None:
    """Views M1c1, M1c2, M2c1, M2c2 with their passes, or None after reporting a failed model."""
    res = scene.resolution
    scene.apply(job.lighting, job.camera)
    views, untextured, render_seconds = [], [], 0.0
    for m, record in enumerate(job.models):
        conn.send(("loading", m))
        try:
            model = scene.load(resolve_path(record, config.cache_dir), record.canonical_euler_deg,
                               config.max_faces, config.allow_untextured)
        except ModelError as error:
            conn.send(("model_failed", m, error.reason, error.detail))
            return None
        except Exception as error:  # a source that cannot produce the file, a bpy surprise
            conn.send(("model_failed", m, "load_error", f"{type(error).__name__}: {error}"[:300]))
            return None
        conn.send(("rendering", m))
        untextured.append(model.untextured)
        for c in range(2):
            rgba, seconds = scene.render(job.euler_deg[c], job.cycles_seed)
            params = json.dumps(scene.describe(), sort_keys=True)
            views.append((rgba, *passes.geometry_passes(model.verts, model.tris, job.rotations[c], job.intrinsics,
                                                        job.extrinsics, res, res), params))
            render_seconds += seconds
    rgba, mask, depth, nocs, normals = (np.stack(v) for v in list(zip(*views))[:5])
    return RenderedViews(rgba=rgba, mask=mask, depth=depth.astype(np.float16), nocs=nocs.astype(np.float16),
                         normals=normals.astype(np.float16), render_params=tuple(v[-1] for v in views),
                         untextured=np.array(untextured), render_seconds=render_seconds, rss_mb=_rss_mb())


def _rss_mb() -> float:
    """Resident memory of this process (Linux /proc; 0 elsewhere), to watch it stay flat."""
    try:
        with open("/proc/self/status") as handle:
            return next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration):
        return 0.0


class WorkerHandle:
    """Parent-side view of one worker: its process, pipe, current job, stage and deadline."""

    def __init__(self, config: WorkerConfig, startup_timeout: float = 300.0):
        self.config = config
        self.startup_timeout = startup_timeout
        self.process = None
        self.conn = None
        self.start()

    def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(child, self.config), daemon=True)
        self.process.start()
        child.close()
        self.ready = False
        self.job = None
        self.stage = None  # (model m, "loading" | "rendering")
        self.deadline = time.monotonic() + self.startup_timeout
        self.models_loaded = 0

    def submit(self, job: QuadJob) -> None:
        self.job = job
        self.stage = None
        self.deadline = time.monotonic() + self.config.import_timeout
        self.conn.send(job)

    def on_stage(self, m: int, stage: str) -> None:
        self.stage = (m, stage)
        timeout = self.config.import_timeout if stage == "loading" else self.config.render_timeout
        self.deadline = time.monotonic() + timeout
        self.models_loaded += stage == "loading"

    def idle(self) -> None:
        self.job, self.stage, self.deadline = None, None, None

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.process.join(timeout=10)
        self.kill()
