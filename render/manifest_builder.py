"""`eopose-manifest`: select and orient the Objaverse models of one category into a manifest for render-pairs.

    eopose-manifest --category vases [--licenses by,by-sa,cc0] [--max-faces N] [--max-parts N] [--count N]
                    [--recipe manifests/objaverse-recipe.json] [--objaverse-dir DIR] --out manifests/vases.json

Steps (docs/manifests.md): LVIS category uids (names from the recipe, checked against the annotations);
metadata filter before any download (licence, face count, downloadable); download through
`objaverse_source.objaverse_models` (the renderer's loader: local cache first); per file checks (imports
with trimesh, connected parts, sane size); canonical rotation from `up_axis`; a category-level check that
the upright shapes agree. Objaverse access goes through the `objaverse` package only.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
from pathlib import Path

import numpy as np
from tqdm import tqdm

from eopose.dataset.publish.licenses import RULES, normalise
from eopose.render.objaverse_source import OFFLINE_HINT, configure, objaverse_models
from eopose.render.sources import SourceError
from eopose.render.up_axis import estimate_orientation, load_mesh

RECIPE = Path(__file__).resolve().parents[1] / "manifests" / "objaverse-recipe.json"
FORMAT, VERSION = "eopose-manifest", 1
CANONICAL_FRAME = ("+Z up, front facing -Y, in Blender's frame after its glTF importer (+Y up -> +Z up); "
                   "canonical_rotation maps that import frame to the canonical one (docs/manifests.md)")
DEFAULT_LICENSES = sorted(slug for slug, rule in RULES.items() if rule.redistributable)  # publish-dataset's policy
MIN_ASPECT = 0.02  # smallest / largest bounding-box extent: below this the model is a card or a plane
CONSISTENT_FACTOR = 2.0  # upright height/width within this factor of the category median
BATCH = 16  # models downloaded at a time


def load_recipe(path, category: str) -> dict:
    """The category's settings (lvis, count, max_faces, authored_ratio) merged with the recipe defaults."""
    try:
        recipe = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise SourceError(f"{path}: cannot read the recipe ({error}); pass --recipe FILE") from None
    if category not in recipe.get("categories", {}):
        raise SourceError(f"{path}: no category {category!r} (has {', '.join(recipe.get('categories', {}))}); "
                          f"add it to the recipe")
    return {"licenses": recipe.get("licenses", DEFAULT_LICENSES), "max_parts": recipe.get("max_parts", 8),
            "count": None, "max_faces": None, "authored_ratio": 0.5, **recipe["categories"][category]}


def _unreachable(objaverse, error) -> SourceError:
    return SourceError(f"Objaverse is unreachable ({getattr(error, 'reason', error)}) and its metadata is not "
                       f"cached under {objaverse._VERSIONED_PATH}; manifests need Objaverse: run where "
                       f"huggingface.co is reachable ({OFFLINE_HINT} to render without one)")


def candidates(objaverse, lvis_names, licenses, max_faces) -> tuple[list, list, dict, list]:
    """(uids passing the metadata filter, rejected [{model_id, reason}], metadata, LVIS names absent)."""
    try:
        lvis = objaverse.load_lvis_annotations()
        absent = [name for name in lvis_names if name not in lvis]
        uids = sorted({uid for name in lvis_names for uid in lvis.get(name, [])})
        known = set(objaverse._load_object_paths())
        metadata = objaverse.load_annotations([uid for uid in uids if uid in known])
    except (urllib.error.URLError, OSError) as error:
        raise _unreachable(objaverse, error) from None
    if not uids:
        raise SourceError(f"{objaverse._VERSIONED_PATH}/lvis-annotations.json.gz: no models under LVIS names "
                          f"{list(lvis_names)}; fix the names in the recipe")
    allowed = {normalise(name) for name in licenses}
    kept, rejected = [], []
    for uid in uids:
        meta = metadata.get(uid)
        faces = int((meta or {}).get("faceCount") or 0)
        reason = ("no metadata / not in object-paths" if meta is None
                  else f"licence {meta.get('license')!r} not in {sorted(allowed)}"
                  if normalise(meta.get("license", "")) not in allowed
                  else "not downloadable" if meta.get("isDownloadable") is False
                  else f"{faces} faces > {max_faces}" if max_faces and faces > max_faces else None)
        (rejected.append({"model_id": uid, "reason": reason}) if reason else kept.append(uid))
    return kept, rejected, metadata, absent


def inspect_model(path: str, max_faces, max_parts: int, authored_ratio: float) -> dict:
    """Checks and canonical rotation of one downloaded file; raises ValueError(reason) when it fails."""
    try:
        mesh = load_mesh(path)
    except Exception as error:  # trimesh raises many types on broken files; the reason is recorded
        raise ValueError(f"does not import: {type(error).__name__}: {str(error).splitlines()[0][:200]}") from None
    if len(mesh.faces) == 0 or not np.isfinite(mesh.vertices).all():
        raise ValueError("no faces or non-finite vertices")
    if max_faces and len(mesh.faces) > max_faces:
        raise ValueError(f"{len(mesh.faces)} faces > {max_faces}")
    welded = mesh.copy()
    welded.merge_vertices(merge_tex=True, merge_norm=True)  # UV / normal seams split vertices, not parts
    parts = int(welded.body_count)
    if parts > max_parts:
        raise ValueError(f"{parts} connected parts > {max_parts}")
    extents = mesh.extents
    if extents.max() <= 0 or extents.min() < MIN_ASPECT * extents.max():
        raise ValueError(f"degenerate size: extents {np.round(extents, 4).tolist()}")
    orientation = estimate_orientation(mesh, authored_ratio)
    upright = np.ptp(mesh.vertices @ orientation.rotation.T, axis=0)
    return {"face_count_file": int(len(mesh.faces)), "parts": parts,
            "canonical_euler_deg": list(orientation.euler_deg),
            "canonical_rotation": np.round(orientation.rotation, 9).tolist(),
            "up_axis": {"import_axis": orientation.up, "source": orientation.source,
                        "probability": round(orientation.up_probability, 4),
                        "authored_probability": round(orientation.authored_probability, 4)},
            "upright_extents": np.round(upright / upright.max(), 4).tolist(),
            "checks": {"imports": True, "faces": True, "parts": True, "size": True}}


