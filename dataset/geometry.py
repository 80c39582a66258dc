"""Geometric ground truth from rendered passes: NOCS -> object -> world -> camera -> pixel.

Two views of the same model differ only by the object rotation, so every foreground pixel of one
view can be mapped exactly into the other through its canonical object coordinates (NOCS), the
stored rotations and the camera; a depth test tells whether the point is visible there. This gives
exact correspondences, dense ground-truth flow and visibility. Conventions: docs/dataset-format.md.
"""
from __future__ import annotations

import numpy as np

# Scene units (object bounding-sphere radius is 1): float16 depth near the camera distance is
# quantised to ~0.004, and a half-pixel step on a slanted surface moves depth by ~0.01.
DEFAULT_DEPTH_TOLERANCE = 0.03


def model_of_view(view: int) -> int:
    """0 for M1 (views M1c1, M1c2), 1 for M2."""
    return view // 2


def rotation_of_view(view: int) -> int:
    """0 for c1 (views M1c1, M2c1), 1 for c2."""
    return view % 2


def pixel_centres(height: int, width: int) -> np.ndarray:
    """[H,W,2] pixel-centre coordinates (x, y) = (j + 0.5, i + 0.5)."""
    ys, xs = np.meshgrid(np.arange(height) + 0.5, np.arange(width) + 0.5, indexing="ij")
    return np.stack([xs, ys], axis=-1)


def nocs_to_world(nocs: np.ndarray, nocs_to_object: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """World points [...,3] of NOCS values [...,3] for a model posed by `rotation` (object -> world)."""
    nocs = np.asarray(nocs, dtype=np.float64)
    affine = np.asarray(nocs_to_object, dtype=np.float64)
    obj = nocs @ affine[:3, :3].T + affine[:3, 3]
    return obj @ np.asarray(rotation, dtype=np.float64).T


def project(points_world: np.ndarray, intrinsics: np.ndarray, extrinsics: np.ndarray):
    """Pixel coordinates [...,2] (x, y) and camera depth z [...] of world points [...,3]."""
    extrinsics = np.asarray(extrinsics, dtype=np.float64)
    cam = points_world @ extrinsics[:3, :3].T + extrinsics[:3, 3]
    z = cam[..., 2]
    homogeneous = cam @ np.asarray(intrinsics, dtype=np.float64).T
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = homogeneous[..., :2] / homogeneous[..., 2:3]
    return uv, z


def map_view(nocs_src, mask_src, nocs_to_object, rotation_dst, intrinsics, extrinsics,
             depth_dst=None, mask_dst=None, depth_tolerance: float = DEFAULT_DEPTH_TOLERANCE):
    """Where each foreground pixel of a source view lands in another view of the same model.

    Returns uv [H,W,2] (pixel x, y in the destination; NaN off the source mask) and visible [H,W]
    (inside the destination image, on its mask and passing the depth test; all foreground pixels
    that land in the image when no destination depth is given).
    """
    mask_src = np.asarray(mask_src).astype(bool)
    uv, z = project(nocs_to_world(nocs_src, nocs_to_object, rotation_dst), intrinsics, extrinsics)
    uv[~mask_src] = np.nan
    height, width = mask_src.shape
    inside = mask_src & (uv[..., 0] >= 0) & (uv[..., 0] < width) & (uv[..., 1] >= 0) & (uv[..., 1] < height)
    visible = inside.copy()
    if depth_dst is not None:
        cols = np.clip(np.floor(np.nan_to_num(uv[..., 0])).astype(np.int64), 0, width - 1)
        rows = np.clip(np.floor(np.nan_to_num(uv[..., 1])).astype(np.int64), 0, height - 1)
        seen = np.asarray(depth_dst, dtype=np.float64)[rows, cols]
        visible &= np.abs(seen - z) <= depth_tolerance
        if mask_dst is not None:
            visible &= np.asarray(mask_dst).astype(bool)[rows, cols]
    return uv, visible


def project_views(record: dict, src_view: int, dst_view: int,
                  depth_tolerance: float = DEFAULT_DEPTH_TOLERANCE):
    """map_view between two views of one model of a quadruplet record (see shard_format.QuadDataset)."""
    if model_of_view(src_view) != model_of_view(dst_view):
        raise ValueError(f"views {src_view} and {dst_view} show different models; exact mapping needs one model")
    return map_view(record["nocs"][src_view], record["mask"][src_view],
                    record["nocs_to_object"][model_of_view(src_view)],
                    record["rotations"][rotation_of_view(dst_view)], record["intrinsics"], record["extrinsics"],
                    depth_dst=record["depth"][dst_view], mask_dst=record["mask"][dst_view],
                    depth_tolerance=depth_tolerance)


def ground_truth_flow(record: dict, appearance_view: int, target_view: int,
                      depth_tolerance: float = DEFAULT_DEPTH_TOLERANCE):
    """Backward flow target -> appearance: flow [2,H,W] float32 and valid [H,W] bool.

    Target pixel p sees the surface point that appearance pixel p + flow(p) sees (valid where that
    point is visible in the appearance view); the convention the warping module uses.
    """
    uv, valid = project_views(record, target_view, appearance_view, depth_tolerance)
    height, width = valid.shape
    flow = np.where(valid[..., None], uv - pixel_centres(height, width), 0.0)
    return flow.transpose(2, 0, 1).astype(np.float32), valid


def relative_rotation(record: dict, appearance_view: int, target_view: int) -> np.ndarray:
    """[3,3] rotation, in the camera frame, that turns the object of `appearance_view` into its pose in
    `target_view`: ``x_cam_target - c = R @ (x_cam_appearance - c)`` for every object point, with c the object
    centre in camera coordinates. ``R = E R_t R_a^T E^T`` from the record's `rotations` and `extrinsics`
    (docs/dataset-format.md); views of the other model share its rotation (a category-aligned pose)."""
    rotations = np.asarray(record["rotations"], dtype=np.float64)
    camera = np.asarray(record["extrinsics"], dtype=np.float64)[:3, :3]
    source, target = rotations[rotation_of_view(appearance_view)], rotations[rotation_of_view(target_view)]
    return camera @ target @ source.T @ camera.T


def pivot_pixel(record: dict) -> np.ndarray:
    """[2] pixel (x, y) where the object centre (the world origin) projects: the point a rotation turns about."""
    uv, _ = project(np.zeros(3), record["intrinsics"], record["extrinsics"])
    return uv


def axis_rotations(axis: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """[..., S, 3, 3] rotations by `angles` [S] (radians) about unit-normalised axes [..., 3] (Rodrigues)."""
    axis = np.asarray(axis, np.float64)
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    x, y, z = np.moveaxis(axis, -1, 0)
    zero = np.zeros_like(x)
    cross = np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], -2)
    sin, cos = np.sin(angles)[:, None, None], np.cos(angles)[:, None, None]
    cross = cross[..., None, :, :]
    return np.eye(3) + sin * cross + (1.0 - cos) * (cross @ cross)
