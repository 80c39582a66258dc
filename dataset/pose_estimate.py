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
targets are scaled by 1 + (r3 . X) / T_z each iteration, which converges to the full perspective pose. Pure weak
perspective is biased by the perspective of near cameras (rendered demo vases: median 4 degrees, 90th percentile
8, on the relative rotation). For a photo (camera unknown, UNKNOWN_CAMERA) the focal length is searched: step 2 for
weak perspective and FOCAL_WIDTHS (principal point at the image centre) on a subset of the pixels, a parabola
through the lowest robust cost and its neighbours in log focal length, and the full step 2 at the chosen camera.

In a category-aligned dataset object B in the pose image has A's target pose, so the rotation taking the
appearance object to its target pose, in the camera frame, is R = R_p R_a^T (dataset.geometry.relative_rotation is
the ground truth). For a category with a shape symmetry (dataset.categories: vases about their up axis, briefcases
and file cabinets by a half turn) the shape alone does not define the turn: the estimate is whatever turn the two
NOCS maps say (rendered NOCS: the true one; nocs-net: the one its texture cues chose, possibly off by a turn of the
group), nothing here picks among the symmetric candidates, and `rotation_error_deg` scores plain or modulo the
category's symmetry.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .categories import UP_AXIS, Symmetry
from .geometry import axis_rotations, pixel_centres, rotation_of_view
from .shard_format import NOCS_TO_OBJECT
from .silhouette_axis import refine_view

RANSAC_HYPOTHESES = 64
RANSAC_SAMPLE = 4  # points per affine hypothesis (8 unknowns, 2 equations per point)
RANSAC_SCORED = 256  # pixels a hypothesis is scored on
INLIER_FRACTION = 0.06  # inlier residual, as a fraction of the object's image extent (2 x RMS radius)
MIN_INLIER_PX = 1.0
IRLS_ITERATIONS = 8
SEARCH_ITERATIONS = 4  # IRLS iterations per candidate focal length
SEARCH_POINTS = 384  # pixels the candidates are compared on
# candidate focal lengths in image widths (unknown camera): the renderer's cameras span ~0.8-2.4
# (render.camera), and cropping a photo to the object lengthens its focal length in image widths
FOCAL_WIDTHS = (0.8, 1.1, 1.6, 2.3, 3.3, 5.0)
RIDGE = 1e-9
MIN_POINTS = 8  # fewer foreground pixels than this: no estimate (ViewPose.valid False)
UNKNOWN_CAMERA = "search"  # intrinsics of a photo: weak perspective or a searched focal length, whichever fits best


class ViewPose(NamedTuple):
    rotation: np.ndarray  # [3, 3] object -> camera (OpenCV axes)
    scale: float  # pixels per object unit (weak perspective) or 1 / T_z (normalised coordinates)
    inliers: int  # pixels within the final inlier residual
    points: int  # foreground pixels used
    facing: float  # fraction of the inliers in front of the object centre (camera z below it)
    cost: float  # the fit's robust cost: confidence-weighted mean Cauchy loss of the pixel residuals
    valid: bool  # False when the view has fewer than MIN_POINTS foreground pixels


def object_points(nocs: np.ndarray, nocs_to_object=None) -> np.ndarray:
    """Object-frame points [..., 3] of NOCS [..., 3] (default affine: shard_format.NOCS_TO_OBJECT)."""
    affine = np.asarray(NOCS_TO_OBJECT if nocs_to_object is None else nocs_to_object, dtype=np.float64)
    return np.asarray(nocs, dtype=np.float64) @ affine[:3, :3].T + affine[:3, 3]


def _design(points: np.ndarray) -> np.ndarray:
    """[..., N, 4]: points with a column of ones (the affine map's translation)."""
    return np.concatenate([points, np.ones(points.shape[:-1] + (1,))], axis=-1)


