"""Exact geometric passes: hard mask, depth, NOCS and camera-space normals, computed analytically from
the evaluated triangle mesh for the ray through every pixel centre.

The ray through pixel centre `(j + 0.5, i + 0.5)` hits a triangle exactly when that centre lies
inside the triangle's projection; the hit point's barycentric coordinates are the
perspective-corrected screen barycentrics. So a vectorised z-buffer rasteriser that tests pixel
centres is an exact ray caster (same result as `scene.ray_cast` per pixel, ~100x cheaper in
numpy). Cycles' anti-aliased RGBA comes from the same mesh and camera, so the passes line up
with the image; unlike filtered AOVs, no edge pixel blends foreground and background. Normals are
the hit triangle's geometric (flat) normal, turned towards the camera, from the same rasterisation.
"""
from __future__ import annotations

import numpy as np

from eopose.dataset.shard_format import NOCS_TO_OBJECT

OBJECT_TO_NOCS = np.linalg.inv(NOCS_TO_OBJECT.astype(np.float64))
_MAX_PAIRS = 1 << 22  # candidate (pixel, triangle) pairs per chunk: bounds peak memory (~300 MB)


def object_to_nocs(points: np.ndarray) -> np.ndarray:
    return points @ OBJECT_TO_NOCS[:3, :3].T + OBJECT_TO_NOCS[:3, 3]


def geometry_passes(verts_obj, tris, rotation, K, E, height, width):
    """Mask (uint8), depth (float32, camera z, 0 on background), NOCS (float32 [H,W,3], 0 on
    background) and normals (float32 [H,W,3], camera frame, unit, facing the camera, 0 on background)
    for a mesh given in the object frame, rotated by `rotation` (object -> world), seen by the camera
    (K, E world -> camera)."""
    verts_obj = np.asarray(verts_obj, np.float64)
    tris = np.asarray(tris)
    cam = verts_obj @ (E[:3, :3] @ rotation).T + E[:3, 3]
    tri_id, bary, depth = rasterize(cam, tris, K, height, width)
    mask = tri_id >= 0
    nocs = np.zeros((height, width, 3), np.float64)
    corners = object_to_nocs(verts_obj)[tris[tri_id[mask]]]  # [P,3 corners,3]
    nocs[mask] = np.einsum("pk,pkc->pc", bary[mask], corners)
    normals = np.zeros((height, width, 3), np.float64)
    normals[mask] = _facing_normals(cam[tris[tri_id[mask]]], bary[mask])
    return (mask.astype(np.uint8), np.where(mask, depth, 0.0).astype(np.float32), nocs.astype(np.float32),
            normals.astype(np.float32))


def _facing_normals(corners: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """Unit geometric normals [P,3] of triangles (camera-frame corners [P,3,3]), flipped to face the
    camera at the hit points (barycentrics [P,3]): n . x_cam < 0 (the camera sits at the origin)."""
    n = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    hit = np.einsum("pk,pkc->pc", bary, corners)
    return np.where((np.einsum("pc,pc->p", n, hit) > 0)[:, None], -n, n)


def rasterize(cam, tris, K, height, width):
    """Z-buffer of a triangle mesh given in camera coordinates (OpenCV, all z > 0).

    Returns per pixel the visible triangle index (-1 on background), the perspective-correct
    barycentric coordinates [H,W,3] of the hit point and its camera z (inf on background)."""
    z = cam[:, 2]
    u = K[0, 0] * cam[:, 0] / z + K[0, 2]
    v = K[1, 1] * cam[:, 1] / z + K[1, 2]
    tu, tv, tz = u[tris], v[tris], z[tris]  # [M,3]
    area = (tu[:, 1] - tu[:, 0]) * (tv[:, 2] - tv[:, 0]) - (tu[:, 2] - tu[:, 0]) * (tv[:, 1] - tv[:, 0])
    # Pixel centres j + 0.5 inside each triangle's bounding box.
    j0 = np.clip(np.ceil(tu.min(1) - 0.5), 0, width).astype(np.int64)
    j1 = np.clip(np.floor(tu.max(1) - 0.5), -1, width - 1).astype(np.int64)
    i0 = np.clip(np.ceil(tv.min(1) - 0.5), 0, height).astype(np.int64)
    i1 = np.clip(np.floor(tv.max(1) - 0.5), -1, height - 1).astype(np.int64)
    bw = np.maximum(j1 - j0 + 1, 0)
    counts = bw * np.maximum(i1 - i0 + 1, 0)
    keep = np.nonzero((counts > 0) & (np.abs(area) > 1e-12))[0]

    zbuf = np.full(height * width, np.inf)
    best = np.full(height * width, -1, np.int64)
    bary = np.zeros((height * width, 3))
    ends = np.cumsum(counts[keep])
    start = 0
    while start < len(keep):
        stop = max(int(np.searchsorted(ends, ends[start] - counts[keep[start]] + _MAX_PAIRS, "right")), start + 1)
        t_sel = keep[start:stop]
        c = counts[t_sel]
        t = np.repeat(t_sel, c)
        local = np.arange(c.sum()) - np.repeat(np.cumsum(c) - c, c)
        px = (j0[t] + local % bw[t]) + 0.5
        py = (i0[t] + local // bw[t]) + 0.5
        # Screen-space barycentrics from edge functions.
        u0, u1, u2 = tu[t].T
        v0, v1, v2 = tv[t].T
        l0 = ((u1 - px) * (v2 - py) - (u2 - px) * (v1 - py)) / area[t]
        l1 = ((u2 - px) * (v0 - py) - (u0 - px) * (v2 - py)) / area[t]
        l2 = 1.0 - l0 - l1
        inside = (l0 >= 0) & (l1 >= 0) & (l2 >= 0)
        t, l0, l1, l2 = t[inside], l0[inside], l1[inside], l2[inside]
        pix = (py[inside] - 0.5).astype(np.int64) * width + (px[inside] - 0.5).astype(np.int64)
        # Perspective correction: 1/z is affine in screen space.
        w = np.stack([l0 / tz[t, 0], l1 / tz[t, 1], l2 / tz[t, 2]], 1)
        s = w.sum(1)
        d = 1.0 / s
        np.minimum.at(zbuf, pix, d)
        win = d == zbuf[pix]
        best[pix[win]] = t[win]
        bary[pix[win]] = w[win] / s[win, None]
        start = stop
    return best.reshape(height, width), bary.reshape(height, width, 3), zbuf.reshape(height, width)
