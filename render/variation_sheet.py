"""Contact sheet of one procedural model under several lighting and camera draws (`--lighting`, `--camera`).

    python -m eopose.render.variation_sheet docs/images/variation.png [--category vases --seed 3]

Rows: `--lighting fixed`, `studio`, `random`; columns: the fixed camera, then `--camera random` draws.
Column k uses the draws of quadruplet seed k, rendered by the same Scene the workers use, on white.
"""
from __future__ import annotations

import argparse
import os

from tqdm import tqdm

from eopose.dataset.contact_sheet import grid, save_png
from eopose.render import camera, lighting
from eopose.render.procedural import glb_path
from eopose.render.procedural_sheet import THREE_QUARTER_VIEW_DEG
from eopose.render.settings import LIGHTING_MODES, RenderSettings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", help="PNG to write")
    parser.add_argument("--category", default="vases")
    parser.add_argument("--seed", type=int, default=3, help="procedural model seed")
    parser.add_argument("--draws", type=int, default=5, help="random camera draws (columns after the fixed one)")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args(argv)
    from eopose.render.blender_scene import Scene  # bpy only in the process that renders

    scene = Scene(RenderSettings(resolution=args.resolution, samples=args.samples), threads=os.cpu_count() or 1)
    scene.load(str(glb_path(args.category, args.seed)))
    rows = []
    with tqdm(total=len(LIGHTING_MODES) * (args.draws + 1), desc="variation sheet", unit="view") as bar:
        for mode in LIGHTING_MODES:
            row = []
            for k in range(args.draws + 1):
                scene.apply(lighting.draw_lighting(mode, k), camera.draw_camera("fixed" if k == 0 else "random", k))
                row.append(scene.render(THREE_QUARTER_VIEW_DEG, k)[0])
                bar.update(1)
            rows.append(row)
    scene.close()
    labels = ["fixed camera"] + [f"random camera {k}" for k in range(1, args.draws + 1)]
    print(f"wrote {save_png(grid(rows, labels), args.out)} (rows: lighting {', '.join(LIGHTING_MODES)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
