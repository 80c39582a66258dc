"""File cabinet generator: a carcass with 2-5 drawer fronts, handles, label holders and a base.

Styles: the tall vertical cabinet, the wide lateral one and the under-desk pedestal (shallow
drawers over a deep one). Handles are bars, cups, knobs or lips; a lock sits at the top right
of the front; the cabinet stands on feet, a recessed plinth or directly on the floor (y = 0),
drawers facing the front (+Z).
"""
from __future__ import annotations

import numpy as np

from . import textures as tx
from .mesh_ops import Part, arc_fraction, disc, ellipse, lathe, rotation, rounded_box, sweep
from .params import Chance, Choice, Integer, Uniform

# Lengths in model units.
PARAMETERS = {
    "common": {
        "gap": Uniform(0.006, 0.014),
        "proud": Uniform(0.006, 0.018),
        "radius": Uniform(0.002, 0.015),
        "handle": Choice(("bar", "cup", "knob", "lip")),
        "label_holders": Chance(0.8),
        "lock": Chance(0.6),
        "base": Choice(("plinth", "feet", "none")),
        "base_height": Uniform(0.03, 0.08),
        "top_slab": Chance(0.35),
        "finish": Choice(("paint", "wood")),
        "sticker": Chance(0.7),
    },
    "styles": {
        "vertical": {"width": Uniform(0.4, 0.55), "depth": Uniform(0.5, 0.7), "drawers": Integer(2, 5),
                     "drawer_height": Uniform(0.22, 0.32), "deep_bottom": Chance(0.0)},
        "lateral": {"width": Uniform(0.8, 1.1), "depth": Uniform(0.4, 0.5), "drawers": Integer(2, 3),
                    "drawer_height": Uniform(0.3, 0.38), "deep_bottom": Chance(0.0)},
        "pedestal": {"width": Uniform(0.38, 0.45), "depth": Uniform(0.45, 0.6), "drawers": Integer(3, 4),
                     "drawer_height": Uniform(0.12, 0.18), "deep_bottom": Chance(1.0)},
    },
}

FRAME = 0.02  # carcass border around the drawer fronts
MAX_DRAWERS = 5
LAYOUT = {
    **{f"drawer{i}": (0.0, 0.13 * i, 0.5, 0.13 * i + 0.12) for i in range(MAX_DRAWERS)},
    **{f"label{i}": (0.5, 0.07 * i, 0.75, 0.07 * i + 0.06) for i in range(MAX_DRAWERS)},
    "frame": (0.75, 0.0, 1.0, 0.2), "back": (0.75, 0.2, 1.0, 0.4), "top": (0.5, 0.4, 0.75, 0.65),
    "edge": (0.75, 0.4, 1.0, 0.5), "metal": (0.75, 0.5, 1.0, 0.6), "side_r": (0.0, 0.66, 0.33, 1.0),
    "side_l": (0.33, 0.66, 0.66, 1.0), "trim": (0.66, 0.66, 0.83, 1.0), "slab": (0.83, 0.66, 1.0, 1.0),
}
WOODS = ((150, 105, 60), (110, 70, 40), (190, 150, 100), (80, 50, 30))
PAINTS = ((150, 152, 150), (200, 195, 180), (90, 100, 80), (40, 42, 46), (60, 80, 120), (160, 40, 35),
          (220, 220, 215))


def build(p: dict, rng: np.random.Generator) -> tuple[list[Part], tx.Atlas]:
    w, d = p["width"], p["depth"]
    heights = [p["drawer_height"]] * p["drawers"]
    if p["deep_bottom"]:
        heights[-1] *= 2.0
    base = p["base_height"] if p["base"] != "none" else 0.0
    carcass = sum(heights) + 2 * FRAME
    parts = rounded_box((w / 2, carcass / 2, d / 2), p["radius"],
                        {"front": "frame", "top": "top", "right": "side_r", "left": "side_l",
                         "default": "back"}, center=(0, base + carcass / 2, 0))
    front = d / 2 + p["proud"]
    top = base + carcass - FRAME
    for i, dh in enumerate(heights):
        centre = top - dh / 2
        thick = p["proud"] + 0.01
        parts += rounded_box((w / 2 - FRAME, dh / 2 - p["gap"] / 2, thick / 2), min(p["radius"], 0.006),
                             {"front": f"drawer{i}", "default": "edge"}, center=(0, centre, front - thick / 2))
        handle_y = centre - 0.05 * min(dh, 0.3)
        parts += handle(p, w, handle_y, top - p["gap"] / 2, front)
        if p["label_holders"]:
            parts += rounded_box((0.05, 0.022, 0.003), 0.002, {"front": f"label{i}", "default": "metal"},
                                 center=(0, centre + 0.25 * min(dh, 0.3), front + 0.003))
        top -= dh
    if p["lock"]:
        parts += cylinder(0.012, 0.012, "metal", rotation("x", 90, (w / 2 - 0.05, base + carcass - FRAME - 0.035,
                                                                     front - 0.002)))
    if p["base"] == "plinth":
        parts += rounded_box((w / 2 - 0.02, base / 2, d / 2 - 0.03), 0.004, "trim", center=(0, base / 2, -0.01))
    elif p["base"] == "feet":
        for sx in (-1, 1):
            for sz in (-1, 1):
                parts += cylinder(0.025, base + 0.005, "trim",
                                  rotation("x", 0, (sx * (w / 2 - 0.04), 0.0, sz * (d / 2 - 0.04))))
    if p["top_slab"]:
        parts += rounded_box((w / 2 + 0.015, 0.015, d / 2 + 0.015), 0.008, "slab",
                             center=(0, base + carcass + 0.015, 0))
    return parts, paint(p, rng, w, heights)


