"""Fixed render camera: intrinsics `K` and world->camera extrinsics `E` in the dataset's
conventions (docs/dataset-format.md: OpenCV camera frame, pixel centres at `j + 0.5`).

Pure numpy, so the dataset side and the tests can use it without Blender; `blender_scene`
builds the Blender camera from the same numbers.
"""
from __future__ import annotations

import numpy as np

# The object is normalised to a bounding sphere of radius 1 at the origin. A camera at
# distance DISTANCE sees that sphere under a half-angle asin(1/DISTANCE); the frame's
# half-width is MARGIN times the sphere's tangent, so every rotation stays in frame.
DISTANCE = 3.5
ELEVATION_DEG = 15.0  # camera looks at the front (-Y) from slightly above
MARGIN = 1.05
SENSOR_WIDTH_MM = 36.0  # Blender's default sensor width; only the ratio lens/sensor matters


def tan_half_fov() -> float:
    """Tangent of the horizontal half field of view."""
    return MARGIN / np.sqrt(DISTANCE**2 - 1.0)


def lens_mm() -> float:
    return SENSOR_WIDTH_MM / 2.0 / tan_half_fov()


def location() -> np.ndarray:
    """Camera centre in the world frame (Blender: +Z up; the category front faces -Y)."""
    e = np.deg2rad(ELEVATION_DEG)
    return np.array([0.0, -DISTANCE * np.cos(e), DISTANCE * np.sin(e)])


def camera_to_world_blender() -> np.ndarray:
    """3x3 rotation of the Blender camera (looks along its -Z, up is its +Y) -> world."""
    forward = -location() / np.linalg.norm(location())
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return np.stack([right, up, -forward], axis=1)


def extrinsics() -> np.ndarray:
    """4x4 world -> OpenCV camera (x right, y down, z forward)."""
    r_wc = np.diag([1.0, -1.0, -1.0]) @ camera_to_world_blender().T
    e = np.eye(4)
    e[:3, :3] = r_wc
    e[:3, 3] = -r_wc @ location()
    return e


def intrinsics(width: int, height: int) -> np.ndarray:
    """3x3 K for square pixels, principal point at the image centre (Blender has no
    shift here), horizontal sensor fit."""
    f = width / 2.0 / tan_half_fov()
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def euler_xyz_matrix(euler_deg) -> np.ndarray:
    """R = Rz @ Ry @ Rx (Blender Euler mode 'XYZ', x applied first), object -> world."""
    x, y, z = np.deg2rad(np.asarray(euler_deg, dtype=np.float64))
    cx, sx, cy, sy, cz, sz = np.cos(x), np.sin(x), np.cos(y), np.sin(y), np.cos(z), np.sin(z)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx
