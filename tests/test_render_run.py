"""render-pairs end to end with real Blender (tiny 64x64 renders, 4 samples): exact geometric
ground truth, fault isolation, resume after kill -9, sharding, and the model sources
(dir, procedural, offline Objaverse cache, no network)."""
import gzip
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from eopose.dataset import geometry
from eopose.dataset.shard_format import open_dataset, shard_files
from eopose.dataset.splits import split_of_model
from eopose.render import cli
from eopose.render.run import read_failures

trimesh = pytest.importorskip("trimesh")
if importlib.util.find_spec("bpy") is None:  # found, not imported: bpy stays out of the test process
    pytest.skip("bpy (Blender as a Python module) is not installed", allow_module_level=True)

FAST = ["--resolution", "64", "--samples", "4", "--quads-per-shard", "2", "--category", "vases", "--quiet"]


def train_ids(prefix, count, start=0):
    """Model ids of the 'train' split, so that they can all be paired with each other."""
    ids, i = [], start
    while len(ids) < count:
        if split_of_model(f"{prefix}{i:03d}") == "train":
            ids.append(f"{prefix}{i:03d}")
        i += 1
    return ids


def make_glb(path, k):
    """A vase-like asymmetric mesh (body, handle, spout) with per-vertex colours."""
    body = trimesh.creation.cylinder(radius=0.35 + 0.05 * k, height=1.4, sections=24)
    handle = trimesh.creation.box(extents=(0.25, 0.15, 0.7))
    handle.apply_translation((0.5 + 0.05 * k, 0.0, 0.1))
    spout = trimesh.creation.cone(radius=0.15, height=0.5, sections=12)
    spout.apply_translation((-0.3, -0.3, 0.6))
    mesh = trimesh.util.concatenate([body, handle, spout])
    colours = (np.random.default_rng(k).random((len(mesh.vertices), 4)) * 255).astype(np.uint8)
    colours[:, 3] = 255
    mesh.visual.vertex_colors = colours
    mesh.export(path)


def vase_meshes(folder):
    """`folder` with four vertex-coloured GLBs named like training-split vases."""
    for k, name in enumerate(train_ids("vase", 4)):
        make_glb(folder / f"{name}.glb", k)
    return folder


@pytest.fixture(scope="module")
def mesh_dir(tmp_path_factory):
    return vase_meshes(tmp_path_factory.mktemp("meshes"))


def render_cli(*args, env=None, **kwargs):
    return subprocess.run([sys.executable, "-m", "eopose.render.cli", *map(str, args)], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300, **kwargs)


@pytest.fixture(scope="module")
def full_run(mesh_dir, tmp_path_factory):
    """8 quads in 4 shards, uninterrupted, 2 workers (1 Cycles thread each)."""
    out = tmp_path_factory.mktemp("full")
    proc = render_cli("--source", "dir", "--mesh-dir", mesh_dir, "--num-quads", 8, "--out", out,
                      "--workers", 2, "--preview", *FAST)
    assert proc.returncode == 0, proc.stderr
    return out


def assert_same_datasets(a, b):
    da, db = open_dataset(a), open_dataset(b)
    assert len(da) == len(db)
    for i in range(len(da)):
        ra, rb = da[i], db[i]
        assert ra.keys() == rb.keys()
        for name in ra:
            np.testing.assert_array_equal(ra[name], rb[name], err_msg=f"quad {i} field {name}")


def test_exact_reprojection_between_views(full_run):
    """Each foreground pixel's NOCS, mapped through the stored rotation and camera into the other
    view of the same model, lands where that view sees the same surface point."""
    errors = reprojection_errors(full_run)
    print(f"reprojection error over {errors.size} pixels: mean {errors.mean():.4f} px, max {errors.max():.4f} px")
    assert errors.size > 1000 and errors.max() < 0.5 and errors.mean() < 0.1


