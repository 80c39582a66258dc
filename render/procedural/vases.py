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
from .mesh_ops import Part, disc, ellipse, grid_part, lathe, sweep
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

# Styles added after generator version 1 (library.ADDED_STYLE_SEEDS): complete tables of their own, drawn only for
# seeds of their own range, so no model of the styles above changes. `freeform` teaches the category rather than
# the five profiles: a random lathe profile (3-7 control radii), feet, lips and spouts, 0-4 handles of three kinds
# at any azimuth, non-round (elliptic, lobed, squarish) and leaning bodies, and bodies painted by one of several
# painters with the label at the front, anywhere or absent.
ADDED_STYLES = {
    "freeform": {
        "height": Uniform(0.35, 1.7), "controls": Integer(3, 7), "radius": Uniform(0.12, 0.5),
        "mouth": Uniform(0.15, 1.1), "thickness": Uniform(0.01, 0.03),
        "foot": Choice(("none", "ring", "pedestal")), "foot_height": Uniform(0.03, 0.3),
        "lip": Choice(("plain", "bead", "flare", "spout")), "lip_size": Uniform(0.1, 0.5),
        "section": Choice(("round", "round", "ellipse", "lobed", "squarish")), "aspect": Uniform(0.55, 0.95),
        "lobes": Integer(3, 10), "lobe_depth": Uniform(0.03, 0.14), "squareness": Uniform(2.5, 6.0),
        "lean": Uniform(0.0, 0.2), "lean_towards": Uniform(-np.pi, np.pi),
        "handles": Integer(0, 4), "handle_kind": Choice(("strap", "round", "ear")),
        "handle_width": Uniform(0.02, 0.07), "handle_reach": Uniform(0.04, 0.22),
        "painter": Choice(("plain", "noise", "stripes", "photo", "bands", "pattern")),
        "label": Choice(("none", "front", "front", "anywhere")), "logo": Choice(tx.LOGO_KINDS),
        "grain": Uniform(0.0, 0.12),
    },
}
PARAMETERS["added_styles"] = ADDED_STYLES
FREEFORM_COLUMNS = 64  # samples around a freeform body

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
    if p["style"] in ADDED_STYLES:
        return build_freeform(p, rng)
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


def section(p: dict, theta: np.ndarray) -> np.ndarray:
    """Radius factor of a freeform body's cross-section at azimuth theta (0 faces the front, +Z)."""
    if p["section"] == "ellipse":  # full width across (x), `aspect` of it front to back (z)
        return 1.0 / np.sqrt(np.sin(theta) ** 2 + (np.cos(theta) / p["aspect"]) ** 2)
    if p["section"] == "lobed":
        return 1.0 + p["lobe_depth"] * np.cos(p["lobes"] * theta)
    if p["section"] == "squarish":  # a superellipse
        power = p["squareness"]
        return (np.abs(np.sin(theta)) ** power + np.abs(np.cos(theta)) ** power) ** (-1.0 / power)
    return np.ones_like(theta)


def freeform_profile(p: dict, rng: np.random.Generator) -> tuple[PchipInterpolator, float]:
    """(radius of a round section as a function of height, height where the body above the foot starts)."""
    height, widest = p["height"], p["radius"]
    count = p["controls"]
    spread = np.linspace(0.1, 0.9, count)
    fractions = 0.5 * (np.sort(rng.uniform(0.08, 0.92, count)) + spread)  # strictly increasing
    radii = widest * rng.uniform(0.3, 1.0, count)
    radii[int(rng.integers(count))] = widest
    base = widest * rng.uniform(0.3, 0.9)
    mouth = max(0.04, p["mouth"] * radii[-1] * (1 + p["lip_size"] if p["lip"] == "flare" else 1.0))
    if p["foot"] == "ring":
        start = min(p["foot_height"], 0.12 * height)
        heights, foot_radii = [0.0, 0.6 * start], [base * 1.15, base * 1.12]
    elif p["foot"] == "pedestal":
        start = float(np.clip(p["foot_height"], 0.1, 0.35 * height))
        plate = max(base, 0.6 * widest)
        heights, foot_radii = [0.0, 0.025, 0.45 * start], [plate, 0.95 * plate, plate * rng.uniform(0.2, 0.45)]
    else:
        start, heights, foot_radii = 0.0, [], []
    body = [start + f * (height - start) for f in (0.0, *fractions, 1.0)]
    return PchipInterpolator([*heights, *body], [*foot_radii, base, *np.maximum(radii, 0.04), mouth]), start


