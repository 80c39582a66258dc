"""Objaverse 1.0 models through the `objaverse` package (0.1.7): LVIS category lists, metadata
(licence, author, name, URI, face count) and `load_objects`, which reads its local cache first.

Cache layout (objaverse 0.1.7, `BASE_PATH`/hf-objaverse-v1/): object-paths.json.gz,
lvis-annotations.json.gz, metadata/000-XXX.json.gz, glbs/000-XXX/<uid>.glb. `base_dir` overrides
`BASE_PATH` (the package reads `_VERSIONED_PATH`, fixed at its import, so both are set).
"""
from __future__ import annotations

import os
import urllib.error

from eopose.render.sources import ModelRecord, SourceError

# LVIS category names (Objaverse's lvis-annotations keys) for our categories, first found wins.
LVIS_NAMES = {
    "vases": ("vase",),
    "briefcases": ("briefcase",),
    "file_cabinets": ("file_cabinet", "filing_cabinet"),
    "shoes": ("shoe", "sneaker"),
}
OFFLINE_HINT = "use --source procedural (built-in assets) or --source dir --mesh-dir DIR (local meshes)"


def configure(base_dir):
    """The `objaverse` module with its cache rooted at `base_dir` (None: its default BASE_PATH)."""
    import objaverse

    if base_dir is not None:
        objaverse.BASE_PATH = str(base_dir)
        objaverse._VERSIONED_PATH = os.path.join(str(base_dir), "hf-objaverse-v1")
    return objaverse


def objaverse_models(category: str, manifest=None, base_dir=None, max_models: int | None = None,
                     max_faces: int | None = None) -> list[ModelRecord]:
    """Records for the category's LVIS models (or the manifest's uids), GLBs in the local cache
    (downloaded when missing; models over `max_faces` by their metadata are not fetched). Raises SourceError in one line when Objaverse is unreachable."""
    objaverse = configure(base_dir)
    try:
        if manifest:
            uids = list(manifest["models"])
        else:
            lvis = objaverse.load_lvis_annotations()
            name = next((n for n in LVIS_NAMES.get(category, (category.rstrip("s"),)) if n in lvis), None)
            if name is None:
                raise SourceError(f"no Objaverse LVIS category for {category!r}; pass --manifest FILE with uids")
            uids = sorted(lvis[name])
        uids = uids[:max_models] if max_models else uids
        object_paths = objaverse._load_object_paths()
        known = [uid for uid in uids if uid in object_paths]  # the others fail as missing_file
        metadata = objaverse.load_annotations(known)
        paths = objaverse.load_objects([uid for uid in known if not max_faces
                                        or int(metadata.get(uid, {}).get("faceCount") or 0) <= max_faces])
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise SourceError(f"Objaverse is unreachable ({reason}) and not cached under "
                          f"{objaverse._VERSIONED_PATH}; {OFFLINE_HINT}") from None
    records = []
    for uid in uids:
        meta = metadata.get(uid, {})
        user = meta.get("user") or {}
        records.append(ModelRecord(
            model_id=uid, source="objaverse", category=category, path=paths.get(uid, ""),
            license=str(meta.get("license") or "unknown"),
            author=str(user.get("username") or user.get("displayName") or ""),
            name=str(meta.get("name") or ""),
            uri=str(meta.get("uri") or meta.get("viewerUrl") or f"https://sketchfab.com/3d-models/{uid}"),
            canonical_euler_deg=manifest["models"][uid] if manifest else (0.0, 0.0, 0.0),
            face_count=int(meta.get("faceCount") or -1)))
    return records