def reprojection_errors(dataset_dir):
    """Cross-view reprojection errors (px) of every quadruplet of a rendered folder; asserts on the way
    that each view maps onto its own pixel centres and depth."""
    dataset = open_dataset(dataset_dir)
    errors = []
    for i in range(len(dataset)):
        r = dataset[i]
        size = r["mask"].shape[1]
        for src, dst in [(0, 1), (1, 0), (2, 3), (3, 2)]:
            m, c_dst = geometry.model_of_view(src), geometry.rotation_of_view(dst)
            # a view maps onto its own pixel centres
            own, z = geometry.project(geometry.nocs_to_world(r["nocs"][src], r["nocs_to_object"][m],
                                                             r["rotations"][geometry.rotation_of_view(src)]),
                                      r["intrinsics"], r["extrinsics"])
            fg = r["mask"][src].astype(bool)
            assert np.abs(own - geometry.pixel_centres(size, size))[fg].max() < 0.1
            assert np.abs(z - r["depth"][src])[fg].max() < 0.01
            # cross-view: the destination's NOCS, bilinearly interpolated at the mapped position
            # (all 4 neighbours on the same surface), projects back onto that position
            uv, visible = geometry.project_views(r, src, dst)
            x, y = np.nan_to_num(uv[..., 0]) - 0.5, np.nan_to_num(uv[..., 1]) - 0.5
            x0, y0 = np.clip(np.floor(x).astype(int), 0, size - 2), np.clip(np.floor(y).astype(int), 0, size - 2)
            _, z_dst = geometry.project(geometry.nocs_to_world(r["nocs"][src], r["nocs_to_object"][m],
                                                               r["rotations"][c_dst]), r["intrinsics"], r["extrinsics"])
            ok = visible & (x >= 0) & (y >= 0) & (x < size - 1) & (y < size - 1)
            nocs = np.zeros(uv.shape[:2] + (3,))
            for dy in (0, 1):
                for dx in (0, 1):
                    ok &= r["mask"][dst][y0 + dy, x0 + dx].astype(bool)
                    ok &= np.abs(r["depth"][dst][y0 + dy, x0 + dx] - z_dst) < 0.03
                    w = ((x - x0) if dx else (1 - (x - x0))) * ((y - y0) if dy else (1 - (y - y0)))
                    nocs += w[..., None] * r["nocs"][dst][y0 + dy, x0 + dx]
            back, _ = geometry.project(geometry.nocs_to_world(nocs, r["nocs_to_object"][m], r["rotations"][c_dst]),
                                       r["intrinsics"], r["extrinsics"])
            errors.append(np.linalg.norm(back - uv, axis=-1)[ok])
    return np.concatenate(errors)


def test_cycles_image_agrees_with_geometric_mask(full_run):
    """Cycles' anti-aliased alpha and the analytic hard mask come from one camera and mesh:
    same silhouette, same sub-pixel centroid (a half-pixel convention slip would move it by 0.5 px;
    the hard mask's aliasing alone moves it by up to ~0.1 px at 64x64)."""
    shifts = alpha_mask_shifts(full_run)
    print(f"alpha vs mask centroid shift: mean {np.mean(shifts):+.4f} px, max |.| {np.abs(shifts).max():.4f} px")
    assert np.abs(shifts).max() < 0.25 and abs(np.mean(shifts)) < 0.05
    assert (full_run / "preview.png").stat().st_size > 0


def alpha_mask_shifts(dataset_dir) -> list:
    """Centroid shifts (px, x and y per view) between Cycles' alpha and the analytic mask; asserts on the
    way that their silhouettes agree (IoU > 0.95) and that pairs stay within one split."""
    dataset = open_dataset(dataset_dir)
    ys, xs = np.mgrid[:64, :64]
    shifts = []
    for i in range(len(dataset)):
        r = dataset[i]
        for v in range(4):
            alpha, mask = r["rgba"][v, ..., 3] / 255.0, r["mask"][v].astype(float)
            iou = ((alpha > 0.5) & (mask > 0)).sum() / ((alpha > 0.5) | (mask > 0)).sum()
            assert iou > 0.95
            shifts += [(alpha * g).sum() / alpha.sum() - (mask * g).sum() / mask.sum() for g in (xs, ys)]
        assert len(set(r["model_id"])) == 2 and split_of_model(r["model_id"][0]) == split_of_model(r["model_id"][1])
    return shifts


