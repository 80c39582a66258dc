"""Briefcase generator: a rounded box body with handle, latches, straps, frame and pocket.

Styles span the thin hard attache case, the deep doctor's bag (narrower at the top), the soft
satchel and the hard case; proportions, edge rounding and hardware vary within each. The body stands on its bottom
(y = 0), handle on top, latches and brand plate on the front (+Z).
"""
from __future__ import annotations

import numpy as np

from . import textures as tx
from .mesh_ops import Part, ellipse, rounded_box, sweep
from .params import Chance, Choice, Integer, Uniform

# Lengths in model units; width is the x extent, aspect = height / width, taper = how much
# narrower the top is than the bottom (fraction), handle span is a fraction of the width.
PARAMETERS = {
    "common": {
        "width": Uniform(0.8, 1.1),
        "handle_shape": Choice(("arc", "bar")),
        "handle_span": Uniform(0.25, 0.42),
        "handle_height": Uniform(0.06, 0.14),
        "handle_thickness": Uniform(0.012, 0.024),
        "material": Choice(("leather", "coloured")),
        "front": Choice(("plain", "monogram", "stripes", "checks")),
        "plate": Chance(0.8),
        "tag": Chance(0.6),
        "grain": Uniform(0.02, 0.07),
    },
    "styles": {
        "attache": {"aspect": Uniform(0.55, 0.8), "taper": Uniform(0.0, 0.0), "depth": Uniform(0.08, 0.14),
                    "radius": Uniform(0.008, 0.03), "frame": Chance(0.9), "latches": Integer(2, 2),
                    "straps": Integer(0, 0), "pocket": Chance(0.0)},
        "doctor": {"aspect": Uniform(0.55, 0.9), "taper": Uniform(0.1, 0.3), "depth": Uniform(0.25, 0.4),
                   "radius": Uniform(0.06, 0.12), "frame": Chance(0.3), "latches": Integer(1, 1),
                   "straps": Integer(0, 2), "pocket": Chance(0.2)},
        "satchel": {"aspect": Uniform(0.6, 0.95), "taper": Uniform(0.0, 0.15), "depth": Uniform(0.06, 0.14),
                    "radius": Uniform(0.03, 0.07), "frame": Chance(0.0), "latches": Integer(0, 1),
                    "straps": Integer(0, 2), "pocket": Chance(0.7)},
        "hardcase": {"aspect": Uniform(0.65, 0.9), "taper": Uniform(0.0, 0.0), "depth": Uniform(0.2, 0.3),
                     "radius": Uniform(0.02, 0.05), "frame": Chance(1.0), "latches": Integer(2, 2),
                     "straps": Integer(0, 2), "pocket": Chance(0.0)},
    },
}

LAYOUT = {"front": (0.0, 0.0, 0.5, 0.5), "back": (0.5, 0.0, 1.0, 0.5), "top": (0.0, 0.5, 0.5, 0.7),
          "sides": (0.5, 0.5, 1.0, 0.7), "metal": (0.0, 0.7, 0.25, 1.0), "trim": (0.25, 0.7, 0.5, 1.0),
          "strap": (0.5, 0.7, 0.75, 1.0), "pocket": (0.75, 0.7, 1.0, 1.0)}

LEATHERS = ((30, 22, 18), (92, 52, 28), (140, 86, 44), (60, 30, 24), (25, 28, 34), (120, 100, 80))


def build(p: dict, rng: np.random.Generator) -> tuple[list[Part], tx.Atlas]:
    w, h, d = p["width"], p["width"] * p["aspect"], p["depth"]
    radius = min(p["radius"], 0.45 * d)
    parts = rounded_box((w / 2, h / 2, d / 2), radius, {"front": "front", "back": "back", "top": "top",
                                                         "default": "sides"}, center=(0, h / 2, 0))
    if p["frame"]:
        parts += rounded_box((w / 2 + 0.006, h / 2 + 0.006, 0.012), radius + 0.006, "trim",
                             center=(0, h / 2, 0))
    parts += handle(p, h)
    latch_x = {0: [], 1: [0.0], 2: [-0.32 * w, 0.32 * w]}[p["latches"]]
    for x in latch_x:
        parts += rounded_box((0.035, 0.025, 0.008), 0.004, "metal", center=(x, h - 0.08, d / 2 + 0.004))
    strap_x = {0: [], 1: [0.0], 2: [-0.2 * w, 0.2 * w]}[p["straps"]]
    for x in strap_x:
        parts += strap(x, h, d, radius)
    if p["pocket"]:
        parts += rounded_box((0.4 * w, 0.22 * h, 0.02), 0.015, "pocket", center=(0, 0.3 * h, d / 2))
    return [tapered(part, p["taper"], h) for part in parts], paint(p, rng, w, h)


def tapered(part: Part, taper: float, h: float) -> Part:
    """The part with x scaled by ``1 - taper * y / h``: the top narrower than the bottom."""
    vertices = part.vertices.copy()
    vertices[:, 0] *= 1.0 - taper * vertices[:, 1] / h
    return Part(vertices, part.faces, part.uv, part.region)


