"""Reposing new images with a trained checkpoint: foreground, square framing, on-the-fly keypoints, EOPose.

The pipeline for one pair (appearance A, pose P), images of any size and aspect ratio:

0. Refusals (ReposeError, one line naming the image and the fix): an image under MIN_SIDE px on a side, one with
   no foreground (fully transparent, one plain colour) or an object under MIN_OBJECT_SIDE px across, a pair with
   fewer than MIN_POINTS matched keypoint pairs (model/tps.py: the TPS prior needs 3). Warnings
   (Reposed.warnings): fewer than FEW_POINTS_FRACTION of the model's k points, or points bunched on one part of an
   object (accuracy.coverage_distance above BUNCHED_COVERAGE x the square root of its
   foreground area).
1. Orientation: a picture whose EXIF Orientation tag says it is stored turned or mirrored (as phone cameras save
   them) is first put upright as a viewer shows it (PIL.ImageOps.exif_transpose). nocs-net reads the image's up
   direction (the renders' light comes from above): on the held-out urns under random rigs the photo network's
   NOCS error is 0.137 upright and 0.34 / 0.49 / 0.37 with both pictures turned 90 / 180 / 270 degrees, its
   same-model PCK@0.10 0.61 against 0.17 / 0.30 / 0.21 (benchmarks/nocs_net.py --turn), so a sideways picture
   gets wrong keypoints.
   Foreground: from the alpha channel when the image has one that is not fully opaque; otherwise estimated
   from a plain background: the per-channel median of the outermost BORDER px ring is the background
   colour, a pixel is foreground when some channel differs from it by more than BACKGROUND_TOLERANCE (of
   the 0..255 range), and holes inside the foreground are filled (scipy.ndimage.binary_fill_holes), so
   object pixels that happen to match the background stay in. A picture whose ring is not plain (under
   PLAIN_BORDER of it within BACKGROUND_TOLERANCE of its median: clutter, a room, a gradient) has no such estimate:
   with nocs-net keypoints its network's predicted foreground is the object
   (eopose.dataset.keypoints.nocs_net.picture_foreground), called uncertain in the printed line when its two
   looks at the picture agree on less than FOREGROUND_AGREEMENT; other methods refuse it in one line.
2. Framing: each image is padded, centred, to a square with transparent pixels (which the compositing turns
   into the model's background colour); of both squares the model sees one crop (dataset/keypoints/object_crop.py,
   in units of each square's side): the whole square when the union of the two objects' bounding boxes fills at
   least FRAME_FILL of it on its longer side, as the renders' objects do; otherwise the smaller square the union
   fills FRAME_FILL of, centred on it as far as the picture allows. It is resampled to the model's resolution R
   (bilinear with antialiasing, as the training loader). So objects small in their pictures or off centre, as
   another camera makes them, are seen at the size the training renders show, and one crop for both keeps where
   the two objects sit and how large they are relative to each other, as one camera's renders do. Measured with
   benchmarks/repose_quality.py --canvas 2 (docs/results.md).
3. Keypoints: the keypoint cache's own dino / dinov2 / nocs-net method (dataset.keypoints.methods: the same
   presets, the same matching, channels in raster order of the appearance points) on the two R x R views
   composited on white, with the alpha (> 0.5) as the foreground mask, exactly as build-keypoint-cache treats a render.
   nocs-net takes the pictures' category (`category`, repose's --category; by default the network's only one,
   required when it knows several: eopose.dataset.keypoints.nocs_net.picture_category).
4. EOPose on (A, P, Pa, Pp) at R x R (a volume3d checkpoint also gets the relative rotation, pivot, camera
   depth and the appearance object's up axis estimated from nocs-net's canonical coordinates of the two views,
   eopose.dataset.image_pose, and the category's shape symmetry); the
   output is in the pose image's crop, which goes back to its place in the pose image's square (the model's
   background colour around it). That square is resized to the appearance image's padded square and
   cropped to the appearance image's box, so the output has the appearance image's original size; where the
   two aspect ratios differ the pose's framing decides where the object lands. The output is RGB on the model's background colour.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from scipy.ndimage import binary_fill_holes

from eopose.dataset.contact_sheet import grid, save_png
from eopose.dataset.keypoints.accuracy import coverage_distance
from eopose.dataset.keypoints.cache import correspond, raster_order
from eopose.dataset.keypoints.methods import METHODS, build_method
from eopose.dataset.keypoints.nocs_net import picture_category, picture_foreground
from eopose.dataset.keypoints.object_crop import foreground_bounds, sample_crops, square_theta, uncrop
from eopose.dataset.compositing import composite, opaque, over
from eopose.dataset.image_pose import estimate_pose_inputs

from ..evaluation.evaluate import load_for_evaluation
from ..evaluation.report import display_scale, with_points

BORDER = 2  # px of the image border whose median colour is the background estimate
BACKGROUND_TOLERANCE = 0.1  # max-channel difference from the background colour, as a fraction of 255
PLAIN_BORDER = 0.8  # fraction of the border ring within BACKGROUND_TOLERANCE of its median on a plain background
# (the benchmarks' clutter, eopose.dataset.clutter: 0.09-0.68; a plain one: all of the ring the object does not touch)
WHITE = (1.0, 1.0, 1.0)  # the keypoint methods see images composited on white (dataset.keypoints.descriptors)
MIN_SIDE = 16  # px: smaller images are refused
MIN_OBJECT_SIDE = 4  # px: an object whose bounding box is narrower on its longer side is refused
# the fraction of their frame the longer side of the demo's renders' objects fills (bounding box; fixed camera, 360
# quadruplets of out/demo/vases): median 0.83, 10th percentile 0.65. repose zooms in on objects that fill less.
FRAME_FILL = 0.65
MIN_POINTS = 3  # matched pairs the TPS prior needs for more than a translation (model/tps.py)
# a nocs-net foreground whose two looks (nocs_net.picture_foreground) agree on less than this is called uncertain;
# on clutter (benchmarks' urns and second generator, 96 pictures) it marks 11 of the 25 with a true IoU under 0.7
# and 2 of the 71 others (docs/results.md)
FOREGROUND_AGREEMENT = 0.8
FEW_POINTS_FRACTION = 0.5  # warn below this fraction of the model's k points
# warn when the mean distance from an object pixel to its nearest keypoint exceeds this times sqrt(object area):
# 35 points spread over a disc give ~0.07, all on its centre 0.38; the demo vases' training samples (rendered NOCS)
# have 0.18 at the median and 0.39 at the 95th percentile
BUNCHED_COVERAGE = 0.4


class ReposeError(ValueError):
    """An input that cannot be reposed; the message is one line naming the file and the fix."""


def _border_ring(rgb: np.ndarray) -> np.ndarray:
    """float32 [N, 3]: the colours of the outermost BORDER px of a picture."""
    return np.concatenate([rgb[:BORDER].reshape(-1, 3), rgb[-BORDER:].reshape(-1, 3), rgb[:, :BORDER].reshape(-1, 3),
                           rgb[:, -BORDER:].reshape(-1, 3)]).astype(np.float32)


def _off_background(colours: np.ndarray, background: np.ndarray) -> np.ndarray:
    """bool [...]: colours [..., 3] differing from `background` by more than BACKGROUND_TOLERANCE in some channel."""
    return np.abs(colours.astype(np.float32) - background).max(axis=-1) > BACKGROUND_TOLERANCE * 255


def plain_background(rgb: np.ndarray) -> bool:
    """Whether at least PLAIN_BORDER of the picture's border ring is within BACKGROUND_TOLERANCE of its median."""
    ring = _border_ring(rgb)
    return float(np.mean(~_off_background(ring, np.median(ring, axis=0)))) >= PLAIN_BORDER


