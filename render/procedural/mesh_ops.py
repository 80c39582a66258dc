"""Mesh primitives shared by the category generators.

Each primitive returns one or more ``Part``: vertices, triangles, per-vertex UVs local to the
part's texture region (``[0, 1]^2``, v up) and the region's name; ``assemble`` concatenates parts
into one textured ``trimesh.Trimesh`` over a texture atlas. Surfaces are built as vertex grids
whose triangles face outwards (normal = d(column) x d(row)); no primitive emits a repeated vertex
inside a triangle, so faces never degenerate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from .textures import Atlas


@dataclass
class Part:
    vertices: np.ndarray  # (n, 3) float64
    faces: np.ndarray  # (m, 3) int64
    uv: np.ndarray  # (n, 2) in [0, 1], local to the region
    region: str

    def transformed(self, matrix: np.ndarray) -> "Part":
        """The part under a 4x4 rigid transform."""
        vertices = self.vertices @ matrix[:3, :3].T + matrix[:3, 3]
        return Part(vertices, self.faces, self.uv, self.region)


def rotation(axis: str, degrees: float, translation=(0.0, 0.0, 0.0)) -> np.ndarray:
    """4x4 rotation about a principal axis followed by a translation."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    matrix = np.eye(4)
    matrix[i, i], matrix[i, j], matrix[j, i], matrix[j, j] = c, -s, s, c
    matrix[:3, 3] = translation
    return matrix


def grid_faces(rows: int, cols: int) -> np.ndarray:
    """Triangles of a ``rows x cols`` vertex grid (index ``r * cols + c``), normal = dC x dR."""
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(cols - 1), indexing="ij")
    a = (r * cols + c).ravel()
    b, d, e = a + 1, a + cols + 1, a + cols
    return np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, e], 1)]).astype(np.int64)


def grid_part(points: np.ndarray, region: str, u=None, v=None) -> Part:
    """A surface from a ``(rows, cols, 3)`` point grid; UV defaults to normalised indices."""
    rows, cols = points.shape[:2]
    u = np.linspace(0.0, 1.0, cols) if u is None else np.asarray(u, dtype=float)
    v = np.linspace(0.0, 1.0, rows) if v is None else np.asarray(v, dtype=float)
    uu, vv = np.meshgrid(u, v)
    uv = np.stack([uu, vv], -1).reshape(-1, 2)
    return Part(points.reshape(-1, 3).astype(float), grid_faces(rows, cols), uv, region)


def arc_fraction(points: np.ndarray) -> np.ndarray:
    """Cumulative arc length along a polyline, normalised to ``[0, 1]``."""
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    length = np.concatenate([[0.0], np.cumsum(steps)])
    return length / length[-1]


def lathe(radius, height, region: str, segments: int = 64, v=None) -> Part:
    """Surface of revolution about +Y of the profile ``(radius[k] > 0, height[k])``.

    Columns run over the angle ``theta`` in ``[-pi, pi]`` with ``x = r sin theta``,
    ``z = r cos theta``: the seam is at the back (-Z) and ``u = 0.5`` faces the front (+Z).
    A profile climbing on the outside faces outwards; one descending faces the axis.
    """
    radius, height = np.asarray(radius, float), np.asarray(height, float)
    theta = np.linspace(-np.pi, np.pi, segments + 1)
    points = np.stack(
        [
            radius[:, None] * np.sin(theta)[None],
            np.broadcast_to(height[:, None], (len(height), len(theta))),
            radius[:, None] * np.cos(theta)[None],
        ],
        -1,
    )
    profile = np.stack([radius, height], 1)
    return grid_part(points, region, v=arc_fraction(profile) if v is None else v)


def disc(radius: float, height: float, region: str, up: bool, segments: int = 64) -> Part:
    """A flat disc at ``y = height`` matching a lathe ring, facing +Y if ``up`` else -Y."""
    theta = np.linspace(-np.pi, np.pi, segments + 1)[:-1]
    ring = np.stack([radius * np.sin(theta), np.full_like(theta, height), radius * np.cos(theta)], 1)
    vertices = np.concatenate([[[0.0, height, 0.0]], ring])
    j = np.arange(segments)
    a, b = 1 + j, 1 + (j + 1) % segments
    faces = np.stack([np.zeros_like(j), a, b] if up else [np.zeros_like(j), b, a], 1)
    uv = 0.5 + 0.5 * vertices[:, [0, 2]] / radius
    return Part(vertices, faces.astype(np.int64), uv, region)


def _rounded_axis(half: float, radius: float, n_round: int, n_flat: int) -> np.ndarray:
    """Grid coordinates along one box axis: dense where the edge rounds, so arcs come out even."""
    alpha = np.linspace(np.pi / 4, 0.0, n_round + 1)
    inner = half - radius
    edge = inner + radius * np.tan(alpha)  # maps to arc angles 45..0 degrees
    flat = np.linspace(inner, -inner, n_flat + 1)[1:-1]
    return np.concatenate([edge, flat, -edge[::-1]])[::-1]


# face name -> (normal axis, sign, u axis and sign, v axis and sign) as seen from outside
_BOX_FACES = {
    "front": (2, 1, (0, 1), (1, 1)),
    "back": (2, -1, (0, -1), (1, 1)),
    "right": (0, 1, (2, -1), (1, 1)),
    "left": (0, -1, (2, 1), (1, 1)),
    "top": (1, 1, (0, 1), (2, -1)),
    "bottom": (1, -1, (0, 1), (2, 1)),
}


def rounded_box(half, radius: float, regions, center=(0.0, 0.0, 0.0), n_round: int = 3,
                n_flat: int = 2) -> list[Part]:
    """Box of half extents ``half`` with edges rounded by ``radius`` (clamped below the
    smallest half extent), one part per face. ``regions`` is a region name or a dict
    face -> region with ``"default"``; faces are front (+Z), back, right (+X), left, top (+Y),
    bottom, and each face's UV reads as seen from outside with +Y (or -Z on top) up."""
    half = np.asarray(half, float)
    radius = float(np.clip(radius, 1e-4, 0.9 * half.min()))
    inner = half - radius
    parts = []
    for name, (axis, sign, (ua, us), (va, vs)) in _BOX_FACES.items():
        cu = us * _rounded_axis(half[ua], radius, n_round, n_flat)
        cv = vs * _rounded_axis(half[va], radius, n_round, n_flat)
        q = np.zeros((len(cv), len(cu), 3))
        q[..., ua] = cu[None, :]
        q[..., va] = cv[:, None]
        q[..., axis] = sign * half[axis]
        core = np.clip(q, -inner, inner)
        offset = q - core
        points = core + radius * offset / np.linalg.norm(offset, axis=-1, keepdims=True)
        u = (us * cu + half[ua]) / (2 * half[ua])
        v = (vs * cv + half[va]) / (2 * half[va])
        region = regions if isinstance(regions, str) else regions.get(name, regions["default"])
        parts.append(grid_part(points + np.asarray(center, float), region, u=u, v=v))
    return parts


def sweep(path, profile, region: str, normals=None, closed: bool = False) -> Part:
    """Sweep a closed 2-D ``profile`` (counter-clockwise, ``(m, 2)`` in the (normal, binormal)
    plane) along a 3-D ``path``. Frames use the given ``normals`` (orthogonalised against the
    tangent) or parallel transport. ``closed`` joins the path's ends. Ends are left open."""
    path = np.asarray(path, float)
    if closed:
        path = np.concatenate([path, path[:1]])
    tangent = np.gradient(path, axis=0)
    if closed:
        tangent[0] = tangent[-1] = path[1] - path[-2]
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    if normals is None:
        normals = np.empty_like(path)
        seed = np.eye(3)[np.argmin(np.abs(tangent[0]))]
        normal = seed - tangent[0] * (seed @ tangent[0])
        for k, t in enumerate(tangent):
            normal = normal - t * (normal @ t)
            normal /= np.linalg.norm(normal)
            normals[k] = normal
    else:
        normals = np.asarray(normals, float)
        if closed:
            normals = np.concatenate([normals, normals[:1]])
        normals = normals - tangent * np.sum(normals * tangent, axis=1, keepdims=True)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    binormals = np.cross(tangent, normals)
    profile = np.concatenate([profile, profile[:1]])
    points = (path[:, None] + profile[None, :, :1] * normals[:, None]
              + profile[None, :, 1:] * binormals[:, None])
    return grid_part(points, region, v=arc_fraction(path))


def ellipse(a: float, b: float, n: int = 12) -> np.ndarray:
    """Counter-clockwise ellipse profile with semi-axes ``a`` (normal) and ``b`` (binormal)."""
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return np.stack([a * np.cos(t), b * np.sin(t)], 1)


def orient_outwards(part: Part, interior) -> Part:
    """Flip all of a part's triangles if most of their area faces ``interior``."""
    tri = part.vertices[part.faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    if np.sum(normals * (tri.mean(axis=1) - np.asarray(interior, float))) < 0:
        return Part(part.vertices, part.faces[:, ::-1].copy(), part.uv, part.region)
    return part


def prism(top, bottom, cap_faces, wall_region: str, top_region: str, bottom_region: str) -> list[Part]:
    """A solid between two rings of the same closed loop (``top``, ``bottom``: ``(n, 3)``):
    walls plus top and bottom caps triangulated by ``cap_faces`` (indices into the loop). Caps
    face +Y and -Y, walls face away from the loop's centre; cap UVs are planar over (x, z)."""
    top, bottom = np.asarray(top, float), np.asarray(bottom, float)
    grid = np.stack([np.concatenate([bottom, bottom[:1]]), np.concatenate([top, top[:1]])])
    walls = orient_outwards(grid_part(grid, wall_region, u=arc_fraction(grid[1])),
                            (top.mean(axis=0) + bottom.mean(axis=0)) / 2)
    parts = [walls]
    for ring, region, sign in ((top, top_region, 1.0), (bottom, bottom_region, -1.0)):
        tri = ring[cap_faces]
        ny = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 1]
        faces = np.where((ny * sign < 0)[:, None], cap_faces[:, ::-1], cap_faces)
        xz = ring[:, [0, 2]]
        uv = (xz - xz.min(axis=0)) / np.ptp(xz, axis=0)
        parts.append(Part(ring, faces.astype(np.int64), uv, region))
    return parts


def assemble(parts: list[Part], atlas: Atlas) -> trimesh.Trimesh:
    """One mesh over all parts, UVs mapped into the atlas, texture as PBR base colour."""
    vertices, faces, uvs, offset = [], [], [], 0
    for part in parts:
        vertices.append(part.vertices)
        faces.append(part.faces + offset)
        uvs.append(atlas.to_uv(part.region, part.uv))
        offset += len(part.vertices)
    material = trimesh.visual.material.PBRMaterial(
        baseColorTexture=atlas.image, metallicFactor=0.0, roughnessFactor=0.55, doubleSided=True
    )
    visual = trimesh.visual.TextureVisuals(uv=np.concatenate(uvs), material=material)
    return trimesh.Trimesh(
        vertices=np.concatenate(vertices), faces=np.concatenate(faces), visual=visual, process=False
    )
