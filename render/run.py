"""Orchestration of one `render-pairs` process: plan the partition's pending shards, feed the
workers quadruplet jobs (`quad.QuadJob`), replace failed models, write each shard from its rows
(`quad.shard_row`); render/cli.py commits them to index.json.

Crash safety and resume: a shard exists under its final name only once complete
(`write_shard` writes a temp file and renames it), so a rerun after kill -9 skips the shards
present and renders the rest with the same seeds. Models that failed are remembered in
`failures.jsonl` (one JSON line per model, appended by every process of the run); a quad's
pair is the first usable one of its own seeded order, so it does not depend on when a failure
was discovered.
"""
from __future__ import annotations

import collections
import importlib.metadata
import json
import os
import time
from multiprocessing.connection import wait
from pathlib import Path

import h5py
from tqdm import tqdm

from eopose.dataset.shard_format import shard_files, shard_name, write_quads
from eopose.render import camera, lighting, plan
from eopose.render.quad import QuadJob, RenderedViews, shard_row
from eopose.render.settings import RenderSettings
from eopose.render.sources import run_symmetry
from eopose.render.worker import WorkerConfig, WorkerHandle

FAILURES_NAME = "failures.jsonl"


class RunError(RuntimeError):
    """The run cannot go on (one-line message)."""


def render_settings_of(options) -> RenderSettings:
    """The settings Blender renders every view with, from the parsed render-pairs options."""
    return RenderSettings(resolution=options.resolution, samples=options.samples, device=options.device,
                          lighting=options.lighting, camera=options.camera,
                          hdri_dir=str(Path(options.hdri_dir).resolve()) if options.hdri_dir else "")


def shard_settings_of(options, models, render_settings: RenderSettings) -> dict:
    """The creation settings stored in every shard (attribute `settings`, and index.json); identical for all
    partitions and reruns. They hold the render settings; per-view lights and camera are in each row's
    `render_params`."""
    return {
        "renderer": "blender-cycles", "bpy": importlib.metadata.version("bpy"),
        "category": options.category, "source": models[0].source if models else options.source,
        "models": len(models), "num_quads": options.num_quads, "quads_per_shard": options.quads_per_shard,
        "seed": options.seed, "angle_range_deg": list(options.angle_range),
        "allow_untextured": options.allow_untextured, "render": render_settings.to_dict(),
        "symmetry": run_symmetry(options.category, options.manifest_data).to_json(),
    }


def worker_config_of(options, render_settings: RenderSettings) -> WorkerConfig:
    """What each Blender worker of the run is started with."""
    return WorkerConfig(render_settings=render_settings, threads=options.threads, max_faces=options.max_faces,
                        import_timeout=options.import_timeout, render_timeout=options.render_timeout,
                        cache_dir=options.cache_dir, allow_untextured=options.allow_untextured)


