"""Test-only fault injection for the render workers: a worker entry point whose Blender scene kills
its own process (SIGKILL) or hangs while loading a model file whose name starts with `crash` or
`hang`. Tests put it in place of `eopose.render.worker.worker_main` with monkeypatch; the spawned
worker process imports this module by name (pytest puts tests/ on sys.path, spawn passes it on)."""
import os
import signal
import time

from eopose.render import worker


def faulty_worker_main(conn, config: dict) -> None:
    from eopose.render import blender_scene

    load = blender_scene.Scene.load

    def faulty_load(self, path, *args, **kwargs):
        name = os.path.basename(path)
        if name.startswith("crash"):
            os.kill(os.getpid(), signal.SIGKILL)
        if name.startswith("hang"):
            time.sleep(1e6)
        return load(self, path, *args, **kwargs)

    blender_scene.Scene.load = faulty_load
    worker.worker_main(conn, config)
