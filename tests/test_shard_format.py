"""Shard format v1: bit-exact round trip, crash safety, keypoint sets and one-line errors for bad input."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from eopose.dataset import DatasetFormatError, add_keypoints, open_dataset, verify, write_shard
from eopose.dataset.cli import main as dataset_cli
from eopose.dataset.shard_format import (FIELDS, QuadRow, read_index, sha256_of, shard_files, shard_name, update_index,
                                         write_quads)
from eopose.dataset.synthetic import make_quadruplet_rows


def _copy(src, tmp_path):
    return shutil.copytree(src, tmp_path / "data")


def test_round_trip_is_bit_exact(tmp_path):
    rows = make_quadruplet_rows(3, 32, 48, seed=7)
    rng = np.random.default_rng(0)
    rows["depth"] = rng.standard_normal(rows["depth"].shape).astype(np.float16)  # every bit pattern matters
    rows["name"] = [["vase \u00e9\u4e2d", "x"], ["", "b"], ["c", "d" * 300]]
    write_shard(tmp_path / shard_name(0), rows, {"note": "round trip"})
    update_index(tmp_path)
    data = open_dataset(tmp_path)
    assert len(data) == 3
    for quad in range(3):
        record = data[quad]
        for name, spec in FIELDS.items():
            expected = np.asarray(rows[name][quad])
            if spec.dtype == "str":
                assert record[name].tolist() == np.asarray(expected, dtype=object).tolist(), name
            else:
                assert record[name].dtype == np.dtype(spec.dtype), name
                assert record[name].tobytes() == expected.astype(spec.dtype).tobytes(), name
    assert read_index(tmp_path)["settings"] == {"note": "round trip"}
    assert verify(tmp_path) == []


def test_write_rejects_wrong_shape_and_missing_field(tmp_path):
    rows = make_quadruplet_rows(2, 16, 16)
    rows["rotations"] = rows["rotations"][:, 0]
    with pytest.raises(DatasetFormatError, match="'rotations' has shape"):
        write_shard(tmp_path / shard_name(0), rows)
    del rows["nocs"]
    with pytest.raises(DatasetFormatError, match=r"missing fields \['nocs'\]"):
        write_shard(tmp_path / shard_name(0), rows)
    assert list(tmp_path.iterdir()) == []


_SLOW_WRITER = """
import sys, numpy as np
from eopose.dataset.shard_format import write_shard
from eopose.dataset.synthetic import make_quadruplet_rows
rows = make_quadruplet_rows(1, 256, 256)
rows = {k: (np.repeat(v, 200, axis=0) if isinstance(v, np.ndarray) else v * 200) for k, v in rows.items()}
rows["rgba"] = np.random.default_rng(0).integers(0, 255, rows["rgba"].shape, dtype=np.uint8)  # slow to compress
print("ready", flush=True)
write_shard(sys.argv[1], rows)
"""


def _kill_when_temp_appears(script, args, folder):
    process = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE)
    assert process.stdout.readline().strip() == b"ready"
    deadline = time.time() + 120
    while not any(".tmp-" in p.name for p in folder.iterdir()):
        assert time.time() < deadline and process.poll() is None, "writer finished before it could be killed"
        time.sleep(0.005)
    time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def test_typed_rows_write_the_same_shard_and_reject_bad_fields(tmp_path):
    columns = make_quadruplet_rows(3, 16, 24, seed=3)
    quads = [QuadRow(**{name: value[q] for name, value in columns.items()}) for q in range(3)]
    assert quads[1].intrinsics.dtype == np.float32 and quads[1].model_id.shape == (2,)
    write_shard(tmp_path / "columns.h5", columns)
    write_quads(tmp_path / "rows.h5", quads)
    assert sha256_of(tmp_path / "columns.h5") == sha256_of(tmp_path / "rows.h5")
    bad = {name: value[2] for name, value in columns.items()}
    with pytest.raises(DatasetFormatError, match=r"quadruplet 2: field 'nocs' has shape \(4, 16, 24\), "
                                                 r"expected \(4, 16, 24, 3\)"):
        QuadRow(**{**bad, "nocs": bad["nocs"][..., 0]})
    with pytest.raises(DatasetFormatError, match="quadruplet 2: field 'mask' has dtype float64, expected uint8"):
        QuadRow(**{**bad, "mask": bad["mask"].astype(np.float64)})


def test_writer_killed_mid_write_leaves_no_visible_shard(tmp_path):
    _kill_when_temp_appears(_SLOW_WRITER, [str(tmp_path / shard_name(0))], tmp_path)
    assert not (tmp_path / shard_name(0)).exists()
    assert shard_files(tmp_path) == []
    assert update_index(tmp_path)["shards"] == []


_HANGING_KEYPOINTS = """
import sys, time, numpy as np
from eopose.dataset.shard_format import keypoint_sets
def hang(tmp, final):  # everything written, the rename not yet done: the latest point a kill can land
    print("committing", flush=True)
    time.sleep(600)
