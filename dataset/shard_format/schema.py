"""The shard schema: format name and version, every field's dtype and per-row shape (`FIELDS`, the
machine-readable copy of the table in docs/dataset-format.md), the fields each version holds, the views
and samples of a quadruplet, and the check of an open shard against all of it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

FORMAT = "eopose-shards"
FORMAT_VERSION = 2
VIEW_NAMES = ("M1c1", "M1c2", "M2c1", "M2c2")
# (appearance, pose, target) view indices of the four samples of a quadruplet (EOPose paper, 3.4.1):
# (M1c1, M2c2 -> M1c2), (M1c2, M2c1 -> M1c1), (M2c1, M1c2 -> M2c2), (M2c2, M1c1 -> M2c1).
SAMPLE_VIEWS = ((0, 3, 1), (1, 2, 0), (2, 1, 3), (3, 0, 2))
STR = "str"
# NOCS <-> object frame. The object frame is normalised to a bounding sphere of radius 1 at the origin, so
# it lies inside the cube [-1, 1]^3, mapped to the NOCS cube [0, 1]^3 (the `nocs_to_object` field).
NOCS_TO_OBJECT = np.array([[2, 0, 0, -1], [0, 2, 0, -1], [0, 0, 2, -1], [0, 0, 0, 1]], dtype=np.float32)


class DatasetFormatError(ValueError):
    """A dataset folder or shard that does not follow the format; the message is one line naming the file."""


class CorruptShardError(DatasetFormatError):
    """A shard whose HDF5 data cannot be read (a damaged compressed chunk, a truncated file): one line naming the
    shard and `eopose-dataset verify`.

    A DataLoader worker's exception reaches the main process as the same class built from one string, "Caught ...
    Original Traceback ..." that ends with the original "...CorruptShardError: <message>" line
    (torch._utils.ExceptionWrapper.reraise); the message is then that line's, so it stays one line there too.
    """

    def __init__(self, message: str):
        lines = str(message).strip().splitlines()
        marker = f"{type(self).__name__}: "
        if len(lines) > 1 and marker in lines[-1]:
            message = lines[-1].split(marker, 1)[1]
        super().__init__(message)


def corrupt_shard(path: Path, error: Exception) -> CorruptShardError:
    """The one-line error for shard `path` that HDF5 could not read (`error`: h5py's OSError)."""
    return CorruptShardError(f"{path}: corrupt shard, unreadable HDF5 ({str(error).splitlines()[0]}); "
                             f"`eopose-dataset verify {Path(path).parent}` lists every damaged shard: re-render them")


@dataclass(frozen=True)
class FieldSpec:
    """dtype and per-row shape of one field; 'H'/'W' stand for the image size, 'k' for the keypoints per sample."""

    dtype: object
    shape: tuple

    def row_shape(self, height: int | None = None, width: int | None = None, k: int | None = None) -> tuple:
        sizes = {"H": height, "W": width, "k": k}
        return tuple(sizes[d] if isinstance(d, str) else d for d in self.shape)

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


def fields_of_version(version: int) -> dict:
    """name -> FieldSpec of the fields a shard of format `version` holds."""
    return {name: spec for name, spec in FIELDS.items() if ADDED_IN.get(name, 1) <= version}


def coerce_field(name: str, spec: FieldSpec, value, expected: tuple, where) -> np.ndarray:
    """`value` of field `name` as stored: shape `expected` and the spec's dtype (a same-kind cast; strings as
    str objects), else DatasetFormatError naming `where` (a file or a quadruplet)."""
    if spec.dtype is STR:
        array = np.asarray(value, dtype=object)
        if array.shape != expected:
            raise DatasetFormatError(f"{where}: field '{name}' has shape {array.shape}, expected {expected}")
        return array.astype(str).astype(object)
    array = np.asarray(value)
    if array.shape != expected:
        raise DatasetFormatError(f"{where}: field '{name}' has shape {array.shape}, expected {expected}")
    if not np.can_cast(array.dtype, spec.dtype, casting="same_kind"):
        raise DatasetFormatError(f"{where}: field '{name}' has dtype {array.dtype}, expected {np.dtype(spec.dtype)}")
    return array.astype(spec.dtype, copy=False)


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.h5"


def check_version(path: Path, version) -> None:
    if version not in READABLE_VERSIONS:
        raise DatasetFormatError(f"{path}: format version {version}, this eopose reads versions "
                                 f"{', '.join(map(str, READABLE_VERSIONS))}; re-render the dataset or install the "
                                 f"eopose release that wrote it")


def check_shard_schema(path: Path, handle: h5py.File) -> None:
    """Raise DatasetFormatError unless an open shard has the v1 attributes, fields, dtypes and shapes."""
    if handle.attrs.get("format") != FORMAT:
        raise DatasetFormatError(f"{path}: not an eopose shard (format attribute {handle.attrs.get('format')!r})")
    check_version(path, handle.attrs.get("format_version"))
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
            expected = (rows,) + spec.row_shape(k=k)
            if name not in group or group[name].shape != expected:
                raise DatasetFormatError(f"{path}: keypoints '{method}' field '{name}' missing or not {expected}; "
                                         f"re-run build-keypoint-cache --method {method}")
