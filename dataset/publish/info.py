"""What the card, the Croissant file and the release summary say about a release: `ReleaseInfo`.

Field descriptions here are the one-line summaries of docs/dataset-format.md (shipped in every release as
FORMAT.md, which stays the reference for units and conventions); shapes and dtypes come from
`shard_format.FIELDS`, so the two published descriptions cannot drift from the writer.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..shard_format import FIELDS, KEYPOINT_FIELDS, STR

FIELD_DESCRIPTIONS = {
    "rgba": "sRGB colour with straight alpha, views M1c1, M1c2, M2c1, M2c2",
    "mask": "hard object mask (1 where the pixel centre's ray hits the object)",
    "depth": "camera z in scene units, 0 on background",
    "nocs": "canonical object coordinates in [0,1], 0 on background",
    "rotations": "R_c1, R_c2 (object -> world)",
    "euler_deg": "XYZ Euler angles of c1, c2 in degrees",
    "nocs_to_object": "affine NOCS -> object frame for M1, M2",
    "intrinsics": "camera matrix K in pixels",
    "extrinsics": "world -> camera (OpenCV axes)",
    "quad_index": "index of the quadruplet in its render run",
    "seed": "the quadruplet's seed (rotations, pairing, render noise)",
    "category": "category name",
    "model_id": "identity of M1, M2 (Objaverse UID, file stem or procedural id)",
    "source": "where M1, M2 came from (objaverse, dir, procedural)",
    "license": "licence of M1, M2 (Objaverse slug, e.g. by, cc0)",
    "author": "creator of M1, M2",
    "name": "name of M1, M2",
    "uri": "source link of M1, M2",
    "normals": "camera-frame unit surface normals facing the camera, 0 on background",
    "untextured": "True where M1, M2 were rendered with missing textures (--allow-untextured)",
    "render_params": "JSON per view: the lights, world and camera Blender rendered it with",
    "points_a": "keypoints in the appearance image of each sample, pixel (x, y)",
    "points_p": "matching keypoints in the pose image of each sample, pixel (x, y)",
    "valid": "False where fewer than k pairs were found",
}


@dataclass
class ReleaseInfo:
    name: str
    policy: str
    height: int
    width: int
    rows: dict  # split -> quadruplets
    keypoints: dict  # method -> k, carried in every shard
    licences: list  # licence slugs of the included models
    models: int  # distinct included models
    categories: list
    model_sources: list  # `source` values of the included models (objaverse, dir, procedural, ...)
    excluded: dict = field(default_factory=dict)  # reason -> quadruplets left out

    @property
    def splits(self) -> list[str]:
        """Splits holding at least one quadruplet (empty ones have a folder but no shards)."""
        return [split for split, count in self.rows.items() if count]

    def row_shape(self, name: str, method: str | None = None) -> tuple:
        if method is None:
            return FIELDS[name].row_shape(self.height, self.width)
        return KEYPOINT_FIELDS[name].row_shape(k=self.keypoints[method])


def dtype_name(name: str, keypoint: bool = False) -> str:
    """numpy dtype name of a field ('string' for variable-length UTF-8)."""
    spec = (KEYPOINT_FIELDS if keypoint else FIELDS)[name]
    return "string" if spec.dtype is STR else np.dtype(spec.dtype).name
