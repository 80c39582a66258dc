"""Relative rotation of two views estimated from their per-pixel canonical coordinates (NOCS).

Each foreground pixel with NOCS value n shows the object point X = A n + a (A, a: the NOCS -> object affine,
`nocs_to_object` in the shards, docs/dataset-format.md). Per view the object -> camera rotation R_i is fitted to
these 2-D/3-D pairs under a scaled orthographic (weak-perspective) camera, pixel ~= s P R_i X + t, P = the first two
rows of the identity:
1. RANSAC (Fischler & Bolles 1981) over the least-squares 2x3 affine map X -> pixel (4 points per hypothesis,
   RANSAC_HYPOTHESES seeded hypotheses; a pixel agrees when its residual is below INLIER_FRACTION of the object's
   image extent), weighted by the per-pixel confidence where one is given (nocs-net);
2. iteratively reweighted least squares (Cauchy weights, Holland & Welsch 1977) from the best hypothesis's inliers;
3. the 2x3 map is projected to the nearest scaled matrix with orthonormal rows (SVD: U V^T, s = mean singular
   value) and the third row is r1 x r2. Pixels are (x right, y down) as the camera's OpenCV axes (x right, y down,
   z forward), a right-handed frame, so the cross product is the camera's forward axis and R_i is a proper rotation
   (det +1); a mirrored NOCS map cannot be fitted by one (`ViewPose.facing` says how many of the fitted points lie
   on the camera's side of the object centre, as a visible surface does).
With the camera intrinsics known (renders) step 2 runs on normalised image coordinates with the perspective
correction of POSIT (DeMenthon & Davis, "Model-Based Object Pose in 25 Lines of Code", IJCV 1995): the
targets are scaled by 1 + (r3 . X) / T_z each iteration, which converges to the full perspective pose. Without
them (photos) the fit stays weak-perspective: about 1-3 degrees of bias per view at the renderer's distances.

In a category-aligned dataset object B in the pose image has A's target pose, so the rotation taking the
appearance object to its target pose, in the camera frame, is R = R_p R_a^T (dataset.geometry.relative_rotation is
the ground truth). An object symmetric about its up axis (vases: canonical +Z) has no defined angle about it; the
estimate takes whatever the NOCS maps say, and `rotation_error_deg` can score modulo that axis.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .geometry import pixel_centres, rotation_of_view
from .shard_format import NOCS_TO_OBJECT

RANSAC_HYPOTHESES = 64
RANSAC_SAMPLE = 4  # points per affine hypothesis (8 unknowns, 2 equations per point)
RANSAC_SCORED = 256  # pixels a hypothesis is scored on
INLIER_FRACTION = 0.06  # inlier residual, as a fraction of the object's image extent (2 x RMS radius)
MIN_INLIER_PX = 1.0
IRLS_ITERATIONS = 8
RIDGE = 1e-9
MIN_POINTS = 8  # fewer foreground pixels than this: no estimate (ViewPose.valid False)
UP_AXIS = np.array([0.0, 0.0, 1.0])  # the category canonical frame's up axis (docs/dataset-format.md)


class ViewPose(NamedTuple):
    rotation: np.ndarray  # [3, 3] object -> camera (OpenCV axes)
    scale: float  # pixels per object unit (weak perspective) or 1 / T_z (normalised coordinates)
    inliers: int  # pixels within the final inlier residual
    points: int  # foreground pixels used
    facing: float  # fraction of the inliers in front of the object centre (camera z below it)
    valid: bool  # False when the view has fewer than MIN_POINTS foreground pixels


def object_points(nocs: np.ndarray, nocs_to_object=None) -> np.ndarray:
    """Object-frame points [..., 3] of NOCS [..., 3] (default affine: shard_format.NOCS_TO_OBJECT)."""
    affine = np.asarray(NOCS_TO_OBJECT if nocs_to_object is None else nocs_to_object, dtype=np.float64)
    return np.asarray(nocs, dtype=np.float64) @ affine[:3, :3].T + affine[:3, 3]


def _affine_fit(points: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """[4, 2] weighted least-squares map [X, 1] -> target."""
    design = np.concatenate([points, np.ones((len(points), 1))], axis=1)
    weighted = design.T * weights
    return _solve(weighted @ design, weighted @ targets)


def _solve(normal: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Least-squares solution of normal equations [..., 4, 4] (a tiny ridge keeps degenerate samples finite)."""
    return np.linalg.solve(normal + RIDGE * np.eye(normal.shape[-1]), right)


