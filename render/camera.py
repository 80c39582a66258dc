"""Render camera: intrinsics `K` and world->camera extrinsics `E` in the dataset's conventions
(docs/dataset-format.md: OpenCV camera frame, pixel centres at `j + 0.5`), for the fixed camera and
for per-quadruplet random cameras (`--camera random`).

Pure numpy, so the dataset side and the tests can use it without Blender; `blender_scene`
builds the Blender camera from the same numbers.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SENSOR_WIDTH_MM = 36.0  # Blender's default sensor width; only the ratio lens/sensor matters
# `--camera random` ranges (uniform). The object is normalised to a bounding sphere of radius 1 at the
# origin; `margin` is the frame's half-width over the sphere's projected radius, so every rotation stays
# in frame for any margin >= 1, and the in-plane shift is drawn within what that margin leaves free.
RANDOM_DISTANCE = (2.5, 5.0)  # scene units (sphere radii)
RANDOM_MARGIN = (1.05, 1.4)  # sets the focal length with the distance: a tight crop up to a loose one
RANDOM_ELEVATION_DEG = (5.0, 30.0)
SHIFT_USE = 0.9  # fraction of the free margin an in-plane shift may use


@dataclass(frozen=True)
class Camera:
    """A perspective camera looking at the origin from the front (-Y), `elevation_deg` above the
    horizon, at `distance`; its image is offset in-plane by `shift_x/shift_y` (Blender's lens shift,
    in units of the image width: the principal point moves by -shift_x * W, +shift_y * W)."""

    distance: float = 3.5
    elevation_deg: float = 15.0
    margin: float = 1.05
    shift_x: float = 0.0
    shift_y: float = 0.0

    def tan_half_fov(self) -> float:
        """Tangent of the horizontal half field of view: the sphere's silhouette cone has half-angle
        asin(1/distance), and the frame is `margin` times wider."""
        return self.margin / np.sqrt(self.distance**2 - 1.0)

    def lens_mm(self) -> float:
        return SENSOR_WIDTH_MM / 2.0 / self.tan_half_fov()

    def location(self) -> np.ndarray:
        """Camera centre in the world frame (Blender: +Z up; the category front faces -Y)."""
        e = np.deg2rad(self.elevation_deg)
        return np.array([0.0, -self.distance * np.cos(e), self.distance * np.sin(e)])

    def camera_to_world_blender(self) -> np.ndarray:
        """3x3 rotation of the Blender camera (looks along its -Z, up is its +Y) -> world."""
        forward = -self.location() / np.linalg.norm(self.location())
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        return np.stack([right, up, -forward], axis=1)

    def extrinsics(self) -> np.ndarray:
        """4x4 world -> OpenCV camera (x right, y down, z forward)."""
        r_wc = np.diag([1.0, -1.0, -1.0]) @ self.camera_to_world_blender().T
        e = np.eye(4)
        e[:3, :3] = r_wc
        e[:3, 3] = -r_wc @ self.location()
        return e

    def intrinsics(self, width: int, height: int) -> np.ndarray:
        """3x3 K for square pixels and horizontal sensor fit; Blender's shift moves the principal point
        by shift * (largest image side) (left for +shift_x, down the image for +shift_y)."""
        f = width / 2.0 / self.tan_half_fov()
        side = max(width, height)
        return np.array([[f, 0.0, width / 2.0 - self.shift_x * side],
                         [0.0, f, height / 2.0 + self.shift_y * side], [0.0, 0.0, 1.0]])

    def to_dict(self) -> dict:
        return {**asdict(self), "lens_mm": self.lens_mm(), "sensor_width_mm": SENSOR_WIDTH_MM}


FIXED = Camera()


def draw_camera(mode: str, qseed: int) -> Camera:
    """The quadruplet's camera: `fixed`, or `random` drawn from its seed within the ranges above."""
    if mode == "fixed":
        return FIXED
    rng = np.random.default_rng([qseed, 3])
    margin = float(rng.uniform(*RANDOM_MARGIN))
    free = (1.0 - 1.0 / margin) / 2.0 * SHIFT_USE  # per axis: |shift| + sphere radius / width <= 1/2
    shift = rng.uniform(-free, free, size=2)
    return Camera(distance=float(rng.uniform(*RANDOM_DISTANCE)),
                  elevation_deg=float(rng.uniform(*RANDOM_ELEVATION_DEG)), margin=margin, shift_x=float(shift[0]), shift_y=float(shift[1]))


def euler_xyz_matrix(euler_deg) -> np.ndarray:
    """R = Rz @ Ry @ Rx (Blender Euler mode 'XYZ', x applied first), object -> world."""
    x, y, z = np.deg2rad(np.asarray(euler_deg, dtype=np.float64))
    cx, sx, cy, sy, cz, sz = np.cos(x), np.sin(x), np.cos(y), np.sin(y), np.cos(z), np.sin(z)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx
