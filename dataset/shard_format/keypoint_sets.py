"""Keypoint sets inside a shard: `add_keypoints` stores (or replaces) the points of one method under
`keypoints/<method>/`, rewriting the shard atomically and updating its index.json entry."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np

from .files import commit, open_shard, sha256_of, temp_path
from .index import index_lock, merge_index, record_entry
from .schema import KEYPOINT_FIELDS, DatasetFormatError


def add_keypoints(shard_path, method: str, points_a, points_p, valid, params: dict) -> dict:
    """Store (or replace) keypoint set `method` in a shard, atomically (edit a copy, then `os.replace`).

    points_a/points_p: [N,4,k,2] float pixel (x, y); valid: [N,4,k] bool; params: the method's settings.
    Updates the shard's entry in the folder's index.json and returns it.
    """
    shard_path = Path(shard_path)
    with open_shard(shard_path) as handle:
        count = int(handle.attrs["rows"])
    points_a, points_p, valid = np.asarray(points_a), np.asarray(points_p), np.asarray(valid)
    k = points_a.shape[2] if points_a.ndim == 4 else -1
    for name, array in (("points_a", points_a), ("points_p", points_p), ("valid", valid)):
        expected = (count,) + KEYPOINT_FIELDS[name].row_shape(k=k)
        if array.shape != expected:
            raise DatasetFormatError(f"{shard_path}: keypoints '{method}' field '{name}' has shape {array.shape}, "
                                     f"expected {expected}")
    tmp = temp_path(shard_path)
    try:
        shutil.copyfile(shard_path, tmp)
        with h5py.File(tmp, "a") as handle:
            root = handle.require_group("keypoints")
            if method in root:
                del root[method]
            group = root.create_group(method)
            group.attrs.update(params=json.dumps(params, sort_keys=True), k=k)
            for name, array in (("points_a", points_a), ("points_p", points_p), ("valid", valid)):
                group.create_dataset(name, data=array.astype(KEYPOINT_FIELDS[name].dtype),
                                     chunks=(1,) + array.shape[1:] if count else None)
        digest = sha256_of(tmp)  # hashed before taking the lock: other writers wait only for the renames
        with index_lock(shard_path.parent):  # readers never see the new shard with the old entry
            commit(tmp, shard_path)
            entry = record_entry(shard_path, count, digest)
            merge_index(shard_path.parent, [entry])
    finally:
        tmp.unlink(missing_ok=True)
    return entry
