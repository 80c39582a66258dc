"""The Hugging Face dataset card of a release (README.md with YAML metadata) and its preview contact sheet.

Card metadata follows the Hub's dataset card spec (https://huggingface.co/docs/hub/datasets-cards and the
field reference https://github.com/huggingface/hub-docs/blob/main/datasetcard.md): license, task_categories,
size_categories, pretty_name, tags, `configs` with `data_files` per split
(https://huggingface.co/docs/hub/datasets-manual-configuration) and `dataset_info.features`, which the
`hdf5` builder of `datasets` cannot infer for [N,2] string fields (it maps every variable-length string
dataset to one string per row); with the features declared, `load_dataset(<release>)` loads every field.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from ..shard_format import FIELDS, KEYPOINT_FIELDS, SAMPLE_VIEWS, VIEW_NAMES, open_dataset
from .info import FIELD_DESCRIPTIONS, ReleaseInfo, dtype_name
from .licenses import rule

PREVIEW_NAME = "preview.png"
PREVIEW_QUADS = 6
PREVIEW_VIEW_SIZE = 128
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"))


def _feature(shape: tuple, dtype: str) -> dict:
    """One `datasets` feature in the card's YAML form (Features._to_yaml_list layout)."""
    if dtype == "string":
        return {"dtype": "string"} if not shape else {"list": "string", "length": shape[0]}
    if not shape:
        return {"dtype": dtype}
    if len(shape) == 1:
        return {"list": dtype, "length": shape[0]}
    return {"dtype": {f"array{len(shape)}_d": {"shape": list(shape), "dtype": dtype}}}


def hf_features(info: ReleaseInfo) -> list[dict]:
    """`dataset_info.features` of the card: every shard field and the carried keypoint groups."""
    features = [{"name": name, **_feature(info.row_shape(name), dtype_name(name))} for name in sorted(FIELDS)]
    if info.keypoints:
        groups = [{"name": method, "struct": [
            {"name": name, **_feature(info.row_shape(name, method), dtype_name(name, keypoint=True))}
            for name in sorted(KEYPOINT_FIELDS)]} for method in sorted(info.keypoints)]
        features.append({"name": "keypoints", "struct": groups})
    return sorted(features, key=lambda feature: feature["name"])


def _size_category(rows: int) -> str:
    return next((label for limit, label in SIZE_CATEGORIES if rows < limit), "n>10M")


def card_metadata(info: ReleaseInfo) -> dict:
    licences = sorted({rule(slug).hf_id for slug in info.licences}) or ["other"]
    return {
        "license": licences[0] if len(licences) == 1 else licences,
        "pretty_name": info.name,
        "task_categories": ["image-to-image"],
        "size_categories": [_size_category(sum(info.rows.values()))],
        "tags": ["object-reposing", "novel-view-synthesis", "synthetic", "3d", "correspondence", "eopose"]
        + (["objaverse"] if "objaverse" in info.model_sources else []),
        "configs": [{"config_name": "default", "data_files": [
            {"split": split, "path": f"data/{split}/shard-*.h5"} for split in info.splits]}],
        "dataset_info": {"features": hf_features(info),
                         "splits": [{"name": split, "num_examples": info.rows[split]} for split in info.splits]},
    }


def write_preview(release_dir: Path, info: ReleaseInfo) -> None:
    """A contact sheet: one quadruplet per row, its four views (M1c1, M1c2, M2c1, M2c2) side by side."""
    tiles = []
    for split in info.splits:
        data = open_dataset(release_dir / "data" / split)
        tiles += [data.read(i, ["rgba"])["rgba"] for i in range(min(PREVIEW_QUADS - len(tiles), len(data)))]
    size = min(PREVIEW_VIEW_SIZE, info.height)
    sheet = Image.new("RGB", (4 * size, max(1, len(tiles)) * size), "white")
    for row, views in enumerate(tiles):
        for column, view in enumerate(views):
            image = Image.fromarray(np.ascontiguousarray(view), "RGBA").resize((size, size), Image.BILINEAR)
            sheet.paste(image, (column * size, row * size), image)
    sheet.save(release_dir / PREVIEW_NAME)


def _fields_table(info: ReleaseInfo) -> list[str]:
    lines = ["| field | dtype | shape per row | meaning |", "|---|---|---|---|"]
    for name in FIELDS:
        lines.append(f"| `{name}` | {dtype_name(name)} | `{list(info.row_shape(name))}` | {FIELD_DESCRIPTIONS[name]} |")
    for method in sorted(info.keypoints):
        for name in KEYPOINT_FIELDS:
            lines.append(f"| `keypoints/{method}/{name}` | {dtype_name(name, keypoint=True)} | "
                         f"`{list(info.row_shape(name, method))}` | {FIELD_DESCRIPTIONS[name]} |")
    return lines


