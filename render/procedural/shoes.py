"""Shoe generator: sole, heel, upper shell with opening, toe cap, heel counter, collar, and
optional tongue, laces and straps.

The footprint is a half-width profile along the length (heel, waist, ball, toe) with a round,
pointed or square toe and the toe shifted to one side, so a left/right flip is visible. The
upper is a grid swept from the footprint's edge up and inwards to an elliptic opening, its
height following a vamp that rises from the toe to the collar. Styles: sneaker, oxford,
loafer, boot and pump. The shoe stands on y = 0 with its toe towards the front (+Z).
"""
from __future__ import annotations

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from . import textures as tx
from .mesh_ops import Part, ellipse, grid_part, orient_outwards, prism, rounded_box, sweep
from .params import Chance, Choice, Integer, Uniform

# Lengths in model units, the shoe is 1 long; widths are fractions of the length, opening
# sizes fractions of the local width / of the length.
PARAMETERS = {
    "common": {
        "width": Uniform(0.32, 0.42),
        "toe_shape": Choice(("round", "pointed", "square")),
        "toe_shift": Uniform(0.0, 0.25),
        "opening_at": Uniform(-0.25, -0.1),
        "toe_cap": Chance(0.6),
        "heel_counter": Chance(0.7),
        "collar": Uniform(0.008, 0.018),
        "logo": Choice(tx.LOGO_KINDS),
        "sole_colour": Choice(("white", "black", "gum", "brown")),
    },
    "styles": {
        "sneaker": {"sole": Uniform(0.05, 0.09), "lift": Uniform(0.01, 0.025), "taper": Uniform(0.9, 1.0),
                    "collar_height": Uniform(0.2, 0.28), "toe_height": Uniform(0.11, 0.15),
                    "opening_width": Uniform(0.55, 0.7), "opening_length": Uniform(0.14, 0.2),
                    "laces": Integer(4, 7), "strap": Choice(("none",))},
        "oxford": {"sole": Uniform(0.025, 0.04), "lift": Uniform(0.02, 0.04), "taper": Uniform(0.85, 1.0),
                   "collar_height": Uniform(0.17, 0.22), "toe_height": Uniform(0.09, 0.12),
                   "opening_width": Uniform(0.55, 0.7), "opening_length": Uniform(0.14, 0.2),
                   "laces": Integer(3, 5), "strap": Choice(("none",))},
        "loafer": {"sole": Uniform(0.025, 0.04), "lift": Uniform(0.02, 0.04), "taper": Uniform(0.85, 1.0),
                   "collar_height": Uniform(0.15, 0.19), "toe_height": Uniform(0.09, 0.12),
                   "opening_width": Uniform(0.6, 0.75), "opening_length": Uniform(0.18, 0.24),
                   "laces": Integer(0, 0), "strap": Choice(("vamp", "none"))},
        "boot": {"sole": Uniform(0.04, 0.07), "lift": Uniform(0.03, 0.06), "taper": Uniform(0.85, 1.0),
                 "collar_height": Uniform(0.45, 0.7), "toe_height": Uniform(0.13, 0.17),
                 "opening_width": Uniform(0.5, 0.65), "opening_length": Uniform(0.13, 0.17),
                 "laces": Integer(0, 7), "strap": Choice(("none", "vamp"))},
        "pump": {"sole": Uniform(0.012, 0.02), "lift": Uniform(0.12, 0.22), "taper": Uniform(0.25, 0.5),
                 "collar_height": Uniform(0.1, 0.14), "toe_height": Uniform(0.07, 0.1),
                 "opening_width": Uniform(0.65, 0.8), "opening_length": Uniform(0.24, 0.3),
                 "laces": Integer(0, 0), "strap": Choice(("none", "ankle"))},
    },
}

LAYOUT = {"upper": (0.0, 0.0, 1.0, 0.5), "sole_side": (0.0, 0.5, 1.0, 0.6), "sole_bottom": (0.0, 0.6, 0.5, 1.0),
          "insole": (0.5, 0.6, 0.75, 1.0), "toecap": (0.75, 0.6, 1.0, 0.75), "counter": (0.75, 0.75, 1.0, 0.87),
          "trim": (0.75, 0.87, 0.875, 1.0), "tongue": (0.875, 0.87, 1.0, 1.0)}
SOLES = {"white": (235, 235, 230), "black": (25, 25, 25), "gum": (170, 110, 50), "brown": (90, 55, 30)}
SECTIONS = 40  # footprint samples per side, heel tip to toe tip
ROWS = 16  # upper samples from the sole edge to the opening
HEEL_END = -0.45  # footprint coordinate (-1 heel .. 1 toe) where the heel block ends
INSTEP = 0.26  # highest vamp height in front of the throat


