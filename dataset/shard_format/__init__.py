"""The eopose shard format, version 2 (reads 1 and 2): the one package that writes, reads and validates dataset
folders.

A dataset folder holds `index.json` and `shard-XXXXX.h5` files; each shard is a table of quadruplets (rows along
axis 0, one HDF5 chunk per row). Every field, dtype, shape, unit and coordinate convention is described in
`docs/dataset-format.md`; `schema.FIELDS` is the machine-readable copy of that table. Writes are crash-safe: a
file appears under its final name only once complete (temp name + `os.replace`).

One module per concern: `schema` (fields, shapes, versions), `files` (atomic writes, hashing, opening), `row`
(`QuadRow`, one quadruplet as a typed row), `writer` (a shard from rows), `keypoint_sets` (keypoints added to a
shard), `index` (index.json, sidecars and the folder lock), `reader` (`QuadDataset`), `verification` (`verify`).
The public names are re-exported here.
"""
from .files import sha256_of
from .index import INDEX_NAME, commit_index, read_index, shard_files, sidecar_path, update_index
from .keypoint_sets import add_keypoints
from .reader import QuadDataset, open_dataset
from .row import QuadRow
from .schema import (ADDED_IN, FIELDS, FORMAT, FORMAT_VERSION, KEYPOINT_FIELDS, NOCS_TO_OBJECT, READABLE_VERSIONS,
                     SAMPLE_VIEWS, STR, VIEW_NAMES, CorruptShardError, DatasetFormatError, FieldSpec,
                     check_shard_schema, fields_of_version, shard_name)
from .verification import verify
from .writer import COMPRESSION, write_quads, write_shard

__all__ = ["ADDED_IN", "COMPRESSION", "FIELDS", "FORMAT", "FORMAT_VERSION", "INDEX_NAME", "KEYPOINT_FIELDS",
           "NOCS_TO_OBJECT", "READABLE_VERSIONS", "SAMPLE_VIEWS", "STR", "VIEW_NAMES", "CorruptShardError",
           "DatasetFormatError", "FieldSpec", "QuadDataset", "QuadRow", "add_keypoints", "check_shard_schema",
           "commit_index", "fields_of_version", "open_dataset", "read_index", "sha256_of", "shard_files", "shard_name",
           "sidecar_path", "update_index", "verify", "write_quads", "write_shard"]
