"""Contact sheet of the procedural asset library rendered by Blender: N models per category, one row each.

    python -m eopose.render.procedural_sheet docs/images/procedural.png [--per-category 16]

Each model is shown in its category's canonical frame (up +Z, front -Y) turned a little towards the
viewer, rendered by the same Scene the renderer's workers use, on white.
"""
from __future__ import annotations

import argparse
import os

from tqdm import tqdm

from eopose.dataset.contact_sheet import grid, save_png
from eopose.render.procedural import CATEGORIES, glb_path

THREE_QUARTER_VIEW_DEG = (12.0, 0.0, -35.0)  # a slight tilt and turn, so fronts and sides both show


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", help="PNG to write")
    parser.add_argument("--per-category", type=int, default=16)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args(argv)
    from eopose.render.blender_scene import Scene  # bpy only in the process that renders
    from eopose.render.settings import RenderSettings

    scene = Scene(RenderSettings(resolution=args.resolution, samples=args.samples), threads=os.cpu_count() or 1)
    rows = []
    with tqdm(total=len(CATEGORIES) * args.per_category, desc="procedural sheet", unit="model") as bar:
        for category in CATEGORIES:
            row = []
            for seed in range(args.per_category):
                scene.load(str(glb_path(category, seed)))
                rgba, _ = scene.render(THREE_QUARTER_VIEW_DEG, seed)
                row.append(rgba)
                bar.update(1)
            rows.append(row)
    scene.unload()
    print(f"wrote {save_png(grid(rows), args.out)} ({', '.join(CATEGORIES)}: one row each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