def _mark_consistency(models: list) -> None:
    """checks.orientation_consistent: upright height/width within CONSISTENT_FACTOR of the category median."""
    ratios = [m["upright_extents"][2] / max(m["upright_extents"][:2]) for m in models]
    median = float(np.median(ratios)) if ratios else 1.0
    for model, ratio in zip(models, ratios):
        model["checks"]["orientation_consistent"] = bool(abs(np.log(ratio / median)) <= np.log(CONSISTENT_FACTOR))


def build_manifest(category: str, recipe: dict, base_dir=None) -> dict:
    """The manifest of `category` under `recipe` (see load_recipe); downloads only what passes the metadata."""
    objaverse = configure(base_dir)
    uids, rejected, metadata, absent = candidates(objaverse, recipe["lvis"], recipe["licenses"], recipe["max_faces"])
    count, models = recipe["count"], []
    with tqdm(total=len(uids), desc=f"check {category}", unit="model") as progress:
        for start in range(0, len(uids), BATCH):
            if count and len(models) >= 2 * count:  # enough to choose from; the rest stay unused
                break
            batch = uids[start:start + BATCH]
            for record in objaverse_models(category, {"models": {uid: (0.0, 0.0, 0.0) for uid in batch}}, base_dir):
                try:
                    if not record.path:
                        raise ValueError("download failed")
                    entry = inspect_model(record.path, recipe["max_faces"], recipe["max_parts"],
                                          recipe["authored_ratio"])
                except ValueError as reason:
                    rejected.append({"model_id": record.model_id, "reason": str(reason)})
                else:
                    models.append({"model_id": record.model_id, "name": record.name, "license": record.license,
                                   "author": record.author, "uri": record.uri, "face_count": record.face_count,
                                   "downloadable": metadata[record.model_id].get("isDownloadable", True),
                                   **entry})
                progress.update()
    _mark_consistency(models)
    # Prefer models whose shape agrees with the category and that needed no correction (the paper groups
    # models by their initial orientation), then uid order for determinism.
    models.sort(key=lambda m: (not m["checks"]["orientation_consistent"], m["up_axis"]["source"] != "authored",
                               m["model_id"]))
    rejected += [{"model_id": m["model_id"], "reason": f"not selected (count {count} reached)"}
                 for m in models[count:]] if count else []
    return {"format": FORMAT, "version": VERSION, "category": category, "source": "objaverse",
            "canonical_frame": CANONICAL_FRAME, "lvis_categories": [n for n in recipe["lvis"] if n not in absent],
            "lvis_absent": absent,
            "filters": {k: recipe[k] for k in ("licenses", "max_faces", "max_parts", "count", "authored_ratio")},
            "models": models[:count] if count else models, "rejected": rejected}


def _write(path: Path, manifest: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="eopose-manifest", description=__doc__.split("\n")[0])
    parser.add_argument("--category", required=True, help="vases, shoes, briefcases, file_cabinets (recipe keys)")
    parser.add_argument("--licenses", help=f"comma-separated Objaverse licence slugs (recipe default: "
                                           f"{','.join(DEFAULT_LICENSES)})")
    parser.add_argument("--max-faces", type=int, help="largest face count (recipe default)")
    parser.add_argument("--max-parts", type=int, help="most connected parts (recipe default)")
    parser.add_argument("--count", type=int, help="models to select (recipe default: the paper's count)")
    parser.add_argument("--recipe", default=str(RECIPE), help="recipe JSON (default manifests/objaverse-recipe.json)")
    parser.add_argument("--objaverse-dir", help="objaverse BASE_PATH (default ~/.objaverse)")
    parser.add_argument("--out", required=True, help="manifest JSON to write")
    args = parser.parse_args(argv)
    try:
        recipe = load_recipe(args.recipe, args.category)
        overrides = {"licenses": args.licenses.split(",") if args.licenses else None, "max_faces": args.max_faces,
                     "max_parts": args.max_parts, "count": args.count}
        recipe.update({k: v for k, v in overrides.items() if v is not None})
        manifest = build_manifest(args.category, recipe, args.objaverse_dir)
    except SourceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _write(Path(args.out), manifest)
    print(f"{args.out}: {len(manifest['models'])} {args.category} models "
          f"({sum(m['up_axis']['source'] != 'authored' for m in manifest['models'])} re-oriented), "
          f"{len(manifest['rejected'])} rejected" + (f"; LVIS names absent: {manifest['lvis_absent']}"
                                                     if manifest["lvis_absent"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
