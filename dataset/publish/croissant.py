"""croissant.json: the release described in Croissant 1.1 JSON-LD, built and validated with `mlcroissant`.

Spec: https://docs.mlcommons.org/croissant/docs/croissant-spec-1.1.html. Every file is a FileObject with
its sha256 (shards with encodingFormat application/x-hdf5); each split's shards are also a FileSet that the
split's RecordSet reads fields from (`extract.column` = the HDF5 dataset name; Croissant has no HDF5
extractor, so these RecordSets describe the data - dataType, isArray, arrayShape per row - rather than
being loadable by mlcroissant). `models` (attribution.csv) is a loadable CSV RecordSet, and `views` /
`samples` are inline enumerations of the quadruplet convention. Validation runs offline: the JSON-LD
context is inline, and mlcroissant only reads local files.
"""
from __future__ import annotations

import datetime
import json
import logging
import warnings
from pathlib import Path

from ..shard_format import FIELDS, KEYPOINT_FIELDS, SAMPLE_VIEWS, VIEW_NAMES, sha256_of
from .attribution import CSV_FIELDS
from .info import FIELD_DESCRIPTIONS, ReleaseInfo, dtype_name
from .licenses import rule

CROISSANT_NAME = "croissant.json"
HDF5 = "application/x-hdf5"
CROISSANT_1_1 = "http://mlcommons.org/croissant/1.1"


class CroissantError(ValueError):
    """The Croissant file does not validate (message names the file and the first problems)."""


def _data_type(mlc, dtype: str):
    if dtype == "string":
        return mlc.DataType.TEXT
    if dtype == "bool":
        return mlc.DataType.BOOL
    return mlc.DataType.FLOAT if dtype.startswith("float") else mlc.DataType.INTEGER


def _field(mlc, record: str, name: str, dtype: str, shape: tuple, file_set: str, column: str):
    return mlc.Field(id=f"{record}/{column}", name=column, description=FIELD_DESCRIPTIONS[name],
                     data_types=[_data_type(mlc, dtype)], is_array=bool(shape) or None,
                     array_shape=",".join(str(d) for d in shape) or None,
                     source=mlc.Source(file_set=file_set, extract=mlc.Extract(column=column)))


def _split_record_set(mlc, info: ReleaseInfo, split: str):
    record, file_set = f"quadruplets_{split}", f"shards_{split}"
    fields = [_field(mlc, record, name, dtype_name(name), info.row_shape(name), file_set, name) for name in FIELDS]
    fields += [_field(mlc, record, name, dtype_name(name, keypoint=True), info.row_shape(name, method), file_set,
                      f"keypoints/{method}/{name}") for method in sorted(info.keypoints) for name in KEYPOINT_FIELDS]
    return mlc.RecordSet(id=record, name=record, description=f"{split} split: one record per quadruplet",
                         fields=fields)


def _enumerations(mlc):
    views = mlc.RecordSet(id="views", name="views", key="views/index", description="view order of image fields",
                          fields=[mlc.Field(id="views/index", name="index", data_types=[mlc.DataType.INTEGER]),
                                  mlc.Field(id="views/name", name="name", data_types=[mlc.DataType.TEXT])],
                          data=[{"views/index": i, "views/name": n} for i, n in enumerate(VIEW_NAMES)])
    roles = ("appearance", "pose", "target")
    samples = mlc.RecordSet(
        id="samples", name="samples", key="samples/index",
        description="the four (appearance, pose -> target) samples of a quadruplet, as view indices",
        fields=[mlc.Field(id=f"samples/{n}", name=n, data_types=[mlc.DataType.INTEGER]) for n in ("index",) + roles],
        data=[{"samples/index": s, **{f"samples/{r}": v for r, v in zip(roles, views_)}}
              for s, views_ in enumerate(SAMPLE_VIEWS)])
    return [views, samples]


def _models_record_set(mlc):
    return mlc.RecordSet(id="models", name="models", description="credit for every 3D model (attribution.csv)",
                         fields=[mlc.Field(id=f"models/{c}", name=c, data_types=[mlc.DataType.TEXT],
                                           source=mlc.Source(file_object="attribution.csv",
                                                             extract=mlc.Extract(column=c))) for c in CSV_FIELDS])


def build_croissant(release_dir: Path, info: ReleaseInfo, url: str) -> dict:
    """Croissant metadata of a release folder whose data and documents are already written."""
    import mlcroissant as mlc

    files = sorted(p for p in release_dir.rglob("*") if p.is_file() and p.name not in (CROISSANT_NAME, "SHA256SUMS"))
    distribution = []
    for path in files:
        rel = path.relative_to(release_dir).as_posix()
        fmt = HDF5 if path.suffix == ".h5" else {".csv": "text/csv", ".json": "application/json",
                                                 ".png": "image/png"}.get(path.suffix, "text/markdown")
        distribution.append(mlc.FileObject(id=rel, name=rel, content_url=rel, encoding_formats=[fmt],
                                           sha256=sha256_of(path), content_size=f"{path.stat().st_size} B"))
    distribution += [mlc.FileSet(id=f"shards_{split}", name=f"shards_{split}", encoding_formats=[HDF5],
                                 includes=[f"data/{split}/shard-*.h5"]) for split in info.splits]
    record_sets = [_split_record_set(mlc, info, split) for split in info.splits]
    record_sets += _enumerations(mlc) + [_models_record_set(mlc)]
    metadata = mlc.Metadata(
        name=info.name, conforms_to=CROISSANT_1_1, url=url, version="1.0.0",
        description=f"EOPose paired-pose quadruplets ({', '.join(info.categories)}): RGBA, depth, NOCS, masks, "
                    "cameras and keypoints in HDF5 shards; see README.md and FORMAT.md.",
        license=sorted({rule(slug).url for slug in info.licences if rule(slug).url}),
        cite_as="EOPose: exemplar-based object reposing; Deitke et al., Objaverse, CVPR 2023",
        date_published=datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0),
        distribution=distribution, record_sets=record_sets)
    return metadata.to_json()


def write_croissant(release_dir: Path, info: ReleaseInfo, url: str) -> None:
    path = release_dir / CROISSANT_NAME
    path.write_text(json.dumps(build_croissant(release_dir, info, url), indent=1, default=str) + "\n")
    validate_croissant(path)


def validate_croissant(path: Path) -> None:
    """Load `path` with mlcroissant (offline); raise CroissantError naming the file on any error."""
    import mlcroissant as mlc

    if not path.is_file():
        raise CroissantError(f"{path}: missing; rebuild the release with publish-dataset")
    logging.getLogger("absl").setLevel(logging.ERROR)  # warnings (recommended properties) are not failures
    try:
        with warnings.catch_warnings():  # rdflib's own DeprecationWarnings while parsing JSON-LD
            warnings.simplefilter("ignore", DeprecationWarning)
            dataset = mlc.Dataset(jsonld=str(path))
    except (mlc.ValidationError, ValueError, OSError) as error:
        first = str(error).strip().splitlines()
        raise CroissantError(f"{path}: Croissant validation failed: {' | '.join(first[:3])}") from None
    if dataset.metadata.issues.errors:
        raise CroissantError(f"{path}: Croissant validation failed: {sorted(dataset.metadata.issues.errors)[:3]}")
