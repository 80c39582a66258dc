"""Reading a dataset folder: `QuadDataset`, random access to its quadruplets as dicts of numpy arrays, with
the folder checked against its index.json and every shard's schema when opened."""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import h5py
import numpy as np

from ..categories import Symmetry, symmetry_of_settings
from .files import open_shard
from .index import index_lock, read_index
from .schema import FIELDS, KEYPOINT_FIELDS, DatasetFormatError, check_shard_schema, corrupt_shard, fields_of_version


def _require_fields(handle: h5py.File, fields) -> None:
    missing = [name for name in fields if name not in handle]
    if missing:
        raise DatasetFormatError(f"{handle.filename}: format version {handle.attrs['format_version']} shard has no "
                                 f"field {', '.join(map(repr, missing))}; re-render it with this eopose")


def _read_row(handle: h5py.File, row: int, fields) -> dict:
    _require_fields(handle, fields)
    record = {}
    for name in fields:
        dataset = handle[name]
        if h5py.check_string_dtype(dataset.dtype) is not None:
            record[name] = np.asarray(dataset.asstr()[row], dtype=object)
        else:
            record[name] = dataset[row]
    return record


def _read_columns(handle: h5py.File, fields) -> dict:
    _require_fields(handle, fields)
    out = {}
    for name in fields:
        dataset = handle[name]
        is_string = h5py.check_string_dtype(dataset.dtype) is not None
        out[name] = np.asarray(dataset.asstr()[...], dtype=object) if is_string else dataset[...]
    return out


class QuadDataset:
    """Random access to the quadruplets of one dataset folder as dicts of numpy arrays.

    HDF5 handles are opened lazily in the process that reads (never inherited across fork) and are
    dropped when the object is pickled, so it is safe inside DataLoader workers. Data HDF5 cannot read (a
    damaged chunk fails its deflate filter) raises `CorruptShardError`, one line naming the shard.
    """

    def __init__(self, path):
        self.path = Path(path)
        with index_lock(self.path, shared=True):  # no partition swaps a shard while it is checked
            self.index = read_index(self.path)
            self.shard_paths = [self.path / entry["file"] for entry in self.index["shards"]]
            self._check_shards()
        self.rows_per_shard = [int(entry["rows"]) for entry in self.index["shards"]]
        self._offsets = np.concatenate([[0], np.cumsum(self.rows_per_shard)]).astype(np.int64)
        self._handles: dict[int, h5py.File] = {}
        self._pid = os.getpid()

    def _check_shards(self) -> None:
        for path, entry in zip(self.shard_paths, self.index["shards"]):
            if not path.is_file():
                raise DatasetFormatError(f"{path}: listed in index.json but missing; re-render it or rebuild the "
                                         f"index with `eopose-dataset index {self.path}`")
            size = path.stat().st_size
            if size != entry["bytes"]:
                raise DatasetFormatError(f"{path}: {size} bytes on disk, index.json says {entry['bytes']} "
                                         f"(truncated or changed); re-render it or run `eopose-dataset verify`")
            with open_shard(path) as handle:  # checked and closed: nothing stays open across a fork
                check_shard_schema(path, handle)

    def __len__(self) -> int:
        return int(self._offsets[-1])

    @property
    def symmetry(self) -> Symmetry:
        """The shape symmetry of the dataset's category (index.json `settings.symmetry`; older datasets: the
        category's declared one, eopose.dataset.categories)."""
        return symmetry_of_settings(self.index.get("settings") or {})

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_handles"] = {}
        return state

    def _handle(self, shard: int) -> h5py.File:
        if self._pid != os.getpid():  # forked after opening: never reuse the parent's handles
            self._handles, self._pid = {}, os.getpid()
        if shard not in self._handles:
            self._handles[shard] = open_shard(self.shard_paths[shard])
        return self._handles[shard]

    @contextlib.contextmanager
    def _reading(self, shard: int):
        """Reads of shard number `shard`: h5py's OSError becomes a one-line CorruptShardError."""
        try:
            yield
        except OSError as error:
            raise corrupt_shard(self.shard_paths[shard], error) from None

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles = {}

    def locate(self, index: int) -> tuple[int, int]:
        """(shard number, row within shard) of quadruplet `index`."""
        if not 0 <= index < len(self):
            raise IndexError(f"quadruplet {index} out of range for {len(self)} in {self.path}")
        shard = int(np.searchsorted(self._offsets, index, side="right") - 1)
        return shard, int(index - self._offsets[shard])

    def read(self, index: int, fields=None) -> dict:
        """Fields of quadruplet `index` (all its shard's version holds by default, plus
        `keypoints/<method>/<name>` when stored)."""
        shard, row = self.locate(index)
        handle = self._handle(shard)
        with self._reading(shard):
            record = _read_row(handle, row, fields_of_version(int(handle.attrs["format_version"]))
                               if fields is None else fields)
            if fields is None:
                for method, group in handle.get("keypoints", {}).items():
                    for name in KEYPOINT_FIELDS:
                        record[f"keypoints/{method}/{name}"] = group[name][row]
        return record

    __getitem__ = read

    def read_keypoints(self, index: int, method: str) -> dict | None:
        """points_a, points_p, valid of quadruplet `index` for `method`, or None when not stored."""
        shard, row = self.locate(index)
        group = self._handle(shard).get(f"keypoints/{method}")
        with self._reading(shard):
            return None if group is None else {name: group[name][row] for name in KEYPOINT_FIELDS}

    def read_rows(self, shard: int, fields) -> dict:
        """Whole columns of one shard: field -> array [rows, ...] (opens and closes the file)."""
        with open_shard(self.shard_paths[shard]) as handle, self._reading(shard):
            return _read_columns(handle, fields)

    def keypoint_methods(self, shard: int) -> dict:
        """method -> params (parsed JSON) of the keypoint sets stored in one shard (opens and closes the file)."""
        with open_shard(self.shard_paths[shard]) as handle, self._reading(shard):
            group = handle.get("keypoints", {})
            return {method: json.loads(group[method].attrs["params"]) for method in group}

    def column(self, name: str) -> np.ndarray:
        """One small field for every quadruplet of the folder (e.g. model_id, category)."""
        return np.concatenate([self.read_rows(shard, [name])[name] for shard in range(len(self.shard_paths))]) \
            if self.shard_paths else np.zeros((0,) + FIELDS[name].shape, dtype=object)


def open_dataset(path) -> QuadDataset:
    """Open a dataset folder for random access; raises DatasetFormatError with a one-line reason."""
    return QuadDataset(path)
