"""The eopose shard format, version 2 (reads 1 and 2): the one module that writes, reads and validates dataset folders.

A dataset folder holds `index.json` and `shard-XXXXX.h5` files; each shard is a table of
quadruplets (rows along axis 0, one HDF5 chunk per row). Every field, dtype, shape, unit and
coordinate convention is described in `docs/dataset-format.md`; `FIELDS` below is the
machine-readable copy of that table. Writes are crash-safe: a file appears under its final name
only once complete (temp name + `os.replace`).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

FORMAT = "eopose-shards"
FORMAT_VERSION = 2
INDEX_NAME = "index.json"
# `shard-XXXXX.h5.json` beside each shard: its index entry, recorded once when the shard is
# written, so that committing a partition to index.json never rehashes the other partitions' shards.
SIDECAR_SUFFIX = ".json"
ENTRY_KEYS = ("file", "rows", "bytes", "sha256")
VIEW_NAMES = ("M1c1", "M1c2", "M2c1", "M2c2")
# (appearance, pose, target) view indices of the four samples of a quadruplet (EOPose paper, 3.4.1):
# (M1c1, M2c2 -> M1c2), (M1c2, M2c1 -> M1c1), (M2c1, M1c2 -> M2c2), (M2c2, M1c1 -> M2c1).
SAMPLE_VIEWS = ((0, 3, 1), (1, 2, 0), (2, 1, 3), (3, 0, 2))
# deflate level 1 over lzf: benchmarks/compression.py on 256x256 quadruplets measured gzip-1 at 0.54 MB/quad
# vs lzf 0.70, with row decode as fast (rgba 2.1 vs 2.2-2.7 ms; nocs 4.3 vs 4.7 ms); deflate is also
# built into every HDF5 reader, while lzf is an h5py-only filter that other tools cannot open.
COMPRESSION = {"compression": "gzip", "compression_opts": 1}
STR = "str"
# NOCS <-> object frame. The object frame is normalised to a bounding sphere of radius 1 at the origin, so
# it lies inside the cube [-1, 1]^3, mapped to the NOCS cube [0, 1]^3 (the `nocs_to_object` field).
NOCS_TO_OBJECT = np.array([[2, 0, 0, -1], [0, 2, 0, -1], [0, 0, 2, -1], [0, 0, 0, 1]], dtype=np.float32)


@dataclass(frozen=True)
class FieldSpec:
    """dtype and per-row shape of one field; 'H'/'W' stand for the image size."""

    dtype: object
    shape: tuple

    def row_shape(self, height: int, width: int) -> tuple:
        return tuple(height if d == "H" else width if d == "W" else d for d in self.shape)

    @property
    def is_image(self) -> bool:
        return "H" in self.shape


FIELDS = {
    "rgba": FieldSpec(np.uint8, (4, "H", "W", 4)),
    "mask": FieldSpec(np.uint8, (4, "H", "W")),
    "depth": FieldSpec(np.float16, (4, "H", "W")),
    "nocs": FieldSpec(np.float16, (4, "H", "W", 3)),
    "rotations": FieldSpec(np.float32, (2, 3, 3)),
    "euler_deg": FieldSpec(np.float32, (2, 3)),
    "nocs_to_object": FieldSpec(np.float32, (2, 4, 4)),
    "intrinsics": FieldSpec(np.float32, (3, 3)),
    "extrinsics": FieldSpec(np.float32, (4, 4)),
    "quad_index": FieldSpec(np.int64, ()),
    "seed": FieldSpec(np.int64, ()),
    "category": FieldSpec(STR, ()),
    "model_id": FieldSpec(STR, (2,)),
    "source": FieldSpec(STR, (2,)),
    "license": FieldSpec(STR, (2,)),
    "author": FieldSpec(STR, (2,)),
    "name": FieldSpec(STR, (2,)),
    "uri": FieldSpec(STR, (2,)),
    "normals": FieldSpec(np.float16, (4, "H", "W", 3)),
    "untextured": FieldSpec(np.bool_, (2,)),
    "render_params": FieldSpec(STR, (4,)),
}
# The version that added each field (absent: 1). A shard of version v holds the fields added up to v;
# every version listed in docs/dataset-format.md ("Versions") stays readable.
ADDED_IN = {"normals": 2, "untextured": 2, "render_params": 2}
READABLE_VERSIONS = (1, 2)
KEYPOINT_FIELDS = {
    "points_a": FieldSpec(np.float32, (4, "k", 2)),
    "points_p": FieldSpec(np.float32, (4, "k", 2)),
    "valid": FieldSpec(np.bool_, (4, "k")),
}


class DatasetFormatError(ValueError):
    """A dataset folder or shard that does not follow the format; the message is one line naming the file."""


def fields_of_version(version: int) -> dict:
    """name -> FieldSpec of the fields a shard of format `version` holds."""
    return {name: spec for name, spec in FIELDS.items() if ADDED_IN.get(name, 1) <= version}


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.h5"


def _temp_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


def _commit(tmp: Path, final: Path) -> None:
    """fsync a finished temp file and move it over its final name in one step."""
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, final)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _coerce(name: str, spec: FieldSpec, value, rows: int, height: int, width: int, path: Path):
    expected = (rows,) + spec.row_shape(height, width)
    if spec.dtype is STR:
        array = np.asarray(value, dtype=object)
        if array.shape != expected:
            raise DatasetFormatError(f"{path}: field '{name}' has shape {array.shape}, expected {expected}")
        return array.astype(str).astype(object)
    array = np.asarray(value)
    if array.shape != expected:
        raise DatasetFormatError(f"{path}: field '{name}' has shape {array.shape}, expected {expected}")
    if not np.can_cast(array.dtype, spec.dtype, casting="same_kind"):
        raise DatasetFormatError(f"{path}: field '{name}' has dtype {array.dtype}, expected {np.dtype(spec.dtype)}")
    return array.astype(spec.dtype, copy=False)


def _create(group: h5py.Group, name: str, array: np.ndarray, image: bool) -> None:
    if array.dtype == object:
        group.create_dataset(name, data=array, dtype=h5py.string_dtype())
        return
    chunks = (1,) + array.shape[1:] if array.shape[0] else None
    group.create_dataset(name, data=array, chunks=chunks, **(COMPRESSION if image else {}))


def write_shard(path, rows: dict, settings: dict | None = None) -> dict:
    """Validate `rows` (field -> array with leading axis N) against `FIELDS` and write one shard atomically.

    Returns the shard's index entry (file, rows, bytes, sha256).
    """
    path = Path(path)
    missing = [name for name in FIELDS if name not in rows]
    if missing:
        raise DatasetFormatError(f"{path}: cannot write shard, missing fields {missing}")
    unknown = [name for name in rows if name not in FIELDS]
    if unknown:
        raise DatasetFormatError(f"{path}: cannot write shard, unknown fields {unknown} (see docs/dataset-format.md)")
    rgba = np.asarray(rows["rgba"])
    if rgba.ndim != 5:
        raise DatasetFormatError(f"{path}: field 'rgba' must be [N,4,H,W,4], got shape {rgba.shape}")
    count, height, width = rgba.shape[0], rgba.shape[2], rgba.shape[3]
    arrays = {name: _coerce(name, spec, rows[name], count, height, width, path) for name, spec in FIELDS.items()}
    tmp = _temp_path(path)
    try:
        with h5py.File(tmp, "w") as handle:
            handle.attrs.update(format=FORMAT, format_version=FORMAT_VERSION, rows=count, height=height, width=width,
                                settings=json.dumps(settings or {}, sort_keys=True))
            for name, array in arrays.items():
                _create(handle, name, array, FIELDS[name].is_image)
        _commit(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _record_entry(path, count)


def add_keypoints(shard_path, method: str, points_a, points_p, valid, params: dict) -> dict:
    """Store (or replace) keypoint set `method` in a shard, atomically (edit a copy, then `os.replace`).

    points_a/points_p: [N,4,k,2] float pixel (x, y); valid: [N,4,k] bool; params: the method's settings.
    Updates the shard's entry in the folder's index.json and returns it.
    """
    shard_path = Path(shard_path)
    with _open_shard(shard_path) as handle:
        count = int(handle.attrs["rows"])
    points_a, points_p, valid = np.asarray(points_a), np.asarray(points_p), np.asarray(valid)
    k = points_a.shape[2] if points_a.ndim == 4 else -1
    for name, array in (("points_a", points_a), ("points_p", points_p), ("valid", valid)):
        expected = (count,) + tuple(k if d == "k" else d for d in KEYPOINT_FIELDS[name].shape)
        if array.shape != expected:
            raise DatasetFormatError(f"{shard_path}: keypoints '{method}' field '{name}' has shape {array.shape}, "
                                     f"expected {expected}")
    tmp = _temp_path(shard_path)
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
        with _index_lock(shard_path.parent):  # readers never see the new shard with the old entry
            _commit(tmp, shard_path)
            entry = _record_entry(shard_path, count, digest)
            _merge_index(shard_path.parent, [entry])
    finally:
        tmp.unlink(missing_ok=True)
    return entry


def sidecar_path(shard_path) -> Path:
    """`shard-XXXXX.h5.json`: the recorded index entry of a shard."""
    return Path(shard_path).with_name(Path(shard_path).name + SIDECAR_SUFFIX)


def _record_entry(path: Path, rows: int, digest: str | None = None) -> dict:
    """Hash a complete shard (unless `digest` is given) and record its entry in the sidecar (atomically)."""
    entry = {"file": path.name, "rows": int(rows), "bytes": path.stat().st_size, "sha256": digest or sha256_of(path)}
    _write_json(sidecar_path(path), entry)
    return entry


def _recorded_entry(path: Path) -> dict:
    """The entry of a complete shard from its sidecar; recorded anew when missing or stale (a process
    killed between the shard's rename and its sidecar's, or a shard changed by hand)."""
    try:
        recorded = json.loads(sidecar_path(path).read_text())
        if recorded["file"] == path.name and recorded["bytes"] == path.stat().st_size:
            return {key: recorded[key] for key in ENTRY_KEYS}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    with _open_shard(path) as handle:
        rows = int(handle.attrs["rows"])
    return _record_entry(path, rows)


def _write_json(final: Path, data: dict) -> None:
    tmp = _temp_path(final)
    try:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        _commit(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def _write_index(dataset_dir: Path, index: dict) -> None:
    _write_json(dataset_dir / INDEX_NAME, index)


def _acquire(path: Path, shared: bool) -> int | None:
    """An fd of index.json holding an flock on the file's *current* inode (a writer may have replaced it while
    we waited: then retry). Writers first create a missing index empty (os.link: one creator wins). Readers get
    None, and go unlocked, where there is no index or the file system has no locks."""
    while True:
        if not shared and not path.exists():
            _create_empty_index(path)
        try:
            fd = os.open(path, os.O_RDONLY if shared else os.O_RDWR)
        except OSError:
            if shared:
                return None
            continue  # removed between the check and the open
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        except OSError as error:
            os.close(fd)
            if shared:
                return None
            raise DatasetFormatError(f"{path}: cannot lock it ({error.strerror}); this file system has no file "
                                     f"locks, so give concurrent partitions a local disk") from None
        held = os.fstat(fd)
        try:
            now = os.stat(path)
        except FileNotFoundError:
            now = None
        if now is not None and (now.st_ino, now.st_dev) == (held.st_ino, held.st_dev):
            return fd
        os.close(fd)


def _create_empty_index(path: Path) -> None:
    tmp = _temp_path(path)
    try:
        tmp.write_text(json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, "settings": {}, "shards": []}))
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _index_lock(dataset_dir: Path, shared: bool = False):
    """Exclusive: change shards and index.json together; shared: check shards against index.json."""
    fd = _acquire(Path(dataset_dir) / INDEX_NAME, shared)
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def shard_files(dataset_dir) -> list[Path]:
    """The complete shard files of a folder, in name order (temp files are never listed)."""
    return sorted(Path(dataset_dir).glob("shard-[0-9][0-9][0-9][0-9][0-9].h5"))


def update_index(dataset_dir, settings: dict | None = None) -> dict:
    """Rebuild index.json from the shard files present, rehashing every one (rows, bytes, sha256; sidecars
    rewritten), atomically and under the folder's lock. `settings` defaults to those stored in the first shard.
    A partition that finishes uses `commit_index` instead, which costs O(its own shards).
    """
    dataset_dir = Path(dataset_dir)
    with _index_lock(dataset_dir):
        entries = []
        for path in shard_files(dataset_dir):
            with _open_shard(path) as handle:
                rows = int(handle.attrs["rows"])
                if settings is None:
                    settings = json.loads(handle.attrs.get("settings", "{}"))
            entries.append(_record_entry(path, rows))
        index = {"format": FORMAT, "format_version": FORMAT_VERSION, "settings": settings or {}, "shards": entries}
        _write_index(dataset_dir, index)
    return index


def commit_index(dataset_dir, shard_paths, settings: dict | None = None) -> dict:
    """Add or replace the index.json entries of `shard_paths` (complete shards of the folder) from their
    sidecars, under the folder's lock: finishing a partition costs O(its own shards), and partitions that
    commit at the same moment lose no entry. The index keeps its settings, else takes `settings`, else the
    first committed shard's."""
    dataset_dir = Path(dataset_dir)
    with _index_lock(dataset_dir):
        return _merge_index(dataset_dir, [_recorded_entry(Path(path)) for path in shard_paths], settings)