def _solve(normal: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Least-squares solution of normal equations [..., 4, 4] (a tiny ridge keeps degenerate samples finite)."""
    return np.linalg.solve(normal + RIDGE * np.eye(normal.shape[-1]), right)


def _residuals(affine: np.ndarray, design: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Squared residual norms [..., N] of affine maps [..., 4, 2] on design rows [..., N, 4]."""
    return ((design @ affine - targets) ** 2).sum(axis=-1)


def scaled_rotation(linear: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rotations [..., 3, 3], scales [...]) nearest to 2x3 maps `linear` [..., 2, 3] = s P R (module docstring,
    step 3)."""
    left, singular, right = np.linalg.svd(linear, full_matrices=False)
    rows = left @ right
    (x1, y1, z1), (x2, y2, z2) = np.moveaxis(rows, (-2, -1), (0, 1))
    third = np.stack([y1 * z2 - z1 * y2, z1 * x2 - x1 * z2, x1 * y2 - y1 * x2], axis=-1)
    return np.concatenate([rows, third[..., None, :]], axis=-2), singular.mean(axis=-1)


def _ransac(design, pixels, weights, threshold, rng) -> np.ndarray:
    """bool [N]: inliers of the best of RANSAC_HYPOTHESES minimal affine fits, scored by the confidence-weighted
    count of agreeing pixels among at most RANSAC_SCORED of them."""
    samples = rng.integers(0, len(design), size=(RANSAC_HYPOTHESES, RANSAC_SAMPLE))
    transposed = np.swapaxes(design[samples], -1, -2)
    affines = _solve(transposed @ design[samples], transposed @ pixels[samples])
    scored = rng.choice(len(design), min(len(design), RANSAC_SCORED), replace=False)
    agree = _residuals(affines, design[scored], pixels[scored]) < threshold ** 2
    best = affines[int(np.argmax(agree @ weights[scored]))]
    return _residuals(best, design, pixels) < threshold ** 2


class _Refined(NamedTuple):
    rotation: np.ndarray  # [C, 3, 3]
    scale: np.ndarray  # [C]
    residual_px: np.ndarray  # [C, N] squared pixel residuals
    cost: np.ndarray  # [C]


def _refine(design, pixels, weights, inliers, threshold_px: float, cameras: list, iterations: int) -> _Refined:
    """IRLS from the RANSAC inliers (module docstring, step 2) for C cameras at once: each intrinsics [3, 3]
    (normalised coordinates, POSIT's perspective correction) or None (weak perspective, pixels)."""
    perspective = np.array([camera is not None for camera in cameras])
    centre = np.stack([np.zeros(2) if camera is None else camera[:2, 2] for camera in cameras])[:, None]
    focal = np.stack([np.ones(2) if camera is None else np.diag(camera)[:2] for camera in cameras])[:, None]
    targets = (pixels - centre) / focal  # [C, N, 2]
    squared_scale = (threshold_px / 2 / focal[:, :, 0]) ** 2  # [C, 1]
    robust = np.broadcast_to(weights * inliers, targets.shape[:2])
    corrected = targets
    for _ in range(iterations):
        weighted = np.swapaxes(design * robust[..., None], -1, -2)  # [C, 4, N]
        affine = _solve(weighted @ design, weighted @ corrected)
        rotation, scale = scaled_rotation(np.swapaxes(affine[:, :3], -1, -2))
        # POSIT: 1 / T_z = scale in normalised coordinates; the camera depth of X relative to the centre is r3 . X
        correction = 1.0 + perspective[:, None] * scale[:, None] * (design[:, :3] @ rotation[:, 2, :, None])[..., 0]
        corrected = targets * correction[..., None]
        residual = _residuals(affine, design, corrected)
        robust = weights / (1.0 + residual / squared_scale)
    rotation, scale = scaled_rotation(np.swapaxes(affine[:, :3], -1, -2))
    cost = (weights * np.log1p(residual / squared_scale)).sum(axis=1) / weights.sum()
    return _Refined(rotation, scale, residual * focal[:, :, 0] ** 2, cost)


def _camera(focal_widths: float, height: int, width: int) -> np.ndarray:
    """Intrinsics with focal length `focal_widths` image widths and the principal point at the image centre."""
    focal = focal_widths * width
    return np.array([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]])


def _searched_focal(design, pixels, weights, inliers, threshold_px, shape, rng) -> _Refined:
    """The lowest-cost fit over weak perspective and FOCAL_WIDTHS (on at most SEARCH_POINTS pixels), refined at the
    vertex of the parabola through the best focal length's cost and its neighbours' (in log focal length)."""
    cameras = [None] + [_camera(focal, *shape) for focal in FOCAL_WIDTHS]
    some = np.sort(rng.choice(len(design), min(len(design), SEARCH_POINTS), replace=False))
    costs = _refine(design[some], pixels[some], weights[some], inliers[some], threshold_px, cameras,
                    SEARCH_ITERATIONS).cost
    best = int(np.argmin(costs))
    if 1 < best < len(costs) - 1:
        logs = np.log(FOCAL_WIDTHS[best - 2:best + 1])
        curve = np.polyfit(logs, costs[best - 1:best + 2], 2)
        if curve[0] > 0:
            cameras[best] = _camera(float(np.exp(np.clip(-curve[1] / (2 * curve[0]), logs[0], logs[2]))), *shape)
    return _refine(design, pixels, weights, inliers, threshold_px, [cameras[best]], IRLS_ITERATIONS)


def fit_view_pose(nocs: np.ndarray, mask: np.ndarray, confidence: np.ndarray | None = None, nocs_to_object=None,
                  intrinsics: np.ndarray | str | None = UNKNOWN_CAMERA, seed: int = 0) -> ViewPose:
    """Object -> camera rotation of one view from NOCS [H, W, 3] on a foreground mask [H, W] (module docstring);
    `confidence` [H, W] in [0, 1] weights the pixels. `intrinsics`: [3, 3] when known (perspective-corrected fit),
    None for weak perspective, UNKNOWN_CAMERA for the lowest-cost of weak perspective and focal lengths
    FOCAL_WIDTHS with the principal point at the image centre."""
    mask = np.asarray(mask) > 0
    nocs = np.asarray(nocs, dtype=np.float64)
    mask &= np.isfinite(nocs).all(axis=-1)
    if int(mask.sum()) < MIN_POINTS:
        return ViewPose(np.eye(3), float("nan"), 0, int(mask.sum()), float("nan"), float("inf"), False)
    design = _design(object_points(nocs[mask], nocs_to_object))
    pixels = pixel_centres(*mask.shape)[mask]
    weights = np.ones(len(pixels)) if confidence is None else np.clip(np.asarray(confidence, np.float64)[mask],
                                                                      1e-3, 1.0)
    extent = 2.0 * np.sqrt(((pixels - pixels.mean(axis=0)) ** 2).sum(axis=1).mean())
    threshold = max(INLIER_FRACTION * extent, MIN_INLIER_PX)
    rng = np.random.default_rng(seed)
    inliers = _ransac(design, pixels, weights, threshold, rng)
    if isinstance(intrinsics, str) and intrinsics == UNKNOWN_CAMERA:
        fit = _searched_focal(design, pixels, weights, inliers, threshold, mask.shape, rng)
    else:
        fit = _refine(design, pixels, weights, inliers, threshold,
                      [None if intrinsics is None else np.asarray(intrinsics, np.float64)], IRLS_ITERATIONS)
    rotation, inliers = fit.rotation[0], fit.residual_px[0] < threshold ** 2
    depth = design[inliers, :3] @ rotation[2]
    return ViewPose(rotation, float(fit.scale[0]), int(inliers.sum()), len(pixels), float(np.mean(depth < 0)) if len(depth) else float("nan"),
                    float(fit.cost[0]), True)


def relative_rotation_from_nocs(nocs_a, mask_a, nocs_p, mask_p, confidence_a=None, confidence_p=None,
                                nocs_to_object_a=None, nocs_to_object_p=None, intrinsics=UNKNOWN_CAMERA,
                                seed: int = 0, mirror_axis: bool = False) -> tuple[np.ndarray, bool]:
    """(R [3, 3], valid): the camera-frame rotation taking the appearance object to the pose image's pose,
    R = R_p R_a^T, from the two views' NOCS maps [H, W, 3] and masks [H, W]; the identity when a view has fewer
    than MIN_POINTS pixels. `intrinsics` as fit_view_pose's. `mirror_axis` (bodies of revolution: a category
    symmetric about its up axis) turns each view's up axis onto its silhouette's mirror line
    (dataset.silhouette_axis.refine_view), as `repose` does."""
    view_a = fit_view_pose(nocs_a, mask_a, confidence_a, nocs_to_object_a, intrinsics, seed)
    view_p = fit_view_pose(nocs_p, mask_p, confidence_p, nocs_to_object_p, intrinsics, seed)
    if not (view_a.valid and view_p.valid):
        return np.eye(3), False
    rotation_a, rotation_p = view_a.rotation, view_p.rotation
    if mirror_axis:
        rotation_a, rotation_p = refine_view(rotation_a, mask_a).rotation, refine_view(rotation_p, mask_p).rotation
    return rotation_p @ rotation_a.T, True


def estimate_relative_rotations(nocs_a, mask_a, nocs_p, mask_p, confidence_a=None, confidence_p=None,
                                intrinsics=UNKNOWN_CAMERA, seed: int = 0):
    """Batched entry point: (R [B, 3, 3], valid [B]) from NOCS [B, H, W, 3], masks [B, H, W], optional
    confidences [B, H, W]; `intrinsics` [B, 3, 3] or [3, 3] when known, else UNKNOWN_CAMERA (focal length
    searched) or None (weak perspective); numpy arrays or torch tensors (the result is of the type of `nocs_a`, on
    its device). CPU, one pair after the other."""
    as_numpy = [None if value is None else _numpy(value)
                for value in (nocs_a, mask_a, nocs_p, mask_p, confidence_a, confidence_p)]
    nocs_a_np, mask_a_np, nocs_p_np, mask_p_np, conf_a, conf_p = as_numpy
    count = len(nocs_a_np)
    known = intrinsics is not None and not isinstance(intrinsics, str)
    camera = np.broadcast_to(_numpy(intrinsics), (count, 3, 3)) if known else [intrinsics] * count
    rotations, valid = np.zeros((count, 3, 3)), np.zeros(count, bool)
    for index in range(count):
        rotations[index], valid[index] = relative_rotation_from_nocs(
            nocs_a_np[index], mask_a_np[index], nocs_p_np[index], mask_p_np[index],
            None if conf_a is None else conf_a[index], None if conf_p is None else conf_p[index],
            intrinsics=camera[index], seed=seed)
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


def rotation_error_deg(estimate: np.ndarray, truth: np.ndarray, symmetry: Symmetry | None = None,
                       axis: np.ndarray | None = None) -> np.ndarray:
    """Angular error [...] in degrees between rotations [..., 3, 3]. With the appearance object's shape
    `symmetry` (dataset.categories; the dataset's: QuadDataset.symmetry) and its up `axis` [..., 3] in the
    appearance view's camera frame (up_axis_in_camera), the error is taken modulo the symmetry's turns T of the
    appearance object about that axis, which leave its image unchanged: min over T of angle(estimate^T truth T).
    Order n: the n turns 2 pi j / n; continuous: every angle, i.e. the angle between estimate @ axis and
    truth @ axis (the swing left after removing the twist about the axis); order 1 or None: the plain angle."""
    estimate, truth = np.asarray(estimate, np.float64), np.asarray(truth, np.float64)
    if symmetry is None or symmetry.order == 1:
        return rotation_angle_deg(np.swapaxes(estimate, -1, -2) @ truth)
    if axis is None:
        raise ValueError("rotation_error_deg modulo a symmetry needs the appearance object's up `axis`")
    axis = np.asarray(axis, np.float64)
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    if symmetry.continuous:
        moved_estimate = (estimate @ axis[..., None])[..., 0]
        moved_truth = (truth @ axis[..., None])[..., 0]
        return np.degrees(np.arccos(np.clip((moved_estimate * moved_truth).sum(axis=-1), -1.0, 1.0)))
    turns = axis_rotations(axis, symmetry.angles())  # [..., n, 3, 3]
    relative = (np.swapaxes(estimate, -1, -2) @ truth)[..., None, :, :] @ turns
    return rotation_angle_deg(relative).min(axis=-1)


def up_axis_in_camera(record: dict, view: int) -> np.ndarray:
    """[3] the canonical up axis (+Z) of the object of `view` in the camera frame: E R_c (0, 0, 1)."""
    camera = np.asarray(record["extrinsics"], np.float64)[:3, :3]
    return camera @ np.asarray(record["rotations"], np.float64)[rotation_of_view(view)] @ UP_AXIS
