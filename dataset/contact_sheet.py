"""PNG contact sheets: grids of images with optional labels and coloured keypoints.

Every stage that produces something people would rather see (renders, correspondences, training
samples, evaluation grids) lays it out with these helpers, so all sheets look alike.
"""
from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .compositing import composite_uint8

LABEL_HEIGHT = 14


def to_uint8(image) -> np.ndarray:
    """HxWx3 uint8 from uint8 HxWx{3,4} (alpha composited on white) or float [3,H,W]/[H,W,3] in [0,1]."""
    array = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (3, 4):
        array = array.transpose(1, 2, 0)
    if array.dtype != np.uint8:
        array = np.round(np.clip(array, 0.0, 1.0) * 255).astype(np.uint8)
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    if array.shape[-1] == 4:
        array = composite_uint8(array)
    return np.ascontiguousarray(array[..., :3])


def point_colours(count: int) -> list[tuple[int, int, int]]:
    """`count` distinguishable colours, the same for point j wherever it is drawn: hues spaced by the
    golden ratio (neighbouring indices far apart on the colour wheel), two brightness levels."""
    colours = []
    for j in range(count):
        r, g, b = colorsys.hsv_to_rgb((j * 0.618033988749895) % 1.0, 0.9, 1.0 if j % 2 == 0 else 0.7)
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    return colours


def draw_points(image, points, valid=None, radius: float = 2.5) -> np.ndarray:
    """A copy of `image` with points [k,2] (pixel x, y) drawn as discs coloured by index."""
    canvas = Image.fromarray(to_uint8(image))
    draw = ImageDraw.Draw(canvas)
    points = np.asarray(points.detach().cpu() if hasattr(points, "detach") else points, dtype=np.float64)
    valid = np.ones(len(points), bool) if valid is None else np.asarray(
        valid.detach().cpu() if hasattr(valid, "detach") else valid, dtype=bool)
    for (x, y), ok, colour in zip(points, valid, point_colours(len(points))):
        if ok:
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour, outline=(0, 0, 0))
    return np.asarray(canvas)


def grid(rows, labels=None, gap: int = 2) -> Image.Image:
    """One image from rows of equally sized images (any form `to_uint8` takes); optional column labels."""
    rows = [[to_uint8(image) for image in row] for row in rows]
    height, width = rows[0][0].shape[:2]
    columns = max(len(row) for row in rows)
    top = LABEL_HEIGHT if labels else 0
    sheet = Image.new("RGB", (columns * (width + gap) + gap, top + len(rows) * (height + gap) + gap), "white")
    if labels:
        draw = ImageDraw.Draw(sheet)
        for column, label in enumerate(labels):
            draw.text((gap + column * (width + gap) + 2, 1), str(label), fill=(0, 0, 0))
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            sheet.paste(Image.fromarray(image), (gap + c * (width + gap), top + gap + r * (height + gap)))
    return sheet


def save_png(image: Image.Image, path) -> Path:
    """Write a PNG atomically (temp name, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    image.save(tmp)
    tmp.replace(path)
    return path