def estimate_foreground(rgb: np.ndarray) -> np.ndarray:
    """bool [H, W]: pixels differing from the median border colour (see the module docstring)."""
    return binary_fill_holes(_off_background(rgb, np.median(_border_ring(rgb), axis=0)))


def load_rgba(path, nocs_net=None, category: str | None = None) -> tuple[np.ndarray, str]:
    """(uint8 RGBA [H, W, 4] with the foreground as alpha, how it was found: with_foreground) of an image file."""
    path = Path(path)
    try:
        image = ImageOps.exif_transpose(Image.open(path))
    except (OSError, ValueError) as error:
        raise ReposeError(f"{path}: cannot read the image ({error}); pass a PNG/JPEG file") from None
    if min(image.size) < MIN_SIDE:
        raise ReposeError(f"{path}: image of {image.width}x{image.height} px is smaller than {MIN_SIDE} px on a side; "
                          f"pass a larger picture of the object")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
        if image.getchannel("A").getextrema()[1] == 0:
            raise ReposeError(f"{path}: no foreground (the image is fully transparent); pass an image whose alpha "
                              f"channel covers the object, or an opaque one with the object on a plain background")
    return with_foreground(np.asarray(image.convert("RGBA")), path, nocs_net, category)


def with_foreground(rgba: np.ndarray, name, nocs_net=None, category: str | None = None) -> tuple[np.ndarray, str]:
    """(uint8 RGBA [H, W, 4] with the foreground as alpha, "alpha" | "border estimate" | "nocs-net foreground"): an
    alpha channel that is not fully opaque is the foreground; a fully opaque picture gets the border estimate on a
    plain background, else the foreground `nocs_net` (a NocsNet, told `category`) predicts (module docstring, 1.).
    A ReposeError naming `name` when neither applies or finds nothing."""
    if rgba[..., 3].min() < 255:
        return rgba, "alpha"
    rgb = np.ascontiguousarray(rgba[..., :3])
    if plain_background(rgb):
        mask, how = estimate_foreground(rgb), "border estimate"
    elif nocs_net is not None:
        mask, agreement = picture_foreground(nocs_net, rgb, category)
        how = "nocs-net foreground" + ("" if agreement >= FOREGROUND_AGREEMENT else
                                       f" (uncertain: the network's two looks agree on {agreement:.0%} of it; a "
                                       f"cut-out with alpha is safer)")
    else:
        raise ReposeError(f"{name}: no alpha and no plain background (under {PLAIN_BORDER:.0%} of its border is one "
                          f"colour); pass the picture with alpha or on a plain background, or use --method nocs-net "
                          f"--weights RUN/checkpoints/final.pt, whose network finds the object on any background")
    if not mask.any():
        reason = "nocs-net sees no object" if how.startswith("nocs-net") else "the image is one plain colour"
        raise ReposeError(f"{name}: no foreground found ({reason}); pass an image with alpha or an object on a plain "
                          f"background")
    return np.concatenate([rgb, mask[..., None].astype(np.uint8) * 255], axis=-1), how


