"""The image of a body of revolution's axis read from its silhouette, to sharpen a pose fitted to predicted canonical
coordinates (dataset.pose_estimate) for categories symmetric about their up axis (vases, dataset.categories).

Under orthographic projection the silhouette of a surface of revolution is mirror-symmetric about the image of its
axis, and the centroid of a mirror-symmetric region lies on its mirror line; a near camera (the renderer's, 3.5
bounding-sphere radii away) bends this only slightly. So the axis's direction in the image is the angle whose
reflection through the mask centroid best overlaps the mask (IoU), searched within WINDOW_DEG of the direction the
NOCS fit gives, which also settles the line's sign and a cylinder's second mirror line across its axis. A line
outside the window replaces it only where it mirrors the mask clearly better (SWITCH_MARGIN): a squat body (a bowl)
whose fitted axis lies across the true one. (On pictures under random cameras and lights, with the demo's nocs-net,
that took the median rotation error modulo the axis from 34.6 to 28.3 degrees on urns and from 46.0 to 42.7 on
vases of a second generator, and left the demo's test vases at 12.75; docs/results.md.)

What the silhouette gives is the in-image direction of the axis, not its tilt towards the camera: `refine_view`
turns a fitted rotation by the smallest rotation that puts its up axis's image on the mirror line, keeping the tilt,
and `centre_on_line` places the object centre's pixel on the line; `shared_centre` combines the two pictures'
estimates of that pixel, which a pair taken by one camera of objects standing at one place shares, so where the two
mirror lines cross pins it down. The fit is left alone where the silhouette says
little: an axis within asin(MIN_SWING) of the viewing direction (a round silhouette), or a best reflection IoU below
MIN_MIRROR_IOU (handles, non-round bodies, occlusion). Measured on the vases' held-out renders with the demo's and
the photo nocs-net (docs/results.md, "Up axis from the silhouette"): the axis's in-image direction goes from a
median error of 5-7 degrees to 0.2-0.6.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .geometry import axis_rotations, pixel_centres

WINDOW_DEG = 35.0  # the search around the NOCS fit's direction
STEP_DEG = 0.5
MIN_SWING = 0.3  # |image component| of the unit up axis below which the silhouette is about round
MIN_MIRROR_IOU = 0.8
SWITCH_MARGIN = 0.05  # a line outside the window replaces the window's best if it mirrors the mask this much better
MAX_SIDE = 128  # the foreground's box is sampled down to this side first (the line's angle hardly needs more)


class MirrorLine(NamedTuple):
    angle_deg: float  # direction from the image's up (-y) towards +x, as image_angle_deg
    iou: float  # overlap of the mask with its reflection about the line
    centroid: np.ndarray  # [2] pixel (x, y) the line passes through


def image_angle_deg(axis: np.ndarray) -> float:
    """Direction in degrees of a camera-frame vector's image (OpenCV axes: x right, y down), measured from the
    image's up (-y) towards +x."""
    return float(np.degrees(np.arctan2(axis[0], -axis[1])))


def mirror_line(mask: np.ndarray, prior_deg: float, window_deg: float = WINDOW_DEG) -> MirrorLine | None:
    """The best mirror line of foreground `mask` [H, W] through its centroid within `window_deg` of `prior_deg`
    (module docstring); None for an empty mask."""
    foreground = np.asarray(mask) > 0
    if not foreground.any():
        return None
    # the foreground's bounding box, a pixel of margin: a mirrored sample outside it reads background either way
    rows_any, columns_any = np.flatnonzero(foreground.any(axis=1)), np.flatnonzero(foreground.any(axis=0))
    top, left = max(rows_any[0] - 1, 0), max(columns_any[0] - 1, 0)
    mask = torch.as_tensor(foreground[top:rows_any[-1] + 2, left:columns_any[-1] + 2], dtype=torch.float32)
    height, width = mask.shape
    factor = max(height, width) / MAX_SIDE
    if factor > 1:
        mask = F.interpolate(mask[None, None], size=(max(round(height / factor), 1), max(round(width / factor), 1)),
                             mode="area")[0, 0]
    else:
        factor = 1.0
    rows, columns = mask.shape
    ys, xs = torch.meshgrid(torch.arange(rows) + 0.5, torch.arange(columns) + 0.5, indexing="ij")
    total = mask.sum()
    centre_x, centre_y = (mask * xs).sum() / total, (mask * ys).sum() / total
    angles = torch.arange(prior_deg - window_deg, prior_deg + window_deg + 1e-6, STEP_DEG, dtype=torch.float64)
    radians = torch.deg2rad(angles).float()
    direction_x, direction_y = torch.sin(radians)[:, None, None], -torch.cos(radians)[:, None, None]
    offset_x, offset_y = xs - centre_x, ys - centre_y
    along = offset_x * direction_x + offset_y * direction_y  # p' = 2 (p . d) d - p about the centroid
    mirrored_x = 2 * along * direction_x - offset_x + centre_x
    mirrored_y = 2 * along * direction_y - offset_y + centre_y
    grid = torch.stack([mirrored_x / columns * 2 - 1, mirrored_y / rows * 2 - 1], dim=-1)
    mirrored = F.grid_sample(mask.expand(len(angles), 1, rows, columns), grid, align_corners=False)[:, 0]
    overlap = (mirrored * mask).sum((1, 2)) / (mirrored + mask - mirrored * mask).sum((1, 2))
    best = int(torch.argmax(overlap))
    centroid = np.array([float(centre_x), float(centre_y)]) * factor + [left, top]
    return MirrorLine(float(angles[best]), float(overlap[best]), centroid)


