"""Texture atlas and PIL drawing helpers for the procedural generators.

An ``Atlas`` is one RGB image split into named rectangular regions; a ``Part`` (mesh_ops) maps
its local UVs into its region. The helpers draw seeded, deliberately asymmetric detail -
labels with text, logos, stripes, bands, patterns, grain - so that a rotation of a model is
visible in its renders and the preservation of brand marks can be judged.
"""
from __future__ import annotations

import colorsys
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SYLLABLES = ("ka", "lo", "mi", "ra", "ven", "tor", "sa", "di", "no", "bel", "quo", "zen",
             "ar", "pel", "tis", "mo", "ru", "fax", "ly", "dor", "ex", "ni", "vo", "gra")
LOGO_KINDS = ("circle", "triangle", "star", "diamond", "swoosh", "shield")


class Atlas:
    """An RGB texture image with named regions ``name -> (x0, y0, x1, y1)`` in image
    fractions (y down). Local region UVs have v up, as trimesh's UVs do."""

    def __init__(self, layout: dict, size: int = 512, background=(128, 128, 128)):
        self.size = size
        self.image = Image.new("RGB", (size, size), background)
        self.draw = ImageDraw.Draw(self.image)
        self.boxes = {name: tuple(int(round(f * size)) for f in box) for name, box in layout.items()}

    def box(self, name: str, local=(0.0, 0.0, 1.0, 1.0)) -> tuple[int, int, int, int]:
        """Pixel box of a region, or of ``local = (u0, v0, u1, v1)`` inside it (v up)."""
        x0, y0, x1, y1 = self.boxes[name]
        u0, v0, u1, v1 = local
        return (int(round(x0 + u0 * (x1 - x0))), int(round(y1 - v1 * (y1 - y0))),
                int(round(x0 + u1 * (x1 - x0))), int(round(y1 - v0 * (y1 - y0))))

    def to_uv(self, name: str, uv: np.ndarray) -> np.ndarray:
        """Atlas UVs (v up) of local UVs, kept half a pixel inside the region."""
        x0, y0, x1, y1 = self.boxes[name]
        uv = np.clip(uv, 0.0, 1.0)
        x = x0 + 0.5 + uv[:, 0] * (x1 - x0 - 1)
        y = y1 - 0.5 - uv[:, 1] * (y1 - y0 - 1)
        return np.stack([x / self.size, 1.0 - y / self.size], 1)

    def fill(self, name: str, colour) -> None:
        x0, y0, x1, y1 = self.boxes[name]
        self.draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=tuple(colour))

    def paste(self, name: str, local, picture: Image.Image) -> None:
        """Paste ``picture`` (alpha respected) resized into ``local`` of a region, clipped to it."""
        x0, y0, x1, y1 = self.box(name, local)
        rx0, ry0, rx1, ry1 = self.boxes[name]
        cx0, cy0, cx1, cy1 = max(x0, rx0), max(y0, ry0), min(x1, rx1), min(y1, ry1)
        if cx1 <= cx0 or cy1 <= cy0:
            return
        picture = picture.convert("RGBA").resize((x1 - x0, y1 - y0), Image.BILINEAR)
        piece = picture.crop((cx0 - x0, cy0 - y0, cx1 - x0, cy1 - y0))
        self.image.paste(piece, (cx0, cy0), piece)

    def grain(self, name: str, rng: np.random.Generator, strength: float, cells: int = 40) -> None:
        """Multiply a region by smooth seeded noise (leather, glaze or paint unevenness)."""
        x0, y0, x1, y1 = self.boxes[name]
        noise = rng.normal(1.0, strength, size=(cells, cells)).astype(np.float32)
        noise = np.asarray(Image.fromarray(noise, mode="F").resize((x1 - x0, y1 - y0), Image.BICUBIC))
        pixels = np.asarray(self.image.crop((x0, y0, x1, y1)), dtype=np.float32)
        pixels = np.clip(pixels * noise[..., None], 0, 255).astype(np.uint8)
        self.image.paste(Image.fromarray(pixels), (x0, y0))


