"""Build and verify a release folder from one or more eopose dataset folders.

Building: every quadruplet is kept when both its models' licences pass the policy and both models fall in
the same split (`eopose.dataset.splits`); kept rows are written per split through `write_shard`, keypoint
sets present in every source shard are carried with `add_keypoints`, then the card, Croissant file,
attribution, refusals and SHA256SUMS are added. Everything is built in a temp folder next to `--out`,
verified, and moved into place with `os.replace`. The layout is documented in docs/publishing.md.
"""
from __future__ import annotations

import collections
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..shard_format import (FIELDS, add_keypoints, open_dataset, shard_name, update_index, verify,
                            write_shard)
from ..splits import SPLITS, split_of_quad
from .attribution import ModelCredit, write_attribution, write_refused
from .card import write_card
from .checksums import check_sums, write_sums
from .croissant import CROISSANT_NAME, CroissantError, validate_croissant, write_croissant
from .info import ReleaseInfo
from .licenses import allowed, normalise

RELEASE_JSON = "release.json"
# docs/dataset-format.md, shipped as package data: in a checkout FORMAT.md is a symlink to it, and building
# the package copies its content, so a non-editable install publishes the same text (one source of truth).
FORMAT_DOC = Path(__file__).with_name("FORMAT.md")
CREDIT_FIELDS = ("model_id", "name", "author", "license", "uri", "source")


class ReleaseError(RuntimeError):
    """A release cannot be built (message is one line naming the file and the fix)."""


@dataclass
class _Plan:
    """Which source rows go to which split, and what was left out."""

    rows: dict = field(default_factory=lambda: {split: [] for split in SPLITS})  # split -> [(source, index)]
    credits: dict = field(default_factory=dict)  # model_id -> ModelCredit of kept models
    refused: dict = field(default_factory=dict)  # ModelCredit -> reason
    excluded: collections.Counter = field(default_factory=collections.Counter)


def _credits(data) -> list[list[ModelCredit]]:
    columns = {name: data.column(name) for name in CREDIT_FIELDS}
    return [[ModelCredit(**{name: str(columns[name][row][m]) for name in CREDIT_FIELDS}) for m in (0, 1)]
            for row in range(len(data))]


def _plan(sources: list, policy: str) -> _Plan:
    plan = _Plan()
    for number, data in enumerate(sources):
        for row, models in enumerate(_credits(data)):
            verdicts = [allowed(credit.license, policy) for credit in models]
            for credit, (ok, reason) in zip(models, verdicts):
                if not ok:
                    plan.refused[credit] = reason
            if not all(ok for ok, _ in verdicts):
                plan.excluded["quadruplets with a refused licence"] += 1
                continue
            split = split_of_quad([credit.model_id for credit in models])
            if split is None:
                plan.excluded["quadruplets whose models are in different splits"] += 1
                continue
            plan.rows[split].append((number, row))
            for credit in models:
                plan.credits.setdefault(credit.model_id, credit)
    return plan


def _common_keypoints(sources: list) -> tuple[dict, list]:
    """(method -> params) stored identically in every source shard, and the methods dropped."""
    per_shard = [data.keypoint_methods(shard) for data in sources for shard in range(len(data.shard_paths))]
    if not per_shard:
        return {}, []
    every = set.union(*(set(methods) for methods in per_shard))
    kept = {m: per_shard[0][m] for m in sorted(every) if all(methods.get(m) == per_shard[0].get(m)
                                                               for methods in per_shard)}
    return kept, sorted(every - set(kept))


def _image_size(sources: list) -> tuple[int, int]:
    sizes = {}
    for data in sources:
        if len(data):
            rgba = data.read(0, ["rgba"])["rgba"]
            sizes.setdefault(rgba.shape[1:3], data.path)
    if len(sizes) > 1:
        listed = ", ".join(f"{path}: {size[1]}x{size[0]}" for size, path in sizes.items())
        raise ReleaseError(f"sources have different image sizes ({listed}); publish them as separate releases")
    if not sizes:
        raise ReleaseError(f"no quadruplets in {', '.join(str(d.path) for d in sources)}; render some first")
    return next(iter(sizes))


