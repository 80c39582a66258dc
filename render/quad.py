"""One quadruplet through the render: `QuadJob` (what the parent asks a worker to render, with the camera's
K and E computed once), `RenderedViews` (what the worker sends back) and `shard_row`, the one place a shard
row (`QuadRow`, checked against the shard schema) is built from the two. Jobs and results cross the worker
pipe as these typed records (pickled)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eopose.dataset.shard_format import NOCS_TO_OBJECT, QuadRow
from eopose.render.camera import Camera
from eopose.render.lighting import Lighting

MODEL_FIELDS = ("model_id", "source", "license", "author", "name", "uri")  # per-model strings of a row


@dataclass(frozen=True)
class QuadJob:
    """One quadruplet to render: M1 and M2 each under the rotations c1 and c2, one lighting and camera."""

    quad: int  # index of the quadruplet in the run
    seed: int  # its own seed (render/plan.py)
    cycles_seed: int
    euler_deg: np.ndarray  # [2,3] XYZ Euler angles of the rotations c1, c2, degrees
    rotations: np.ndarray  # [2,3,3] R_c1, R_c2, object -> world
    pair: tuple  # (M1, M2) indices in the run's model list
    models: tuple  # their `sources.ModelRecord`s
    lighting: Lighting
    camera: Camera
    intrinsics: np.ndarray  # [3,3] K of `camera` at the run's resolution
    extrinsics: np.ndarray  # [4,4] world -> OpenCV camera

    @classmethod
    def of(cls, quad: int, seed: int, cycles_seed: int, euler_deg, rotations, pair, models, lighting: Lighting,
           camera: Camera, resolution: int) -> "QuadJob":
        """The job with the camera's K (square images of `resolution` pixels) and E."""
        return cls(quad, seed, cycles_seed, euler_deg, rotations, tuple(pair), tuple(models), lighting, camera,
                   camera.intrinsics(resolution, resolution), camera.extrinsics())


@dataclass(frozen=True)
class RenderedViews:
    """The views M1c1, M1c2, M2c1, M2c2 of a job with their passes (shapes of the shard fields)."""

    rgba: np.ndarray
    mask: np.ndarray
    depth: np.ndarray
    nocs: np.ndarray
    normals: np.ndarray
    render_params: tuple  # JSON per view: lights, world and camera as Blender rendered them
    untextured: np.ndarray  # [2] bool, M1, M2
    render_seconds: float
    rss_mb: float  # worker memory after the quadruplet


def shard_row(job: QuadJob, views: RenderedViews, category: str) -> QuadRow:
    """The shard row of a rendered job."""
    return QuadRow(
        rgba=views.rgba, mask=views.mask, depth=views.depth, nocs=views.nocs, normals=views.normals,
        render_params=views.render_params, untextured=views.untextured,
        rotations=job.rotations, euler_deg=job.euler_deg, nocs_to_object=np.stack([NOCS_TO_OBJECT] * 2),
        intrinsics=job.intrinsics, extrinsics=job.extrinsics, quad_index=job.quad, seed=job.seed, category=category,
        **{name: tuple(getattr(model, name) for model in job.models) for name in MODEL_FIELDS})