def _merge_index(dataset_dir: Path, recorded: list, settings: dict | None = None) -> dict:
    """Merge shard entries into index.json; the caller holds the exclusive lock."""
    index = read_index(dataset_dir)
    entries = {entry["file"]: entry for entry in index["shards"]}
    entries.update((entry["file"], entry) for entry in recorded)
    if not index["settings"]:
        if settings is None and recorded:
            with _open_shard(dataset_dir / recorded[0]["file"]) as handle:
                settings = json.loads(handle.attrs.get("settings", "{}"))
        index["settings"] = settings or {}
    index["format_version"] = FORMAT_VERSION
    index["shards"] = [entries[name] for name in sorted(entries)]
    _write_index(dataset_dir, index)
    return index


def read_index(dataset_dir) -> dict:
    """Parse and check index.json (format name and version, shard entries)."""
    path = Path(dataset_dir) / INDEX_NAME
    if not Path(dataset_dir).is_dir():
        what = "a file" if Path(dataset_dir).exists() else "does not exist"
        raise DatasetFormatError(f"{dataset_dir}: not a dataset folder ({what}); create one with render-pairs")
    if not path.is_file():
        raise DatasetFormatError(f"{path}: missing; rebuild it with `eopose-dataset index {dataset_dir}` "
                                 f"or re-run render-pairs")
    try:
        index = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetFormatError(f"{path}: not valid JSON ({error}); rebuild it with "
                                 f"`eopose-dataset index {dataset_dir}`") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise DatasetFormatError(f"{path}: not an eopose shard index (format is {index.get('format')!r}, "
                                 f"expected {FORMAT!r})" if isinstance(index, dict) else f"{path}: not an object")
    _check_version(path, index.get("format_version"))
    for entry in index.get("shards", []):
        if not {"file", "rows", "bytes", "sha256"} <= set(entry):
            raise DatasetFormatError(f"{path}: shard entry {entry} lacks file/rows/bytes/sha256")
    return index