BLENDER_CHECK = r"""
import json, sys, numpy as np
import bpy
from bpy_extras.object_utils import world_to_camera_view
from eopose.render import camera
from eopose.render import lighting
from eopose.render.blender_scene import Scene
from eopose.render.settings import RenderSettings
scene = Scene(RenderSettings(resolution=64, samples=4), 1)
view = camera.draw_camera(sys.argv[2], 11)
scene.apply(lighting.draw_lighting("random", 11), view)
model = scene.load(sys.argv[1], canonical_euler_deg=(0, 0, 90))
euler = (40.0, 70.0, 120.0)
scene.root.rotation_euler = tuple(np.deg2rad(euler))
bpy.context.view_layer.update()
obj = next(o for o in model.objects if o.type == "MESH")
me = obj.data
errs = []
K, E, R = view.intrinsics(64, 64), view.extrinsics(), camera.euler_xyz_matrix(euler)
# the model's object-frame vertices, in Blender's own transform chain and camera model
ours = model.verts[: len(me.vertices)] @ R.T
cam = ours @ E[:3, :3].T + E[:3, 3]
uv = (cam @ K.T)[:, :2] / cam[:, 2:]
for k, v in enumerate(me.vertices):
    p = world_to_camera_view(bpy.context.scene, scene.scene.camera, obj.matrix_world @ v.co)
    errs.append(max(abs(p.x * 64 - uv[k, 0]), abs((1 - p.y) * 64 - uv[k, 1])))
print(json.dumps({"max_err_px": max(errs), "radius": float(np.linalg.norm(model.verts, axis=1).max())}))
"""