keypoint_sets.commit = hang
n, k = int(sys.argv[2]), 35
points = np.random.default_rng(0).random((n, 4, k, 2), dtype=np.float32)
print("ready", flush=True)
keypoint_sets.add_keypoints(sys.argv[1], "dino", points, points, np.ones((n, 4, k), bool), {"k": k})
"""


def test_keypoints_killed_mid_write_leave_shard_intact(synthetic_dataset, tmp_path):
    data_dir = _copy(synthetic_dataset, tmp_path)
    shard = data_dir / shard_name(0)
    before = sha256_of(shard)
    process = subprocess.Popen([sys.executable, "-c", _HANGING_KEYPOINTS, str(shard), "4"], stdout=subprocess.PIPE)
    assert process.stdout.readline().strip() == b"ready"
    assert process.stdout.readline().strip() == b"committing"
    assert any(".tmp-" in p.name for p in data_dir.iterdir())
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert sha256_of(shard) == before
    assert verify(data_dir) == []
    assert open_dataset(data_dir).keypoint_methods(0) == {}


def test_keypoints_are_added_atomically_and_indexed(synthetic_dataset, tmp_path):
    data_dir = _copy(synthetic_dataset, tmp_path)
    rng = np.random.default_rng(1)
    points_a = rng.uniform(0, 64, (4, 4, 35, 2)).astype(np.float32)
    valid = rng.random((4, 4, 35)) > 0.2
    add_keypoints(data_dir / shard_name(1), "nocs", points_a, points_a + 1, valid, {"k": 35, "note": "x"})
    assert verify(data_dir) == []
    data = open_dataset(data_dir)
    assert data.keypoint_methods(1) == {"nocs": {"k": 35, "note": "x"}}
    stored = data.read_keypoints(5, "nocs")  # quad 5 = shard 1, row 1
    np.testing.assert_array_equal(stored["points_a"], points_a[1])
    np.testing.assert_array_equal(stored["points_p"], points_a[1] + 1)
    np.testing.assert_array_equal(stored["valid"], valid[1])
    assert data.read_keypoints(0, "nocs") is None
    with pytest.raises(DatasetFormatError, match="'valid' has shape"):
        add_keypoints(data_dir / shard_name(1), "nocs", points_a, points_a, valid[:, :2], {})


def _expect_error(data_dir, capsys, pattern, command="info"):
    with pytest.raises(DatasetFormatError, match=pattern) as caught:
        open_dataset(data_dir)
    message = str(caught.value)
    assert "\n" not in message and str(data_dir) in message
    assert dataset_cli([command, str(data_dir)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("eopose-dataset: error: ")


def test_wrong_version_is_one_line_error(synthetic_dataset, tmp_path, capsys):
    data_dir = _copy(synthetic_dataset, tmp_path)
    index = json.loads((data_dir / "index.json").read_text())
    index["format_version"] = 3
    (data_dir / "index.json").write_text(json.dumps(index))
    _expect_error(data_dir, capsys, r"index.json: format version 3, this eopose reads versions 1, 2")
    index["format_version"] = 2
    (data_dir / "index.json").write_text(json.dumps(index))
    with h5py.File(data_dir / shard_name(2), "r+") as handle:
        handle.attrs["format_version"] = 0
    update_index(data_dir)
    _expect_error(data_dir, capsys, r"shard-00002.h5: format version 0")


def test_missing_field_is_one_line_error(synthetic_dataset, tmp_path, capsys):
    data_dir = _copy(synthetic_dataset, tmp_path)
    with h5py.File(data_dir / shard_name(1), "r+") as handle:
        del handle["nocs"]
    update_index(data_dir)
    _expect_error(data_dir, capsys, r"shard-00001.h5: missing field 'nocs'")


def test_truncated_file_is_one_line_error(synthetic_dataset, tmp_path, capsys):
    data_dir = _copy(synthetic_dataset, tmp_path)
    shard = data_dir / shard_name(0)
    size = shard.stat().st_size
    with open(shard, "r+b") as handle:
        handle.truncate(size // 2)
    _expect_error(data_dir, capsys, r"shard-00000.h5: \d+ bytes on disk, index.json says \d+ \(truncated")
    update_index_error = None
    try:
        update_index(data_dir)
    except DatasetFormatError as error:
        update_index_error = str(error)
    assert update_index_error is not None and "unreadable HDF5" in update_index_error


def test_checksum_mismatch_is_reported_by_verify(synthetic_dataset, tmp_path, capsys):
    data_dir = _copy(synthetic_dataset, tmp_path)
    shard = data_dir / shard_name(2)
    with h5py.File(shard, "r") as handle:  # flip a byte inside the rgba data, keep the file valid HDF5
        offset = handle["rgba"].id.get_chunk_info(0).byte_offset
    with open(shard, "r+b") as handle:
        handle.seek(offset + 100)
        byte = handle.read(1)
        handle.seek(offset + 100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    problems = verify(data_dir)
    assert len(problems) == 1 and "shard-00002.h5: sha256 mismatch" in problems[0]
    assert dataset_cli(["verify", str(data_dir)]) == 1
    assert "sha256 mismatch" in capsys.readouterr().err


def test_missing_index_and_folder_errors(tmp_path, capsys):
    _expect_error(tmp_path / "nope", capsys, "not a dataset folder")
    (tmp_path / "empty").mkdir()
    _expect_error(tmp_path / "empty", capsys, "index.json: missing; rebuild it with")


def test_cli_info_and_verify_on_good_data(synthetic_dataset, capsys):
    assert dataset_cli(["verify", str(synthetic_dataset)]) == 0
    assert dataset_cli(["info", str(synthetic_dataset)]) == 0
    out = capsys.readouterr().out
    assert "12 quadruplets (48 samples) in 3 shards, images 64x64" in out


def test_dataset_pickles_without_open_handles(synthetic_dataset):
    import pickle
    data = open_dataset(synthetic_dataset)
    first = data[3]["rgba"]
    assert data._handles
    clone = pickle.loads(pickle.dumps(data))
    assert clone._handles == {}
    np.testing.assert_array_equal(clone[3]["rgba"], first)
