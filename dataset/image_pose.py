"""The pose inputs of the volume3d warp (eopose.model.volume_warp) estimated from two images alone: the relative
rotation, the pixel the object turns about and the camera depth, from `nocs-net`'s canonical coordinates.

* Rotation: dataset.pose_estimate fits each view's object -> camera rotation to its predicted NOCS (foreground and
  confidence from the network) and returns R = R_p R_a^T (in a category-aligned set object B in the pose image
  has A's target pose).
* Up axis: the appearance object's canonical up axis in the camera frame, R_a's third column, and the symmetry
  order of the pictures' category (dataset.categories), which the warp's symmetric hull prior turns about. A
  rotation about the up axis is what a symmetric category leaves ambiguous; the axis itself is not. For a category
  symmetric about its axis (vases) each view's fit is turned so that its axis's image lies on the silhouette's
  mirror line (dataset.silhouette_axis), its tilt towards the camera kept.
* Pivot: the image of the object centre, which the warp takes to be one pixel in both pictures (one camera, the
  objects standing at one place, as the renderer poses them). Per view, with R fixed, the weak-perspective model
  pixel = s (R X)_xy + t is linear in (s, t); t is fitted by least squares on the confident foreground pixels,
  refitted once without the pixels whose residual exceeds twice the median; for a vase it is then placed on the
  silhouette's mirror line, where the image of the object centre lies (silhouette_axis.centre_on_line). The two
  views' estimates and mirror lines are then combined (silhouette_axis.shared_centre): where the lines cross at a
  wide angle, their crossing.
* Camera depth (2 f / W): the renderer's fixed camera (render/camera.py: distance 3.5 bounding-sphere radii,
  frame 1.05 times the sphere's tangent cone, so 2 f / W = sqrt(3.5^2 - 1) / 1.05) unless the caller knows the
  focal length; photos seldom say it, and the warp depends on it only through perspective foreshortening.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from .categories import symmetry_of
from .geometry import pixel_centres
from .keypoints.nocs_net import NocsNet, predict
from .pose_estimate import fit_view_pose, object_points
from .silhouette_axis import centre_on_line, refine_view, shared_centre

DEFAULT_CAMERA_DEPTH = math.sqrt(3.5 ** 2 - 1) / 1.05
FOREGROUND_THRESHOLD = 0.5  # nocs-net's foreground probability
MIN_PIXELS = 8


def fit_pivot(nocs: np.ndarray, mask: np.ndarray, rotation: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
    """[2] pixel of the object centre under `rotation` (object -> camera) from NOCS [H, W, 3] on `mask` [H, W]
    (module docstring); None with fewer than MIN_PIXELS pixels."""
    if int(mask.sum()) < MIN_PIXELS:
        return None
    projected = (object_points(nocs[mask]) @ rotation.T)[:, :2]
    pixels = pixel_centres(*mask.shape)[mask]
    weight = weights[mask]
    count = len(pixels)
    # unknowns (s, t_x, t_y): x = s q_x + t_x and y = s q_y + t_y, one shared scale
    rows = np.concatenate([np.stack([projected[:, 0], np.ones(count), np.zeros(count)], axis=1),
                           np.stack([projected[:, 1], np.zeros(count), np.ones(count)], axis=1)])
    target = np.concatenate([pixels[:, 0], pixels[:, 1]])
    keep = np.ones(count, bool)
    for _ in range(2):
        w = np.concatenate([weight * keep, weight * keep])
        solution = np.linalg.lstsq(rows * w[:, None], target * w, rcond=None)[0]
        residual = np.hypot(*(pixels - (solution[0] * projected + solution[1:])).T)
        keep = residual <= 2 * np.median(residual[keep]) + 1e-9
    return solution[1:]


class PairPose(NamedTuple):
    rotation: np.ndarray  # [3, 3] relative rotation in the camera frame
    up_axis: np.ndarray  # [3] the appearance object's up axis in the camera frame
    pivot: np.ndarray  # [2] pixel of the object centre, from both views
    appearance_pivot: np.ndarray  # [2] the appearance view's own estimate of it (benchmarks/rotation.py compares)
    valid: bool  # False: a view had too few foreground pixels (the identity, the image centre, the image's up)


def pair_pose(appearance: tuple, pose: tuple, category: str | None) -> PairPose:
    """The pose inputs of one pair from each view's (NOCS [H, W, 3], foreground [H, W] bool, confidence [H, W])
    (module docstring)."""
    height, width = appearance[1].shape
    fits = [fit_view_pose(*view) for view in (appearance, pose)]
    if not all(fit.valid for fit in fits):
        centre = np.array([width / 2, height / 2])
        return PairPose(np.eye(3), np.array([0.0, -1.0, 0.0]), centre, centre, False)
    rotations, lines = [fit.rotation for fit in fits], [None, None]
    if symmetry_of(category).continuous:
        for index, (fit, view) in enumerate(zip(fits, (appearance, pose))):
            rotations[index], lines[index] = refine_view(fit.rotation, view[1])
    # fit_pivot's None (too few foreground pixels) is what fit_view_pose has already refused
    centres = []
    for (nocs, mask, confidence), rotation, line in zip((appearance, pose), rotations, lines):
        pixel = fit_pivot(nocs, mask, rotation, np.clip(confidence, 1e-3, 1.0))
        centres.append((pixel if line is None else centre_on_line(pixel, mask, line), line))
    return PairPose(rotations[1] @ rotations[0].T, rotations[0][:, 2], shared_centre(centres), centres[0][0], True)


@torch.no_grad()
def estimate_pose_inputs(net: NocsNet, appearance_rgba: np.ndarray, pose_rgba: np.ndarray, device="cpu",
                         camera_depth: float = DEFAULT_CAMERA_DEPTH, categories=None) -> dict:
    """{rotation [B, 3, 3], pivot [B, 2] (pixels), camera_depth [B], up_axis [B, 3], symmetry_order [B] (int64),
    valid [B] bool} as tensors (float32 but the last two) for uint8
    RGBA pairs [B, H, W, 4] (the alpha is the foreground; nocs-net's own foreground narrows it) of `categories`
    (one name or one per pair; needed by a nocs-net of several categories). An invalid pair (a view with too few
    foreground pixels) gets the identity, the image centre and the image's up direction."""
    count = appearance_rgba.shape[0]
    views = categories if categories is None or isinstance(categories, str) else [*categories, *categories]
    nocs, probability, confidence = predict(net, np.concatenate([appearance_rgba, pose_rgba]), device,
                                            categories=views)
    masks = (np.concatenate([appearance_rgba, pose_rgba])[..., 3] > 127) & (probability > FOREGROUND_THRESHOLD)
    names = [categories] * count if categories is None or isinstance(categories, str) else list(categories)
    pairs = [pair_pose((nocs[index], masks[index], confidence[index]),
                       (nocs[count + index], masks[count + index], confidence[count + index]), names[index])
             for index in range(count)]
    return {"rotation": torch.as_tensor(np.stack([pair.rotation for pair in pairs]), dtype=torch.float32),
            "pivot": torch.as_tensor(np.stack([pair.pivot for pair in pairs]), dtype=torch.float32),
            "camera_depth": torch.full((count,), float(camera_depth)),
            "up_axis": torch.as_tensor(np.stack([pair.up_axis for pair in pairs]), dtype=torch.float32),
            "symmetry_order": torch.tensor([symmetry_of(name).order for name in names], dtype=torch.int64),
            "valid": torch.as_tensor([pair.valid for pair in pairs])}
