"""The object categories' canonical frame and shape symmetries, declared once for every stage.

Canonical frame (docs/dataset-format.md). Every model of every category is oriented, before the random rotations,
with **+Z up and its front facing -Y** in Blender / world terms (glTF / trimesh: +Y up, front +Z): procedural models
are built that way (render/procedural), other meshes are turned into it by their manifest (render/sources.py).
"Front" is a vase's label, a briefcase's latches and brand plate, a file cabinet's drawer fronts, a shoe's toe.
NOCS (the rendered canonical coordinates) are ``(X_object + 1) / 2``, so the up axis is the line x = y = 0.5.

Shape symmetries: the rotations about the canonical up axis that leave a category's *shape* (not its print)
unchanged, a cyclic group of `order` n (rotations by 2 pi j / n) or, with order 0, every angle:

* vases: surfaces of revolution, continuous about up (a handle or a spout breaks it for some models: texture and
  those parts are what tell the turn);
* briefcases and file cabinets: a half turn about up (order 2) swaps front and back of a box whose latches,
  drawer fronts and handles stand out by a few millimetres only (render/procedural/briefcases.py, file_cabinets.py);
* shoes: none (order 1): toe and heel differ.

The nocs-net loss, the `nocs-net` keypoints (nocs_matching's `symmetry`), the rotation error
(pose_estimate.rotation_error_deg) and the shards' index (`settings.symmetry`, symmetry_of_settings) use these;
meshes from `--source dir/objaverse` take their category's entry unless their manifest declares `"symmetry"`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CONTINUOUS = 0  # Symmetry.order for a continuous symmetry about the up axis
UP_AXIS = np.array([0.0, 0.0, 1.0])  # the canonical up axis in object / NOCS-centred coordinates
NOCS_CENTRE = np.array([0.5, 0.5, 0.5])  # object origin in NOCS: the up axis is the line through it along UP_AXIS


@dataclass(frozen=True)
class Symmetry:
    """Rotations about the canonical up axis that leave the shape unchanged: `order` n gives 2 pi j / n for
    j < n (1: none); CONTINUOUS (0) gives every angle."""

    order: int

    def __post_init__(self):
        if int(self.order) != self.order or self.order < 0:
            raise ValueError(f"symmetry order must be a non-negative integer (0 = continuous), got {self.order!r}")

    @property
    def continuous(self) -> bool:
        return self.order == CONTINUOUS

    def angles(self, continuous_steps: int = 12) -> np.ndarray:
        """[S] angles (radians) of the group's rotations, the identity first; a continuous symmetry is sampled
        at `continuous_steps` equal steps."""
        count = continuous_steps if self.continuous else self.order
        return np.arange(count) * (2 * math.pi / count)

    def rotations(self, continuous_steps: int = 12) -> np.ndarray:
        """[S, 3, 3] the rotations about the canonical up axis (+Z), identity first."""
        angles = self.angles(continuous_steps)
        cos, sin = np.cos(angles), np.sin(angles)
        out = np.zeros((len(angles), 3, 3))
        out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1], out[:, 2, 2] = cos, -sin, sin, cos, 1.0
        return out

    def to_json(self) -> dict:
        return {"axis": "up", "order": "continuous" if self.continuous else int(self.order)}

    @classmethod
    def from_json(cls, value) -> "Symmetry":
        """From to_json's dict, or its `order` alone ("continuous", "none" or an integer)."""
        order = value.get("order") if isinstance(value, dict) else value
        if isinstance(value, dict) and value.get("axis", "up") != "up":
            raise ValueError(f"symmetry axis {value.get('axis')!r}: only the canonical up axis ('up') is supported")
        if order == "continuous":
            return cls(CONTINUOUS)
        if order in ("none", None):
            return cls(1)
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"symmetry order {order!r}: use \"continuous\", \"none\" or a positive integer")
        return cls(order)


def turn_nocs(nocs: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """NOCS [..., 3] of the object turned by `rotation` [3, 3] (one of Symmetry.rotations()) about its up axis:
    R (n - NOCS_CENTRE) + NOCS_CENTRE, in the dtype of `nocs`."""
    nocs = np.asarray(nocs)
    centred = nocs.astype(np.float64) - NOCS_CENTRE
    return (centred @ np.asarray(rotation, np.float64).T + NOCS_CENTRE).astype(nocs.dtype)


NO_SYMMETRY = Symmetry(1)
SYMMETRIES = {
    "vases": Symmetry(CONTINUOUS),
    "briefcases": Symmetry(2),
    "file_cabinets": Symmetry(2),
    "shoes": NO_SYMMETRY,
}


def symmetry_of(category: str | None) -> Symmetry:
    """The declared shape symmetry of `category`; none for a category not declared here."""
    return SYMMETRIES.get(str(category), NO_SYMMETRY) if category is not None else NO_SYMMETRY


def symmetry_of_settings(settings: dict) -> Symmetry:
    """The shape symmetry a dataset's creation settings record (index.json `settings.symmetry`, written by
    render-pairs: a manifest's or the category's); for a dataset written before it was recorded, its category's."""
    if "symmetry" in settings:
        return Symmetry.from_json(settings["symmetry"])
    return symmetry_of(settings.get("category"))