def pad_to_square(rgba: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """(centred square RGBA padded with transparent pixels, box (left, top, width, height) of the original)."""
    height, width = rgba.shape[:2]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    square = np.zeros((side, side, 4), np.uint8)
    square[top:top + height, left:left + width] = rgba
    return square, (left, top, width, height)


def frame_pair(squares, names) -> torch.Tensor:
    """The one crop (an object_crop theta [2, 3] in units of a square's side) the model sees of both squares
    (module docstring, 2.); a ReposeError naming the image whose object is under MIN_OBJECT_SIDE px across."""
    bounds = []
    for name, square in zip(names, squares):
        box = foreground_bounds(square[..., 3] > 127)
        across = 0.0 if box is None else max(box[2] - box[0], box[3] - box[1])
        if across < MIN_OBJECT_SIDE:
            raise ReposeError(f"{name}: the object is {across:.0f} px across, under the {MIN_OBJECT_SIDE} px repose "
                              f"needs; pass a larger picture of the object")
        bounds.append(np.asarray(box) / square.shape[0])  # the squares' unit: one picture's size
    left, top = np.min(bounds, axis=0)[:2]
    right, bottom = np.max(bounds, axis=0)[2:]
    side = min(1.0, max(right - left, bottom - top) / FRAME_FILL)  # 1: the whole square, as it is
    centre_x, centre_y = (float(np.clip((low + high) / 2, side / 2, 1 - side / 2)) for low, high in
                          ((left, right), (top, bottom)))  # the crop stays within the square
    return square_theta(centre_x, centre_y, side, 1, 1)


def _crop(square: np.ndarray, theta: torch.Tensor, resolution: int) -> torch.Tensor:
    """[4, R, R]: premultiplied colour and alpha of the crop `theta` of `square`, resampled (transparent outside the
    picture) like the training loader's renders (dataset.pairs)."""
    premultiplied, alpha = composite(square, (0.0, 0.0, 0.0))
    return sample_crops(torch.cat([premultiplied, alpha])[None], theta[None], resolution, "bilinear", "zeros")[0]


def _on(crop: torch.Tensor, background) -> tuple[torch.Tensor, torch.Tensor]:
    """(rgb [3, R, R] on `background`, alpha [1, R, R]) of a `_crop`."""
    return over(crop, background).clamp(0, 1), crop[3:].clamp(0, 1)


@dataclass
class Reposed:
    output: np.ndarray  # uint8 RGB, the appearance image's original size
    appearance: torch.Tensor  # [3, R, R] model input
    pose: torch.Tensor
    points_a: torch.Tensor  # [k, 2] pixels of the R x R inputs
    points_p: torch.Tensor
    valid: torch.Tensor  # [k]
    warnings: list  # one line each: too few or bunched keypoints


def keypoint_warnings(names: tuple, masks: np.ndarray, points: tuple, valid: np.ndarray, k: int) -> list[str]:
    """The warnings of a pair whose keypoints are few or bunched (module docstring, 0.); masks [2, R, R]."""
    count, pair = int(valid.sum()), f"{names[0]} / {names[1]}"
    warnings = []
    if count < FEW_POINTS_FRACTION * k:
        warnings.append(f"{pair}: {count} matched keypoint pairs, under half the {k} the model was trained with; "
                        f"the output may be poor (a pose image showing more of the same side of the object helps)")
    spread = [coverage_distance(mask, chosen, valid) / np.sqrt(mask.sum()) for mask, chosen in zip(masks, points)]
    worst = int(np.argmax(spread))
    if spread[worst] > BUNCHED_COVERAGE:
        warnings.append(f"{pair}: the keypoints bunch on one part of the object in {names[worst]} (coverage "
                        f"{spread[worst]:.2f} of its size, above {BUNCHED_COVERAGE}); the output may be poor")
    return warnings


class Reposer:
    """A checkpoint plus a keypoint method, loaded once for any number of pairs."""

    def __init__(self, checkpoint, method: str | None = None, weights=None, preset: str | None = None,
                 load_size: int | None = None, device: str = "cpu", seed: int = 0, category: str | None = None):
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
        self.nocs_net = getattr(self.keypoints, "net", None)  # the volume3d warp's rotation comes from its NOCS
        if self.model.warp_kind == "volume3d" and self.nocs_net is None:
            raise ReposeError(f"{checkpoint}: a volume3d checkpoint estimates the rotation from nocs-net's canonical "
                              f"coordinates; pass --method nocs-net --weights RUN/checkpoints/final.pt (a train-nocs "
                              f"run)")
        # ValueError naming --category when the network knows several categories and none is given
        self.category = None if self.nocs_net is None else picture_category(self.nocs_net, category)

    @torch.no_grad()
    def __call__(self, appearance_rgba: np.ndarray, pose_rgba: np.ndarray,
                 names: tuple = ("appearance image", "pose image")) -> Reposed:
        """Repose one pair of uint8 RGBA arrays whose alpha is the foreground (a fully opaque one gets the border
        estimate or nocs-net's foreground, with_foreground); `names` (the files) go into the ReposeError and
        warning lines."""
        appearance_rgba, pose_rgba = (with_foreground(rgba, name, self.nocs_net, self.category)[0]
                                      for rgba, name in zip((appearance_rgba, pose_rgba), names))
        resolution = self.config.data.resolution
        (square_a, box), (square_p, _) = pad_to_square(appearance_rgba), pad_to_square(pose_rgba)
        theta = frame_pair((square_a, square_p), names)
        crops = [_crop(square, theta, resolution) for square in (square_a, square_p)]
        inputs = [_on(crop, self.config.data.background) for crop in crops]
        views = [_on(crop, WHITE) for crop in crops]
        rows = {"rgba": np.stack([opaque(np.round(rgb.permute(1, 2, 0).numpy() * 255).astype(np.uint8))
                                  for rgb, _ in views])[None],
                "mask": np.stack([(alpha[0] > 0.5).numpy().astype(np.uint8) for _, alpha in views])[None],
                "category": np.array([self.category], dtype=object)}
        points_a, points_p, valid = correspond(self.keypoints, rows, [(0, 1)])
        count, k = int(valid.sum()), self.config.model.num_points
        if count < MIN_POINTS:
            raise ReposeError(f"{names[0]} / {names[1]}: {count} matched keypoint pairs, fewer than the {MIN_POINTS} "
                              f"the warp needs (the model was trained with {k}); pass a pose image of the same "
                              f"category showing more of the same side of the object, or try another --method")
        warnings = keypoint_warnings(names, rows["mask"][0], (points_a[0, 0], points_p[0, 0]), valid[0, 0], k)
        order = raster_order(points_a[0, 0], valid[0, 0])
        points_a, points_p, valid = (torch.from_numpy(array[0, 0][order]).to(self.device)
                                     for array in (points_a, points_p, valid))
        (appearance, mask_a), (pose, mask_p) = ((rgb.to(self.device), alpha.to(self.device)) for rgb, alpha in inputs)
        pose_inputs = {}
        if self.model.warp_kind == "volume3d":
            rgba = np.concatenate([rows["rgba"][0, ..., :3], rows["mask"][0, ..., None] * 255], axis=-1)
            estimate = estimate_pose_inputs(self.nocs_net, rgba[:1], rgba[1:], str(self.device),
                                            categories=self.category)
            pose_inputs = {key: estimate[key].to(self.device)
                           for key in ("rotation", "pivot", "camera_depth", "up_axis", "symmetry_order")}
        torch.manual_seed(self.seed)  # the generator's noise injection
        result = self.model(appearance[None], pose[None], points_a[None], points_p[None], valid[None], mask_a[None],
                            mask_p[None], **pose_inputs)
        side = square_a.shape[0]  # the pose's crop, back in its square, at the appearance square's size
        output = result.output.clamp(0, 1)
        placed = uncrop(torch.cat([output, torch.ones_like(output[:, :1])], dim=1), theta[None].to(output), side,
                        side)[0]
        square_out = over(placed, self.config.data.background)
        left, top, width, height = box
        crop = square_out[:, top:top + height, left:left + width]
        output = np.round(crop.permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)
        return Reposed(output, appearance.cpu(), pose.cpu(), points_a.cpu(), points_p.cpu(), valid.cpu(), warnings)


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
