"""Train/val/test assignment by model identity: a model is in exactly one split, whatever the run.

The split of a model is a pure function of its id (a salted SHA-256 bucket), so the renderer can pair
models within one split, the loader can filter quadruplets, and publish-dataset can split folders,
all without sharing state. A quadruplet belongs to a split only when both its models do.
"""
from __future__ import annotations

import hashlib

SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)
_SALT = "eopose-split-v1:"


def _unit_interval(model_id: str) -> float:
    digest = hashlib.sha256((_SALT + model_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def split_of_model(model_id: str, fractions=DEFAULT_FRACTIONS) -> str:
    """'train', 'val' or 'test' for a model id, with the given (train, val, test) fractions."""
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    position, edge = _unit_interval(model_id), 0.0
    for name, fraction in zip(SPLITS, fractions):
        edge += fraction
        if position < edge:
            return name
    return SPLITS[-1]


def split_of_quad(model_ids, fractions=DEFAULT_FRACTIONS) -> str | None:
    """The split of a quadruplet whose models are `model_ids` (M1, M2), or None when they disagree."""
    first, second = (split_of_model(str(model_id), fractions) for model_id in model_ids)
    return first if first == second else None
