"""publish-dataset: split disjointness, licence refusals, checksums, Croissant, HF `datasets` loading, hub errors."""
import json
import shutil
import socket

import numpy as np
import pytest

from eopose.dataset.publish import cli
from eopose.dataset.publish.croissant import validate_croissant
from eopose.dataset.publish.hub import HubError, push_to_hub
from eopose.dataset.publish.licenses import allowed
from eopose.dataset.publish.release import build_release, verify_release
from eopose.dataset.shard_format import (FIELDS, add_keypoints, open_dataset, shard_files, update_index, verify,
                                         write_shard)
from eopose.dataset.splits import SPLITS, split_of_model, split_of_quad
from eopose.dataset.synthetic import write_synthetic_dataset

# Cycled over the source's models: three redistributable, five refused under the default policy.
LICENCES = ["by", "cc0", "by-nd", "by-sa", "by-nc", "Free Standard", "by-nc-sa", "mystery-licence"]
REDISTRIBUTABLE = {"by", "by-sa", "cc0"}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """16 quadruplets at 32x32 whose models carry the licences above, with a `nocs` keypoint set (k=3)."""
    plain = write_synthetic_dataset(tmp_path_factory.mktemp("plain"), quads=16, resolution=32, quads_per_shard=8)
    out = tmp_path_factory.mktemp("licensed")
    data = open_dataset(plain)
    models = sorted({m for ids in data.column("model_id") for m in ids})
    licence_of = {m: LICENCES[i % len(LICENCES)] for i, m in enumerate(models)}
    rng = np.random.default_rng(0)
    for shard in range(len(data.shard_paths)):
        rows = data.read_rows(shard, FIELDS)
        rows["license"] = np.vectorize(licence_of.get, otypes=[object])(rows["model_id"])
        write_shard(out / f"shard-{shard:05d}.h5", rows)
    update_index(out)
    for path in shard_files(out):
        n = data.rows_per_shard[0]
        add_keypoints(path, "nocs", rng.uniform(0, 32, (n, 4, 3, 2)), rng.uniform(0, 32, (n, 4, 3, 2)),
                      np.ones((n, 4, 3), bool), {"k": 3})
    return out


