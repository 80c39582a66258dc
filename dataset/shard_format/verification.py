"""`verify`: recompute every shard's sha256 and check its schema and recorded entry against index.json
(`eopose-dataset verify`, `publish-dataset --verify`)."""
from __future__ import annotations

import json
from pathlib import Path

from .files import open_shard, sha256_of
from .index import ENTRY_KEYS, read_index, shard_files, sidecar_path
from .schema import DatasetFormatError, check_shard_schema


def _sidecar_differs(shard: Path, entry: dict) -> bool:
    try:
        recorded = json.loads(sidecar_path(shard).read_text())
    except FileNotFoundError:
        return False  # written before sidecars existed
    except (OSError, ValueError):
        return True
    return not isinstance(recorded, dict) or any(recorded.get(key) != entry[key] for key in ENTRY_KEYS)


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
            with open_shard(shard) as handle:
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