def _policy_statement(policy: str) -> str:
    if policy == "redistributable":
        return ("Built under the licence policy `redistributable`: models whose licence does not allow sharing "
                "adaptations (ND), or only non-commercially (NC), or under a store licence, are refused and listed "
                "in [REFUSED.md](REFUSED.md) (see eopose docs/publishing.md).")
    return (f"**Built under the licence policy `{policy}`: it may contain models whose licence forbids "
            "redistributing renders (ND, store licences) or restricts them to non-commercial use (NC). For "
            "internal use only; do not redistribute.**")


def card_body(info: ReleaseInfo) -> str:
    total = sum(info.rows.values())
    samples = " ".join(f"`{s}: ({VIEW_NAMES[a]}, {VIEW_NAMES[p]} -> {VIEW_NAMES[t]})`"
                       for s, (a, p, t) in enumerate(SAMPLE_VIEWS))
    split_rows = [f"| {split} | {count} | {4 * count} |" for split, count in info.rows.items()]
    licence_rows = [f"| `{slug}` | {rule(slug).url} |" for slug in info.licences]
    excluded = "; ".join(f"{count} {reason}" for reason, count in info.excluded.items() if count) or "none"
    lines = [
        f"# {info.name}", "",
        f"![Preview: one quadruplet per row, views M1c1, M1c2, M2c1, M2c2]({PREVIEW_NAME})", "",
        f"Paired-pose renders for exemplar-based object reposing (EOPose). {total} quadruplets "
        f"({4 * total} training samples) of {info.models} 3D models in the categories "
        f"{', '.join(info.categories)}, {info.width}x{info.height} pixels, with depth, NOCS, masks and cameras"
        + (f", and keypoint sets {', '.join(sorted(info.keypoints))}." if info.keypoints else "."), "",
        "| split | quadruplets | samples |", "|---|---|---|", *split_rows, "",
        "Splits are by model identity: a model is in exactly one split (salted SHA-256 of its id, "
        "`eopose.dataset.splits`); quadruplets whose two models fall in different splits are left out. "
        f"Left out when building this release: {excluded}.", "",
        "## Loading", "",
        "```python", "import datasets",
        "ds = datasets.load_dataset(\"<this repository or folder>\", split=\"train\")  # features from this card",
        "", "from eopose.dataset.shard_format import open_dataset  # random access, lazy HDF5",
        "quads = open_dataset(\"data/train\")", "```", "",
        "Each `data/<split>` folder is a complete eopose dataset folder (`index.json` + shards). Loading the "
        "shards with `load_dataset(\"hdf5\", data_files=...)` needs `features=` from this card's `dataset_info`: "
        "the builder cannot infer the `[N,2]` string fields.", "",
        "## Quadruplets, views and samples", "",
        "Each row is a quadruplet: two models M1, M2 of one category, each rendered under the same two random "
        "rotations c1, c2. Axis 1 of the image fields is the view: "
        + ", ".join(f"`{i} = {n}`" for i, n in enumerate(VIEW_NAMES))
        + f". A quadruplet yields four (appearance, pose -> target) samples: {samples}.", "",
        "## Fields", "",
        *_fields_table(info), "",
        "Units, coordinate frames, pixel convention and the exact projection are in [FORMAT.md](FORMAT.md) "
        "(the eopose shard format, version 1).", "",
        "## Provenance", "",
        "Rendered with eopose (`render-pairs`: Blender Cycles, or analytic test scenes) from 3D models; the "
        f"`source`, `uri`, `author` and `name` fields of every row say where each model came from (sources: "
        f"{', '.join(info.model_sources)}; Objaverse models come from Sketchfab via Objaverse 1.0, Deitke et al. "
        "2023). `release.json` records the build (sources, licence policy, counts).", "",
        "## Licences", "",
        "Each model keeps its creator's licence; the renders of a model are adaptations of it and are shared "
        "under that licence (renders of CC BY-SA models under CC BY-SA 4.0). Licences present:", "",
        "| licence | text |", "|---|---|", *licence_rows, "",
        _policy_statement(info.policy) + " Credit for every object (creator, source, "
        "licence, modification) is in [ATTRIBUTION.md](ATTRIBUTION.md) and `attribution.csv`; keep it with any "
        "redistribution.", "",
        "## Integrity and metadata", "",
        "`SHA256SUMS` covers every file; `publish-dataset --verify <folder>` rechecks checksums, the schema of "
        "every split and the Croissant file `croissant.json`.", "",
        "## Citation", "",
        "EOPose: Exemplar-based object reposing (the method this dataset was made for); Objaverse: Deitke et "
        "al., \"Objaverse: A Universe of Annotated 3D Objects\", CVPR 2023.", ""]
    return "\n".join(lines)


def write_card(release_dir: Path, info: ReleaseInfo) -> None:
    header = yaml.safe_dump(card_metadata(info), sort_keys=False, allow_unicode=True)
    (release_dir / "README.md").write_text(f"---\n{header}---\n\n{card_body(info)}")
    write_preview(release_dir, info)