@lru_cache(maxsize=64)
def font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled scalable font (Pillow >= 10.1)."""
    return ImageFont.load_default(size=max(6, int(size)))


def colour(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return int(r * 255), int(g * 255), int(b * 255)


def palette(rng: np.random.Generator, n: int = 4, base=None) -> list[tuple[int, int, int]]:
    """``n`` colours: a base (random unless given), accents contrasting with it, then an ink
    readable on the base."""
    hue = rng.random()
    base = colour(hue, rng.uniform(0.2, 0.85), rng.uniform(0.25, 0.9)) if base is None else tuple(base)
    accents = [
        colour(hue + rng.choice([0.5, 0.33, -0.33, 0.08]) + rng.normal(0, 0.03),
               rng.uniform(0.5, 1.0), rng.uniform(0.15, 1.0))
        for _ in range(n - 2)
    ]
    ink = (245, 245, 240) if sum(base) < 380 else (20, 20, 24)
    return [base, *accents, ink]


def word(rng: np.random.Generator, syllables: tuple[int, int] = (2, 3)) -> str:
    count = int(rng.integers(syllables[0], syllables[1] + 1))
    return "".join(SYLLABLES[int(i)] for i in rng.integers(len(SYLLABLES), size=count))


def text_picture(lines: list[str], size: tuple[int, int], background, ink, border=None) -> Image.Image:
    """A label: ``lines`` of text centred on a rectangle (first line largest), optional frame."""
    width, height = size
    picture = Image.new("RGBA", size, tuple(background) + (255,) if len(background) == 3 else background)
    draw = ImageDraw.Draw(picture)
    if border is not None:
        pad = max(2, height // 14)
        draw.rectangle((pad, pad, width - 1 - pad, height - 1 - pad), outline=tuple(border),
                       width=max(1, height // 24))
    weights = [2.0] + [1.0] * (len(lines) - 1)
    slot = (height * 0.8) / sum(weights)
    y = height * 0.1
    for line, weight in zip(lines, weights):
        size_px = slot * weight * 0.85
        while size_px > 6 and draw.textlength(line, font=font(size_px)) > width * 0.86:
            size_px *= 0.85
        draw.text((width / 2, y + slot * weight / 2), line, fill=tuple(ink), font=font(size_px),
                  anchor="mm")
        y += slot * weight
    return picture


def logo_picture(kind: str, letter: str, size: int, fill, ink) -> Image.Image:
    """A transparent square emblem of ``kind`` (see LOGO_KINDS) carrying a letter."""
    picture = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(picture)
    s, fill, ink = size, tuple(fill), tuple(ink)
    if kind == "circle":
        draw.ellipse((2, 2, s - 3, s - 3), fill=fill, outline=ink, width=max(1, s // 20))
    elif kind == "triangle":
        draw.polygon([(s * 0.5, s * 0.04), (s * 0.96, s * 0.92), (s * 0.04, s * 0.92)], fill=fill)
    elif kind == "star":
        angles = np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, 0.48, 0.22) * s
        draw.polygon([(s / 2 + r * np.cos(a), s / 2 - r * np.sin(a)) for r, a in zip(radii, angles)],
                     fill=fill)
    elif kind == "diamond":
        draw.polygon([(s * 0.5, s * 0.02), (s * 0.98, s * 0.5), (s * 0.5, s * 0.98), (s * 0.02, s * 0.5)],
                     fill=fill)
    elif kind == "swoosh":
        t = np.linspace(0.0, 1.0, 24)
        lower = [(s * (0.05 + 0.9 * x), s * (0.55 + 0.3 * np.sin(np.pi * x) - 0.45 * x)) for x in t]
        upper = [(s * (0.05 + 0.9 * x), s * (0.55 + 0.12 * np.sin(np.pi * x) - 0.5 * x)) for x in t[::-1]]
        draw.polygon(lower + upper, fill=fill)
        return picture
    else:  # shield
        draw.polygon([(s * 0.1, s * 0.08), (s * 0.9, s * 0.08), (s * 0.9, s * 0.5), (s * 0.5, s * 0.96),
                      (s * 0.1, s * 0.5)], fill=fill, outline=ink)
    draw.text((s / 2, s * (0.62 if kind == "triangle" else 0.5)), letter, fill=ink,
              font=font(s * (0.38 if kind in ("triangle", "star") else 0.55)), anchor="mm")
    return picture


def stripes_picture(colours: list, size: tuple[int, int], vertical: bool = True) -> Image.Image:
    """Parallel stripes of the given colours, equal widths, across ``size``."""
    picture = Image.new("RGBA", size)
    draw = ImageDraw.Draw(picture)
    n, (w, h) = len(colours), size
    for k, c in enumerate(colours):
        if vertical:
            draw.rectangle((k * w / n, 0, (k + 1) * w / n, h), fill=tuple(c))
        else:
            draw.rectangle((0, k * h / n, w, (k + 1) * h / n), fill=tuple(c))
    return picture


def pattern_picture(kind: str, size: tuple[int, int], background, ink, cell: int) -> Image.Image:
    """A repeating pattern: ``dots``, ``checks``, ``zigzag`` or ``diamonds``."""
    w, h = size
    picture = Image.new("RGBA", size, tuple(background) + (255,))
    draw = ImageDraw.Draw(picture)
    ink, cell = tuple(ink), max(4, int(cell))
    for row, y in enumerate(range(0, h + cell, cell)):
        for col, x in enumerate(range(0, w + cell, cell)):
            if kind == "dots":
                r = cell * 0.22
                cx = x + (cell / 2 if row % 2 else 0)
                draw.ellipse((cx - r, y - r, cx + r, y + r), fill=ink)
            elif kind == "checks" and (row + col) % 2 == 0:
                draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=ink)
            elif kind == "diamonds":
                draw.polygon([(x + cell / 2, y), (x + cell, y + cell / 2), (x + cell / 2, y + cell),
                              (x, y + cell / 2)], outline=ink, width=max(1, cell // 8))
        if kind == "zigzag":
            points = [(x, y + (cell / 2 if k % 2 else 0)) for k, x in enumerate(range(0, w + cell, cell // 2))]
            draw.line(points, fill=ink, width=max(1, cell // 6))
    return picture


def barcode_picture(rng: np.random.Generator, size: tuple[int, int], caption: str) -> Image.Image:
    """A white sticker with random bars and a caption underneath."""
    w, h = size
    picture = Image.new("RGBA", size, (250, 250, 250, 255))
    draw = ImageDraw.Draw(picture)
    x = w * 0.08
    while x < w * 0.92:
        bar = rng.integers(1, 4) * w / 120
        if rng.random() < 0.55:
            draw.rectangle((x, h * 0.1, x + bar, h * 0.7), fill=(10, 10, 10))
        x += bar
    draw.text((w / 2, h * 0.85), caption, fill=(10, 10, 10), font=font(h * 0.2), anchor="mm")
    return picture


def wood_picture(rng: np.random.Generator, size: tuple[int, int], base) -> Image.Image:
    """Wood: wavy darker grain lines along x over ``base``."""
    w, h = size
    picture = Image.new("RGBA", size, tuple(base) + (255,))
    draw = ImageDraw.Draw(picture)
    dark = tuple(int(c * 0.7) for c in base)
    x = np.linspace(0, w, 48)
    for y0 in np.sort(rng.uniform(0, h, size=max(4, h // 6))):
        phase, amp = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 3.0)
        draw.line(list(zip(x, y0 + amp * np.sin(x / w * 6 + phase))), fill=dark, width=1)
    return picture


def fractal_noise(rng: np.random.Generator, size: tuple[int, int], octaves: int = 4, cells: int = 4) -> np.ndarray:
    """float32 [h, w] in [0, 1]: seeded value noise summed over octaves (cell count doubling, amplitude halving),
    each octave bicubically upsampled from a random grid, wrapping left to right so a lathe's seam does not show."""
    w, h = size
    total = np.zeros((h, w), np.float32)
    for octave in range(octaves):
        count = cells * 2 ** octave
        grid = rng.random((count + 1, count)).astype(np.float32)
        grid = np.concatenate([grid, grid[:, :1]], axis=1)  # periodic in u
        layer = np.asarray(Image.fromarray(grid, mode="F").resize((w, h), Image.BICUBIC))
        total += layer * 0.5 ** octave
    total -= total.min()
    return total / max(float(total.max()), 1e-6)


