"""Correspondence accuracy against rendered geometry: PCK on same-model view pairs (over all, or per category:
pck_by_category), and the NOCS error of a method that predicts NOCS (nocs-net); how well a pair's points
cover the objects (coverage_distance); and how far two foreground masks overlap (mask_iou).

For two views of ONE model (views 0<->1 = M1c1/M1c2 and 2<->3 = M2c1/M2c2) the true match of an
appearance point is exact: its pixel's NOCS goes through the model's NOCS->object transform, the other
view's rotation and the camera (eopose.dataset.geometry.project_views). A predicted pair is correct at
level alpha when the predicted point lies within alpha * max(H, W) pixels of the true one (PCK, as in
the keypoint-transfer literature). A point whose surface point is hidden in the other view (self-
occlusion, depth test) is still scored against where that point projects, and counted as hidden.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..geometry import pixel_centres, project_views

SAME_MODEL_PAIRS = ((0, 1), (2, 3))
PCK_ALPHAS = (0.05, 0.10)


def point_errors(record: dict, a: int, b: int, points_a: np.ndarray, points_b: np.ndarray, valid: np.ndarray):
    """(errors in pixels [m], hidden count) of the m valid pairs between views a and b of one quadruplet."""
    uv, visible = project_views(record, a, b)
    height, width = visible.shape
    points_a, points_b = points_a[valid], points_b[valid]
    cols = np.clip(np.floor(points_a[:, 0]).astype(np.int64), 0, width - 1)
    rows = np.clip(np.floor(points_a[:, 1]).astype(np.int64), 0, height - 1)
    errors = np.linalg.norm(uv[rows, cols] - points_b, axis=1)
    return np.nan_to_num(errors, nan=np.inf), int((~visible[rows, cols]).sum())


def pck(errors: np.ndarray, size: int, alphas=PCK_ALPHAS) -> dict:
    """alpha -> fraction of errors within alpha * size pixels (NaN without points)."""
    return {alpha: float(np.mean(errors <= alpha * size)) if len(errors) else float("nan") for alpha in alphas}


def pck_by_category(errors: list, categories: list, size: int, alphas=PCK_ALPHAS) -> dict:
    """category -> alpha -> PCK (`pck`) of the point errors of each view pair (`errors` [pairs] of arrays) grouped
    by its quadruplet's category (`categories` [pairs]), categories sorted."""
    return {category: pck(np.concatenate([e for e, c in zip(errors, categories) if c == category]), size, alphas)
            for category in sorted(set(categories))}


def nocs_error(predicted: np.ndarray, nocs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """L2 distances [m] between predicted and rendered NOCS ([..., H, W, 3]) at the m pixels where `mask` > 0."""
    foreground = np.asarray(mask) > 0
    return np.linalg.norm(np.asarray(predicted, np.float32)[foreground] - np.asarray(nocs, np.float32)[foreground],
                          axis=-1)


def mask_iou(first: np.ndarray, second: np.ndarray) -> float:
    """Intersection over union of two bool masks of one shape; 0 when both are empty."""
    return float((first & second).sum() / max((first | second).sum(), 1))


def coverage_distance(mask: np.ndarray, points: np.ndarray, valid: np.ndarray) -> float:
    """Mean distance in pixels from the foreground pixel centres of `mask` [H, W] to the nearest of the valid
    `points` [k, 2] of that image: small when the points spread over the object, large when they bunch on one
    part of it. The image diagonal when no point is valid; NaN for an empty mask."""
    foreground = pixel_centres(*np.shape(mask))[np.asarray(mask) > 0]
    if len(foreground) == 0:
        return float("nan")
    chosen = np.asarray(points)[np.asarray(valid, bool)]
    if len(chosen) == 0:
        return float(np.hypot(*np.shape(mask)))
    return float(cKDTree(chosen).query(foreground)[0].mean())