def minimal_rotation(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """[3, 3] the smallest rotation taking unit vector `source` to unit vector `target` (not opposite ones)."""
    axis = np.cross(source, target)
    sine = np.linalg.norm(axis)
    if sine < 1e-12:
        return np.eye(3)
    return axis_rotations(axis, np.array([np.arctan2(sine, np.dot(source, target))]))[0]


class RefinedView(NamedTuple):
    rotation: np.ndarray  # [3, 3] object -> camera
    line: MirrorLine | None  # None: the fit was left alone


def refine_view(rotation: np.ndarray, mask: np.ndarray) -> RefinedView:
    """`rotation` (object -> camera, its third column the up axis) turned so that its up axis's image lies on the
    mask's mirror line, its tilt towards the camera kept (module docstring)."""
    up = np.asarray(rotation, np.float64)[:, 2]
    swing = float(np.hypot(up[0], up[1]))
    if swing < MIN_SWING:
        return RefinedView(rotation, None)
    prior = image_angle_deg(up)
    line = mirror_line(mask, prior)
    if line is not None:
        across = mirror_line(mask, prior + 90.0, window_deg=90.0 - WINDOW_DEG)  # the rest of the half turn
        if across.iou > line.iou + SWITCH_MARGIN:
            # a line has two directions: the axis keeps the end nearer the fit's
            flip = abs((across.angle_deg - prior + 180.0) % 360.0 - 180.0) > 90.0
            line = across._replace(angle_deg=across.angle_deg + 180.0 * flip)
    if line is None or line.iou < MIN_MIRROR_IOU:
        return RefinedView(rotation, None)
    angle = np.radians(line.angle_deg)
    corrected = np.array([swing * np.sin(angle), -swing * np.cos(angle), up[2]])
    return RefinedView(minimal_rotation(up, corrected) @ rotation, line)


def _direction(line: MirrorLine) -> np.ndarray:
    angle = np.radians(line.angle_deg)
    return np.array([np.sin(angle), -np.cos(angle)])


def onto_line(pixel: np.ndarray, line: MirrorLine) -> np.ndarray:
    """[2] `pixel` (x, y) moved perpendicularly onto `line`."""
    direction = _direction(line)
    return line.centroid + np.dot(np.asarray(pixel, np.float64) - line.centroid, direction) * direction


def centre_on_line(pixel: np.ndarray, mask: np.ndarray, line: MirrorLine) -> np.ndarray:
    """[2] the image of the object centre on `line`: the mean of `pixel` (a fitted estimate) moved onto the line and
    the midpoint of the foreground's extent along the line. The second is what a body of revolution centred
    between its ends shows but for its rims' tilt (a wide rim seen from above lengthens one end); the two errors
    are independent. Measured on held-out renders (docs/results.md, "Up axis from the silhouette"): median pixel
    error 1.75 (fit) / 2.29 (extent) / 1.49 (mean) on the demo's test vases, 1.83 / 1.15 / 1.54 on urns under
    random cameras and lights."""
    direction = _direction(line)
    along = (pixel_centres(*mask.shape)[np.asarray(mask) > 0] - line.centroid) @ direction
    midpoint = line.centroid + (along.min() + along.max()) / 2 * direction
    return (onto_line(pixel, line) + midpoint) / 2


# the spread of each kind of estimate of the object centre's pixel, in pixels (median errors on the demo's held-out
# test vases and urns with the demo's nocs-net, docs/results.md "One centre for both pictures"): across a mirror
# line, along it (centre_on_line), and a plain fit (dataset.image_pose.fit_pivot) where there is no line
ACROSS_LINE_PX = 0.3
ALONG_LINE_PX = 1.5
FIT_PX = 2.0


def shared_centre(estimates: list) -> np.ndarray:
    """[2] the one pixel that best agrees with several pictures' estimates of the object centre's image,
    `estimates` [(pixel [2], MirrorLine or None)]: a picture with a line says the centre is on the line (within
    ACROSS_LINE_PX) at `pixel` along it (within ALONG_LINE_PX); one without, at `pixel` (within FIT_PX). Weighted
    least squares; two lines at a wide angle decide it (their crossing), two parallel ones leave it to the
    along-line estimates."""
    rows, values = [], []
    for pixel, line in estimates:
        pixel = np.asarray(pixel, np.float64)
        if line is None:
            rows += [np.array([1.0, 0.0]) / FIT_PX, np.array([0.0, 1.0]) / FIT_PX]
            values += [pixel[0] / FIT_PX, pixel[1] / FIT_PX]
            continue
        along = _direction(line)
        across = np.array([-along[1], along[0]])
        rows += [across / ACROSS_LINE_PX, along / ALONG_LINE_PX]
        values += [across @ line.centroid / ACROSS_LINE_PX, along @ pixel / ALONG_LINE_PX]
    return np.linalg.lstsq(np.stack(rows), np.array(values), rcond=None)[0]
