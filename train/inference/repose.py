"""Reposing new images with a trained checkpoint: foreground, square framing, on-the-fly keypoints, EOPose.

The pipeline for one pair (appearance A, pose P), images of any size and aspect ratio:

1. Foreground: from the alpha channel when the image has one that is not fully opaque; otherwise estimated
   from a plain background: the per-channel median of the outermost BORDER px ring is the background
   colour, a pixel is foreground when some channel differs from it by more than BACKGROUND_TOLERANCE (of
   the 0..255 range), and holes inside the foreground are filled (scipy.ndimage.binary_fill_holes), so
   object pixels that happen to match the background stay in.
2. Framing: each image is padded, centred, to a square with transparent pixels (which the compositing turns
   into the model's background colour), then resized to the model's resolution R (bilinear with
   antialiasing, as the training loader).
3. Keypoints: the keypoint cache's own dino / dinov2 / nocs-net method (dataset.keypoints.methods: the same
   presets, the same matching, channels in raster order of the appearance points) on the two R x R views
   composited on white, with the alpha (> 0.5) as the foreground mask, exactly as build-keypoint-cache treats a render.
4. EOPose on (A, P, Pa, Pp) at R x R; the output is in the pose image's square frame. It is resized to the
   appearance image's padded square and cropped to the appearance image's box, so the output has the
   appearance image's original size; where the two aspect ratios differ the pose's framing decides where
   the object lands. The output is RGB on the model's background colour.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy.ndimage import binary_fill_holes

from eopose.dataset.contact_sheet import grid, save_png
from eopose.dataset.keypoints.cache import correspond, raster_order
from eopose.dataset.keypoints.methods import METHODS, build_method
from eopose.dataset.compositing import composite

from ..evaluation.evaluate import load_for_evaluation
from ..evaluation.report import display_scale, with_points

BORDER = 2  # px of the image border whose median colour is the background estimate
BACKGROUND_TOLERANCE = 0.1  # max-channel difference from the background colour, as a fraction of 255
WHITE = (1.0, 1.0, 1.0)  # the keypoint methods see images composited on white (dataset.keypoints.descriptors)


class ReposeError(ValueError):
    """An input that cannot be reposed; the message is one line naming the file and the fix."""


def estimate_foreground(rgb: np.ndarray) -> np.ndarray:
    """bool [H, W]: pixels differing from the median border colour (see the module docstring)."""
    ring = np.concatenate([rgb[:BORDER].reshape(-1, 3), rgb[-BORDER:].reshape(-1, 3),
                           rgb[:, :BORDER].reshape(-1, 3), rgb[:, -BORDER:].reshape(-1, 3)])
    background = np.median(ring, axis=0)
    difference = np.abs(rgb.astype(np.float32) - background).max(axis=-1)
    return binary_fill_holes(difference > BACKGROUND_TOLERANCE * 255)


def load_rgba(path) -> tuple[np.ndarray, str]:
    """(uint8 RGBA [H, W, 4] with the foreground as alpha, "alpha" | "border estimate") of an image file."""
    path = Path(path)
    try:
        image = Image.open(path)
        image.load()
    except (OSError, ValueError) as error:
        raise ReposeError(f"{path}: cannot read the image ({error}); pass a PNG/JPEG file") from None
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA"))
        if rgba[..., 3].min() < 255:
            return rgba, "alpha"
    rgb = np.asarray(image.convert("RGB"))
    if min(rgb.shape[:2]) <= 2 * BORDER:
        raise ReposeError(f"{path}: image of {rgb.shape[1]}x{rgb.shape[0]} px is too small; pass a larger image")
    mask = estimate_foreground(rgb)
    if not mask.any():
        raise ReposeError(f"{path}: no foreground found (the image is one plain colour); pass an image with alpha "
                          f"or an object on a plain background")
    return np.concatenate([rgb, mask[..., None].astype(np.uint8) * 255], axis=-1), "border estimate"


def pad_to_square(rgba: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """(centred square RGBA padded with transparent pixels, box (left, top, width, height) of the original)."""
    height, width = rgba.shape[:2]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    square = np.zeros((side, side, 4), np.uint8)
    square[top:top + height, left:left + width] = rgba
    return square, (left, top, width, height)


def _to_model(square: np.ndarray, background, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(rgb [3, R, R] on `background`, alpha [1, R, R]) resized like the training loader (dataset.pairs)."""
    rgb, alpha = composite(square, background)
    both = F.interpolate(torch.cat([rgb, alpha])[None], size=(resolution, resolution), mode="bilinear",
                         antialias=True, align_corners=False)[0]
    return both[:3].clamp(0, 1), both[3:].clamp(0, 1)


