"""Vase generator: a lathed, open, thick-walled vessel with optional foot, rim bead and handles.

Styles range from bottle to bowl to amphora. The outer profile is a monotone (PCHIP) spline
through five control radii - base, belly, shoulder, neck, mouth - at increasing heights; the
inner wall follows it at a constant thickness down to a floor. The glaze carries bands or a
pattern, a printed label at the front (+Z), a logo at one side and a potter's mark underneath.
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator

from . import textures as tx
from .mesh_ops import Part, disc, ellipse, lathe, sweep
from .params import Chance, Choice, Integer, Uniform

# Radii and heights in model units, heights of control points as fractions of the body height.
PARAMETERS = {
    "common": {
        "thickness": Uniform(0.012, 0.03),
        "foot": Chance(0.5),
        "foot_height": Uniform(0.02, 0.07),
        "foot_flare": Uniform(1.0, 1.25),
        "rim_bead": Chance(0.4),
        "handle_width": Uniform(0.03, 0.06),
        "handle_reach": Uniform(0.06, 0.18),
        "decor": Choice(("bands", "pattern", "stripes", "plain")),
        "label": Chance(0.8),
        "logo": Choice(tx.LOGO_KINDS),
        "grain": Uniform(0.0, 0.08),
    },
    "styles": {
        "bottle": {"height": Uniform(1.1, 1.6), "base": Uniform(0.18, 0.28),
                   "belly_at": Uniform(0.15, 0.35), "belly": Uniform(0.24, 0.34),
                   "shoulder_at": Uniform(0.5, 0.62), "shoulder": Uniform(0.2, 0.3),
                   "neck_at": Uniform(0.72, 0.85), "neck": Uniform(0.06, 0.11),
                   "mouth": Uniform(1.0, 1.4), "handles": Integer(0, 1)},
        "bowl": {"height": Uniform(0.35, 0.6), "base": Uniform(0.12, 0.25),
                 "belly_at": Uniform(0.45, 0.65), "belly": Uniform(0.45, 0.6),
                 "shoulder_at": Uniform(0.7, 0.8), "shoulder": Uniform(0.42, 0.58),
                 "neck_at": Uniform(0.85, 0.92), "neck": Uniform(0.38, 0.55),
                 "mouth": Uniform(1.0, 1.15), "handles": Integer(0, 2)},
        "amphora": {"height": Uniform(1.1, 1.5), "base": Uniform(0.06, 0.12),
                    "belly_at": Uniform(0.35, 0.5), "belly": Uniform(0.3, 0.42),
                    "shoulder_at": Uniform(0.62, 0.72), "shoulder": Uniform(0.22, 0.3),
                    "neck_at": Uniform(0.8, 0.88), "neck": Uniform(0.1, 0.15),
                    "mouth": Uniform(1.1, 1.5), "handles": Integer(2, 2)},
        "urn": {"height": Uniform(0.8, 1.1), "base": Uniform(0.12, 0.2),
                "belly_at": Uniform(0.4, 0.55), "belly": Uniform(0.34, 0.45),
                "shoulder_at": Uniform(0.68, 0.78), "shoulder": Uniform(0.28, 0.36),
                "neck_at": Uniform(0.85, 0.92), "neck": Uniform(0.22, 0.3),
                "mouth": Uniform(1.0, 1.3), "handles": Integer(0, 2)},
        "gourd": {"height": Uniform(0.9, 1.3), "base": Uniform(0.16, 0.24),
                  "belly_at": Uniform(0.2, 0.32), "belly": Uniform(0.3, 0.4),
                  "shoulder_at": Uniform(0.5, 0.58), "shoulder": Uniform(0.12, 0.17),
                  "neck_at": Uniform(0.68, 0.78), "neck": Uniform(0.17, 0.25),
                  "mouth": Uniform(0.35, 0.6), "handles": Integer(0, 1)},
        "cylinder": {"height": Uniform(0.9, 1.5), "base": Uniform(0.16, 0.26),
                     "belly_at": Uniform(0.3, 0.45), "belly": Uniform(0.16, 0.3),
                     "shoulder_at": Uniform(0.6, 0.75), "shoulder": Uniform(0.16, 0.3),
                     "neck_at": Uniform(0.85, 0.92), "neck": Uniform(0.14, 0.3),
                     "mouth": Uniform(1.0, 1.2), "handles": Integer(0, 0)},
    },
}

LAYOUT = {"body": (0.0, 0.0, 1.0, 0.7), "inside": (0.0, 0.7, 0.34, 1.0),
          "base": (0.34, 0.7, 0.67, 1.0), "handle": (0.67, 0.7, 1.0, 1.0)}
ROWS = 48  # samples along the outer profile


def profile(p: dict) -> PchipInterpolator:
    """Outer radius as a function of height."""
    foot = p["foot_height"] if p["foot"] else 0.0
    body = p["height"] - foot
    fractions = [0.0, p["belly_at"], p["shoulder_at"], p["neck_at"], 1.0]
    radii = [p["base"], p["belly"], p["shoulder"], p["neck"], p["neck"] * p["mouth"]]
    heights = [foot + f * body for f in fractions]
    if p["foot"]:
        heights, radii = [0.0, *heights], [p["base"] * p["foot_flare"], *radii]
        radii[1] *= 0.85
    return PchipInterpolator(heights, radii)


def build(p: dict, rng: np.random.Generator) -> tuple[list[Part], tx.Atlas]:
    radius_at, height = profile(p), p["height"]
    y_out = height * np.sin(np.linspace(0, np.pi / 2, ROWS))  # denser near the rim
    r_out = radius_at(y_out)
    floor = max(2.5 * p["thickness"], (p["foot_height"] if p["foot"] else 0.0) + p["thickness"])
    y_in = np.linspace(height, floor, ROWS)
    t = min(p["thickness"], 0.45 * float(radius_at(y_in).min()))
    phi = np.linspace(0.0, np.pi, 7)[1:-1]
    rim_r = r_out[-1] - t / 2 + t / 2 * np.cos(phi)
    rim_y = height + t / 2 * np.sin(phi)
    r_in = np.concatenate([rim_r, radius_at(y_in) - t])
    parts = [
        lathe(r_out, y_out, "body"),
        lathe(r_in, np.concatenate([rim_y, y_in]), "inside"),
        disc(r_in[-1], floor, "inside", up=True),
        disc(r_out[0], 0.0, "base", up=False),
    ]
    if p["rim_bead"]:
        angle = np.linspace(-np.pi, np.pi, 64, endpoint=False)
        ring = np.stack([r_out[-1] * np.sin(angle), np.full_like(angle, height - t),
                         r_out[-1] * np.cos(angle)], 1)
        parts.append(sweep(ring, ellipse(t * 0.6 + 0.008, t * 0.6 + 0.008), "handle", closed=True))
    angles = {0: [], 1: [np.pi], 2: [-np.pi / 2, np.pi / 2]}[p["handles"]]
    parts += [handle(p, radius_at, t, theta) for theta in angles]
    outer_length = float(np.sum(np.hypot(np.diff(r_out), np.diff(y_out))))
    return parts, paint(p, rng, radius_at, y_out, r_out, outer_length)


def handle(p: dict, radius_at, t: float, theta: float) -> Part:
    """A strap handle: a cubic Bezier from the neck to the shoulder/belly, bulging outwards."""
    foot = p["foot_height"] if p["foot"] else 0.0
    body = p["height"] - foot
    y_top = foot + body * (p["shoulder_at"] + p["neck_at"]) / 2
    y_bottom = foot + body * (p["belly_at"] + p["shoulder_at"]) / 2
    widest = float(radius_at(np.linspace(y_bottom, y_top, 32)).max())
    reach = widest + p["handle_reach"]
    controls = np.array([[radius_at(y_top) - t / 2, y_top], [reach, y_top + 0.15 * (y_top - y_bottom)],
                         [reach, y_bottom], [radius_at(y_bottom) - t / 2, y_bottom]])
    s = np.linspace(0.0, 1.0, 24)[:, None]
    bezier = ((1 - s) ** 3 * controls[0] + 3 * s * (1 - s) ** 2 * controls[1]
              + 3 * s ** 2 * (1 - s) * controls[2] + s ** 3 * controls[3])
    radial, tangential = np.array([np.sin(theta), 0, np.cos(theta)]), np.array([np.cos(theta), 0, -np.sin(theta)])
    path = bezier[:, :1] * radial + bezier[:, 1:] * np.array([0.0, 1.0, 0.0])
    normals = np.broadcast_to(tangential, path.shape)
    return sweep(path, ellipse(p["handle_width"] / 2, p["handle_width"] / 5), "handle", normals=normals)


def paint(p, rng, radius_at, y_out, r_out, outer_length) -> tx.Atlas:
    """Glaze, decoration, front label, side logo and the potter's mark underneath."""
    base, accent, second, ink = tx.palette(rng, 4)
    atlas = tx.Atlas(LAYOUT, background=base)
    atlas.grain("body", rng, p["grain"])
    atlas.fill("inside", tx.colour(rng.random(), 0.3, 0.35))
    atlas.fill("handle", accent)
    atlas.fill("base", (190, 170, 140))
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(r_out), np.diff(y_out)))]) / outer_length

    def v_at(y):  # arc-length fraction of a height
        return float(np.interp(y, y_out, arc))

    def patch(u, y, width, height):  # local box of a physical width x height centred at (u, y)
        du = width / (2 * np.pi * float(radius_at(y)))
        dv = height / outer_length
        return (u - du / 2, v_at(y) - dv / 2, u + du / 2, v_at(y) + dv / 2)

    if p["decor"] == "bands":
        for v in np.sort(rng.uniform(0.05, 0.95, size=int(rng.integers(2, 5)))):
            width = rng.uniform(0.015, 0.05)
            atlas.paste("body", (0, v - width, 1, v + width),
                        tx.pattern_picture("zigzag", (512, 24), accent, second, 12) if rng.random() < 0.4
                        else tx.stripes_picture([accent, second, accent], (8, 24), vertical=False))
    elif p["decor"] == "pattern":
        v0 = rng.uniform(0.45, 0.7)
        kind = str(rng.choice(["dots", "checks", "zigzag", "diamonds"]))
        atlas.paste("body", (0, v0, 1, min(1.0, v0 + rng.uniform(0.15, 0.3))),
                    tx.pattern_picture(kind, (512, 96), accent, second, int(rng.integers(10, 24))))
    elif p["decor"] == "stripes":
        count = int(rng.integers(6, 20))
        atlas.paste("body", (0, rng.uniform(0.05, 0.3), 1, rng.uniform(0.6, 0.9)),
                    tx.stripes_picture([accent, base] * count, (512, 8)))
    brand = tx.word(rng).upper()
    foot = p["foot_height"] if p["foot"] else 0.0
    y_label = foot + (p["height"] - foot) * p["belly_at"]
    if p["label"]:
        width = 1.4 * float(radius_at(y_label))
        lines = [brand, f"No. {int(rng.integers(10, 999))}", p["style"]]
        atlas.paste("body", patch(0.5, y_label, width, width * 0.6),
                    tx.text_picture(lines, (240, 144), (250, 246, 232), (30, 30, 40), border=accent))
    y_logo = foot + (p["height"] - foot) * p["shoulder_at"]
    size = 0.7 * float(radius_at(y_logo))
    side = 0.5 + (0.25 if rng.random() < 0.5 else -0.25)
    atlas.paste("body", patch(side, y_logo, size, size),
                tx.logo_picture(p["logo"], brand[0], 96, second, ink))
    atlas.paste("base", (0.2, 0.3, 0.8, 0.7),
                tx.text_picture([brand, str(int(rng.integers(1900, 2030)))], (160, 96),
                                (190, 170, 140), (90, 40, 30)))
    atlas.paste("handle", (0, 0.4, 1, 0.6), tx.stripes_picture([second, ink, second], (8, 24), vertical=False))
    return atlas
