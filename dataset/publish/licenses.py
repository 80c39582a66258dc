"""Licence policy: which Objaverse licence names may be redistributed as a dataset of derived renders.

A release is a collection of renders of third-party 3D models: each image is an adaptation of the model
(re-posed, re-lit, re-scaled, rasterised), so the model's licence must allow redistributing adaptations.
Licence names are those of Objaverse 1.0 metadata (Sketchfab's licence slugs); the table is
documented, with reasons, in docs/publishing.md.

Sources:
- Creative Commons 4.0 legal codes, https://creativecommons.org/licenses/<slug>/4.0/legalcode.en:
  BY s.2(a)(1)(B) allows producing and sharing Adapted Material; s.3(a)(1) requires credit (creator,
  licence link, source link, indication of modification); SA s.3(b) requires Adapted Material to be
  shared under the same licence; NC s.1(i) forbids use "primarily intended for commercial advantage";
  ND s.2(a)(1)(B) allows producing Adapted Material but not Sharing it.
- CC0 1.0, https://creativecommons.org/publicdomain/zero/1.0/legalcode.en: no conditions.
- Sketchfab "Free Standard" (store licence), https://sketchfab.com/licenses: a licence to the
  downloading user, not a public licence; it does not grant redistributing the asset to third parties.
"""
from __future__ import annotations

from dataclasses import dataclass

POLICIES = ("redistributable", "all")


@dataclass(frozen=True)
class LicenceRule:
    hf_id: str  # Hugging Face card licence identifier (https://huggingface.co/docs/hub/repositories-licenses)
    url: str
    redistributable: bool  # under the default policy
    reason: str


_CC = "https://creativecommons.org/licenses/{}/4.0/"
RULES = {
    "cc0": LicenceRule("cc0-1.0", "https://creativecommons.org/publicdomain/zero/1.0/", True,
                       "public-domain dedication, no conditions"),
    "by": LicenceRule("cc-by-4.0", _CC.format("by"), True, "adaptations may be shared with credit"),
    "by-sa": LicenceRule("cc-by-sa-4.0", _CC.format("by-sa"), True,
                         "adaptations may be shared with credit, under CC BY-SA 4.0 (the renders of these "
                         "models carry that licence)"),
    "by-nd": LicenceRule("cc-by-nd-4.0", _CC.format("by-nd"), False,
                         "no derivatives: renders are adaptations, which may not be shared"),
    "by-nc": LicenceRule("cc-by-nc-4.0", _CC.format("by-nc"), False,
                         "non-commercial only: allowed for an explicitly non-commercial release, not for a "
                         "public dataset whose use we cannot restrict (--license-policy all keeps it)"),
    "by-nc-sa": LicenceRule("cc-by-nc-sa-4.0", _CC.format("by-nc-sa"), False,
                            "non-commercial only (see by-nc), share-alike"),
    "by-nc-nd": LicenceRule("cc-by-nc-nd-4.0", _CC.format("by-nc-nd"), False,
                            "non-commercial and no derivatives: renders may not be shared"),
    "free standard": LicenceRule("other", "https://sketchfab.com/licenses", False,
                                 "Sketchfab store licence: granted to the downloader, no public redistribution"),
}
# Spellings seen outside Objaverse's slugs (SPDX ids, Sketchfab labels) mapped to the slugs above.
ALIASES = {"cc0-1.0": "cc0", "cc-by-4.0": "by", "cc-by-sa-4.0": "by-sa", "cc-by-nd-4.0": "by-nd",
           "cc-by-nc-4.0": "by-nc", "cc-by-nc-sa-4.0": "by-nc-sa", "cc-by-nc-nd-4.0": "by-nc-nd",
           "standard": "free standard", "cc-by": "by", "cc-by-sa": "by-sa", "cc-by-nc": "by-nc",
           "cc-by-nd": "by-nd", "cc-by-nc-sa": "by-nc-sa", "cc-by-nc-nd": "by-nc-nd"}
UNKNOWN = LicenceRule("other", "", False, "unknown licence: redistribution rights cannot be established")


def normalise(name: str) -> str:
    """Objaverse slug for a licence name ('CC-BY-4.0' -> 'by'); unknown names come back lower-cased."""
    key = str(name).strip().lower()
    return ALIASES.get(key, key)


def rule(name: str) -> LicenceRule:
    return RULES.get(normalise(name), UNKNOWN)


def allowed(name: str, policy: str) -> tuple[bool, str]:
    """(kept?, reason) for a model licence under `policy` ('redistributable' or 'all')."""
    if policy not in POLICIES:
        raise ValueError(f"unknown licence policy {policy!r}; use one of {', '.join(POLICIES)}")
    found = rule(name)
    return (policy == "all" or found.redistributable), found.reason
