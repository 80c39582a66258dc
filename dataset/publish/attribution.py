"""Per-object credits of a release (ATTRIBUTION.md, attribution.csv) and the list of refused objects (REFUSED.md).

Credit follows CC BY 4.0 s.3(a)(1) (https://creativecommons.org/licenses/by/4.0/legalcode.en): creator,
title, a link to the source and to the licence, and a statement that the material was modified.
"""
from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

from .licenses import rule

MODIFIED = ("rendered by eopose: the 3D model was normalised in position and scale, rotated, lit and "
            "rasterised to images (RGBA, depth, NOCS, mask); the renders are adaptations of the model")
CSV_FIELDS = ("model_id", "name", "author", "license", "license_url", "uri", "source")


@dataclass(frozen=True)
class ModelCredit:
    model_id: str
    name: str
    author: str
    license: str
    uri: str
    source: str

    @property
    def license_url(self) -> str:
        return rule(self.license).url


def write_attribution(release_dir: Path, credits: list[ModelCredit]) -> None:
    """ATTRIBUTION.md (human-readable, one entry per object) and attribution.csv (machine-readable)."""
    lines = ["# Attribution", "",
             "Every image of this dataset is a render of one of the 3D models below, "
             f"{MODIFIED}. Licences are those the creators chose for their models.", ""]
    for credit in credits:
        lines += [f"- **{credit.name or credit.model_id}** (`{credit.model_id}`) by {credit.author or 'unknown'}, "
                  f"source: {credit.uri or 'n/a'}, licence: `{credit.license}` {credit.license_url}. "
                  f"Modified: rendered by eopose."]
    (release_dir / "ATTRIBUTION.md").write_text("\n".join(lines) + "\n")
    with open(release_dir / "attribution.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for credit in credits:
            writer.writerow({**asdict(credit), "license_url": credit.license_url})


def write_refused(release_dir: Path, refused: dict[ModelCredit, str], policy: str) -> list[str]:
    """REFUSED.md: objects whose licence forbids redistribution under `policy`; returns its lines."""
    ordered = sorted(refused.items(), key=lambda item: item[0].model_id)
    lines = [f"- `{credit.model_id}` ({credit.name or 'unnamed'}, {credit.author or 'unknown'}): licence "
             f"`{credit.license}`: {reason}" for credit, reason in ordered]
    header = ["# Refused objects", "", f"Licence policy `{policy}` (docs/publishing.md). The quadruplets that use "
              f"these objects are not in the release.", ""]
    (release_dir / "REFUSED.md").write_text("\n".join(header + (lines or ["None."])) + "\n")
    return lines