def build_freeform(p: dict, rng: np.random.Generator) -> tuple[list[Part], tx.Atlas]:
    """A `freeform` vase (ADDED_STYLES): the lathe of a random profile, swept around a non-round, possibly leaning
    section, with a thick wall, a floor, lip, foot and handles."""
    radius_at, start = freeform_profile(p, rng)
    height = p["height"]
    theta = np.linspace(-np.pi, np.pi, FREEFORM_COLUMNS + 1)
    lean = p["lean"] * np.array([np.sin(p["lean_towards"]), np.cos(p["lean_towards"])])

    def spout(y, angle):
        rise = np.clip((np.asarray(y)[..., None] - 0.8 * height) / (0.2 * height), 0.0, 1.0) ** 2
        return 1.0 + (p["lip_size"] if p["lip"] == "spout" else 0.0) * np.exp(-(angle / 0.35) ** 2) * rise

    def radius(y, angle=theta):  # [len(y), len(angle)]
        return radius_at(np.asarray(y))[..., None] * section(p, angle) * spout(y, angle)

    def surface(y, r, angle=theta):  # points [len(y), len(angle), 3] at radii r [len(y), len(angle)]
        shift = lean[None, :] * (np.asarray(y) / height)[:, None] ** 2
        return np.stack([shift[:, :1] + r * np.sin(angle), np.broadcast_to(np.asarray(y)[:, None], r.shape),
                         shift[:, 1:] + r * np.cos(angle)], -1)

    y_out = height * np.sin(np.linspace(0, np.pi / 2, ROWS))
    floor = max(2.5 * p["thickness"], start + p["thickness"])
    y_in = np.linspace(height, floor, ROWS)
    t = min(p["thickness"], 0.45 * float(radius(y_in).min()))
    phi = np.linspace(0.0, np.pi, 7)[1:-1]
    rim = radius([height])[0]
    rim_r = rim[None] - t / 2 + t / 2 * np.cos(phi)[:, None]
    inner_y = np.concatenate([height + t / 2 * np.sin(phi), y_in])
    mean_r = radius_at(y_out)
    v_out = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(mean_r), np.diff(y_out)))])
    outer_length = float(v_out[-1])
    parts = [grid_part(surface(y_out, radius(y_out)), "body", v=v_out / outer_length),
             grid_part(surface(inner_y, np.concatenate([rim_r, radius(y_in) - t])), "inside"),
             cap(surface([floor], radius([floor]) - t)[0], "inside", up=True),
             cap(surface([0.0], radius([0.0]))[0], "base", up=False)]
    if p["lip"] == "bead":
        ring = surface([height - t], radius([height - t]))[0, :-1]
        parts.append(sweep(ring, ellipse(t * 0.6 + 0.008, t * 0.6 + 0.008), "handle", closed=True))
    for angle in handle_azimuths(p["handles"], rng):
        parts.append(freeform_handle(p, rng, radius, surface, start, t, angle))
    atlas = paint_freeform(p, rng, radius_at, y_out, v_out / outer_length, outer_length)
    return parts, atlas


def cap(ring: np.ndarray, region: str, up: bool) -> Part:
    """A fan closing a ring of points ([n + 1, 3], the last repeating the first) about its centroid."""
    ring = ring[:-1]
    centre = ring.mean(axis=0)
    vertices = np.concatenate([centre[None], ring])
    j = np.arange(len(ring))
    a, b = 1 + j, 1 + (j + 1) % len(ring)
    faces = np.stack([np.zeros_like(j), a, b] if up else [np.zeros_like(j), b, a], 1)
    flat = vertices[:, [0, 2]] - centre[[0, 2]]
    uv = 0.5 + 0.5 * flat / np.abs(flat).max()
    return Part(vertices, faces.astype(np.int64), uv, region)


def handle_azimuths(count: int, rng: np.random.Generator) -> list[float]:
    """One handle at the back or a side; two opposite; three or four evenly spaced, each turned at random."""
    if count == 0:
        return []
    if count == 1:
        return [float(rng.choice([np.pi, np.pi / 2, -np.pi / 2]))]
    first = np.pi / 2 if count == 2 and rng.random() < 0.7 else rng.uniform(-np.pi, np.pi)
    return [float(first + k * 2 * np.pi / count) for k in range(count)]


