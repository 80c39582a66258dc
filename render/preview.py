"""Contact sheet of the first quadruplets of a dataset folder: one row per quadruplet, the four
views (M1c1, M1c2, M2c1, M2c2) composited over a checkerboard so alpha edges show."""
from __future__ import annotations

import numpy as np
from PIL import Image

from eopose.dataset.compositing import composite_uint8
from eopose.dataset.shard_format import open_dataset

CHECKER = 8  # checker square size in pixels


def checkerboard(height: int, width: int) -> np.ndarray:
    ys, xs = np.mgrid[:height, :width]
    light = ((ys // CHECKER + xs // CHECKER) % 2).astype(np.float32)
    return np.repeat((200 + 40 * light)[..., None], 3, axis=2)


def write_preview(dataset_dir, path, rows: int = 8) -> None:
    dataset = open_dataset(dataset_dir)
    tiles = []
    for i in range(min(rows, len(dataset))):
        rgba = dataset.read(i, ["rgba"])["rgba"]  # [4,H,W,4]
        tiles.append(np.concatenate(list(composite_uint8(rgba, checkerboard(*rgba.shape[1:3]))), axis=1))
    Image.fromarray(np.concatenate(tiles, axis=0)).save(path)
