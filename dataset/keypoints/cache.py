"""Running a correspondence method over quadruplets: any view pairs, or the four training samples.

A method object has `name`, `params()`, `prepare(rows)` (per-view work done once: the ViT forward) and
`match(state, row, a, p)` -> (points_a [k, 2], points_p [k, 2], valid [k]). The samples (0, 3) / (3, 0)
and (1, 2) / (2, 1) of a quadruplet (shard_format.SAMPLE_VIEWS) are one view pair each way round, so
each pair is matched once, in ascending view order, and swapped for the other sample, whose channels are
then re-sorted so that every sample's channel order is the raster order of its own appearance points.
"""
from __future__ import annotations

import numpy as np

from ..shard_format import SAMPLE_VIEWS


def correspond(method, rows: dict, pairs, state=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """points_a, points_p [n, len(pairs), k, 2] and valid [n, len(pairs), k] for view pairs [(a, p), ...]
    of the n quadruplets in `rows` (field -> array [n, 4, ...]); `state`: `method.prepare(rows)` when the
    caller already has it."""
    count = len(next(iter(rows.values())))
    points_a = np.zeros((count, len(pairs), method.k, 2), np.float32)
    points_p = np.zeros_like(points_a)
    valid = np.zeros((count, len(pairs), method.k), bool)
    if count:
        state = method.prepare(rows) if state is None else state
        for row in range(count):
            for slot, (a, p) in enumerate(pairs):
                points_a[row, slot], points_p[row, slot], valid[row, slot] = method.match(state, row, a, p)
    return points_a, points_p, valid


def sample_keypoints(method, rows: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keypoints of the four samples of each quadruplet: points_a, points_p [n, 4, k, 2], valid [n, 4, k]."""
    pairs = sorted({tuple(sorted(views[:2])) for views in SAMPLE_VIEWS})
    points_a, points_p, valid = correspond(method, rows, pairs)
    slots = []
    for appearance, pose, _ in SAMPLE_VIEWS:
        slot = pairs.index(tuple(sorted((appearance, pose))))
        slots.append((slot, appearance > pose))
    out_a = np.stack([points_p[:, s] if swap else points_a[:, s] for s, swap in slots], axis=1)
    out_p = np.stack([points_a[:, s] if swap else points_p[:, s] for s, swap in slots], axis=1)
    out_valid = valid[:, [s for s, _ in slots]]
    order = raster_order(out_a, out_valid)
    return (np.take_along_axis(out_a, order[..., None], axis=2), np.take_along_axis(out_p, order[..., None], axis=2),
            np.take_along_axis(out_valid, order, axis=2))


def raster_order(points: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per [..., k] channel permutation: valid points by (y, x) ascending (row-major), invalid ones last."""
    return np.lexsort((points[..., 0], points[..., 1], ~valid), axis=-1)