@dataclass
class Reposed:
    output: np.ndarray  # uint8 RGB, the appearance image's original size
    appearance: torch.Tensor  # [3, R, R] model input
    pose: torch.Tensor
    points_a: torch.Tensor  # [k, 2] pixels of the R x R inputs
    points_p: torch.Tensor
    valid: torch.Tensor  # [k]


class Reposer:
    """A checkpoint plus a keypoint method, loaded once for any number of pairs."""

    def __init__(self, checkpoint, method: str | None = None, weights=None, preset: str | None = None,
                 load_size: int | None = None, device: str = "cpu", seed: int = 0):
        self.device = torch.device(device)
        self.model, self.config = load_for_evaluation(checkpoint, self.device)
        trained_with = self.config.data.keypoint_method
        # default: the checkpoint's own method where it runs on images, else its image stand-in (nocs -> nocs-net)
        self.method_name = method or (METHODS[trained_with].for_images if trained_with in METHODS else "dino")
        self.note = None if self.method_name == trained_with else (
            f"checkpoint trained on '{trained_with}' keypoints; reposing with '{self.method_name}' keypoints")
        # raises WeightsUnavailable naming --weights when weights are missing or wrong (eopose.dataset.weights)
        self.keypoints = build_method(self.method_name, weights=weights, preset=preset, load_size=load_size,
                                      k=self.config.model.num_points, seed=seed, device=str(self.device), batch_size=2)
        self.seed = seed

    @torch.no_grad()
    def __call__(self, appearance_rgba: np.ndarray, pose_rgba: np.ndarray) -> Reposed:
        resolution = self.config.data.resolution
        (square_a, box), (square_p, _) = pad_to_square(appearance_rgba), pad_to_square(pose_rgba)
        inputs = [_to_model(square, self.config.data.background, resolution) for square in (square_a, square_p)]
        views = [_to_model(square, WHITE, resolution) for square in (square_a, square_p)]
        rows = {"rgba": np.stack([np.concatenate([np.round(rgb.permute(1, 2, 0).numpy() * 255).astype(np.uint8),
                                                  np.full((resolution, resolution, 1), 255, np.uint8)], axis=-1)
                                  for rgb, _ in views])[None],
                "mask": np.stack([(alpha[0] > 0.5).numpy().astype(np.uint8) for _, alpha in views])[None]}
        points_a, points_p, valid = correspond(self.keypoints, rows, [(0, 1)])
        order = raster_order(points_a[0, 0], valid[0, 0])
        points_a, points_p, valid = (torch.from_numpy(array[0, 0][order]).to(self.device)
                                     for array in (points_a, points_p, valid))
        (appearance, mask_a), (pose, mask_p) = ((rgb.to(self.device), alpha.to(self.device)) for rgb, alpha in inputs)
        torch.manual_seed(self.seed)  # the generator's noise injection
        result = self.model(appearance[None], pose[None], points_a[None], points_p[None], valid[None], mask_a[None],
                            mask_p[None])
        side = square_a.shape[0]
        square_out = F.interpolate(result.output.clamp(0, 1), size=(side, side), mode="bilinear",
                                   antialias=True, align_corners=False)[0]
        left, top, width, height = box
        crop = square_out[:, top:top + height, left:left + width]
        output = np.round(crop.permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)
        return Reposed(output, appearance.cpu(), pose.cpu(), points_a.cpu(), points_p.cpu(), valid.cpu())


def save_outputs(result: Reposed, out_path, show_keypoints: bool = False) -> list[Path]:
    """Write the output PNG and, on request, `<out>.keypoints.png` (Ia | Ip with the matched points)."""
    out_path = Path(out_path)
    written = [save_png(Image.fromarray(result.output), out_path)]
    if show_keypoints:
        scale = display_scale(result.appearance)
        sheet = grid([[with_points(result.appearance, result.points_a, result.valid, scale),
                       with_points(result.pose, result.points_p, result.valid, scale)]], labels=("Ia + Pa", "Ip + Pp"))
        written.append(save_png(sheet, out_path.with_suffix(".keypoints.png")))
    return written
