"""eopose-manifest on a fake Objaverse cache (laid out like objaverse 0.1.7's) with the network blocked."""
import gzip
import json
import socket

import numpy as np
import pytest
import trimesh

from eopose.render import manifest_builder
from eopose.render.camera import euler_xyz_matrix
from eopose.render.sources import read_manifest
from eopose.render.up_axis import GLTF_TO_BLENDER, estimate_orientation, load_mesh

Y_UP = trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0])  # +Z -> glTF +Y (up)


def _vase():
    """A wide body and a narrow neck standing along glTF +Y: its base is the most stable pose."""
    body = trimesh.creation.cylinder(radius=0.4, height=0.6, sections=24)
    neck = trimesh.creation.cylinder(radius=0.15, height=0.5, sections=24)
    neck.apply_translation([0, 0, 0.5])
    return trimesh.util.concatenate([body, neck]).apply_transform(Y_UP)


def _spread(count):
    return trimesh.util.concatenate([trimesh.creation.box([0.1] * 3).apply_translation([i * 0.3, 0, 0])
                                     for i in range(count)])


MODELS = {  # uid: (licence, mesh or None (no file), faceCount override, downloadable)
    "a0upright": ("by", _vase(), None, True),
    "a1lying": ("cc0", _vase().apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 0, 1])),
                None, True),
    "a2parts": ("by-sa", _spread(12), None, True),
    "a3plane": ("by", trimesh.creation.box([1.0, 0.001, 1.0]), None, True),
    "a4broken": ("by", b"not a glb at all", None, True),
    "a5noncommercial": ("by-nc", None, None, True),
    "a6huge": ("by", None, 5_000_000, True),
    "a7locked": ("by", None, None, False),
}


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """tmp_path/hf-objaverse-v1 with object-paths, LVIS, metadata and GLBs; sockets refuse to connect."""
    root = tmp_path / "hf-objaverse-v1"
    (root / "glbs" / "000-000").mkdir(parents=True)
    (root / "metadata").mkdir()
    paths, metadata = {}, {}
    for uid, (licence, mesh, faces, downloadable) in MODELS.items():
        paths[uid] = f"glbs/000-000/{uid}.glb"
        if isinstance(mesh, bytes):
            (root / paths[uid]).write_bytes(mesh)
        elif mesh is not None:
            mesh.export(root / paths[uid])
        metadata[uid] = {"uid": uid, "name": f"model {uid}", "license": licence, "isDownloadable": downloadable,
                         "faceCount": faces or (len(mesh.faces) if isinstance(mesh, trimesh.Trimesh) else 100),
                         "uri": f"https://api.sketchfab.com/v3/models/{uid}", "user": {"username": f"maker-{uid}"}}
    for name, data in (("object-paths.json.gz", paths), ("lvis-annotations.json.gz", {"vase": sorted(MODELS)}),
                       ("metadata/000-000.json.gz", metadata)):
        with gzip.open(root / name, "wt") as handle:
            json.dump(data, handle)

    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return tmp_path


def test_manifest_from_local_cache_offline(cache, tmp_path, capsys):
    out = tmp_path / "manifests" / "vases.json"
    assert manifest_builder.main(["--category", "vases", "--objaverse-dir", str(cache), "--out", str(out)]) == 0
    assert "2 vases models (1 re-oriented)" in capsys.readouterr().out
    manifest = json.loads(out.read_text())
    assert manifest["category"] == "vases" and manifest["lvis_categories"] == ["vase"]
    models = {m["model_id"]: m for m in manifest["models"]}
    assert set(models) == {"a0upright", "a1lying"}
    assert models["a0upright"]["up_axis"]["source"] == "authored" and models["a1lying"]["author"] == "maker-a1lying"
    assert all(m["checks"] == {"imports": True, "faces": True, "parts": True, "size": True,
                               "orientation_consistent": True} for m in models.values())
    reasons = {r["model_id"]: r["reason"] for r in manifest["rejected"]}
    assert "connected parts" in reasons["a2parts"] and "degenerate size" in reasons["a3plane"]
    assert "does not import" in reasons["a4broken"] and "licence 'by-nc'" in reasons["a5noncommercial"]
    assert "5000000 faces" in reasons["a6huge"] and reasons["a7locked"] == "not downloadable"
    for uid, model in models.items():  # the canonical rotation stands each vase on its base, neck up (+Z)
        rotation = np.array(model["canonical_rotation"])
        np.testing.assert_allclose(euler_xyz_matrix(model["canonical_euler_deg"]), rotation, atol=1e-6)
        points = MODELS[uid][1].vertices @ GLTF_TO_BLENDER.T @ rotation.T
        assert np.ptp(points, axis=0)[2] == pytest.approx(1.05, abs=1e-6)
        assert np.abs(points[points[:, 2] > points[:, 2].max() - 0.01, :2]).max() < 0.2  # the neck is on top
    assert read_manifest(out)["models"] == {uid: tuple(m["canonical_euler_deg"]) for uid, m in models.items()}


def test_count_prefers_models_needing_no_rotation(cache, tmp_path):
    recipe = manifest_builder.load_recipe(manifest_builder.RECIPE, "vases")
    manifest = manifest_builder.build_manifest("vases", {**recipe, "count": 1}, cache)
    assert [m["model_id"] for m in manifest["models"]] == ["a0upright"]
    assert {"model_id": "a1lying", "reason": "not selected (count 1 reached)"} in manifest["rejected"]


def test_missing_file_offline_is_one_line_error(cache, tmp_path, capsys):
    (cache / "hf-objaverse-v1" / "glbs" / "000-000" / "a0upright.glb").unlink()
    assert manifest_builder.main(["--category", "vases", "--objaverse-dir", str(cache),
                                  "--out", str(tmp_path / "v.json")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "unreachable" in errors[0] and not (tmp_path / "v.json").exists()


def test_empty_cache_and_unknown_category_are_one_line_errors(cache, tmp_path, capsys):
    assert manifest_builder.main(["--category", "vases", "--objaverse-dir", str(tmp_path / "empty"),
                                  "--out", str(tmp_path / "v.json")]) == 2
    assert "unreachable" in capsys.readouterr().err
    assert manifest_builder.main(["--category", "teapots", "--out", str(tmp_path / "t.json")]) == 2
    assert "objaverse-recipe.json: no category 'teapots'" in capsys.readouterr().err


def test_recipe_has_the_paper_counts():
    recipe = json.loads(manifest_builder.RECIPE.read_text())
    assert {c: v["count"] for c, v in recipe["categories"].items()} == {
        "shoes": 8, "briefcases": 12, "vases": 29, "file_cabinets": 11}


def test_boxes_keep_a_stable_authored_pose_with_a_low_ratio(tmp_path):
    """A briefcase authored upright rests more probably on its side: the recipe's ratio decides."""
    path = tmp_path / "briefcase.glb"
    trimesh.creation.box([0.45, 0.35, 0.12]).export(path)  # glTF +Y up: 0.35 tall, 0.12 deep
    mesh = load_mesh(path)
    assert estimate_orientation(mesh, authored_ratio=0.1).source == "authored"
    lying = estimate_orientation(mesh, authored_ratio=0.5)
    assert lying.source == "stable-pose" and np.ptp(mesh.vertices @ lying.rotation.T, axis=0)[2] == \
        pytest.approx(0.12)