def cylinder(radius: float, length: float, region: str, matrix: np.ndarray) -> list[Part]:
    """A capped cylinder along +Y from 0 to ``length`` with a slightly rounded top, placed by
    ``matrix``."""
    r = radius * np.array([1.0, 1.0, 0.96, 0.8])
    y = length * np.array([0.0, 0.85, 0.95, 1.0])
    return [lathe(r, y, region, segments=20).transformed(matrix),
            disc(r[-1], length, region, up=True, segments=20).transformed(matrix)]


def handle(p: dict, w: float, y: float, drawer_top: float, front: float) -> list[Part]:
    """The drawer's pull(s): a bar, a cup, one or two knobs, or a lip along the top edge."""
    if p["handle"] == "bar":
        half, stand = min(0.12, 0.25 * w), 0.035
        corners = np.array([[-half, 0, -0.004], [-half, 0, stand * 0.7], [-half + 0.01, 0, stand],
                            [half - 0.01, 0, stand], [half, 0, stand * 0.7], [half, 0, -0.004]])
        s = np.linspace(0.0, 1.0, 40)
        knots = arc_fraction(corners)
        path = np.stack([np.interp(s, knots, corners[:, k]) for k in range(3)], 1) + (0, y, front)
        return [sweep(path, ellipse(0.007, 0.007, 10), "metal")]
    if p["handle"] == "cup":
        return rounded_box((0.06, 0.018, 0.012), 0.006, "metal", center=(0, y, front + 0.008))
    if p["handle"] == "knob":
        xs = [-w / 4, w / 4] if w > 0.7 else [0.0]
        return [part for x in xs for part in cylinder(0.014, 0.03, "metal", rotation("x", 90, (x, y, front - 0.003)))]
    return rounded_box((0.7 * (w / 2 - FRAME), 0.008, 0.014), 0.004, "metal",
                       center=(0, drawer_top - 0.02, front + 0.01))


def paint(p: dict, rng: np.random.Generator, w: float, heights: list[float]) -> tx.Atlas:
    """Paint or wood, drawer labels, one sticker on a random drawer, side decal, top stencil."""
    if p["finish"] == "wood":
        colour = WOODS[int(rng.integers(len(WOODS)))]
    else:
        colour = PAINTS[int(rng.integers(len(PAINTS)))]
    base, accent, second, ink = tx.palette(rng, 4, base=colour)
    atlas = tx.Atlas(LAYOUT, background=base)
    drawer_colour = base if rng.random() < 0.6 else accent
    metal = (190, 192, 198) if rng.random() < 0.6 else (60, 60, 62)
    atlas.fill("metal", metal)
    atlas.fill("trim", (35, 35, 38))
    atlas.fill("edge", drawer_colour)
    for i, dh in enumerate(heights):
        name = f"drawer{i}"
        atlas.fill(name, drawer_colour)
        if p["finish"] == "wood":
            atlas.paste(name, (0, 0, 1, 1), tx.wood_picture(rng, (256, int(256 * dh / w)), drawer_colour))
        atlas.grain(name, rng, 0.03)
        letters = sorted(rng.choice(list("ABCDEFGHIJKLMNOPRSTUVW"), size=2, replace=False))
        lines = [f"{letters[0]} - {letters[1]}", tx.word(rng, (1, 2)).upper()]
        atlas.paste(f"label{i}", (0, 0, 1, 1), tx.text_picture(lines, (100, 44), (252, 250, 240), (20, 20, 60),
                                                                 border=(120, 120, 120)))
    if p["sticker"]:
        i = int(rng.integers(len(heights)))
        size = 0.12
        u = rng.choice([0.08, 0.75])
        ratio = w / heights[i]
        atlas.paste(f"drawer{i}", (u, 0.1, u + size, 0.1 + size * ratio),
                    tx.logo_picture(str(rng.choice(tx.LOGO_KINDS)), tx.word(rng)[0].upper(), 64, second, ink))
    for name in ("frame", "back", "top", "side_r", "side_l"):
        atlas.grain(name, rng, 0.03)
    if p["finish"] == "wood":
        for name in ("top", "side_r", "side_l"):
            atlas.paste(name, (0, 0, 1, 1), tx.wood_picture(rng, (160, 160), base))
    brand = tx.word(rng).upper()
    atlas.paste("side_r", (0.1, 0.6, 0.9, 0.8), tx.text_picture([brand, "steel office"], (200, 60), accent, ink))
    atlas.paste("side_l", (0.0, 0.1, 1.0, 0.16), tx.stripes_picture([accent, second], (8, 8), vertical=False))
    atlas.paste("top", (0.1, 0.7, 0.6, 0.85), tx.text_picture([f"ROOM {int(rng.integers(1, 400))}"], (120, 36), base, ink))
    atlas.fill("slab", WOODS[int(rng.integers(len(WOODS)))])
    atlas.paste("slab", (0, 0, 1, 1), tx.wood_picture(rng, (128, 256), WOODS[0]))
    return atlas