def _check_version(path: Path, version) -> None:
    if version not in READABLE_VERSIONS:
        raise DatasetFormatError(f"{path}: format version {version}, this eopose reads versions "
                                 f"{', '.join(map(str, READABLE_VERSIONS))}; re-render the dataset or install the "
                                 f"eopose release that wrote it")


def _open_shard(path: Path) -> h5py.File:
    if not path.is_file():
        raise DatasetFormatError(f"{path}: shard file missing; re-render it or rebuild index.json")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise DatasetFormatError(f"{path}: unreadable HDF5 (truncated or corrupt: {str(error).splitlines()[0]}); "
                                 f"delete it and re-run the command that wrote it") from None


def check_shard_schema(path: Path, handle: h5py.File) -> None:
    """Raise DatasetFormatError unless an open shard has the v1 attributes, fields, dtypes and shapes."""
    if handle.attrs.get("format") != FORMAT:
        raise DatasetFormatError(f"{path}: not an eopose shard (format attribute {handle.attrs.get('format')!r})")
    _check_version(path, handle.attrs.get("format_version"))
    rows, height, width = (int(handle.attrs[key]) for key in ("rows", "height", "width"))
    for name, spec in fields_of_version(int(handle.attrs["format_version"])).items():
        if name not in handle:
            raise DatasetFormatError(f"{path}: missing field '{name}'; re-render this shard")
        dataset = handle[name]
        expected = (rows,) + spec.row_shape(height, width)
        if dataset.shape != expected:
            raise DatasetFormatError(f"{path}: field '{name}' has shape {dataset.shape}, expected {expected}")
        is_string = h5py.check_string_dtype(dataset.dtype) is not None
        if (spec.dtype is STR) != is_string or (not is_string and dataset.dtype != np.dtype(spec.dtype)):
            raise DatasetFormatError(f"{path}: field '{name}' has dtype {dataset.dtype}, expected "
                                     f"{'utf-8 string' if spec.dtype is STR else np.dtype(spec.dtype)}")
    for method, group in handle.get("keypoints", {}).items():
        k = int(group.attrs.get("k", -1))
        for name, spec in KEYPOINT_FIELDS.items():
            expected = (rows,) + tuple(k if d == "k" else d for d in spec.shape)
            if name not in group or group[name].shape != expected:
                raise DatasetFormatError(f"{path}: keypoints '{method}' field '{name}' missing or not {expected}; "
                                         f"re-run build-keypoint-cache --method {method}")


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
    dropped when the object is pickled, so it is safe inside DataLoader workers.
    """

    def __init__(self, path):
        self.path = Path(path)
        with _index_lock(self.path, shared=True):  # no partition swaps a shard while it is checked
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
            with _open_shard(path) as handle:  # checked and closed: nothing stays open across a fork
                check_shard_schema(path, handle)

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_handles"] = {}
        return state

    def _handle(self, shard: int) -> h5py.File:
        if self._pid != os.getpid():  # forked after opening: never reuse the parent's handles
            self._handles, self._pid = {}, os.getpid()
        if shard not in self._handles:
            self._handles[shard] = _open_shard(self.shard_paths[shard])
        return self._handles[shard]

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
        return None if group is None else {name: group[name][row] for name in KEYPOINT_FIELDS}

    def read_rows(self, shard: int, fields) -> dict:
        """Whole columns of one shard: field -> array [rows, ...] (opens and closes the file)."""
        with _open_shard(self.shard_paths[shard]) as handle:
            return _read_columns(handle, fields)

    def keypoint_methods(self, shard: int) -> dict:
        """method -> params (parsed JSON) of the keypoint sets stored in one shard (opens and closes the file)."""
        with _open_shard(self.shard_paths[shard]) as handle:
            group = handle.get("keypoints", {})
            return {method: json.loads(group[method].attrs["params"]) for method in group}

    def column(self, name: str) -> np.ndarray:
        """One small field for every quadruplet of the folder (e.g. model_id, category)."""
        return np.concatenate([self.read_rows(shard, [name])[name] for shard in range(len(self.shard_paths))]) \
            if self.shard_paths else np.zeros((0,) + FIELDS[name].shape, dtype=object)


def _sidecar_differs(shard: Path, entry: dict) -> bool:
    try:
        recorded = json.loads(sidecar_path(shard).read_text())
    except FileNotFoundError:
        return False  # written before sidecars existed
    except (OSError, ValueError):
        return True
    return not isinstance(recorded, dict) or any(recorded.get(key) != entry[key] for key in ENTRY_KEYS)


def open_dataset(path) -> QuadDataset:
    """Open a dataset folder for random access; raises DatasetFormatError with a one-line reason."""
    return QuadDataset(path)


def verify(path) -> list[str]:
    """Recompute every shard's sha256 and check its schema; returns one line per problem (empty: all good)."""
    path = Path(path)
    try:
        index = read_index(path)
    except DatasetFormatError as error:
        return [str(error)]
    problems = []
    listed = set()
    for entry in index["shards"]:
        shard = path / entry["file"]
        listed.add(shard.name)
        try:
            with _open_shard(shard) as handle:
                check_shard_schema(shard, handle)
                if int(handle.attrs["rows"]) != entry["rows"]:
                    problems.append(f"{shard}: {handle.attrs['rows']} rows, index.json says {entry['rows']}")
        except DatasetFormatError as error:
            problems.append(str(error))
            continue
        digest = sha256_of(shard)
        if digest != entry["sha256"]:
            problems.append(f"{shard}: sha256 mismatch (file {digest[:12]}..., index.json {entry['sha256'][:12]}...); "
                            f"the file changed or is corrupt - re-render it")
        elif _sidecar_differs(shard, entry):
            problems.append(f"{sidecar_path(shard)}: recorded entry differs from index.json; "
                            f"run `eopose-dataset index {path}`")
    for stray in shard_files(path):
        if stray.name not in listed:
            problems.append(f"{stray}: shard not listed in index.json; run `eopose-dataset index {path}`")
    return problems
