"""Render plan and analytic passes, without Blender: seeds, partitions, split-respecting pairs,
and the pixel-centre rasteriser against brute-force ray casting."""
import numpy as np
import pytest

from eopose.dataset import geometry, launch
from eopose.dataset.splits import split_of_model
from eopose.render import camera, passes, plan


def test_partitions_are_disjoint_and_complete():
    for num_quads, per_shard, parts in [(100, 16, 3), (16, 16, 2), (7, 2, 5), (33, 4, 1)]:
        shards = [launch.partition_shards(plan.num_shards(num_quads, per_shard), i, parts) for i in range(parts)]
        flat = [j for s in shards for j in s]
        assert sorted(flat) == list(range(plan.num_shards(num_quads, per_shard)))
        quads = [q for j in flat for q in plan.quads_of_shard(j, num_quads, per_shard)]
        assert sorted(quads) == list(range(num_quads))
    with pytest.raises(ValueError):
        launch.partition_shards(5, 3, 3)


def test_seeds_and_rotations_are_deterministic_and_in_range():
    seeds = [plan.quad_seed(7, q) for q in range(50)]
    assert seeds == [plan.quad_seed(7, q) for q in range(50)]
    assert len(set(seeds)) == 50 and all(0 <= s < 2**63 for s in seeds)
    assert plan.quad_seed(8, 0) != seeds[0]
    euler, rots = plan.rotations(seeds[0], (30, 180))
    assert euler.shape == (2, 3) and ((euler >= 30) & (euler <= 180)).all()
    for e, r in zip(euler, rots):
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
        # Blender 'XYZ': x applied first, R = Rz Ry Rx
        rx, ry, rz = (camera.euler_xyz_matrix(v) for v in np.diag(e))
        np.testing.assert_allclose(r, rz @ ry @ rx, atol=1e-12)


def test_pairs_stay_within_one_split_and_replacement_is_local():
    ids = [f"model-{i}" for i in range(30)]
    groups = plan.split_groups(ids)
    pairs = [plan.choose_pair(plan.quad_seed(0, q), ids, groups, set()) for q in range(200)]
    for m1, m2 in pairs:
        assert m1 != m2 and split_of_model(ids[m1]) == split_of_model(ids[m2])
    bad = {pairs[0][0]}
    replaced = [plan.choose_pair(plan.quad_seed(0, q), ids, groups, bad) for q in range(200)]
    for before, after in zip(pairs, replaced):
        assert not bad & set(after)
        if not bad & set(before):
            assert before == after  # quads that never used the bad model keep their pair
    with pytest.raises(plan.NoPairError):
        plan.choose_pair(0, ids[:1], plan.split_groups(ids[:1]), set())


def _ray_cast(verts_cam, tris, K, i, j):
    """Nearest hit (t, triangle) of the ray through pixel centre (j+.5, i+.5), Moller-Trumbore."""
    d = np.linalg.solve(K, [j + 0.5, i + 0.5, 1.0])
    a, b, c = verts_cam[tris[:, 0]], verts_cam[tris[:, 1]], verts_cam[tris[:, 2]]
    e1, e2 = b - a, c - a
    p = np.cross(d, e2)
    det = (e1 * p).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (-a * p).sum(1) / det
        q = np.cross(-a, e1)
        v = (q @ d) / det
        t = (e2 * q).sum(1) / det
    hit = (np.abs(det) > 1e-12) & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
    if not hit.any():
        return None
    k = np.nonzero(hit)[0][np.argmin(t[hit])]
    return t[k] * d[2], k


@pytest.mark.parametrize("view", [camera.FIXED, camera.draw_camera("random", 5)], ids=["fixed", "random"])
def test_rasteriser_matches_ray_casting(view):
    """Mask, depth, NOCS and normals at pixel centres equal brute-force ray casting, for the fixed
    camera and a random one (other distance, focal length, elevation, shifted principal point)."""
    rng = np.random.default_rng(0)
    import trimesh

    mesh = trimesh.creation.icosphere(subdivisions=2)
    box = trimesh.creation.box(extents=(0.4, 1.2, 0.4))
    box.apply_translation((0.5, 0.1, 0.2))
    mesh = trimesh.util.concatenate([mesh, box])
    verts = mesh.vertices / np.linalg.norm(mesh.vertices, axis=1).max()
    size = 32
    K, E = view.intrinsics(size, size), view.extrinsics()
    rot = camera.euler_xyz_matrix((40, 70, 120))
    mask, depth, nocs, normals = passes.geometry_passes(verts, mesh.faces, rot, K, E, size, size)
    cam = verts @ (E[:3, :3] @ rot).T + E[:3, 3]
    for i, j in zip(rng.integers(0, size, 150), rng.integers(0, size, 150)):
        hit = _ray_cast(cam, mesh.faces, K, i, j)
        assert bool(mask[i, j]) == (hit is not None)
        if hit is not None:
            assert abs(depth[i, j] - hit[0]) < 1e-5
            point = rot.T @ np.linalg.solve(E[:3, :3], np.linalg.solve(K, [j + .5, i + .5, 1]) * hit[0] - E[:3, 3])
            np.testing.assert_allclose(nocs[i, j], passes.object_to_nocs(point), atol=1e-5)
            a, b, c = cam[mesh.faces[hit[1]]]
            n = np.cross(b - a, c - a)
            n = n / np.linalg.norm(n) * -np.sign(n @ np.linalg.solve(K, [j + .5, i + .5, 1]))  # towards the camera
            np.testing.assert_allclose(normals[i, j], n, atol=1e-5)
    norm = np.linalg.norm(normals, axis=-1)
    assert np.abs(norm[mask > 0] - 1).max() < 1e-5 and (normals[mask == 0] == 0).all()
    assert mask.sum() > size * size / 10 and (nocs[mask == 0] == 0).all() and (depth[mask == 0] == 0).all()


