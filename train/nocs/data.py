"""train-nocs data: every view of the train-split quadruplets of one or more dataset folders, with its NOCS and
mask targets.

A quadruplet belongs to the train split when both its models do (eopose.dataset.splits, by model id), so no
view of a val/test model is ever read. An item is one quadruplet's four views (the shard chunk is one row), at
the network's resolution: RGBA resized as premultiplied colour (no dark fringes) and returned as straight-alpha
uint8 again, NOCS and mask by nearest neighbour (no blending across the silhouette). HDF5 opens lazily in each
DataLoader worker (QuadDataset). Each quadruplet is read and resized once per process and then kept in memory
(NOCS as float16, the shards' own precision: ~11 kB a 64 px view), so later epochs cost no decompression.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from eopose.dataset.compositing import composite
from eopose.dataset.shard_format import QuadDataset
from eopose.dataset.splits import split_of_quad

FIELDS = ("rgba", "nocs", "mask")


def resize_rgba(rgba: np.ndarray, size: int) -> np.ndarray:
    """uint8 straight-alpha RGBA [V, H, W, 4] -> [V, size, size, 4], filtered as premultiplied colour."""
    premultiplied, alpha = composite(rgba, (0.0, 0.0, 0.0))
    both = F.interpolate(torch.cat([premultiplied, alpha], dim=1), size=(size, size), mode="bilinear",
                         antialias=True, align_corners=False).clamp(0, 1)
    straight = both[:, :3] / both[:, 3:].clamp(min=1.0 / 255)
    out = torch.cat([straight.clamp(0, 1), both[:, 3:]], dim=1).permute(0, 2, 3, 1)
    return np.round(out.numpy() * 255).astype(np.uint8)


def resize_nearest(array: np.ndarray, size: int) -> np.ndarray:
    """[V, H, W] or [V, H, W, C] -> size x size by nearest neighbour."""
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    channels_last = tensor.ndim == 4
    tensor = tensor.permute(0, 3, 1, 2) if channels_last else tensor[:, None]
    out = F.interpolate(tensor, size=(size, size), mode="nearest")
    return (out.permute(0, 2, 3, 1) if channels_last else out[:, 0]).numpy()


class NocsViewDataset(Dataset):
    """Quadruplets of `split` -> {"rgba" uint8 [4, R, R, 4], "nocs" float32 [4, R, R, 3], "mask" float32 [4, R, R],
    "category" int64 [4]} (category: the view's index in `categories`, the sorted categories of the split). R =
    `resolution`; None: the renders' own (the largest over the folders), which a network that crops its input
    around the object (NocsNetConfig.crop) resamples itself."""

    def __init__(self, data_dirs, resolution: int | None, split: str = "train", split_fractions=(0.8, 0.1, 0.1)):
        dirs = [data_dirs] if isinstance(data_dirs, (str, Path)) else list(data_dirs)
        self.datasets = [QuadDataset(path) for path in dirs]
        self.resolution = resolution or max(data.read(0, ("mask",))["mask"].shape[-1] for data in self.datasets
                                            if len(data))
        self.kept: dict[int, tuple] = {}
        selected: list[tuple[int, int, str]] = []
        for number, data in enumerate(self.datasets):
            model_ids, categories = data.column("model_id"), data.column("category")
            for quad in range(len(data)):
                if split_of_quad(model_ids[quad], split_fractions) == split:
                    selected.append((number, quad, str(categories[quad])))
        self.categories = tuple(sorted({category for _, _, category in selected}))
        self.quads = [(number, quad, self.categories.index(category)) for number, quad, category in selected]

    def __len__(self) -> int:
        return len(self.quads)

    def _read(self, index: int) -> tuple:
        number, quad, _ = self.quads[index]
        record = self.datasets[number].read(quad, FIELDS)
        rgba, nocs, mask = record["rgba"], record["nocs"], record["mask"]
        if rgba.shape[1:3] != (self.resolution, self.resolution):
            rgba = resize_rgba(rgba, self.resolution)
            nocs, mask = resize_nearest(nocs, self.resolution), resize_nearest(mask, self.resolution)
        return rgba, nocs.astype(np.float16), mask.astype(np.uint8)

    def __getitem__(self, index: int) -> dict:
        if index not in self.kept:
            self.kept[index] = self._read(index)
        rgba, nocs, mask = self.kept[index]
        return {"rgba": rgba, "nocs": nocs.astype(np.float32), "mask": mask.astype(np.float32),
                "category": np.full(len(rgba), self.quads[index][2], np.int64)}
