"""Format versions: the current writer's shards carry the version-2 fields, and a version-1 shard (the
layout the previous eopose wrote: no normals, untextured, render_params) still opens, validates and loads."""
import json

import h5py
import numpy as np
import pytest

from eopose.dataset import DatasetFormatError, open_dataset, update_index, verify
from eopose.dataset.pairs import PairSampleDataset
from eopose.dataset.shard_format import ADDED_IN, FIELDS, FORMAT_VERSION, fields_of_version, read_index, shard_name
from eopose.dataset.synthetic import make_quadruplet_rows

V1_ONLY = [name for name in FIELDS if name not in ADDED_IN]


def write_v1_shard(path, rows):
    """A shard laid out exactly as format version 1 (the writer before version 2), with h5py directly."""
    rgba = rows["rgba"]
    with h5py.File(path, "w") as handle:
        handle.attrs.update(format="eopose-shards", format_version=1, rows=len(rgba), height=rgba.shape[2],
                            width=rgba.shape[3], settings=json.dumps({"note": "v1"}))
        for name in V1_ONLY:
            value = rows[name]
            if FIELDS[name].dtype == "str":
                handle.create_dataset(name, data=np.asarray(value, dtype=object).astype(str).astype(object),
                                      dtype=h5py.string_dtype())
            else:
                handle.create_dataset(name, data=np.asarray(value).astype(FIELDS[name].dtype),
                                      chunks=(1,) + np.shape(value)[1:])


@pytest.fixture
def v1_folder(tmp_path):
    rows = make_quadruplet_rows(3, 32, 32, seed=2)
    write_v1_shard(tmp_path / shard_name(0), rows)
    index = update_index(tmp_path)
    (tmp_path / "index.json").write_text(json.dumps({**index, "format_version": 1}))  # as version 1 wrote it
    return tmp_path, rows


def test_version_2_adds_normals_flags_and_render_params():
    assert FORMAT_VERSION == 2
    assert set(fields_of_version(2)) - set(fields_of_version(1)) == {"normals", "untextured", "render_params"}
    assert FIELDS["normals"].row_shape(8, 8) == (4, 8, 8, 3)


def test_v1_shard_opens_validates_and_loads(v1_folder):
    folder, rows = v1_folder
    assert read_index(folder)["format_version"] == 1
    assert verify(folder) == []
    data = open_dataset(folder)
    record = data[1]
    assert set(record) == set(V1_ONLY)
    np.testing.assert_array_equal(record["rgba"], rows["rgba"][1])
    assert record["model_id"].tolist() == list(rows["model_id"][1])
    samples = PairSampleDataset(folder, with_flow=True)
    assert len(samples) == 12 and sum(float(samples[i]["flow_valid"].sum()) for i in range(12)) > 100
    with pytest.raises(DatasetFormatError, match="version 1 shard has no field 'normals'; re-render"):
        data.read(0, ["rgba", "normals"])


def test_unknown_version_is_refused_in_one_line(v1_folder):
    folder, _ = v1_folder
    with h5py.File(folder / shard_name(0), "a") as handle:
        handle.attrs["format_version"] = 3
    problems = verify(folder)
    assert len(problems) >= 1 and "format version 3, this eopose reads versions 1, 2" in problems[0]

