"""Parameter specifications of the procedural generators.

Every category module declares a table ``PARAMETERS = {"common": {...}, "styles": {style: {...}}}``
built from the spec classes below. The tables are the single source of truth: the generators
sample them, and ``manifests/procedural.json`` is written from them (``describe``) and checked
against them by the tests.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Uniform:
    """A float drawn uniformly from ``[lo, hi]``."""

    lo: float
    hi: float

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.lo, self.hi))

    def describe(self) -> dict:
        return {"uniform": [self.lo, self.hi]}


@dataclass(frozen=True)
class Integer:
    """An integer drawn uniformly from ``lo..hi`` (both included)."""

    lo: int
    hi: int

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.lo, self.hi + 1))

    def describe(self) -> dict:
        return {"integer": [self.lo, self.hi]}


@dataclass(frozen=True)
class Chance:
    """A flag that is true with probability ``p``."""

    p: float

    def sample(self, rng: np.random.Generator) -> bool:
        return bool(rng.random() < self.p)

    def describe(self) -> dict:
        return {"chance": self.p}


@dataclass(frozen=True)
class Choice:
    """One of ``options``, uniformly."""

    options: tuple

    def sample(self, rng: np.random.Generator):
        return self.options[int(rng.integers(len(self.options)))]

    def describe(self) -> dict:
        return {"choice": list(self.options)}


def sample_model(parameters: dict, rng: np.random.Generator, added: bool = False) -> dict:
    """Draw a style, then the common and the style's parameters (in table order). `added`: a style of the
    optional ``"added_styles"`` table instead (styles added after a release: each a complete table, no common
    part), so that the draws of the original styles never change."""
    styles = parameters["added_styles"] if added else parameters["styles"]
    style = Choice(tuple(styles)).sample(rng)
    values = {"style": style}
    for table in ((styles[style],) if added else (parameters["common"], styles[style])):
        values.update({name: spec.sample(rng) for name, spec in table.items()})
    return values


def describe(parameters: dict) -> dict:
    """JSON-ready description of a category's parameter table (the manifest entry)."""
    return {
        "styles": list(parameters["styles"]),
        "common": {name: spec.describe() for name, spec in parameters["common"].items()},
        "per_style": {
            style: {name: spec.describe() for name, spec in table.items()}
            for style, table in parameters["styles"].items()
        },
        **({"added_styles": {style: {name: spec.describe() for name, spec in table.items()}
                             for style, table in parameters["added_styles"].items()}}
           if "added_styles" in parameters else {}),
    }
