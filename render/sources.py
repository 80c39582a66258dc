"""Model sources for `render-pairs`: a folder of meshes (`dir`), the procedural asset library
(`procedural`) and Objaverse (`objaverse`, in `objaverse_source`), all yielding `ModelRecord`s
with provenance (licence, author, name, URI) and an optional canonical rotation.

Manifest (`--manifest FILE`, JSON): selects and orients models of one category::

    {"category": "vases", "source": "objaverse",
     "models": [{"model_id": "<objaverse uid | file stem | procedural seed>",
                 "canonical_euler_deg": [0, 0, 90]}, ...]}

`canonical_euler_deg` (XYZ, degrees, default 0) turns the normalised model into the
category's canonical frame (eopose.dataset.categories) before the random rotations. An optional top-level
`"symmetry": "continuous" | "none" | n` declares the models' shape symmetry about the up axis; without it the
category's declared one applies (run_symmetry).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from eopose.dataset.categories import Symmetry, symmetry_of

MESH_EXTENSIONS = (".glb", ".gltf", ".obj", ".ply", ".stl")
# The paper's model counts per category (EOPose 3.4.1): the default procedural library size.
PAPER_MODEL_COUNTS = {"shoes": 8, "briefcases": 12, "vases": 29, "file_cabinets": 11}


class SourceError(RuntimeError):
    """A source cannot provide models (message is one line, says what to do)."""


class ModelError(Exception):
    """A model that cannot be rendered; `reason` is a short machine-readable tag."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ModelRecord:
    model_id: str
    source: str
    category: str
    path: str = ""  # mesh file; empty for procedural models (generated in the worker)
    seed: int = -1  # procedural seed
    license: str = "unknown"
    author: str = ""
    name: str = ""
    uri: str = ""
    canonical_euler_deg: tuple = (0.0, 0.0, 0.0)
    face_count: int = -1  # when the source knows it up front (Objaverse metadata)


def read_manifest(path) -> dict:
    """Parse a manifest: {'category', 'source', 'symmetry' (a Symmetry, or None when the manifest declares none),
    'models': {model_id: canonical_euler_deg}}."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise SourceError(f"cannot read manifest {path}: {error}") from None
    entries = data.get("models", []) if isinstance(data, dict) else data
    models = {}
    for entry in entries:
        entry = {"model_id": entry} if isinstance(entry, str) else entry
        models[str(entry["model_id"])] = tuple(float(a) for a in entry.get("canonical_euler_deg", (0, 0, 0)))
    header = data if isinstance(data, dict) else {}
    return {"category": header.get("category"), "source": header.get("source"),
            "symmetry": _manifest_symmetry(path, header["symmetry"]) if "symmetry" in header else None,
            "models": models}


def _manifest_symmetry(path, value) -> Symmetry:
    if isinstance(value, dict):
        raise SourceError(f"manifest {path}: symmetry {value!r}: give its order alone: \"continuous\", \"none\" "
                          f"or a positive integer n (n turns about the up axis leave the shape unchanged)")
    try:
        return Symmetry.from_json(value)
    except ValueError:
        raise SourceError(f"manifest {path}: symmetry {value!r}: use \"continuous\", \"none\" or a positive "
                          f"integer n (n turns about the up axis leave the shape unchanged)") from None


def run_symmetry(category: str, manifest: dict | None) -> Symmetry:
    """The shape symmetry a run records (index.json `settings.symmetry`): its manifest's, else the category's
    declared one (eopose.dataset.categories)."""
    declared = manifest.get("symmetry") if manifest else None
    return declared if declared is not None else symmetry_of(category)


def dir_models(category: str, mesh_dir, manifest=None) -> list[ModelRecord]:
    """Every mesh file of `mesh_dir` (one category), id = file stem."""
    folder = Path(mesh_dir)
    if not folder.is_dir():
        raise SourceError(f"--mesh-dir {mesh_dir} is not a folder of meshes ({', '.join(MESH_EXTENSIONS)})")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in MESH_EXTENSIONS and p.is_file())
    records = []
    for path in files:
        if manifest and path.stem not in manifest["models"]:
            continue
        records.append(ModelRecord(
            model_id=path.stem, source="dir", category=category, path=str(path.resolve()),
            name=path.stem, uri=path.resolve().as_uri(),
            canonical_euler_deg=manifest["models"][path.stem] if manifest else (0.0, 0.0, 0.0)))
    return records


def procedural_models(category: str, count: int | None = None, manifest=None, styles=None) -> list[ModelRecord]:
    """Procedural models 0..count-1 (default: the paper's count for the category); with `styles`, the first
    `count` seeds whose style is one of them (so a style can be held out of training and rendered alone)."""
    from eopose.render import procedural
    from eopose.render.procedural.library import style_seeds, styles as known_styles

    if category not in procedural.CATEGORIES:
        raise SourceError(f"no procedural generator for {category!r}; categories: {', '.join(procedural.CATEGORIES)}")
    count = count or PAPER_MODEL_COUNTS[category]
    if manifest:
        seeds = [int(m.rsplit(":", 1)[-1]) for m in manifest["models"]]
    elif styles:
        unknown = sorted(set(styles) - set(known_styles(category)))
        if unknown:
            raise SourceError(f"--styles {','.join(unknown)}: no such {category} style; choose from "
                              f"{','.join(known_styles(category))}")
        seeds = style_seeds(category, styles, count)
    else:
        seeds = range(count)
    records = []
    for seed in seeds:
        info = procedural.model_info(category, seed)
        euler = (0.0, 0.0, 0.0)
        if manifest:
            euler = manifest["models"].get(info["model_id"], manifest["models"].get(str(seed), euler))
        records.append(ModelRecord(category=category, seed=seed, canonical_euler_deg=euler, **info))
    return records


def resolve_path(record: ModelRecord, cache_dir=None) -> str:
    """The mesh file of a record (procedural GLBs are generated into their cache on demand)."""
    if record.source == "procedural":
        from eopose.render import procedural

        return str(procedural.glb_path(record.category, record.seed, cache_dir))
    return record.path
