"""Bad input never shows a traceback: one line `<prog>: error: ...` naming the flag, exit 2, nothing written;
every option has help with its default; the user's commands work as typed."""
import argparse
import shutil

import h5py
import pytest

from eopose.dataset import cli as dataset_cli
from eopose.dataset.keypoints import cli as keypoints_cli
from eopose.dataset.shard_format import open_dataset
from eopose.dataset.splits import split_of_quad
from eopose.dataset.synthetic import write_synthetic_dataset
from eopose.render import cli as render_cli


@pytest.fixture
def in_empty_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("SLURM_ARRAY_TASK_ID", "SLURM_PROCID", "JOB_COMPLETION_INDEX", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _one_line_error(main, argv, capsys, prog, *expected):
    with pytest.raises(SystemExit) as stop:
        status = main(argv)
        raise SystemExit(status)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"{prog}: error: "), err
    for text in expected:
        assert text in err, err


@pytest.mark.parametrize("argv, expected", [
    (["--resolution", "0"], ["--resolution", "[8, 8192]", "got 0"]),
    (["--samples", "-3"], ["--samples", "got -3"]),
    (["--num-quads", "0"], ["--num-quads"]),
    (["--workers", "two"], ["--workers", "'two'"]),
    (["--seed", "-1"], ["--seed"]),
    (["--angle-range", "90", "30"], ["--angle-range", "LO must be below HI"]),
    (["--angle-range", "0", "nan"], ["--angle-range"]),
    (["--import-timeout", "0"], ["--import-timeout", "> 0"]),
    (["--render-timeout", "-5"], ["--render-timeout"]),
    (["--category", "chairs"], ["--category chairs", "vases"]),
    (["--device", "gpu"], ["--device", "cuda"]),
    (["--shard-index", "3", "--num-shards", "2"], ["--shard-index 3"]),
    (["--shard-index", "auto"], ["--shard-index auto", "SLURM_ARRAY_TASK_ID"]),
    (["--launcher", "local", "--shard-index", "1"], ["drop --shard-index"]),
    (["--source", "dir"], ["--mesh-dir"]),
])
def test_render_pairs_bad_numbers_and_names(argv, expected, in_empty_folder, capsys):
    _one_line_error(render_cli.main, ["--category", "vases", *argv], capsys, "render-pairs", *expected)
    assert list(in_empty_folder.iterdir()) == []


def test_render_pairs_paths_that_are_files(in_empty_folder, capsys):
    (in_empty_folder / "a-file").write_text("x")
    for flag in ("--out", "--mesh-dir", "--cache-dir"):
        _one_line_error(render_cli.main, ["--category", "vases", "--source", "dir", "--mesh-dir", ".", flag, "a-file"],
                        capsys, "render-pairs", flag, "a-file is a file")
    _one_line_error(render_cli.main, ["--category", "vases", "--out", "a-file/inside"], capsys, "render-pairs", "--out")
    _one_line_error(render_cli.main, ["--category", "vases", "--manifest", "missing.json"], capsys, "render-pairs",
                    "--manifest", "does not exist")
    assert sorted(p.name for p in in_empty_folder.iterdir()) == ["a-file"]


def test_render_pairs_as_typed_chooses_documented_defaults(in_empty_folder, capsys):
    opts = render_cli.parse_args(["--category", "vases"])
    assert (opts.out, opts.num_quads, opts.source) == (in_empty_folder.joinpath("data/vases").relative_to(
        in_empty_folder), render_cli.DEFAULT_QUADS, "procedural")
    assert render_cli.DEFAULT_QUADS * 4 == 8800
    note = capsys.readouterr().err.strip()
    assert len(note.splitlines()) == 1 and "--num-quads 2200" in note and "--out data/vases" in note
    assert render_cli.parse_args(["--category", "vases", "--device", "cuda"]).device == "gpu"  # Blender's name
    assert list(in_empty_folder.iterdir()) == []


@pytest.mark.parametrize("argv, expected", [
    (["--k", "0"], ["--k"]),
    (["--batch-size", "-1"], ["--batch-size"]),
    (["--method", "sift"], ["--method", "invalid choice"]),
    (["--shard-index", "3", "--num-shards", "3"], ["--shard-index 3"]),
    (["--slurm-partition", "gpu"], ["--slurm-partition needs --launcher slurm"]),
])
def test_build_keypoint_cache_bad_input(argv, expected, synthetic_dataset, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in synthetic_dataset.iterdir()}
    _one_line_error(keypoints_cli.build_main, [str(synthetic_dataset), "--method", "nocs", *argv], capsys,
                    "build-keypoint-cache", *expected)
    assert {p.name: p.stat().st_mtime_ns for p in synthetic_dataset.iterdir()} == before


