"""The `nocs-net` correspondence method: NOCS matching (nocs_matching.match_nocs, the `nocs` method's own code
path) on NOCS predicted by a trained nocs-net instead of the rendered pass, so it runs on any image.

Foreground of a view = the given mask (the rendered hard mask in shards, the alpha or border estimate in
`repose`) AND the network's predicted foreground (probability > MASK_THRESHOLD). Predicted NOCS are exact up to
the network's error; for a symmetric category the network is trained to keep the texture-consistent solution
(eopose.train.nocs.loss), so matching prefers texture-consistent points. They are matched as they are, not modulo
the dataset's symmetry (match_nocs's `symmetry`), which does not help: with it, same-model PCK@0.10 of the
four-category nocs-net (nocs-categories.toml) on the held-out quadruplets of briefcases, vases and file cabinets
falls from 0.387 to 0.344 (test split; validation 0.488 -> 0.374), and scored modulo the symmetry (against the
nearest symmetric turn of the true match) it moves 0.478 -> 0.489 (test) and 0.660 -> 0.621 (validation). The
network's per-pixel confidence goes to the shared matching (nocs_matching.confident_pixels), which leaves out the
pixels it does not trust. A network of several categories takes each quadruplet's category from the rows (the
shards' `category`; `repose` passes its --category).
"""
from __future__ import annotations

import numpy as np

from .nocs_matching import CONFIDENCE_THRESHOLD, MIN_CONFIDENT_FRACTION, NocsCorrespondences
from .nocs_net import MASK_THRESHOLD, NocsNet, parameter_count, predict


class NocsNetCorrespondences(NocsCorrespondences):
    """`NocsCorrespondences` whose state holds predicted NOCS (`predicts_nocs`: reports may score them)."""

    name = "nocs-net"
    predicts_nocs = True

    def __init__(self, net: NocsNet, k: int = 35, seed: int = 0, device: str = "cpu",
                 weights_sha256: str | None = None):
        super().__init__(k=k, seed=seed)
        self.net = net.to(device).eval()
        self.device = device
        self.weights_sha256 = weights_sha256

    def params(self) -> dict:
        return dict(super().params(), net=self.net.config.to_dict(), parameters=parameter_count(self.net),
                    weights_sha256=self.weights_sha256, foreground=f"mask & predicted > {MASK_THRESHOLD}",
                    confidence={"threshold": CONFIDENCE_THRESHOLD, "min_fraction": MIN_CONFIDENT_FRACTION})

    def prepare(self, rows: dict) -> dict:
        """Predict NOCS, foreground and confidence for every view of `rows` (`rgba` [n, V, H, W, 4], `mask`
        [n, V, H, W], `category` [n] where the network knows several); the state keeps `category` when given."""
        rgba = rows["rgba"]
        category = rows.get("category")
        views = None if category is None else np.repeat(np.asarray(category).reshape(-1), rgba.shape[1])
        given = np.reshape(rows["mask"], (-1, *rgba.shape[2:4]))  # the crop of a network with `crop` frames it
        nocs, probability, confidence = predict(self.net, rgba.reshape(-1, *rgba.shape[2:]), self.device,
                                                categories=views, masks=given)
        nocs = nocs.reshape(*rgba.shape[:-1], 3)
        mask = (np.asarray(rows["mask"]) > 0) & (probability.reshape(rgba.shape[:-1]) > MASK_THRESHOLD)
        state = {"nocs": nocs, "mask": mask, "confidence": confidence.reshape(rgba.shape[:-1])}
        return state if category is None else {**state, "category": category}