def test_random_cameras_keep_the_unit_sphere_in_frame():
    """Every `--camera random` draw sees the whole bounding sphere (any rotation stays in frame), and
    the draws vary within the documented ranges."""
    size, draws = 64, [camera.draw_camera("random", plan.quad_seed(0, q)) for q in range(300)]
    directions = np.random.default_rng(1).normal(size=(4000, 3))
    sphere = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    for view in draws:
        uv, _ = geometry.project(sphere, view.intrinsics(size, size), view.extrinsics())
        assert uv.min() >= 0 and uv.max() <= size
        assert camera.RANDOM_DISTANCE[0] <= view.distance <= camera.RANDOM_DISTANCE[1]
        assert camera.RANDOM_ELEVATION_DEG[0] <= view.elevation_deg <= camera.RANDOM_ELEVATION_DEG[1]
    assert np.ptp([v.distance for v in draws]) > 2 and np.ptp([v.shift_x for v in draws]) > 0.1
    assert camera.draw_camera("fixed", 123) == camera.FIXED
    assert camera.draw_camera("random", 7) == camera.draw_camera("random", 7) != camera.draw_camera("random", 8)


def test_manifest_selects_and_orients_dir_models(tmp_path):
    from eopose.render.sources import dir_models, read_manifest

    for name in ("a.glb", "b.obj", "c.ply", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "m.json").write_text('{"category": "vases", "source": "dir", "models": '
                                     '[{"model_id": "a", "canonical_euler_deg": [90, 0, 0]}, "c"]}')
    manifest = read_manifest(tmp_path / "m.json")
    assert manifest["source"] == "dir" and manifest["category"] == "vases"
    assert [m.model_id for m in dir_models("vases", tmp_path)] == ["a", "b", "c"]
    records = dir_models("vases", tmp_path, manifest)
    assert [(m.model_id, m.canonical_euler_deg) for m in records] == [("a", (90.0, 0.0, 0.0)), ("c", (0.0, 0.0, 0.0))]
    assert records[0].uri.startswith("file://") and records[0].source == "dir"


def test_light_rigs_are_seeded_and_in_range():
    from eopose.render import lighting

    assert lighting.draw_lighting("fixed", 3) == lighting.FIXED
    assert [light.strength for light in lighting.FIXED.lights] == [3.0, 1.2, 1.5]  # the rig of format v1
    np.testing.assert_allclose(lighting.kelvin_to_linear_rgb(6500.0), (1.0, 1.0, 1.0))
    warm, cool = lighting.kelvin_to_linear_rgb(3000.0), lighting.kelvin_to_linear_rgb(9000.0)
    assert warm[0] == 1.0 and warm[2] < 0.5 and cool[2] == 1.0 and cool[0] < 1.0
    for mode in ("studio", "random"):
        rigs = [lighting.draw_lighting(mode, plan.quad_seed(0, q)) for q in range(100)]
        assert rigs[0] == lighting.draw_lighting(mode, plan.quad_seed(0, 0)) != rigs[1]
        for rig in rigs:
            assert [light.name for light in rig.lights] == ["key", "fill", "rim"] and rig.hdri == ""
            for light in rig.lights:
                assert abs(np.linalg.norm(light.direction) - 1) < 1e-9 and light.strength >= 0
        if mode == "studio":
            key, fill, _ = zip(*[rig.lights for rig in rigs])
            assert all(f.strength < k.strength for k, f in zip(key, fill))  # the fill is a fraction of the key
            assert all(k.direction[0] < 0 and k.direction[1] < 0 and k.direction[2] > 0 for k in key)  # front-left, above
    picked = {lighting.draw_lighting("random", q, ["a.hdr", "b.exr"]).hdri for q in range(20)}
    assert picked == {"a.hdr", "b.exr"}
