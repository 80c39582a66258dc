"""Shard files on disk: crash-safe writes (a temp name, fsync, `os.replace`, so a file appears under its
final name only once complete), sha256 hashing and opening a shard for reading with a one-line error."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import h5py

from .schema import DatasetFormatError, corrupt_shard


def temp_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


def commit(tmp: Path, final: Path) -> None:
    """fsync a finished temp file and move it over its final name in one step."""
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, final)


def write_json(final: Path, data: dict) -> None:
    tmp = temp_path(final)
    try:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        commit(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def open_shard(path: Path) -> h5py.File:
    if not path.is_file():
        raise DatasetFormatError(f"{path}: shard file missing; re-render it or rebuild index.json")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise corrupt_shard(path, error) from None