def ramp_picture(values: np.ndarray, colours: list) -> Image.Image:
    """Map values [h, w] in [0, 1] through a colour ramp of evenly spaced ``colours`` (RGBA picture)."""
    stops = np.linspace(0.0, 1.0, len(colours))
    rgb = np.stack([np.interp(values, stops, [c[k] for c in colours]) for k in range(3)], -1)
    alpha = np.full(values.shape + (1,), 255.0)
    return Image.fromarray(np.concatenate([rgb, alpha], -1).clip(0, 255).astype(np.uint8), mode="RGBA")


def photo_picture(rng: np.random.Generator, size: tuple[int, int], colours: list) -> Image.Image:
    """A photographic-looking glaze or stone: domain-warped noise through a colour ramp, fine speckles, vertical
    runs of glaze and a darker lower part (``colours``: at least two, dark to light reads most naturally)."""
    w, h = size
    warp = fractal_noise(rng, size, 3, 3)
    values = fractal_noise(rng, size, 5, 3)
    ys, xs = np.mgrid[:h, :w]
    shift = ((warp - 0.5) * rng.uniform(0.1, 0.4) * w).astype(int)
    values = values[ys, (xs + shift) % w]
    runs = np.asarray(Image.fromarray(rng.random((8, 96)).astype(np.float32), mode="F").resize((w, h), Image.BICUBIC))
    values = np.clip(values * (1 - rng.uniform(0.0, 0.35)) + runs * rng.uniform(0.0, 0.35), 0, 1)
    picture = np.asarray(ramp_picture(values, colours), dtype=np.float32)
    shade = np.linspace(1.0, rng.uniform(0.6, 1.0), h)[:, None, None]  # row 0 is the top (v up)
    speckles = 1.0 - (rng.random((h, w, 1)) < rng.uniform(0.0, 0.03)) * rng.uniform(0.2, 0.6)
    picture[..., :3] *= shade * speckles
    return Image.fromarray(picture.clip(0, 255).astype(np.uint8), mode="RGBA")
