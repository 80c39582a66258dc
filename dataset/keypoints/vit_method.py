"""The `dino` / `dinov2` correspondence methods: ViT features once per view, then Amir et al.'s matching
for any list of view pairs.

Foreground of a token = saliency above the preset's threshold AND the patch centre inside the rendered
hard mask. Points are patch centres: token (r, c) covers load-size pixels [c*s, c*s+p) x [r*s, r*s+p),
so its centre is (c*s + p/2, r*s + p/2) (Amir et al. write `(c-1)*s + s + p//2`, the same for even p),
then scaled to the stored resolution (docs/dataset-format.md pixel convention).
"""
from __future__ import annotations

import numpy as np
import torch

from .backbones import VitFeatures, VitPreset
from .descriptors import BACKGROUND, load_shape, log_bin, preprocess
from .matching import match_descriptors


class VitCorrespondences:
    """A correspondence method (interface: `name`, `params()`, `prepare(rows)`, `match(state, row, a, p)`)."""

    def __init__(self, preset: VitPreset, model: torch.nn.Module, k: int = 35, seed: int = 0,
                 device: str = "cpu", batch_size: int = 4, weights_sha256: str | None = None):
        self.preset = preset
        self.k = k
        self.seed = seed
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.weights_sha256 = weights_sha256  # identifies the weights in the cache params (None: random init)
        self.features = VitFeatures(model.to(self.device), preset.stride, preset.layer, preset.saliency_heads)

    @property
    def name(self) -> str:
        return self.preset.method

    def params(self) -> dict:
        return dict(self.preset.params(), k=self.k, seed=self.seed, background=BACKGROUND,
                    weights_sha256=self.weights_sha256,
                    matching="best-buddies+kmeans(k-means++,lloyd)+max-mean-saliency", order="raster(points_a)")

    @torch.inference_mode()
    def describe(self, rgba: np.ndarray, mask: np.ndarray) -> dict:
        """Per-view descriptors [V, T, C], saliency [V, T], foreground [V, T] and the token centres [T, 2] in
        stored-image pixels (x, y) for uint8 RGBA [V, H, W, 4] and masks [V, H, W]."""
        height, width = rgba.shape[1:3]
        descriptors, saliency = [], []
        for start in range(0, len(rgba), self.batch_size):
            images = preprocess(rgba[start:start + self.batch_size], self.preset.load_size).to(self.device)
            keys, sal = self.features(images)
            descriptors.append(log_bin(keys, self.preset.bin_hierarchy).flatten(1, 2))
            saliency.append(sal.flatten(1))
        grid = keys.shape[1:3]
        load_h, load_w = load_shape(height, width, self.preset.load_size)
        patch, stride = self.features.patch, self.features.stride
        rows, cols = np.meshgrid(np.arange(grid[0]), np.arange(grid[1]), indexing="ij")
        centres = np.stack([(cols.ravel() * stride + patch / 2) * width / load_w,
                            (rows.ravel() * stride + patch / 2) * height / load_h], axis=1)
        pixel_rows = np.clip(np.floor(centres[:, 1]).astype(np.int64), 0, height - 1)
        pixel_cols = np.clip(np.floor(centres[:, 0]).astype(np.int64), 0, width - 1)
        inside = torch.from_numpy(np.asarray(mask)[:, pixel_rows, pixel_cols] > 0).to(self.device)
        saliency = torch.cat(saliency)
        return {"descriptors": torch.cat(descriptors), "saliency": saliency,
                "foreground": (saliency > self.preset.threshold) & inside, "centres": centres.astype(np.float32)}

    def prepare(self, rows: dict) -> dict:
        """Describe every view of `rows` (`rgba` [n, V, H, W, 4], `mask` [n, V, H, W]) once."""
        views_per_row = rows["rgba"].shape[1]
        views = self.describe(rows["rgba"].reshape(-1, *rows["rgba"].shape[2:]),
                              rows["mask"].reshape(-1, *rows["mask"].shape[2:]))
        return dict(views, views_per_row=views_per_row)

    def match(self, views: dict, row: int, a: int, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(points_a [k, 2], points_p [k, 2], valid [k]) between views a and p of row `row` of `prepare`."""
        a, p = row * views["views_per_row"] + a, row * views["views_per_row"] + p
        index_a, index_p = match_descriptors(
            views["descriptors"][a], views["descriptors"][p], views["saliency"][a], views["saliency"][p],
            views["foreground"][a], views["foreground"][p], self.k, self.seed)
        points_a = np.zeros((self.k, 2), np.float32)
        points_p = np.zeros((self.k, 2), np.float32)
        count = len(index_a)
        points_a[:count] = views["centres"][index_a]
        points_p[:count] = views["centres"][index_p]
        return points_a, points_p, np.arange(self.k) < count