def _residuals(affine: np.ndarray, points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Squared residual norms [..., N] of affine maps [..., 4, 2]."""
    difference = points @ affine[..., :3, :] + affine[..., 3:, :] - targets
    return (difference ** 2).sum(axis=-1)


def scaled_rotation(linear: np.ndarray) -> tuple[np.ndarray, float]:
    """(rotation [3, 3], scale) nearest to a 2x3 map `linear` = s P R (module docstring, step 3)."""
    left, singular, right = np.linalg.svd(linear, full_matrices=False)
    (x1, y1, z1), (x2, y2, z2) = rows = left @ right
    return np.vstack([rows, [y1 * z2 - z1 * y2, z1 * x2 - x1 * z2, x1 * y2 - y1 * x2]]), float(singular.mean())


def _ransac(points, targets, weights, threshold, rng) -> np.ndarray:
    """bool [N]: inliers of the best of RANSAC_HYPOTHESES minimal affine fits, scored by the confidence-weighted
    count of agreeing pixels among at most RANSAC_SCORED of them."""
    samples = rng.integers(0, len(points), size=(RANSAC_HYPOTHESES, RANSAC_SAMPLE))
    design = np.concatenate([points[samples], np.ones(samples.shape + (1,))], axis=-1)
    transposed = np.swapaxes(design, -1, -2)
    affines = _solve(transposed @ design, transposed @ targets[samples])
    scored = rng.choice(len(points), min(len(points), RANSAC_SCORED), replace=False)
    agree = _residuals(affines, points[scored], targets[scored]) < threshold ** 2
    best = affines[int(np.argmax(agree @ weights[scored]))]
    return _residuals(best, points, targets) < threshold ** 2


def fit_view_pose(nocs: np.ndarray, mask: np.ndarray, confidence: np.ndarray | None = None, nocs_to_object=None,
                  intrinsics: np.ndarray | None = None, seed: int = 0) -> ViewPose:
    """Object -> camera rotation of one view from NOCS [H, W, 3] on a foreground mask [H, W] (module docstring);
    `confidence` [H, W] in [0, 1] weights the pixels; `intrinsics` [3, 3] (when known) enables the perspective
    correction."""
    mask = np.asarray(mask) > 0
    nocs = np.asarray(nocs, dtype=np.float64)
    mask &= np.isfinite(nocs).all(axis=-1)
    if int(mask.sum()) < MIN_POINTS:
        return ViewPose(np.eye(3), float("nan"), 0, int(mask.sum()), float("nan"), False)
    points = object_points(nocs[mask], nocs_to_object)
    pixels = pixel_centres(*mask.shape)[mask]
    weights = np.ones(len(points)) if confidence is None else np.clip(np.asarray(confidence, np.float64)[mask],
                                                                      1e-3, 1.0)
    if intrinsics is None:
        targets, pixels_per_unit = pixels, 1.0
    else:
        intrinsics = np.asarray(intrinsics, dtype=np.float64)
        targets = (pixels - intrinsics[:2, 2]) / np.diag(intrinsics)[:2]
        pixels_per_unit = float(intrinsics[0, 0])
    extent = 2.0 * np.sqrt(((pixels - pixels.mean(axis=0)) ** 2).sum(axis=1).mean())
    threshold = max(INLIER_FRACTION * extent, MIN_INLIER_PX) / pixels_per_unit
    inliers = _ransac(points, targets, weights, threshold, np.random.default_rng(seed))
    robust = weights * inliers
    correction = np.ones(len(points))
    for _ in range(IRLS_ITERATIONS):
        affine = _affine_fit(points, targets * correction[:, None], robust)
        if intrinsics is not None:  # POSIT: scale = 1 / T_z in normalised coordinates
            rotation, scale = scaled_rotation(affine[:3].T)
            correction = 1.0 + scale * (points @ rotation[2])
        residual = _residuals(affine, points, targets * correction[:, None])
        robust = weights / (1.0 + residual / (threshold / 2) ** 2)
    rotation, scale = scaled_rotation(affine[:3].T)
    inliers = residual < threshold ** 2
    depth = points[inliers] @ rotation[2]
    return ViewPose(rotation, scale, int(inliers.sum()), len(points), float(np.mean(depth < 0)), True)


def relative_rotation_from_nocs(nocs_a, mask_a, nocs_p, mask_p, confidence_a=None, confidence_p=None,
                                nocs_to_object_a=None, nocs_to_object_p=None, intrinsics=None,
                                seed: int = 0) -> tuple[np.ndarray, bool]:
    """(R [3, 3], valid): the camera-frame rotation taking the appearance object to the pose image's pose,
    R = R_p R_a^T, from the two views' NOCS maps [H, W, 3] and masks [H, W]; the identity when a view has fewer
    than MIN_POINTS pixels."""
    view_a = fit_view_pose(nocs_a, mask_a, confidence_a, nocs_to_object_a, intrinsics, seed)
    view_p = fit_view_pose(nocs_p, mask_p, confidence_p, nocs_to_object_p, intrinsics, seed)
    if not (view_a.valid and view_p.valid):
        return np.eye(3), False
    return view_p.rotation @ view_a.rotation.T, True


def estimate_relative_rotations(nocs_a, mask_a, nocs_p, mask_p, confidence_a=None, confidence_p=None,
                                intrinsics=None, seed: int = 0):
    """Batched entry point: (R [B, 3, 3], valid [B]) from NOCS [B, H, W, 3], masks [B, H, W], optional
    confidences [B, H, W] and intrinsics [B, 3, 3] or [3, 3]; numpy arrays or torch tensors (the result is of the
    type of `nocs_a`, on its device)."""
    as_numpy = [None if value is None else _numpy(value)
                for value in (nocs_a, mask_a, nocs_p, mask_p, confidence_a, confidence_p, intrinsics)]
    nocs_a_np, mask_a_np, nocs_p_np, mask_p_np, conf_a, conf_p, camera = as_numpy
    count = len(nocs_a_np)
    if camera is not None and camera.ndim == 2:
        camera = np.broadcast_to(camera, (count, 3, 3))
    rotations, valid = np.zeros((count, 3, 3)), np.zeros(count, bool)
    for index in range(count):
        rotations[index], valid[index] = relative_rotation_from_nocs(
            nocs_a_np[index], mask_a_np[index], nocs_p_np[index], mask_p_np[index],
            None if conf_a is None else conf_a[index], None if conf_p is None else conf_p[index],
            intrinsics=None if camera is None else camera[index], seed=seed)
    if isinstance(nocs_a, np.ndarray):
        return rotations, valid
    return (torch.as_tensor(rotations, dtype=nocs_a.dtype, device=nocs_a.device),
            torch.as_tensor(valid, device=nocs_a.device))


def _numpy(value) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


def rotation_angle_deg(rotation: np.ndarray) -> np.ndarray:
    """Angle [...] in degrees of rotation matrices [..., 3, 3]."""
    cosine = (np.trace(rotation, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def rotation_error_deg(estimate: np.ndarray, truth: np.ndarray, symmetry: np.ndarray | None = None) -> np.ndarray:
    """Angular error [...] in degrees between rotations [..., 3, 3]. With `symmetry` [..., 3] (the object's
    symmetry axis in the appearance view's camera frame, e.g. `up_axis_in_camera`) the error is taken modulo
    rotations of the appearance object about that axis: min over t of angle(estimate^T truth Rot(axis, t)),
    which is the angle between estimate @ axis and truth @ axis (the swing left after removing the twist about
    the axis)."""
    estimate, truth = np.asarray(estimate, np.float64), np.asarray(truth, np.float64)
    if symmetry is None:
        return rotation_angle_deg(np.swapaxes(estimate, -1, -2) @ truth)
    axis = np.asarray(symmetry, np.float64)
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    moved_estimate = (estimate @ axis[..., None])[..., 0]
    moved_truth = (truth @ axis[..., None])[..., 0]
    return np.degrees(np.arccos(np.clip((moved_estimate * moved_truth).sum(axis=-1), -1.0, 1.0)))


def up_axis_in_camera(record: dict, view: int) -> np.ndarray:
    """[3] the canonical up axis (+Z) of the object of `view` in the camera frame: E R_c (0, 0, 1)."""
    camera = np.asarray(record["extrinsics"], np.float64)[:3, :3]
    return camera @ np.asarray(record["rotations"], np.float64)[rotation_of_view(view)] @ UP_AXIS
