"""Public API of the procedural asset library: seeded generation, GLB cache, model records.

``(category, seed)`` fully determines a model: the random stream is seeded from both, the
category's parameter table is sampled first, the geometry and texture after, so the mesh, the
texture and the exported GLB bytes are identical in every process.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import zlib
from pathlib import Path

import numpy as np
import trimesh

from . import briefcases, file_cabinets, shoes, vases
from .mesh_ops import assemble
from .params import describe, sample_model

# Bump whenever any generator's output changes: it is part of every cache file name.
GENERATOR_VERSION = 1
GENERATORS = {"vases": vases, "briefcases": briefcases, "file_cabinets": file_cabinets, "shoes": shoes}
CATEGORIES = tuple(GENERATORS)
# Seeds from here on draw a category's added styles (PARAMETERS["added_styles"]: styles added after generator
# version 1, e.g. the `freeform` vases), so that adding a style changes no model below it.
ADDED_STYLE_SEEDS = 1_000_000
SINGULAR = {"vases": "vase", "briefcases": "briefcase", "file_cabinets": "file cabinet", "shoes": "shoe"}


def _check(category: str, seed: int) -> None:
    if category not in GENERATORS:
        raise ValueError(f"unknown procedural category {category!r}; valid: {', '.join(CATEGORIES)}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _rng(category: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(category.encode()), GENERATOR_VERSION, int(seed)])


def _sample(category: str, seed: int, rng: np.random.Generator) -> dict:
    table = GENERATORS[category].PARAMETERS
    return sample_model(table, rng, added=seed >= ADDED_STYLE_SEEDS and "added_styles" in table)


def parameters(category: str, seed: int) -> dict:
    """The sampled parameters of a model (style first), cheap: no geometry is built."""
    _check(category, seed)
    return _sample(category, seed, _rng(category, seed))


def styles(category: str) -> tuple:
    """The style names of a category: its PARAMETERS["styles"], then its added styles."""
    table = GENERATORS[category].PARAMETERS
    return (*table["styles"], *table.get("added_styles", ()))


def style_seeds(category: str, wanted, count: int) -> list[int]:
    """The first `count` seeds whose style is in `wanted`: original styles from seed 0 on, added styles from
    ADDED_STYLE_SEEDS on, the two ranges taken in turns when both kinds are wanted."""
    added = set(GENERATORS[category].PARAMETERS.get("added_styles", ()))
    starts = ([0] if set(wanted) - added else []) + ([ADDED_STYLE_SEEDS] if set(wanted) & added else [])
    seeds = []
    for step in itertools.count():
        for start in starts:
            if len(seeds) < count and parameters(category, start + step)["style"] in wanted:
                seeds.append(start + step)
        if len(seeds) >= count:
            return seeds


def _build(category: str, seed: int) -> tuple[list, object]:
    """(parts, atlas) of ``(category, seed)``: the generator's named parts (mesh_ops.Part) and texture atlas."""
    _check(category, seed)
    rng = _rng(category, seed)
    return GENERATORS[category].build(_sample(category, seed, rng), rng)


def face_regions(category: str, seed: int) -> np.ndarray:
    """[F] the texture region of each face of ``generate(category, seed)``, in face order: the generator's name for
    the part a face belongs to (e.g. a file cabinet's ``drawer0``, a briefcase's ``top``)."""
    parts, _ = _build(category, seed)
    return np.concatenate([np.full(len(part.faces), part.region, dtype=object) for part in parts])


def generate(category: str, seed: int) -> trimesh.Trimesh:
    """The textured single mesh of ``(category, seed)`` in the category's canonical frame,
    standing on ``y = 0`` with its bounding box centred in x and z."""
    mesh = assemble(*_build(category, seed))
    low, high = mesh.bounds
    mesh.apply_translation([-(low[0] + high[0]) / 2, -low[1], -(low[2] + high[2]) / 2])
    return mesh


def resolve_cache_dir(path=None) -> Path:
    """``path``, else ``$EOPOSE_CACHE/procedural``, else ``~/.cache/eopose/procedural``."""
    if path is not None:
        return Path(path)
    if os.environ.get("EOPOSE_CACHE"):
        return Path(os.environ["EOPOSE_CACHE"]) / "procedural"
    return Path.home() / ".cache" / "eopose" / "procedural"


def glb_path(category: str, seed: int, cache_dir=None) -> Path:
    """Path of the model's GLB in the cache, generated (atomically) if missing."""
    _check(category, seed)
    folder = resolve_cache_dir(cache_dir)
    path = folder / f"{category}-{int(seed):08d}-v{GENERATOR_VERSION}.glb"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        data = generate(category, seed).export(file_type="glb")
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


def model_info(category: str, seed: int) -> dict:
    """Provenance record of a model, as stored in the shards' per-model string fields."""
    style = parameters(category, seed)["style"]
    return {
        "model_id": f"procedural:{category}:{int(seed)}",
        "source": "procedural",
        "license": "cc0",
        "author": "eopose procedural generator",
        "name": f"{style} {SINGULAR[category]} #{int(seed)}",
        "uri": f"eopose://procedural/{category}/{int(seed)}",
    }


def manifest() -> dict:
    """The content of ``manifests/procedural.json``, derived from the parameter tables."""
    return {
        "source": "procedural",
        "generator_version": GENERATOR_VERSION,
        "license": "cc0",
        "frame": "glTF/trimesh: +Y up, front faces +Z; Blender/world: +Z up, front faces -Y",
        "categories": {name: describe(module.PARAMETERS) for name, module in GENERATORS.items()},
    }


def write_manifest(path) -> None:
    """Regenerate the manifest file (run after changing a parameter table), one parameter a line."""
    text = json.dumps(manifest(), indent=1)
    for container in (r"\[[^\[\]{}]*\]", r"\{[^\[\]{}]*(?:\[[^\[\]{}\n]*\])?[^\[\]{}]*\}"):
        text = re.sub(container, lambda match: " ".join(match.group(0).split()), text)
    Path(path).write_text(text + "\n")

