"""Preview image of stored keypoints: per sample a row Ia | Ip with matched points in the same colour."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..contact_sheet import draw_points, grid, save_png, to_uint8

MIN_SIDE = 256  # small renders are upscaled (nearest) so the dots stay visible


def draw_preview(pairs, out_path) -> Path:
    """pairs: [(rgba_a [H,W,4], rgba_p, points_a [k,2], points_p [k,2], valid [k]), ...] -> PNG at out_path."""
    height, width = pairs[0][0].shape[:2]
    scale = max(1, -(-MIN_SIDE // max(height, width)))
    radius = 3 * max(1, scale // 2)

    def panel(rgba, points, valid):
        image = Image.fromarray(to_uint8(rgba)).resize((width * scale, height * scale), Image.NEAREST)
        return draw_points(image, np.asarray(points) * scale, valid, radius=radius)

    rows = [[panel(rgba_a, points_a, valid), panel(rgba_p, points_p, valid)]
            for rgba_a, rgba_p, points_a, points_p, valid in pairs]
    return save_png(grid(rows, gap=0), out_path)
