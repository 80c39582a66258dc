"""The categories' shared canonical frame across models (eopose.dataset.categories), checked on real renders: two
procedural models of a category (different seeds and styles) rendered by render-pairs in the same poses, and the
nearest rendered canonical coordinate (NOCS) from one model's pixels into the other's lands on the same part
(briefcase handle, shoe toe and heel, file-cabinet drawer fronts, vase rim and foot). Parts are named from each
model's own geometry: the generator's face regions (procedural.face_regions) and extents, in its own build frame
(glTF: +Y up, front +Z), so a model turned by its manifest keeps its part names and must fail the check."""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial import cKDTree

from eopose.dataset.shard_format import open_dataset
from eopose.render import procedural
from eopose.render.camera import euler_xyz_matrix

trimesh = pytest.importorskip("trimesh")
if importlib.util.find_spec("bpy") is None:  # found, not imported: bpy stays out of the test process
    pytest.skip("bpy (Blender as a Python module) is not installed", allow_module_level=True)

GLTF_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # (x, y, z) -> (x, -z, y)
POSE_PAIRS = ((0, 2), (1, 3))  # M1 and M2 in pose c1, and in pose c2
# two models of one split (render-pairs pairs within a split) and different styles
MODELS = {"shoes": (4, 2), "briefcases": (0, 2), "file_cabinets": (0, 4), "vases": (3, 2)}