def handle(p: dict, h: float) -> list[Part]:
    """Two metal mounts on the top and a tube handle arching between them."""
    span = p["handle_span"] * p["width"] / 2
    x = np.linspace(-span, span, 25)
    s = np.abs(x / span)
    rise = np.sqrt(np.clip(1 - s ** 2, 0, 1)) if p["handle_shape"] == "arc" else (1 - s ** 6) ** 0.25
    rise = np.maximum(rise, 0.05 * (1 - s))  # keep the ends inside the mounts, never flat
    path = np.stack([x, h + 0.01 + p["handle_height"] * rise, np.zeros_like(x)], 1)
    thickness = p["handle_thickness"]
    parts = [sweep(path, ellipse(thickness, thickness * 1.3, 10), "trim")]
    for end in (-span, span):
        parts += rounded_box((0.025, 0.018, 0.02), 0.006, "metal", center=(end, h + 0.008, 0))
    return parts


def strap(x: float, h: float, d: float, radius: float) -> list[Part]:
    """A flat strap wrapped around the body in the y-z plane, with a buckle on the front."""
    gap = 0.004
    hy, hz, r = h / 2 + gap, d / 2 + gap, radius + gap
    corners = [(hy - r, hz - r, 0.0), (-(hy - r), hz - r, np.pi / 2), (-(hy - r), -(hz - r), np.pi),
               (hy - r, -(hz - r), 1.5 * np.pi)]
    path, normals = [], []
    for cy, cz, start in corners:
        for a in np.linspace(start, start + np.pi / 2, 6):
            path.append((x, h / 2 + cy + r * np.cos(a), cz + r * np.sin(a)))
            normals.append((0.0, np.cos(a), np.sin(a)))
    parts = [sweep(np.array(path), ellipse(0.004, 0.022, 12), "strap", normals=np.array(normals),
                   closed=True)]
    return parts + rounded_box((0.032, 0.024, 0.006), 0.003, "metal", center=(x, 0.55 * h, d / 2 + 0.008))


def paint(p: dict, rng: np.random.Generator, w: float, h: float) -> tx.Atlas:
    """Leather or shell colour with grain, front decor, brand plate, tag and back sticker."""
    leather = LEATHERS[int(rng.integers(len(LEATHERS)))] if p["material"] == "leather" else None
    base, accent, second, ink = tx.palette(rng, 4, base=leather)
    atlas = tx.Atlas(LAYOUT, background=base)
    metal = (200, 170, 90) if rng.random() < 0.5 else (190, 192, 198)
    for name, c in (("metal", metal), ("trim", tuple(int(v * 0.5) for v in base)), ("strap", accent),
                    ("pocket", tuple(int(v * 0.8) for v in base))):
        atlas.fill(name, c)
    for name in ("front", "back", "top", "sides", "pocket", "strap"):
        atlas.grain(name, rng, p["grain"])
    brand = tx.word(rng).upper()
    aspect = (256, int(256 * h / w))
    if p["front"] == "monogram":
        tile = tx.pattern_picture("diamonds", aspect, base, accent, 28)
        logo = tx.logo_picture(str(rng.choice(tx.LOGO_KINDS)), brand[0], 20, second, ink)
        for y in range(14, aspect[1], 28):
            for x in range(14 if (y // 28) % 2 else 0, aspect[0], 28):
                tile.paste(logo, (x - 10, y - 10), logo)
        atlas.paste("front", (0, 0, 1, 1), tile)
    elif p["front"] == "stripes":
        x0 = rng.uniform(0.1, 0.7)
        atlas.paste("front", (x0, 0, x0 + 0.18, 1), tx.stripes_picture([accent, second, accent], (30, 8)))
    elif p["front"] == "checks":
        atlas.paste("front", (0, 0, 1, 1), tx.pattern_picture("checks", aspect, base, accent, 16))
    if p["plate"]:
        pw = 0.28
        atlas.paste("front", (0.5 - pw / 2, 0.62, 0.5 + pw / 2, 0.62 + pw * w / h / 3.5),
                    tx.text_picture([brand], (140, 40), metal, (40, 30, 20), border=(90, 70, 30)))
    if p["tag"]:
        atlas.paste("front", (0.62, 0.08, 0.92, 0.08 + 0.3 * w / h * 0.55),
                    tx.text_picture([tx.word(rng).title(), f"Room {int(rng.integers(100, 999))}", "PRIVATE"],
                                    (150, 82), (245, 240, 220), (20, 30, 90), border=(180, 40, 40)))
    atlas.paste("back", (0.1, 0.55, 0.45, 0.55 + 0.35 * w / h * 0.5),
                tx.barcode_picture(rng, (140, 70), f"{brand[:3]}-{int(rng.integers(10000, 99999))}"))
    atlas.paste("top", (0.3, 0.05, 0.7, 0.35), tx.text_picture([brand], (160, 40), base, ink))
    atlas.paste("sides", (0.0, 0.4, 1.0, 0.55), tx.stripes_picture([accent, second], (8, 16), vertical=False))
    return atlas