def read_failures(out_dir: Path) -> dict:
    """model_id -> reason of the models recorded as failed in this run folder."""
    path = out_dir / FAILURES_NAME
    failures = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
                failures[entry["model_id"]] = entry["reason"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line torn by kill -9
    return failures


def record_failure(out_dir: Path, record, reason: str, detail: str) -> None:
    line = json.dumps({"model_id": record.model_id, "source": record.source, "path": record.path,
                       "reason": reason, "detail": detail}) + "\n"
    fd = os.open(out_dir / FAILURES_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())  # one O_APPEND write per line: safe with concurrent partitions
    finally:
        os.close(fd)


def remove_stale_temps(out_dir: Path) -> None:
    """Temp shards left by killed processes (pid no longer alive)."""
    for tmp in out_dir.glob("*.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_existing_settings(out_dir: Path, shard_settings: dict) -> None:
    existing = shard_files(out_dir)
    if not existing:
        return
    with h5py.File(existing[0], "r") as handle:
        old = json.loads(handle.attrs.get("settings", "{}"))
    diff = sorted(k for k in set(old) | set(shard_settings) if old.get(k) != shard_settings.get(k))
    if diff:
        raise RunError(f"{out_dir} holds shards of a run with other settings ({', '.join(diff)}); "
                       f"rerun with the same options to resume, or use a new --out")


class Renderer:
    """Renders the pending shards of one partition with a pool of workers.

    `options`: the parsed render-pairs options; `render_settings`: what Blender renders every view with;
    `shard_settings`: the creation settings stored in every shard."""

    def __init__(self, options, models, out_dir: Path):
        self.options, self.models, self.out = options, models, out_dir
        self.ids = [m.model_id for m in models]
        self.groups = plan.split_groups(self.ids)
        self.render_settings = render_settings_of(options)
        self.shard_settings = shard_settings_of(options, models, self.render_settings)
        self.hdris = lighting.hdri_files(options.hdri_dir) if options.hdri_dir else []
        known = read_failures(out_dir)
        self.bad = {i for i, m in enumerate(models) if m.model_id in known}
        self.failed_now = collections.Counter()
        for i, m in enumerate(models):  # too big by the source's own metadata: skip without loading
            if i not in self.bad and m.face_count > options.max_faces:
                self._fail(i, "too_many_faces", f"{m.face_count} faces (metadata)")
        self.render_seconds = 0.0
        self.rendered = 0
        self.shards_written = []
        self.rss_mb = []  # worker RSS after each quad, in completion order
        self.untextured = set()  # ids of models rendered with missing textures (--allow-untextured)
        self.worker_info = {}  # Blender version, device, pid of the last worker that came up

    def _fail(self, index: int, reason: str, detail: str = "") -> None:
        if index in self.bad:
            return
        self.bad.add(index)
        self.failed_now[reason] += 1
        record_failure(self.out, self.models[index], reason, detail)

    def job(self, quad: int) -> QuadJob:
        qseed = plan.quad_seed(self.options.seed, quad)
        euler, rots = plan.rotations(qseed, self.options.angle_range)
        try:
            m1, m2 = plan.choose_pair(qseed, self.ids, self.groups, self.bad)
        except plan.NoPairError as error:
            raise RunError(f"{self.options.category}: {error}; see {self.out / FAILURES_NAME}") from None
        return QuadJob.of(quad, qseed, plan.cycles_seed(qseed), euler, rots, (m1, m2),
                          (self.models[m1], self.models[m2]),
                          lighting.draw_lighting(self.render_settings.lighting, qseed, self.hdris),
                          camera.draw_camera(self.render_settings.camera, qseed), self.render_settings.resolution)

    def write(self, shard: int, rows: dict) -> None:
        """Write a shard from its rows (quad -> QuadRow)."""
        write_quads(self.out / shard_name(shard), [rows[quad] for quad in sorted(rows)], self.shard_settings)
        self.shards_written.append(shard)

    def run(self, shards: list[int]) -> None:
        options = self.options
        todo = {j: set(plan.quads_of_shard(j, options.num_quads, options.quads_per_shard)) for j in shards}
        shard_of = {q: j for j, qs in todo.items() for q in qs}
        queue = collections.deque(sorted(shard_of))
        buffers = {j: {} for j in shards}
        if not queue:
            return
        worker_config = worker_config_of(options, self.render_settings)
        workers = [WorkerHandle(worker_config) for _ in range(min(options.workers, len(queue)))]
        bar = tqdm(total=len(queue), unit="quad", desc=f"render {options.category}", dynamic_ncols=True,
                   disable=options.quiet)
        start, startup_failures = time.monotonic(), 0
        try:
            while queue or any(w.job for w in workers):
                for w in workers:
                    if w.ready and w.job is None and queue:
                        w.submit(self.job(queue.popleft()))
                now = time.monotonic()
                timeout = max(0.0, min((w.deadline for w in workers if w.deadline), default=now + 1) - now)
                ready = wait([w.conn for w in workers], timeout=timeout)
                for w in workers:
                    if w.conn in ready:
                        try:
                            message = w.conn.recv()
                        except (EOFError, OSError):
                            w.process.join(timeout=10)
                            startup_failures += self._lost(w, queue, "crash", f"worker exit code {w.process.exitcode}")
                            continue
                        done = self._handle(w, message, queue)
                        if done is not None:
                            self._collect(*done, shard_of, todo, buffers)
                            bar.update(1)
                            bar.set_postfix(q_per_min=f"{self.rendered * 60 / (time.monotonic() - start):.1f}",
                                            failed=sum(self.failed_now.values()))
                            if w.models_loaded >= options.recycle_after:  # keep memory flat
                                w.stop()
                                w.start()
                    elif w.deadline and time.monotonic() > w.deadline:
                        reason = "timeout" if w.stage is None or w.stage[1] == "loading" else "render_timeout"
                        startup_failures += self._lost(w, queue, reason, "worker killed after the stage's timeout")
                if startup_failures >= 3:
                    raise RunError("the Blender worker died 3 times before rendering anything; "
                                   "check that `python -c 'import bpy'` works")
        finally:
            bar.close()
            for w in workers:
                w.stop()

    def _collect(self, job: QuadJob, views: RenderedViews, shard_of, todo, buffers) -> None:
        """Store a finished quad's row; write its shard once all of the shard's quads are in."""
        self.render_seconds += views.render_seconds
        self.rss_mb.append(views.rss_mb)
        j = shard_of[job.quad]
        buffers[j][job.quad] = shard_row(job, views, self.options.category)
        self.untextured.update(m.model_id for m, flag in zip(job.models, views.untextured) if flag)
        if len(buffers[j]) == len(todo[j]):
            self.write(j, buffers.pop(j))
        self.rendered += 1

    def _handle(self, w: WorkerHandle, message, queue):
        kind = message[0]
        if kind == "ready":
            w.ready, w.deadline, self.worker_info = True, None, message[1]
        elif kind in ("loading", "rendering"):
            w.on_stage(message[1], kind)
        elif kind == "model_failed":
            _, m, reason, detail = message
            self._fail(w.job.pair[m], reason, detail)
            queue.appendleft(w.job.quad)
            w.idle()
        elif kind == "done":
            job = w.job
            w.idle()
            return job, message[1]
        return None

    def _lost(self, w: WorkerHandle, queue, reason: str, detail: str) -> int:
        """A worker died or hung: blame the model it was busy with, requeue, restart.
        Returns 1 when it was lost before it ever became ready."""
        never_ready = not w.ready
        if w.job is not None:
            if w.stage is not None:
                self._fail(w.job.pair[w.stage[0]], reason, detail)
            queue.appendleft(w.job.quad)
        w.restart()
        return int(never_ready)