@pytest.mark.parametrize("mode", ["fixed", "random"])
def test_camera_and_rotation_match_blender(mesh_dir, mode):
    """K, E and R_c (numpy) project vertices where Blender's own transforms and camera do, for the fixed
    camera and a random one (other distance, lens, elevation and a lens shift)."""
    path = sorted(mesh_dir.glob("*.glb"))[0]
    proc = subprocess.run([sys.executable, "-c", BLENDER_CHECK, str(path), mode], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["max_err_px"] < 1e-3
    assert abs(result["radius"] - 1.0) < 1e-6


def test_resume_after_kill_equals_uninterrupted_run(mesh_dir, full_run, tmp_path):
    out = tmp_path / "resumed"
    args = [sys.executable, "-m", "eopose.render.cli", "--source", "dir", "--mesh-dir", str(mesh_dir),
            "--num-quads", "8", "--out", str(out), "--workers", "1", *FAST]
    proc = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not shard_files(out) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # parent and its Blender worker, mid-run
    proc.wait()
    partial = shard_files(out)
    assert 1 <= len(partial) < 4 and not (out / "index.json").exists()
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert len(shard_files(out)) == 4 and not list(out.glob("*.tmp-*"))
    assert_same_datasets(out, full_run)


def test_partitions_union_is_the_full_run(mesh_dir, full_run, tmp_path):
    out = tmp_path / "parts"
    procs = [subprocess.Popen([sys.executable, "-m", "eopose.render.cli", "--source", "dir", "--mesh-dir",
                               str(mesh_dir), "--num-quads", "8", "--out", str(out), "--threads", "1",
                               "--shard-index", str(i), "--num-shards", "2", *FAST], stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    assert [p.name for p in shard_files(out)] == [p.name for p in shard_files(full_run)]
    index = json.loads((out / "index.json").read_text())
    assert len(index["shards"]) == 4
    assert_same_datasets(out, full_run)


def test_bad_models_are_recorded_and_replaced(mesh_dir, tmp_path, monkeypatch):
    import render_faults
    from eopose.render import worker

    folder = tmp_path / "meshes"
    folder.mkdir()
    good = sorted(mesh_dir.glob("*.glb"))[:2]
    for path in good:
        (folder / path.name).write_bytes(path.read_bytes())
    corrupt, empty = train_ids("bad", 2)
    (crash,), (hang,) = train_ids("crash", 1), train_ids("hang", 1)
    (folder / f"{corrupt}.glb").write_bytes(b"glTF\x02\x00\x00\x00" + os.urandom(200))
    (folder / f"{empty}.glb").write_bytes(b"")
    for name in (crash, hang):  # valid files; the test's worker dies / hangs on them (tests/render_faults.py)
        (folder / f"{name}.glb").write_bytes(good[0].read_bytes())
    monkeypatch.setattr(worker, "worker_main", render_faults.faulty_worker_main)
    out = tmp_path / "out"
    assert cli.main(["--source", "dir", "--mesh-dir", str(folder), "--num-quads", "6", "--out", str(out),
                     "--workers", "2", "--import-timeout", "5", *FAST]) == 0
    failures = read_failures(out)
    assert failures == {corrupt: "import_error", empty: "empty_file", crash: "crash", hang: "timeout"}
    dataset = open_dataset(out)
    assert len(dataset) == 6
    good_ids = {p.stem for p in good}
    for i in range(6):
        assert set(dataset[i]["model_id"]) == good_ids


def test_procedural_source(tmp_path):
    procedural = pytest.importorskip("eopose.render.procedural")
    if not hasattr(procedural, "glb_path"):
        pytest.skip("procedural asset library not landed yet")
    out = tmp_path / "procedural"
    proc = render_cli("--source", "procedural", "--num-models", 6, "--num-quads", 2, "--out", out,
                      "--cache-dir", tmp_path / "cache", *FAST)
    assert proc.returncode == 0, proc.stderr
    r = open_dataset(out)[0]
    assert r["source"].tolist() == ["procedural", "procedural"] and r["license"][0] == "cc0"
    assert all(m.startswith("procedural:vases:") for m in r["model_id"])
    assert r["mask"].sum() > 4 * 64 * 64 * 0.05


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def write_objaverse_cache(base, mesh_dir):
    """A local cache laid out like objaverse 0.1.7's (hf-objaverse-v1/...)."""
    root = base / "hf-objaverse-v1"
    uids = [f"{k:032x}" for k in range(1, 200) if split_of_model(f"{k:032x}") == "train"][:4]
    meshes = sorted(mesh_dir.glob("*.glb"))
    paths, metadata = {}, {}
    for k, uid in enumerate(uids):
        paths[uid] = f"glbs/000-000/{uid}.glb"
        metadata[uid] = {"uid": uid, "name": f"Vase {k}", "license": "by", "faceCount": 500,
                         "user": {"username": f"artist{k}"}, "uri": f"https://sketchfab.com/3d-models/{uid}"}
        if k < 3:
            (root / "glbs" / "000-000").mkdir(parents=True, exist_ok=True)
            (root / paths[uid]).write_bytes(meshes[k].read_bytes())
    metadata[uids[3]]["faceCount"] = 10**9  # absurd: skipped from metadata, never downloaded
    for name, data in [("object-paths.json.gz", paths), ("lvis-annotations.json.gz", {"vase": uids}),
                       ("metadata/000-000.json.gz", metadata)]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(root / name, "wt") as handle:
            json.dump(data, handle)
    return uids


def test_objaverse_offline_cache(mesh_dir, tmp_path, no_network, monkeypatch):
    uids = write_objaverse_cache(tmp_path / "objaverse", mesh_dir)
    import objaverse

    monkeypatch.setattr(objaverse, "_VERSIONED_PATH", objaverse._VERSIONED_PATH)  # restored after the test
    out = tmp_path / "out"
    # the 4th model is too big by its metadata, so load_objects is never asked for its (absent) GLB
    assert cli.main(["--source", "objaverse", "--objaverse-dir", str(tmp_path / "objaverse"),
                     "--num-quads", "2", "--out", str(out), *FAST]) == 0
    r = open_dataset(out)[0]
    assert r["source"].tolist() == ["objaverse"] * 2 and set(r["model_id"]) <= set(uids[:3])
    k = uids.index(r["model_id"][0])
    assert (r["license"][0], r["author"][0], r["name"][0]) == ("by", f"artist{k}", f"Vase {k}")
    assert r["uri"][0].endswith(uids[k])
    assert read_failures(out) == {uids[3]: "too_many_faces"}


def test_objaverse_without_network_fails_in_one_line(tmp_path, no_network, monkeypatch, capsys):
    import objaverse

    monkeypatch.setattr(objaverse, "_VERSIONED_PATH", objaverse._VERSIONED_PATH)
    code = cli.main(["--category", "vases", "--objaverse-dir", str(tmp_path / "empty"), "--source", "objaverse",
                     "--num-quads", "1", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--source procedural" in err and "--source dir" in err