def freeform_handle(p, rng, radius, surface, start, t, angle) -> Part:
    """A strap, round or small ear handle at `angle`: a cubic Bezier out of the wall and back, between two
    random heights of the body."""
    height = p["height"]
    body = height - start
    top = start + body * rng.uniform(0.55, 0.95)
    span = body * (rng.uniform(0.06, 0.15) if p["handle_kind"] == "ear" else rng.uniform(0.2, 0.5))
    bottom = max(start + 0.05 * body, top - span)
    reach = p["handle_reach"] * (0.5 if p["handle_kind"] == "ear" else 1.0)
    heights = np.linspace(bottom, top, 32)
    widest = float(radius(heights, np.array([angle])).max())
    r_top, r_bottom = (float(radius([y], np.array([angle]))[0, 0]) - t / 2 for y in (top, bottom))
    controls = np.array([[r_top, top], [widest + reach, top + 0.15 * (top - bottom)], [widest + reach, bottom],
                         [r_bottom, bottom]])
    s = np.linspace(0.0, 1.0, 24)[:, None]
    bezier = ((1 - s) ** 3 * controls[0] + 3 * s * (1 - s) ** 2 * controls[1]
              + 3 * s ** 2 * (1 - s) * controls[2] + s ** 3 * controls[3])
    path = surface(bezier[:, 1], bezier[:, :1], np.array([angle]))[:, 0]
    tangential = np.array([np.cos(angle), 0, -np.sin(angle)])
    width = p["handle_width"]
    profile = {"strap": ellipse(width / 2, width / 5), "round": ellipse(width / 2.5, width / 2.5),
               "ear": ellipse(width / 2, width / 3)}[p["handle_kind"]]
    return sweep(path, profile, "handle", normals=np.broadcast_to(tangential, path.shape))


def paint_freeform(p, rng, radius_at, y_out, v_out, outer_length) -> tx.Atlas:
    """The body by one of several painters, then grain, then the label (front, anywhere or none) and a logo."""
    colours = tx.palette(rng, int(rng.integers(3, 6)))
    base, accent, second, ink = colours[0], colours[1], colours[-2], colours[-1]
    atlas = tx.Atlas(LAYOUT, background=base)
    size = (512, 358)
    painter = p["painter"]
    if painter == "noise":
        atlas.paste("body", (0, 0, 1, 1), tx.ramp_picture(tx.fractal_noise(rng, size, 4, int(rng.integers(2, 8))),
                                                          colours[:-1]))
    elif painter == "photo":
        ramp = sorted(colours[:-1], key=sum)
        atlas.paste("body", (0, 0, 1, 1), tx.photo_picture(rng, size, ramp))
    elif painter == "stripes":
        count = int(rng.integers(3, 30))
        atlas.paste("body", (0, 0, 1, 1), tx.stripes_picture([accent, base] * count, size,
                                                             vertical=bool(rng.random() < 0.5)))
    elif painter == "bands":
        for v in np.sort(rng.uniform(0.03, 0.97, size=int(rng.integers(1, 7)))):
            width = rng.uniform(0.01, 0.08)
            atlas.paste("body", (0, v - width, 1, v + width), tx.stripes_picture(
                colours[int(rng.integers(1, len(colours) - 1)):], (8, 24), vertical=False))
    elif painter == "pattern":
        v0, v1 = np.sort(rng.uniform(0.0, 1.0, 2))
        kind = str(rng.choice(["dots", "checks", "zigzag", "diamonds"]))
        atlas.paste("body", (0, v0, 1, max(v1, v0 + 0.1)),
                    tx.pattern_picture(kind, (512, 128), accent, second, int(rng.integers(6, 30))))
    atlas.grain("body", rng, p["grain"])
    atlas.fill("inside", tx.colour(rng.random(), rng.uniform(0.1, 0.5), rng.uniform(0.2, 0.7)))
    atlas.fill("handle", accent if rng.random() < 0.5 else base)
    atlas.fill("base", tx.colour(rng.random(), 0.25, rng.uniform(0.4, 0.8)))

    def patch(u, y, width, tall):  # local box of a physical width x height centred at (u, y)
        du = width / (2 * np.pi * float(radius_at(y)))
        v, dv = float(np.interp(y, y_out, v_out)), tall / outer_length
        return (u - du / 2, v - dv / 2, u + du / 2, v + dv / 2)

    brand = tx.word(rng).upper()
    y_label = p["height"] * rng.uniform(0.25, 0.75)
    if p["label"] != "none":
        u = 0.5 if p["label"] == "front" else rng.uniform(0.0, 1.0)
        width = float(radius_at(y_label)) * rng.uniform(0.6, 1.6)
        paper, text = ((250, 246, 232), (30, 30, 40)) if rng.random() < 0.6 else (ink, base)
        lines = [brand, f"No. {int(rng.integers(10, 999))}"][:int(rng.integers(1, 3))]
        atlas.paste("body", patch(u, y_label, width, width * rng.uniform(0.3, 0.9)),
                    tx.text_picture(lines, (240, 144), paper, text, border=accent if rng.random() < 0.5 else None))
    if rng.random() < 0.5:
        y_logo = p["height"] * rng.uniform(0.2, 0.8)
        mark = 0.6 * float(radius_at(y_logo))
        atlas.paste("body", patch(rng.uniform(0.0, 1.0), y_logo, mark, mark),
                    tx.logo_picture(p["logo"], brand[0], 96, second, ink))
    return atlas
