"""Preview image of stored keypoints: per sample a row Ia | Ip with matched points in the same colour."""
from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .descriptors import composite

MIN_SIDE = 256  # small renders are upscaled (nearest) so the dots stay visible


def palette(count: int) -> list[tuple[int, int, int]]:
    """`count` distinguishable colours: hues spaced by the golden ratio, two brightness levels."""
    colours = []
    for j in range(count):
        r, g, b = colorsys.hsv_to_rgb((j * 0.618033988749895) % 1.0, 0.9, 1.0 if j % 2 == 0 else 0.7)
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    return colours


def draw_preview(pairs, out_path) -> Path:
    """pairs: [(rgba_a [H,W,4], rgba_p, points_a [k,2], points_p [k,2], valid [k]), ...] -> PNG at out_path."""
    height, width = pairs[0][0].shape[:2]
    scale = max(1, -(-MIN_SIDE // max(height, width)))
    canvas = Image.new("RGB", (2 * width * scale, len(pairs) * height * scale), "white")
    draw = ImageDraw.Draw(canvas)
    radius = 3 * max(1, scale // 2)
    for row, (rgba_a, rgba_p, points_a, points_p, valid) in enumerate(pairs):
        colours = palette(len(valid))
        for column, (rgba, points) in enumerate(((rgba_a, points_a), (rgba_p, points_p))):
            image = Image.fromarray(composite(rgba)).resize((width * scale, height * scale), Image.NEAREST)
            origin = np.array([column * width * scale, row * height * scale])
            canvas.paste(image, tuple(int(v) for v in origin))
            for j in np.flatnonzero(valid):
                x, y = origin + points[j] * scale
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colours[j], outline="black")
    out_path = Path(out_path)
    canvas.save(out_path)
    return out_path