def _write_split(split_dir: Path, sources: list, rows: list, methods: dict, per_shard: int, settings: dict,
                 progress) -> None:
    split_dir.mkdir(parents=True)
    keypoints = []
    for number, first in enumerate(range(0, len(rows), per_shard)):
        chunk = rows[first:first + per_shard]
        records = [sources[s].read(i, list(FIELDS)) for s, i in chunk]
        write_shard(split_dir / shard_name(number), {name: np.stack([r[name] for r in records]) for name in FIELDS},
                    settings)
        keypoints.append({m: [sources[s].read_keypoints(i, m) for s, i in chunk] for m in methods})
        progress.update(len(chunk))
    update_index(split_dir, settings)  # add_keypoints updates the shard's index entry, so the index comes first
    for number, sets in enumerate(keypoints):
        for method, records in sets.items():
            add_keypoints(split_dir / shard_name(number), method,
                          *(np.stack([r[name] for r in records]) for name in ("points_a", "points_p", "valid")),
                          methods[method])


def _temp_dir(out: Path) -> Path:
    return out.with_name(f".{out.name}.tmp-{os.getpid()}")


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished release to `out`; an existing one (--overwrite) is moved aside first, then deleted."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old)
    else:
        os.replace(tmp, out)


def build_release(source_dirs, out, name: str | None = None, policy: str = "redistributable",
                  overwrite: bool = False, quads_per_shard: int = 64, url: str = "") -> dict:
    """Build a release folder at `out` (see the module docstring); returns the summary stored in release.json."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise ReleaseError(f"{out}: already exists; pass --overwrite to replace it or choose another --out")
    if not FORMAT_DOC.is_file():
        raise ReleaseError(f"{FORMAT_DOC}: missing from the installed eopose package; reinstall eopose")
    sources = [open_dataset(path) for path in source_dirs]
    height, width = _image_size(sources)
    plan = _plan(sources, policy)
    methods, dropped = _common_keypoints(sources)
    name = name or out.name
    settings = {"publish": {"name": name, "license_policy": policy},
                "sources": {str(data.path.name): data.index.get("settings", {}) for data in sources}}
    info = ReleaseInfo(
        name=name, policy=policy, height=int(height), width=int(width),
        rows={split: len(rows) for split, rows in plan.rows.items()},
        keypoints={m: int(next(d for d in sources if len(d)).read_keypoints(0, m)["points_a"].shape[1])
                   for m in methods},
        licences=sorted({normalise(c.license) for c in plan.credits.values()}), models=len(plan.credits),
        categories=sorted({str(c) for data in sources for c in data.column("category")}),
        model_sources=sorted({c.source for c in plan.credits.values()}),
        excluded=dict(plan.excluded))
    tmp = _temp_dir(out)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with tqdm(total=sum(info.rows.values()), desc="publish", unit="quad") as progress:
            for split, rows in plan.rows.items():
                _write_split(tmp / "data" / split, sources, rows, methods, quads_per_shard, settings, progress)
        credits = sorted(plan.credits.values(), key=lambda c: c.model_id)
        write_attribution(tmp, credits)
        refused_lines = write_refused(tmp, plan.refused, policy)
        summary = {"name": name, "license_policy": policy, "sources": [d.path.name for d in sources],
                   "quadruplets": info.rows, "models": info.models, "licences": info.licences,
                   "excluded": info.excluded, "refused_models": len(plan.refused),
                   "keypoints": info.keypoints, "keypoints_dropped": dropped, "image_size": [width, height]}
        (tmp / RELEASE_JSON).write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
        shutil.copyfile(FORMAT_DOC, tmp / "FORMAT.md")
        write_card(tmp, info)
        write_croissant(tmp, info, url)
        write_sums(tmp)
        problems = verify_release(tmp)
        if problems:
            raise ReleaseError(f"the built release does not verify: {problems[0]}")
        _move_into_place(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary["refused"] = refused_lines
    return summary


def verify_release(release_dir) -> list[str]:
    """Every problem of a release, one line each naming the file: checksums, split schemas, Croissant."""
    release_dir = Path(release_dir)
    if not release_dir.is_dir():
        return [f"{release_dir}: not a folder; pass the release folder written by publish-dataset --out"]
    problems = check_sums(release_dir)
    problems += [problem for split in SPLITS for problem in verify(release_dir / "data" / split)]
    try:
        validate_croissant(release_dir / CROISSANT_NAME)
    except CroissantError as error:
        problems.append(str(error))
    return problems

