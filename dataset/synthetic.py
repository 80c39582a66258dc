"""Analytic test scenes: textured ellipsoids ray-cast in numpy and written through the shard format.

Not a stand-in for the Blender renderer: these shards carry no rendered meshes. They exist so the
format, loader, geometry and keypoint stages can be tested and benchmarked quickly and exactly
(every pass is computed in closed form, so NOCS, depth and mask are exact at pixel centres) on
machines without Blender. Camera and frames follow docs/dataset-format.md.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from .geometry import pixel_centres
from .shard_format import NOCS_TO_OBJECT, shard_name, update_index, write_shard
from .splits import split_of_model

CAMERA_DISTANCE = 4.0  # camera on -Y looking at the origin, like the renderer's
FOCAL_FACTOR = 1.7  # focal length in units of image width: a unit sphere at distance 4 fills ~85% of the frame


def camera(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(K, world->camera E) of the fixed camera: world +X right, -Z down, +Y forward in the image."""
    focal = FOCAL_FACTOR * width
    intrinsics = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=np.float64)
    extrinsics = np.eye(4)
    extrinsics[:3, :3] = [[1, 0, 0], [0, 0, -1], [0, 1, 0]]
    extrinsics[:3, 3] = -extrinsics[:3, :3] @ np.array([0.0, -CAMERA_DISTANCE, 0.0])
    return intrinsics, extrinsics