class Footprint:
    """Outline of the foot in (x, z) as a loop: heel tip, right side, toe tip, left side."""

    def __init__(self, p: dict, margin: float):
        theta = np.linspace(0.0, np.pi, SECTIONS + 1)
        self.zeta = -np.cos(theta)
        ball = p["width"] / 2
        toe = {"round": 0.75, "pointed": 0.45, "square": 0.85}[p["toe_shape"]]
        power = np.where(self.zeta > 0, {"round": 0.5, "pointed": 0.9, "square": 0.25}[p["toe_shape"]], 0.5)
        half = np.interp(self.zeta, [-1, -0.6, -0.1, 0.35, 0.75, 1], [0.7, 0.72, 0.72, 1, toe, toe]) * ball
        shape = np.sin(theta) ** power
        self.x = p["toe_shift"] * ball * np.clip(self.zeta, 0, None) ** 2
        self.right = self.x + (half + margin) * shape
        self.left = self.x - (half * np.where(np.abs(self.zeta + 0.2) < 0.4, 0.88, 1.0) + margin) * shape
        self.z = self.zeta * (0.5 + margin)

    def loop(self, upto: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Loop points (x, z) and their footprint coordinates, optionally only sections
        ``0..upto`` (then without the toe tip, closed across)."""
        last = SECTIONS if upto is None else upto + 1
        idx = np.arange(1, min(last, SECTIONS))
        right = np.stack([self.right[idx], self.z[idx]], 1)
        left = np.stack([self.left[idx[::-1]], self.z[idx[::-1]]], 1)
        tips = [np.array([[self.x[0], self.z[0]]])]
        zeta = [self.zeta[:1], self.zeta[idx]]
        if upto is None:
            tips.append(np.array([[self.x[-1], self.z[-1]]]))
            zeta.append(self.zeta[-1:])
        points = np.concatenate([tips[0], right] + tips[1:] + [left])
        return points, np.concatenate(zeta + [self.zeta[idx[::-1]]])


def strip_caps(sides: int, toe_tip: bool) -> np.ndarray:
    """Triangles over a footprint loop (heel tip, ``sides`` right points, [toe tip], left)."""
    n = 1 + 2 * sides + int(toe_tip)
    right = np.arange(1, sides + 1)
    left = n - right
    faces = [[0, right[0], left[0]]]
    for i in range(sides - 1):
        faces += [[right[i], right[i + 1], left[i + 1]], [right[i], left[i + 1], left[i]]]
    if toe_tip:
        faces.append([right[-1], sides + 1, left[-1]])
    return np.array(faces, dtype=np.int64)


def lift(p: dict, zeta: np.ndarray) -> np.ndarray:
    """Height of the sole's underside: raised by the heel at the back, on the ground from the ball."""
    s = np.clip((0.3 - zeta) / (0.3 - HEEL_END), 0, 1)
    return p["lift"] * s * s * (3 - 2 * s)


def build(p: dict, rng: np.random.Generator) -> tuple[list[Part], tx.Atlas]:
    sole = Footprint(p, margin=0.012)
    points, zeta = sole.loop()
    bottom = np.stack([points[:, 0], lift(p, zeta), points[:, 1]], 1)
    top = bottom + (0, p["sole"], 0)
    parts = prism(top, bottom, strip_caps(SECTIONS - 1, True), "sole_side", "insole", "sole_bottom")
    heel_sections = int(np.searchsorted(sole.zeta, HEEL_END))
    points, zeta = sole.loop(heel_sections)
    heel_top = np.stack([points[:, 0], lift(p, zeta) + 1e-3, points[:, 1]], 1)
    centre = heel_top.mean(axis=0)
    heel_bottom = centre + (heel_top - centre) * (p["taper"], 0, p["taper"])
    parts += prism(heel_top, heel_bottom, strip_caps(heel_sections - 1, False), "sole_side", "sole_bottom",
                   "sole_bottom")
    grid, vamp = upper_grid(p)
    upper = orient_outwards(grid_part(grid, "upper"), upper_interior(vamp))
    parts.append(upper)
    normals = trimesh.Trimesh(upper.vertices, upper.faces, process=False).vertex_normals.reshape(grid.shape)
    shell = grid + 0.004 * normals
    cols = grid.shape[1] - 1
    if p["toe_cap"]:
        toe = SECTIONS  # loop index of the toe tip
        span = np.arange(toe - SECTIONS // 5, toe + SECTIONS // 5 + 1)
        parts.append(orient_outwards(grid_part(shell[: int(ROWS * 0.6), span], "toecap"), upper_interior(vamp)))
    if p["heel_counter"]:
        span = np.arange(-SECTIONS // 5, SECTIONS // 5 + 1) % cols
        parts.append(orient_outwards(grid_part(shell[: int(ROWS * 0.75), span], "counter"), upper_interior(vamp)))
    parts.append(sweep(grid[-1, :-1], ellipse(p["collar"], p["collar"], 8), "trim", closed=True))
    surface = height_field(grid[ROWS // 3:])
    if p["laces"]:
        parts += laces(p, vamp, surface)
    if p["strap"] == "vamp":
        parts += vamp_strap(vamp, surface)
    elif p["strap"] == "ankle":
        a, z, y = vamp["opening"][0], vamp["centre"][1], vamp["collar"]
        s = np.linspace(0, np.pi, 16)
        path = np.stack([vamp["centre"][0] - a * np.cos(s), y + 0.1 * np.sin(s), np.full_like(s, z)], 1)
        parts.append(sweep(path, ellipse(0.004, 0.018), "trim", normals=np.tile([0.0, 0.0, 1.0], (16, 1))))
    return parts, paint(p, rng, grid)


def upper_interior(vamp: dict) -> tuple[float, float, float]:
    """A point inside the shoe, below the upper, to orient its shells by."""
    return vamp["centre"][0], vamp["floor"] + 0.02, vamp["centre"][1] + 0.1


def upper_grid(p: dict) -> tuple[np.ndarray, dict]:
    """Points ``(ROWS, loop + 1, 3)`` of the upper, from the sole edge (row 0) to the opening."""
    foot = Footprint(p, margin=0.0)
    points, zeta = foot.loop()
    sole_top = lift(p, zeta) + p["sole"]
    zc = p["opening_at"]
    centre = np.array([np.interp(2 * zc, foot.zeta, foot.x), zc])
    half_w = np.interp(2 * zc, foot.zeta, foot.right - foot.x)
    a, b = p["opening_width"] * half_w, p["opening_length"]
    d = points - centre
    reach = np.minimum(1 / np.sqrt((d[:, 0] / a) ** 2 + (d[:, 1] / b) ** 2), 0.85)
    inner = centre + d * reach[:, None]
    throat, toe = zc + b, 0.5
    instep = min(p["collar_height"], INSTEP)  # boots rise to the collar only right at the throat
    along = np.linspace(-0.5, 0.5, 101)
    s = np.clip((toe - along) / (toe - throat - 0.06), 0, 1)
    shaft = np.clip((throat + 0.06 - along) / 0.06, 0, 1)
    vamp_height = (p["toe_height"] + (instep - p["toe_height"]) * s * s * (3 - 2 * s)
                   + (p["collar_height"] - instep) * shaft * shaft * (3 - 2 * shaft))
    rear_top = float(lift(p, np.array([-1.0]))[0] + p["sole"])
    t = np.linspace(0.0, 1.0, ROWS)[:, None, None]
    horizontal = points[None] + (inner - points)[None] * (1 - np.cos(t * np.pi / 2))
    z = horizontal[..., 1]
    floor = np.interp(z, foot.z, lift(p, foot.zeta)) + p["sole"]
    ceiling = floor + np.interp(z, along, vamp_height)
    rise = np.sin(np.clip(t[..., 0] / 0.5, 0, 1) * np.pi / 2)
    y = sole_top[None] + (ceiling - sole_top[None]) * rise
    grid = np.stack([horizontal[..., 0], y, horizontal[..., 1]], -1)
    grid = np.concatenate([grid, grid[:, :1]], axis=1)  # close the loop (seam at the heel)
    vamp = {"centre": centre, "opening": (a, b), "throat": throat, "floor": rear_top,
            "collar": rear_top + p["collar_height"], "half_width": half_w}
    return grid, vamp


def height_field(points: np.ndarray):
    """``(x, z) -> y`` over the upper's top rows: inverse-distance mean of the 4 nearest points."""
    tree, heights = cKDTree(points[..., [0, 2]].reshape(-1, 2)), points[..., 1].ravel()

    def surface(xz: np.ndarray) -> np.ndarray:
        distance, index = tree.query(xz, k=4)
        weight = 1.0 / (distance + 1e-6)
        return np.sum(weight * heights[index], axis=1) / np.sum(weight, axis=1)

    return surface


def laces(p: dict, vamp: dict, surface) -> list[Part]:
    """Straight bars and crossings across the vamp in front of the opening."""
    rows = p["laces"]
    z = vamp["throat"] + 0.025 + np.arange(rows) * min(0.035, 0.2 / rows)
    half = 0.45 * vamp["opening"][0]
    x0 = vamp["centre"][0]
    parts = []
    for i in range(rows):
        ends = [((x0 - half, z[i]), (x0 + half, z[i]))]
        if i + 1 < rows:
            ends += [((x0 - half, z[i]), (x0 + half, z[i + 1])), ((x0 + half, z[i]), (x0 - half, z[i + 1]))]
        for (xa, za), (xb, zb) in ends:
            s = np.linspace(0, 1, 9)
            x, zz = xa + (xb - xa) * s, za + (zb - za) * s
            y = surface(np.stack([x, zz], 1)) + 0.007 + 0.004 * np.sin(np.pi * s)
            parts.append(sweep(np.stack([x, y, zz], 1), ellipse(0.005, 0.005, 6), "trim"))
    return parts


def vamp_strap(vamp: dict, surface) -> list[Part]:
    """A flat saddle strap across the vamp just in front of the opening, with a metal tab."""
    z = vamp["throat"] + 0.05
    x = vamp["centre"][0] + np.linspace(-0.75, 0.75, 17) * vamp["half_width"]
    y = surface(np.stack([x, np.full_like(x, z)], 1))
    path = np.stack([x, y + 0.006, np.full_like(x, z)], 1)
    normals = np.tile([0.0, 0.0, 1.0], (len(path), 1))
    part = sweep(path, ellipse(0.022, 0.004), "trim", normals=normals)
    mid = path[len(path) // 2]
    return [part, *rounded_box((0.03, 0.006, 0.015), 0.003, "toecap", center=mid + (0, 0.006, 0))]


def paint(p: dict, rng: np.random.Generator, grid: np.ndarray) -> tx.Atlas:
    """Upper colour, panels, a side logo on the right only, brand text, sole and tread."""
    base, accent, second, ink = tx.palette(rng, 4)
    atlas = tx.Atlas(LAYOUT, background=base)
    atlas.grain("upper", rng, 0.04)
    sole = SOLES[p["sole_colour"]]
    atlas.fill("sole_side", sole)
    atlas.fill("sole_bottom", tuple(int(c * 0.8) for c in sole))
    atlas.fill("insole", accent)
    atlas.fill("toecap", second)
    atlas.fill("counter", accent)
    atlas.fill("trim", second if rng.random() < 0.5 else ink)
    atlas.fill("tongue", base)
    brand = tx.word(rng).upper()
    perimeter = float(np.sum(np.linalg.norm(np.diff(grid[0], axis=0), axis=1)))
    height = float(np.median(np.sum(np.linalg.norm(np.diff(grid, axis=0), axis=2), axis=0)))
    atlas.paste("upper", (0, 0, 1, 0.12), tx.stripes_picture([second, accent], (8, 16), vertical=False))
    size = 0.18
    u_logo = 0.25 + rng.uniform(-0.05, 0.05)  # right side (+x) only: makes a mirror visible
    logo = tx.logo_picture(p["logo"], brand[0], 128, accent, ink)
    atlas.paste("upper", (u_logo - size / perimeter / 2, 0.3, u_logo + size / perimeter / 2,
                          0.3 + size / height), logo)
    atlas.paste("upper", (0.62, 0.35, 0.62 + 0.2 / perimeter, 0.35 + 0.05 / height),
                tx.text_picture([brand], (200, 50), base, ink))
    tread = str(rng.choice(["zigzag", "checks", "diamonds", "dots"]))
    atlas.paste("sole_bottom", (0, 0, 1, 1), tx.pattern_picture(tread, (128, 256), sole, (40, 40, 40), 14))
    atlas.paste("sole_bottom", (0.2, 0.05, 0.8, 0.2), tx.text_picture([f"{int(rng.integers(36, 47))}"], (64, 32),
                                                                     sole, (10, 10, 10)))
    atlas.paste("sole_side", (0.0, 0.3, 0.08, 0.7), tx.text_picture([brand], (120, 24), sole, accent))
    atlas.paste("sole_side", (0.3, 0.0, 1.0, 0.2), tx.stripes_picture([accent], (8, 8)))
    atlas.paste("insole", (0.1, 0.1, 0.9, 0.4), tx.text_picture([brand], (100, 40), accent, ink))
    atlas.paste("toecap", (0, 0, 1, 1), tx.pattern_picture("dots", (128, 64), second, tuple(int(c * 0.6) for c in second), 10))
    atlas.paste("counter", (0.3, 0.3, 0.7, 0.7), tx.text_picture([brand[:4]], (100, 30), accent, ink))
    atlas.paste("tongue", (0.1, 0.5, 0.9, 0.8), tx.text_picture([brand, "original"], (60, 40), (250, 250, 250),
                                                                (10, 10, 10), border=accent))
    return atlas