@pytest.fixture(scope="module")
def release(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("releases") / "eopose-test"
    assert cli.main([str(source), "--out", str(out), "--quads-per-shard", "3"]) == 0
    return out


def _ids(folder):
    data = open_dataset(folder)
    return [tuple(ids) for ids in data.column("model_id")], [tuple(ls) for ls in data.column("license")]


@pytest.mark.parametrize("name, kept", [
    ("cc0", True), ("by", True), ("by-sa", True), ("CC-BY-4.0", True), ("by-nd", False), ("by-nc", False),
    ("by-nc-sa", False), ("by-nc-nd", False), ("Free Standard", False), ("", False), ("unknown", False)])
def test_licence_policy_table(name, kept):
    assert allowed(name, "redistributable")[0] is kept
    assert allowed(name, "all")[0] is True


def test_splits_disjoint_licences_filtered_and_counted(source, release):
    source_ids, _ = _ids(source)
    seen = {}
    for split in SPLITS:
        assert verify(release / "data" / split) == []
        ids, licences = _ids(release / "data" / split)
        for pair, pair_licences in zip(ids, licences):
            assert split_of_quad(pair) == split and all(split_of_model(m) == split for m in pair)
            assert set(pair_licences) <= REDISTRIBUTABLE
            for model in pair:
                assert seen.setdefault(model, split) == split  # no model in two splits
    summary = json.loads((release / "release.json").read_text())
    kept = [p for p, ls in zip(source_ids, _ids(source)[1]) if set(ls) <= REDISTRIBUTABLE]
    assert sum(summary["quadruplets"].values()) == sum(split_of_quad(p) is not None for p in kept) > 0
    assert sum(summary["quadruplets"].values()) + sum(summary["excluded"].values()) == len(source_ids)
    assert summary["keypoints"] == {"nocs": 3}
    train = open_dataset(release / "data" / "train")
    assert train.read_keypoints(0, "nocs")["points_a"].shape == (4, 3, 2)


def test_refused_objects_listed_and_printed(source, release, tmp_path, capsys):
    refused = (release / "REFUSED.md").read_text()
    attribution = (release / "ATTRIBUTION.md").read_text()
    source_ids, source_licences = _ids(source)
    for pair, licences in zip(source_ids, source_licences):
        for model, licence in zip(pair, licences):
            assert (f"`{model}`" in refused) is (licence not in REDISTRIBUTABLE)
            assert f"(`{model}`)" not in attribution or licence in REDISTRIBUTABLE
    assert "rendered" in attribution and "https://creativecommons.org/licenses/by/4.0/" in attribution
    assert cli.main([str(source), "--out", str(tmp_path / "again")]) == 0
    printed = capsys.readouterr().out
    assert "refused" in printed and "by-nd" in printed and "Free Standard" in printed


def test_policy_all_keeps_everything_but_cannot_be_pushed(source, tmp_path):
    summary = build_release([source], tmp_path / "internal", policy="all")
    assert summary["refused_models"] == 0 and "quadruplets with a refused licence" not in summary["excluded"]
    assert "internal use only" in (tmp_path / "internal" / "README.md").read_text()
    with pytest.raises(HubError, match="license-policy all"):
        push_to_hub(tmp_path / "internal", "someone/eopose")


def test_flipped_byte_fails_verify_naming_the_file(release, tmp_path, capsys):
    copy = shutil.copytree(release, tmp_path / "copy")
    assert cli.main(["--verify", str(copy)]) == 0
    shard = shard_files(copy / "data" / "train")[0]
    payload = bytearray(shard.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    shard.write_bytes(bytes(payload))
    capsys.readouterr()
    assert cli.main(["--verify", str(copy)]) == 1
    assert str(shard) in capsys.readouterr().err


def test_croissant_validates_and_describes_files(release, tmp_path):
    import mlcroissant as mlc

    validate_croissant(release / "croissant.json")
    document = json.loads((release / "croissant.json").read_text())
    files = {f["contentUrl"]: f for f in document["distribution"] if f["@type"] == "cr:FileObject"}
    shard = shard_files(release / "data" / "train")[0]
    assert files["data/train/shard-00000.h5"]["encodingFormat"] == "application/x-hdf5"
    assert files["data/train/shard-00000.h5"]["sha256"] == json.loads(
        (shard.parent / "index.json").read_text())["shards"][0]["sha256"]
    models = list(mlc.Dataset(jsonld=str(release / "croissant.json")).records("models"))
    assert len(models) == json.loads((release / "release.json").read_text())["models"]
    broken = shutil.copytree(release, tmp_path / "broken")
    document["recordSet"][0]["field"][0]["source"] = {"fileSet": {"@id": "no-such-file-set"}}
    (broken / "croissant.json").write_text(json.dumps(document))
    assert any("croissant.json" in p and "validation failed" in p for p in verify_release(broken))


def test_hf_datasets_hdf5_builder_loads_published_shards(release, tmp_path):
    import datasets

    datasets.disable_progress_bars()
    train = open_dataset(release / "data" / "train")
    from_card = datasets.load_dataset(str(release), split="train", cache_dir=str(tmp_path / "a"))
    features = datasets.load_dataset_builder(str(release), cache_dir=str(tmp_path / "b")).info.features
    from_files = datasets.load_dataset("hdf5", data_files={"train": [str(p) for p in train.shard_paths]},
                                       features=features, split="train", cache_dir=str(tmp_path / "c"))
    for loaded in (from_card, from_files):
        assert len(loaded) == len(train)
        row, expected = loaded.with_format("numpy")[len(train) - 1], train.read(len(train) - 1)
        for name in ("rgba", "nocs", "depth", "rotations", "quad_index"):
            np.testing.assert_array_equal(np.asarray(row[name]).astype(FIELDS[name].dtype), expected[name])
        assert list(row["model_id"]) == list(expected["model_id"]) and row["category"] == expected["category"]
        np.testing.assert_array_equal(row["keypoints"]["nocs"]["points_p"],
                                      expected["keypoints/nocs/points_p"])


def test_release_is_atomic_and_refuses_to_overwrite(source, release, tmp_path, capsys):
    assert cli.main([str(source), "--out", str(release)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert cli.main([str(source), "--out", str(release), "--overwrite", "--quads-per-shard", "3"]) == 0
    assert verify_release(release) == []
    assert not [p for p in release.parent.iterdir() if p.name.startswith(".")]  # no temp or old folders left


def test_sources_with_different_image_sizes_are_refused(source, synthetic_dataset, tmp_path, capsys):
    assert cli.main([str(source), str(synthetic_dataset), "--out", str(tmp_path / "mixed")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "different image sizes" in error
    assert not (tmp_path / "mixed").exists()


def test_push_gives_one_line_errors_offline(release, monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(HubError, match="not logged in"):
        push_to_hub(release, "someone/eopose")
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    with pytest.raises(HubError, match="unreachable") as error:
        push_to_hub(release, "someone/eopose")
    assert "\n" not in str(error.value)
