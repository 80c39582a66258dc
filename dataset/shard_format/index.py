"""A folder's `index.json` (format, settings, one entry per shard: file, rows, bytes, sha256), each shard's
recorded entry in its sidecar, and the folder lock under which shards and index change together, so that
partitions committing at the same moment lose no entry and readers never see a shard with a stale entry."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from .files import open_shard, sha256_of, temp_path, write_json
from .schema import FORMAT, FORMAT_VERSION, DatasetFormatError, check_version

INDEX_NAME = "index.json"
# `shard-XXXXX.h5.json` beside each shard: its index entry, recorded once when the shard is
# written, so that committing a partition to index.json never rehashes the other partitions' shards.
SIDECAR_SUFFIX = ".json"
ENTRY_KEYS = ("file", "rows", "bytes", "sha256")


def sidecar_path(shard_path) -> Path:
    """`shard-XXXXX.h5.json`: the recorded index entry of a shard."""
    return Path(shard_path).with_name(Path(shard_path).name + SIDECAR_SUFFIX)


def record_entry(path: Path, rows: int, digest: str | None = None) -> dict:
    """Hash a complete shard (unless `digest` is given) and record its entry in the sidecar (atomically)."""
    entry = {"file": path.name, "rows": int(rows), "bytes": path.stat().st_size, "sha256": digest or sha256_of(path)}
    write_json(sidecar_path(path), entry)
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
    with open_shard(path) as handle:
        rows = int(handle.attrs["rows"])
    return record_entry(path, rows)


def _write_index(dataset_dir: Path, index: dict) -> None:
    write_json(dataset_dir / INDEX_NAME, index)


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
    tmp = temp_path(path)
    try:
        tmp.write_text(json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, "settings": {}, "shards": []}))
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def index_lock(dataset_dir: Path, shared: bool = False):
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
    with index_lock(dataset_dir):
        entries = []
        for path in shard_files(dataset_dir):
            with open_shard(path) as handle:
                rows = int(handle.attrs["rows"])
                if settings is None:
                    settings = json.loads(handle.attrs.get("settings", "{}"))
            entries.append(record_entry(path, rows))
        index = {"format": FORMAT, "format_version": FORMAT_VERSION, "settings": settings or {}, "shards": entries}
        _write_index(dataset_dir, index)
    return index


def commit_index(dataset_dir, shard_paths, settings: dict | None = None) -> dict:
    """Add or replace the index.json entries of `shard_paths` (complete shards of the folder) from their
    sidecars, under the folder's lock: finishing a partition costs O(its own shards), and partitions that
    commit at the same moment lose no entry. The index keeps its settings, else takes `settings`, else the
    first committed shard's."""
    dataset_dir = Path(dataset_dir)
    with index_lock(dataset_dir):
        return merge_index(dataset_dir, [_recorded_entry(Path(path)) for path in shard_paths], settings)


def merge_index(dataset_dir: Path, recorded: list, settings: dict | None = None) -> dict:
    """Merge shard entries into index.json; the caller holds the exclusive lock."""
    index = read_index(dataset_dir)
    entries = {entry["file"]: entry for entry in index["shards"]}
    entries.update((entry["file"], entry) for entry in recorded)
    if not index["settings"]:
        if settings is None and recorded:
            with open_shard(dataset_dir / recorded[0]["file"]) as handle:
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
    check_version(path, index.get("format_version"))
    for entry in index.get("shards", []):
        if not {"file", "rows", "bytes", "sha256"} <= set(entry):
            raise DatasetFormatError(f"{path}: shard entry {entry} lacks file/rows/bytes/sha256")
    return index