def test_dataset_folder_arguments(tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    for path, expected in ((tmp_path / "a-file", "is a file"), (tmp_path / "missing", "does not exist")):
        _one_line_error(keypoints_cli.build_main, [str(path), "--method", "nocs"], capsys, "build-keypoint-cache",
                        expected)
        for command in ("info", "verify", "index"):
            _one_line_error(dataset_cli.main, [command, str(path)], capsys, "eopose-dataset", expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_without_gpu(synthetic_dataset, capsys):
    _one_line_error(keypoints_cli.build_main, [str(synthetic_dataset), "--method", "dino", "--device", "cuda"], capsys,
                    "build-keypoint-cache", "--device cuda", "--device cpu")


def _parser_of(main, argv, monkeypatch):
    captured = {}
    original = argparse.ArgumentParser.parse_args

    def spy(self, args=None, namespace=None):
        captured["parser"] = self
        return original(self, ["--help"])

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", spy)
    with pytest.raises(SystemExit):
        main(argv)
    return captured["parser"]


@pytest.mark.parametrize("main", [render_cli.main, keypoints_cli.build_main, keypoints_cli.eval_main, dataset_cli.main])
def test_every_option_has_help_with_its_default(main, monkeypatch, capsys):
    parser = _parser_of(main, [], monkeypatch)
    text = capsys.readouterr().out
    for action in parser._actions:
        assert action.help, f"{action.option_strings or action.dest} has no help"
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in (
                action.help or ""):
            assert f"(default: {action.default}" in " ".join(text.split()), action.option_strings
    assert text.startswith("usage:")


def _flip_one_byte_in_a_compressed_chunk(data_dir):
    """Flip the middle byte of the deflated rgba chunk of the first training quadruplet (read by every command
    below); returns its shard. The file keeps its size, so the dataset still opens."""
    data = open_dataset(data_dir)
    model_ids = data.column("model_id")
    shard, row = data.locate(next(q for q in range(len(data)) if split_of_quad(model_ids[q]) == "train"))
    path = data.shard_paths[shard]
    with h5py.File(path, "r") as handle:
        chunk = handle["rgba"].id.get_chunk_info(row)
    with open(path, "r+b") as handle:
        handle.seek(chunk.byte_offset + chunk.size // 2)
        byte = handle.read(1)[0]
        handle.seek(-1, 1)
        handle.write(bytes([byte ^ 0xFF]))
    return path


@pytest.fixture(scope="module")
def corrupt(tmp_path_factory):
    """An analytic dataset with 'nocs' keypoints, a tiny checkpoint trained on it, a copy with one flipped byte."""
    from eopose.train.cli import main as train_main
    from eopose.train.config import CONFIG_DIR

    root = tmp_path_factory.mktemp("corrupt")
    good = write_synthetic_dataset(root / "good", quads=12, resolution=64, quads_per_shard=4)
    assert keypoints_cli.build_main([str(good), "--method", "nocs", "--device", "cpu", "--quiet"]) == 0
    assert train_main(["--data", str(good), "--config", "tiny", "--out", str(root / "run"), "--device", "cpu"]) == 0
    bad = shutil.copytree(good, root / "bad")
    workers = root / "tiny-two-workers.toml"  # training batches come from two DataLoader worker processes
    workers.write_text((CONFIG_DIR / "tiny.toml").read_text().replace("num_workers = 0", "num_workers = 2"))
    return {"data": bad, "shard": _flip_one_byte_in_a_compressed_chunk(bad), "checkpoint": root / "run" /
            "checkpoints" / "final.pt", "workers_config": workers}


def _corrupt_shard_commands():
    from eopose.dataset.publish.cli import main as publish_main
    from eopose.train.cli import main as train_main
    from eopose.train.evaluation.cli import main as eval_main
    from eopose.train.nocs.cli import main as train_nocs_main

    return {
        "train-eopose": (train_main, lambda c, out: ["--data", c["data"], "--config", "tiny", "--out", out]),
        "train-eopose (2 loader workers)": (train_main, lambda c, out: ["--data", c["data"], "--config",
                                                                        c["workers_config"], "--out", out]),
        "train-nocs": (train_nocs_main, lambda c, out: ["--data", c["data"], "--config", "tiny", "--out", out]),
        "eval-eopose": (eval_main, lambda c, out: ["--checkpoint", c["checkpoint"], "--data", c["data"], "--split",
                                                   "all", "--out", out]),
        "build-keypoint-cache": (keypoints_cli.build_main, lambda c, out: [c["data"], "--method", "nocs", "--k", "34",
                                                                           "--quiet"]),
        "eval-correspondences": (keypoints_cli.eval_main, lambda c, out: [c["data"], "--method", "nocs"]),
        "publish-dataset": (publish_main, lambda c, out: [c["data"], "--out", out]),
    }


@pytest.mark.parametrize("command", list(_corrupt_shard_commands()))
def test_a_corrupt_shard_is_one_line_naming_it_and_verify(command, corrupt, tmp_path, capsys):
    main, argv = _corrupt_shard_commands()[command]
    status = main([str(arg) for arg in argv(corrupt, tmp_path / "out")] + (["--device", "cpu"] if "publish" not in
                                                                         command else []))
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err, err
    lines = [line for line in err.replace("\r", "\n").splitlines() if str(corrupt["shard"]) in line]
    assert len(lines) == 1, err
    assert "corrupt shard" in lines[0] and f"`eopose-dataset verify {corrupt['shard'].parent}`" in lines[0], lines[0]