class ModelParts:
    """Which generator part each rendered pixel of one model shows: faces named from the model's own geometry,
    found by the nearest surface sample to the pixel's object-frame point."""

    def __init__(self, category: str, seed: int, canonical_euler_deg=(0.0, 0.0, 0.0)):
        self.category, self.seed = category, seed
        mesh = procedural.generate(category, seed)
        self.regions = procedural.face_regions(category, seed)
        self.centroids = mesh.triangles_center  # build frame
        # the renderer's normalisation (render/blender_scene.py): glTF import, bounding-sphere centre and radius,
        # then the manifest's canonical rotation
        blender = mesh.vertices @ GLTF_TO_BLENDER.T
        centre, _ = trimesh.nsphere.minimum_nsphere(blender)
        radius = np.sqrt(((blender - centre) ** 2).sum(1).max())
        posed = trimesh.Trimesh((blender - centre) @ euler_xyz_matrix(canonical_euler_deg).T / radius, mesh.faces,
                                process=False)
        samples, self.sample_faces = trimesh.sample.sample_surface(posed, 60000, seed=0)
        self.tree = cKDTree(samples)

    def faces_of(self, object_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(face index, distance to the nearest surface sample) of object-frame points [N, 3]."""
        distance, nearest = self.tree.query(object_points)
        return self.sample_faces[nearest], distance

    def part(self, name: str) -> np.ndarray:
        """bool [F]: the faces of part `name`, from the model's own geometry."""
        x, y, z = self.centroids.T
        region = self.regions.astype(str)
        if name in ("toe", "heel"):  # the front / back fifth of a shoe's length
            length = z.max() - z.min()
            return z > z.max() - 0.2 * length if name == "toe" else z < z.min() + 0.2 * length
        if name in ("rim", "foot", "top_quarter"):  # the top / bottom tenth, the top quarter of a vase's height
            height = y.max() - y.min()
            return y < y.min() + 0.1 * height if name == "foot" else y > y.max() - {"rim": 0.1, "top_quarter": 0.25}[
                name] * height
        if name == "handle":  # above the body's top face (mounts and tube)
            return y > y[region == "top"].max() + 0.01
        if name == "drawer_fronts":
            return np.char.startswith(region, "drawer")
        if name == "front_face":  # on or proud of the carcass front: drawers, their handles and labels, the frame
            return z > z[region == "frame"].max() - 0.002
        raise ValueError(name)


# per category: (part of one model, the part of the other its pixels must land on). Canonical coordinates align the
# models' orientation, not their proportions: an urn's rim (top tenth) lands at 79-90% of a tall cylinder vase's
# height (5th-75th percentile), so a vase rim must land in the other's top quarter. Measured (pixels, fraction):
# shoe toe 4362 px 0.98, heel 1044 px 0.96; briefcase handle 743 px 0.83; file-cabinet drawer fronts 8868 px 0.86;
# vase rim 3338 px 1.0, foot 2715 px 0.98; the shoe turned by half a turn: toe 0.0, heel 0.0.
CHECKS = {"shoes": (("toe", "toe"), ("heel", "heel")), "briefcases": (("handle", "handle"),),
          "file_cabinets": (("drawer_fronts", "front_face"),), "vases": (("rim", "top_quarter"), ("foot", "foot"))}


def render_models(folder, category: str, seeds, canonical_euler_deg=None):
    """render-pairs (procedural, 2 quadruplets at 96 px) of exactly the two models `seeds`; `canonical_euler_deg`:
    per seed, the manifest's canonical rotation."""
    euler = canonical_euler_deg or {}
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({"category": category, "source": "procedural", "models": [
        {"model_id": f"procedural:{category}:{seed}", "canonical_euler_deg": list(euler.get(seed, (0, 0, 0)))}
        for seed in seeds]}))
    out = folder / "out"
    proc = subprocess.run([sys.executable, "-m", "eopose.render.cli", "--category", category, "--source", "procedural",
                           "--manifest", str(manifest), "--num-quads", "2", "--quads-per-shard", "2", "--resolution",
                           "96", "--samples", "1", "--workers", "1", "--threads", "1", "--cache-dir",
                           str(folder / "cache"), "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    return open_dataset(out)


def landing_fractions(data, parts: dict, checks) -> dict:
    """{(source part, target part): (pixels of the source part, fraction landing on the target part)} over both
    poses of every quadruplet and both directions (M1 -> M2, M2 -> M1)."""
    counts = {check: [0, 0] for check in checks}
    for index in range(len(data)):
        record = data.read(index, ("nocs", "mask", "nocs_to_object", "model_id"))
        models = [parts[int(model_id.rsplit(":", 1)[-1])] for model_id in record["model_id"]]
        for pose_views in POSE_PAIRS:
            faces, nocs = [], []
            for m, view in enumerate(pose_views):
                foreground = record["mask"][view] > 0
                canonical = record["nocs"][view][foreground].astype(np.float64)
                affine = record["nocs_to_object"][m].astype(np.float64)
                face, distance = models[m].faces_of(canonical @ affine[:3, :3].T + affine[:3, 3])
                assert np.median(distance) < 0.01  # the pixel's point lies on the model's surface
                faces.append(face)
                nocs.append(canonical)
            for source, target in ((0, 1), (1, 0)):
                _, nearest = cKDTree(nocs[target]).query(nocs[source])
                for check in checks:
                    on_source = models[source].part(check[0])[faces[source]]
                    landed = models[target].part(check[1])[faces[target][nearest[on_source]]]
                    counts[check][0] += int(on_source.sum())
                    counts[check][1] += int(landed.sum())
    return {check: (pixels, landed / max(pixels, 1)) for check, (pixels, landed) in counts.items()}


@pytest.mark.parametrize("category", sorted(MODELS))
def test_two_models_of_a_category_match_part_to_part(category, tmp_path):
    seeds = MODELS[category]
    data = render_models(tmp_path, category, seeds)
    fractions = landing_fractions(data, {seed: ModelParts(category, seed) for seed in seeds}, CHECKS[category])
    for check, (pixels, fraction) in fractions.items():
        assert pixels >= 20, (check, pixels)
        assert fraction >= 0.75, (check, fraction)


def test_a_shoe_turned_by_half_a_turn_fails_the_check(tmp_path):
    first, second = MODELS["shoes"]
    turned = {second: (0.0, 0.0, 180.0)}  # its manifest turns it: toe at the back
    data = render_models(tmp_path, "shoes", (first, second), turned)
    parts = {first: ModelParts("shoes", first), second: ModelParts("shoes", second, turned[second])}
    fractions = landing_fractions(data, parts, CHECKS["shoes"])
    for check, (pixels, fraction) in fractions.items():
        assert pixels >= 20 and fraction < 0.2, (check, fraction)
