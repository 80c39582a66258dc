"""Up-axis estimate and canonical rotation of a mesh, in the frame the renderer imports it in.

The renderer imports GLB/glTF through Blender, whose importer turns glTF's +Y-up frame (glTF 2.0 spec,
"Coordinate System and Units") into Blender's +Z-up one: (x, y, z) -> (x, -z, y) (io_import_scene_gltf2,
`convert_swizzle_location`), i.e. a rotation of +90 degrees about X. The canonical rotation computed here
is applied after that import (render/blender_scene.py), so the category's models share the frame of
docs/dataset-format.md: +Z up, front facing -Y.

Method (docs/manifests.md):
1. Gravity-stable resting poses of the convex hull with their quasi-static probabilities
   (`trimesh.poses.compute_stable_poses`, after Goldberg et al. 1999, "Part pose statistics"). Each pose
   gives the object-frame direction that points up when the model rests that way; poses within
   SNAP_DEG of a frame axis are pooled into that axis; the others stay separate candidates.
2. Objaverse models are mostly authored upright, but boxes (briefcases, cabinets) rest more probably on a
   large side than upright on their narrow base. So the authored up (+Z) is kept when it is a stable
   pose whose probability is at least `authored_ratio` times the best candidate's (a per-category recipe
   setting: 0 for boxes = trust any stable authored pose; 0.5 for vases and shoes); otherwise the most
   probable candidate becomes up (snapped to its axis when pooled).
3. Yaw: about the new up, the smallest rotation that aligns the largest horizontal principal axis of the
   hull with X (an authored front along -Y stays; the sign of the front is not estimated); skipped for
   round footprints (principal spreads within ROUND_RATIO).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

GLTF_TO_BLENDER = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # +90 degrees about X
AXES = np.concatenate([np.eye(3), -np.eye(3)])  # +X +Y +Z -X -Y -Z
AXIS_NAMES = ("+X", "+Y", "+Z", "-X", "-Y", "-Z")
SNAP_DEG = 15.0
ROUND_RATIO = 1.2


@dataclass(frozen=True)
class Orientation:
    rotation: np.ndarray  # 3x3, import frame -> canonical frame
    euler_deg: tuple  # XYZ Euler (R = Rz @ Ry @ Rx), what render-pairs reads
    up: str  # import-frame axis (or 'pose') that became +Z
    source: str  # 'authored' (kept) or 'stable-pose' (corrected)
    up_probability: float  # quasi-static probability of resting on the chosen base
    authored_probability: float  # the same for the authored up (+Z)


def load_mesh(path):
    """All geometry of a mesh file as one trimesh.Trimesh in the renderer's import frame (GLB/glTF)."""
    import trimesh

    scene = trimesh.load(path, force="scene")
    mesh = scene.to_geometry()
    mesh.apply_transform(np.block([[GLTF_TO_BLENDER, np.zeros((3, 1))], [np.zeros((1, 3)), np.ones((1, 1))]]))
    return mesh


def _candidates(mesh) -> tuple[np.ndarray, list, np.ndarray]:
    """Up directions, their names and quasi-static probabilities: the six axes (pooled poses) + other poses."""
    import trimesh

    transforms, probabilities = trimesh.poses.compute_stable_poses(mesh, n_samples=1)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    ups = np.array([t[:3, :3].T @ [0.0, 0.0, 1.0] for t in transforms]).reshape(-1, 3)
    near = ups @ AXES.T >= np.cos(np.deg2rad(SNAP_DEG))  # [poses, 6]
    other = ~near.any(1)
    directions = np.concatenate([AXES, ups[other]])
    names = list(AXIS_NAMES) + ["pose"] * int(other.sum())
    return directions, names, np.concatenate([(near * probabilities[:, None]).sum(0), probabilities[other]])


def _rotation_to_z(up: np.ndarray) -> np.ndarray:
    """The smallest rotation taking unit vector `up` to +Z (180 degrees about X for -Z)."""
    up = up / np.linalg.norm(up)
    axis = np.cross(up, [0.0, 0.0, 1.0])
    if np.linalg.norm(axis) < 1e-9:
        return np.eye(3) if up[2] > 0 else np.diag([1.0, -1.0, -1.0])
    angle = np.arccos(np.clip(up[2], -1.0, 1.0))
    return Rotation.from_rotvec(axis / np.linalg.norm(axis) * angle).as_matrix()


def _yaw(points: np.ndarray) -> np.ndarray:
    """Rotation about Z aligning the largest horizontal principal axis with X, by at most 90 degrees."""
    xy = points[:, :2] - points[:, :2].mean(0)
    values, vectors = np.linalg.eigh(xy.T @ xy)
    if values[1] <= ROUND_RATIO ** 2 * max(values[0], 1e-12):
        return np.eye(3)  # round footprint: no principal direction to align
    major = vectors[:, 1]
    angle = -np.arctan2(major[1], major[0])
    angle = (angle + np.pi / 2) % np.pi - np.pi / 2  # the axis has no sign: keep the smallest turn
    return Rotation.from_euler("z", angle).as_matrix()


def estimate_orientation(mesh, authored_ratio: float = 0.5) -> Orientation:
    """Canonical rotation of a mesh given in the import frame (see the module docstring)."""
    directions, names, probabilities = _candidates(mesh)
    best = int(np.argmax(probabilities))
    authored = float(probabilities[2])
    if authored > 0 and authored >= authored_ratio * probabilities[best]:
        best = 2
    upright = _rotation_to_z(directions[best])
    rotation = _yaw(mesh.convex_hull.vertices @ upright.T) @ upright
    rotation[np.abs(rotation) < 1e-12] = 0.0
    with warnings.catch_warnings():  # gimbal lock at +-90 degrees about Y: the angles still give `rotation`
        warnings.simplefilter("ignore", UserWarning)
        euler = Rotation.from_matrix(rotation).as_euler("xyz", degrees=True)  # R = Rz @ Ry @ Rx
    return Orientation(rotation, tuple(float(np.round(a, 6)) + 0.0 for a in euler), names[best],
                       "authored" if best == 2 else "stable-pose", float(probabilities[best]), authored)
