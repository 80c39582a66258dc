"""`QuadRow`: one quadruplet as one typed row of a shard, its fields those of `FIELDS` (docs/dataset-format.md),
each checked against the schema and held with its stored dtype when the row is built, so a bad value is
reported with its quadruplet before anything is written (a record per scene as data, as in Kubric, Greff et al.,
CVPR 2022). `writer.write_quads` writes a list of them as one shard."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .schema import FIELDS, DatasetFormatError, coerce_field


@dataclass(frozen=True)
class QuadRow:
    """Views in the order M1c1, M1c2, M2c1, M2c2; per-model fields in the order M1, M2 (shapes: `FIELDS`)."""

    rgba: np.ndarray
    mask: np.ndarray
    depth: np.ndarray
    nocs: np.ndarray
    rotations: np.ndarray
    euler_deg: np.ndarray
    nocs_to_object: np.ndarray
    intrinsics: np.ndarray
    extrinsics: np.ndarray
    quad_index: int
    seed: int
    category: str
    model_id: tuple
    source: tuple
    license: tuple
    author: tuple
    name: tuple
    uri: tuple
    normals: np.ndarray
    untextured: np.ndarray
    render_params: tuple

    def __post_init__(self):
        where = f"quadruplet {self.quad_index}"
        rgba = np.asarray(self.rgba)
        if rgba.ndim != 4:
            raise DatasetFormatError(f"{where}: field 'rgba' must be [4,H,W,4], got shape {rgba.shape}")
        height, width = rgba.shape[1:3]
        for name, spec in FIELDS.items():
            object.__setattr__(self, name, coerce_field(name, spec, getattr(self, name),
                                                        spec.row_shape(height, width), where))