def _texture(nocs: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Asymmetric pattern in NOCS: stripes along z, a checker band and one off-centre disc ("logo")."""
    x, y, z = nocs[..., 0], nocs[..., 1], nocs[..., 2]
    stripes = (np.floor(z * 8) % 2).astype(int)
    checker = ((np.floor(x * 6) + np.floor(y * 6)) % 2).astype(int) * (np.abs(z - 0.5) < 0.12)
    logo = ((x - 0.7) ** 2 + (z - 0.65) ** 2 < 0.02) & (y < 0.5)
    index = np.where(logo, 3, np.where(checker > 0, 2, stripes))
    return palette[index]


def render_ellipsoid(axes, rotation: np.ndarray, palette: np.ndarray, height: int, width: int) -> dict:
    """Exact passes of an ellipsoid with semi-axes `axes` (<= 1) posed by `rotation` (object -> world)."""
    intrinsics, extrinsics = camera(height, width)
    centre = -extrinsics[:3, :3].T @ extrinsics[:3, 3]
    pixels = pixel_centres(height, width)
    rays_cam = np.concatenate([(pixels - intrinsics[:2, 2]) / intrinsics[0, 0], np.ones((height, width, 1))], -1)
    rays_world = rays_cam @ extrinsics[:3, :3]  # camera -> world is the transpose
    scale = 1.0 / np.asarray(axes, dtype=np.float64)
    origin = (rotation.T @ centre) * scale
    direction = (rays_world @ rotation) * scale
    a = np.sum(direction ** 2, -1)
    b = 2 * direction @ origin
    c = origin @ origin - 1
    disc = b ** 2 - 4 * a * c
    hit = disc > 0
    t = np.where(hit, (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a), 0.0)
    point_obj = (origin + t[..., None] * direction) / scale
    nocs = np.where(hit[..., None], point_obj / 2 + 0.5, 0.0)
    normal_obj = point_obj * scale ** 2
    normal_world = normal_obj @ rotation.T
    normal_world /= np.linalg.norm(normal_world, axis=-1, keepdims=True) + 1e-12
    light = np.array([-0.4, -0.8, 0.45]) / np.linalg.norm([-0.4, -0.8, 0.45])
    shade = 0.35 + 0.65 * np.clip(normal_world @ light, 0, 1)
    colour = _texture(nocs, palette) * shade[..., None]
    rgba = np.concatenate([colour, np.full((height, width, 1), 255.0)], -1) * hit[..., None]
    depth = np.where(hit, t, 0.0)  # rays have camera z = 1, so the ray parameter is the camera depth
    normals = np.where(hit[..., None], normal_world @ extrinsics[:3, :3].T, 0.0)  # camera frame
    return {"rgba": np.round(rgba).astype(np.uint8), "mask": hit.astype(np.uint8),
            "depth": depth.astype(np.float16), "nocs": nocs.astype(np.float16), "normals": normals.astype(np.float16),
            "intrinsics": intrinsics, "extrinsics": extrinsics}


def _model_id(category: str, seed: int, model_seed: int) -> str:
    return f"synthetic:{category}:{seed}:{model_seed}"


def _model(rng: np.random.Generator):
    axes = rng.uniform(0.45, 0.95, size=3)
    palette = rng.uniform(30, 240, size=(4, 3))
    return axes, palette


def make_quadruplet_rows(count: int, height: int, width: int, seed: int = 0, category: str = "ellipsoids",
                         first_quad: int = 0, angle_range=(30.0, 180.0)) -> dict:
    """`count` quadruplet rows of two distinct ellipsoid models under two shared random rotations."""
    rows = {name: [] for name in ("rgba", "mask", "depth", "nocs", "normals", "rotations", "euler_deg",
                                  "nocs_to_object", "intrinsics", "extrinsics", "quad_index", "seed", "category", "model_id",
                                  "source", "license", "author", "name", "uri", "untextured", "render_params")}
    for quad in range(first_quad, first_quad + count):
        rng = np.random.default_rng([seed, quad])
        first = int(rng.integers(10_000))
        second = first
        while second == first or split_of_model(_model_id(category, seed, second)) != \
                split_of_model(_model_id(category, seed, first)):
            second = int(rng.integers(10_000))  # pair within one split, as the renderer does
        model_seeds = (first, second)
        models = [_model(np.random.default_rng([seed, int(s)])) for s in model_seeds]
        euler = rng.uniform(*angle_range, size=(2, 3))
        rotations = Rotation.from_euler("xyz", euler, degrees=True).as_matrix()
        views = [render_ellipsoid(models[m][0], rotations[c], models[m][1], height, width) for m in (0, 1) for c in (0, 1)]
        for name in ("rgba", "mask", "depth", "nocs", "normals"):
            rows[name].append(np.stack([view[name] for view in views]))
        rows["untextured"].append([False, False])
        rows["render_params"].append(['{"renderer": "eopose.dataset.synthetic"}'] * 4)
        rows["rotations"].append(rotations)
        rows["euler_deg"].append(euler)
        rows["nocs_to_object"].append(np.stack([NOCS_TO_OBJECT] * 2))
        rows["intrinsics"].append(views[0]["intrinsics"])
        rows["extrinsics"].append(views[0]["extrinsics"])
        rows["quad_index"].append(quad)
        rows["seed"].append(seed)
        rows["category"].append(category)
        ids = [_model_id(category, seed, s) for s in model_seeds]
        rows["model_id"].append(ids)
        rows["source"].append(["synthetic", "synthetic"])
        rows["license"].append(["cc0", "cc0"])
        rows["author"].append(["eopose synthetic ellipsoids", "eopose synthetic ellipsoids"])
        rows["name"].append([f"ellipsoid {int(s)}" for s in model_seeds])
        rows["uri"].append([f"eopose://synthetic/{i}" for i in ids])
    return {name: np.stack(value) if name not in ("category", "model_id", "source", "license", "author", "name",
                                                  "uri", "render_params") else value
            for name, value in rows.items()}


def write_synthetic_dataset(out_dir, quads: int, resolution: int = 64, quads_per_shard: int = 8, seed: int = 0,
                            category: str = "ellipsoids") -> Path:
    """A complete dataset folder of analytic ellipsoid quadruplets (see the module docstring)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = {"generator": "eopose.dataset.synthetic", "seed": seed, "resolution": resolution}
    for shard, first in enumerate(range(0, quads, quads_per_shard)):
        rows = make_quadruplet_rows(min(quads_per_shard, quads - first), resolution, resolution, seed, category,
                                    first_quad=first)
        write_shard(out_dir / shard_name(shard), rows, settings)
    update_index(out_dir, settings)
    return out_dir
