"""Where nocs-net's same-model correspondence error comes from, on held-out models, and what the network costs.

For the same-model view pairs of a split (as eval-correspondences scores them, through the one matching path
nocs_matching.match_nocs), PCK of:
- `nocs-net`: the method as shipped (predicted NOCS, foreground and confidence);
- `no confidence`: the same NOCS matched without the confidence selection;
- `azimuth fixed`: each view's prediction turned about the up axis by the rotation that best fits the truth
  (the symmetry/print ambiguity removed: what resolving azimuth perfectly would buy);
- `right pixels only`: matching restricted to the pixels whose true NOCS error is under CONFIDENT_ERROR (a
  perfect confidence: the ceiling of confidence-aware selection);
and per pixel the mean NOCS error (as predicted and after the best azimuth), the fraction of right pixels and the
mean predicted confidence on right and on wrong pixels, and the IoU of the predicted foreground with the rendered
mask. Cost: parameters and milliseconds per 64 px image (batches of 32, one thread). `--data` repeats: with
folders of several categories (a nocs-net of several categories gets each quadruplet's), the shipped method's
PCK is also given per category.

`--background` puts every view on a background before the network sees it, without alpha (as a photo comes):
`white` (the renders as eval-correspondences reads them), `random` (the loader's solid colours and gradients,
eopose.dataset.pairs.random_background, from the view's index) or `busy` (coloured 1/f noise crossed by random
lines, a clutter no training augmentation draws). The rendered mask still bounds the matched pixels, as
eval-correspondences' does, and is the given foreground a network with `crop` frames (object_crop); with
`--foreground network` the outline is the network's own, found as `repose` finds the object of a photo on clutter
(nocs_net.picture_foreground: the whole picture first), and the foreground IoU scores that.
`--canvas F` pastes every view whole at a random place of a picture F times its size before that: the object
keeps its pixels but is small in the frame and anywhere in it, as in a photo from another rig; the outputs are cut
back to the view's own window, so matching and scoring are unchanged. `--turn D` turns every picture by D degrees
(a multiple of 90, counter-clockwise) before the network and its outputs back: a photo stored sideways, as
`repose` would see it without its EXIF orientation (train/inference/repose.py).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/nocs_net.py --data out/demo/vases \\
        --weights out/demo/nocs/checkpoints/final.pt --split test --background random
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/nocs_net.py --data out/photos/urns-rr --split all \\
        --weights runs/nocs-photo/checkpoints/final.pt --background random --canvas 2
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/nocs_net.py --data out/cat/briefcases --data out/cat/shoes \\
        --weights runs/nocs-categories/checkpoints/final.pt --split test
"""
import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from eopose.dataset.keypoints.accuracy import SAME_MODEL_PAIRS, mask_iou, pck, pck_by_category, point_errors
from eopose.dataset.keypoints.methods import build_method
from eopose.dataset.keypoints.nocs_matching import match_nocs
from eopose.dataset.clutter import busy_background
from eopose.dataset.compositing import composite_uint8
from eopose.dataset.keypoints.nocs_net import (CONFIDENT_ERROR, category_indices, parameter_count, picture_foreground,
                                               predict)
from eopose.dataset.keypoints.nocs_net_method import MASK_THRESHOLD
from eopose.dataset.pairs import random_background
from eopose.dataset.shard_format import open_dataset
from eopose.dataset.splits import split_of_quad
from eopose.train.nocs.loss import rotate_about_up

AZIMUTHS = 72  # candidate rotations about the up axis (5 degrees apart) for the azimuth fit
GEOMETRY = ("rgba", "mask", "nocs", "depth", "rotations", "nocs_to_object", "intrinsics", "extrinsics", "category")


def best_azimuth(predicted: np.ndarray, true: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    """(prediction [H, W, 3] turned by the azimuth that best fits `true` on `mask`, its mean L2 error there)."""
    angles = torch.arange(AZIMUTHS) * (2 * math.pi / AZIMUTHS)
    turned = rotate_about_up(torch.from_numpy(predicted).permute(2, 0, 1)[None], -angles)[:, 0]  # [S, 3, H, W]
    errors = (turned.permute(0, 2, 3, 1).numpy() - true)[:, mask]
    mean = np.linalg.norm(errors, axis=-1).mean(axis=1) if mask.any() else np.zeros(AZIMUTHS)
    best = int(np.argmin(mean))
    return turned[best].permute(1, 2, 0).numpy(), float(mean[best])


def on_background(rgba: np.ndarray, kind: str, quad: int) -> np.ndarray:
    """uint8 RGBA views [V, H, W, 4] -> the same views on `kind`'s background with alpha 255 (no alpha)."""
    if kind == "white":
        return rgba
    out = rgba.copy()
    for view in range(len(rgba)):
        size = rgba.shape[1]
        back = (random_background(0, 4 * quad + view, size, size).transpose(1, 2, 0) if kind == "random"
                else busy_background(0, 4 * quad + view, size))
        out[view, ..., :3] = composite_uint8(rgba[view], back * 255.0)
    out[..., 3] = 255
    return out


def on_canvas(rgba: np.ndarray, mask: np.ndarray, factor: int, quad: int) -> tuple[np.ndarray, np.ndarray, list]:
    """(RGBA [V, F*H, F*W, 4], mask likewise, each view's (top, left)): every view pasted whole at a random place
    (drawn from the quadruplet's index) of a transparent picture `factor` times its size: the same object, as
    many pixels, smaller in the frame, wherever it sits."""
    views, height, width = mask.shape
    rng = np.random.default_rng([quad, 11])
    big = np.zeros((views, factor * height, factor * width, 4), np.uint8)
    big_mask = np.zeros((views, factor * height, factor * width), mask.dtype)
    offsets = []
    for view in range(views):
        top, left = (int(rng.integers(0, (factor - 1) * side + 1)) for side in (height, width))
        big[view, top:top + height, left:left + width] = rgba[view]
        big_mask[view, top:top + height, left:left + width] = mask[view]
        offsets.append((top, left))
    return big, big_mask, offsets


def milliseconds_per_image(net, resolution: int, batch: int = 32) -> float:
    images = torch.rand(batch, 3, resolution, resolution)
    category = category_indices(net, net.categories[:1] * batch, batch)
    with torch.inference_mode():
        net(images, category)
        start = time.perf_counter()
        for _ in range(5):
            net(images, category)
    return (time.perf_counter() - start) / (5 * batch) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, action="append", required=True, help="dataset folder (repeatable)")
    parser.add_argument("--weights", type=Path, required=True, help="a train-nocs RUN/checkpoints/final.pt")
    parser.add_argument("--split", default="test", help="train, val, test or all")
    parser.add_argument("--background", default="white", choices=("white", "random", "busy"))
    parser.add_argument("--canvas", type=int, default=1, help="each view pasted at a random place of a picture this "
                        "many times its size (on_canvas: smaller objects anywhere in the frame); 1: as rendered")
    parser.add_argument("--foreground", default="given", choices=("given", "network"),
                        help="the object's outline the network crops on: the rendered mask (given), or none, so that "
                             "a network with crop finds the object on the whole picture first, as `repose` does on "
                             "a photo without alpha (network)")
    parser.add_argument("--turn", type=int, default=0, choices=(0, 90, 180, 270),
                        help="degrees (counter-clockwise) every picture is turned before the network, and its "
                             "outputs back")
    args = parser.parse_args()
    torch.set_num_threads(1)
    quarter_turns = args.turn // 90
    method = build_method("nocs-net", weights=args.weights)
    quads, offset = [], 0  # (dataset, index, number over all folders: the background's seed)
    for folder in args.data:
        data = open_dataset(folder)
        model_ids = data.column("model_id")
        quads += [(data, index, offset + index) for index in range(len(data))
                  if args.split == "all" or split_of_quad(model_ids[index]) == args.split]
        offset += len(data)
    variants = ("nocs-net", "no confidence", "azimuth fixed", "right pixels only")
    errors = {name: [] for name in variants}
    points = dict.fromkeys(variants, 0)
    pixel_error, fixed_error, right_fraction, on_right, on_wrong, foreground_iou = ([] for _ in range(6))
    pair_categories = []
    for data, index, number in quads:
        record = data.read(index, GEOMETRY)
        rgba, given, offsets = on_canvas(record["rgba"], record["mask"] > 0, args.canvas, number)
        rgba = on_background(rgba, args.background, number)
        pictures = np.ascontiguousarray(np.rot90(rgba, quarter_turns, axes=(1, 2)))
        if args.foreground == "given":
            outline = np.ascontiguousarray(np.rot90(given, quarter_turns, axes=(1, 2)))
        else:  # as repose finds the object of a photo on clutter, then crops on it
            outline = np.stack([picture_foreground(method.net, picture[..., :3], str(record["category"]))[0]
                                for picture in pictures])
        outputs = predict(method.net, pictures, categories=[str(record["category"])] * len(rgba), masks=outline)
        outputs = [np.rot90(output, -quarter_turns, axes=(1, 2)) for output in outputs]
        height, width = record["mask"].shape[1:]
        nocs, probability, confidence = (np.stack([output[view, top:top + height, left:left + width]
                                                   for view, (top, left) in enumerate(offsets)]) for output in outputs)
        predicted = probability > MASK_THRESHOLD  # the network's own foreground (nocs_net_method)
        true, inside = record["nocs"].astype(np.float32), record["mask"] > 0
        foreground_iou += [mask_iou(p, t) for p, t in zip(predicted, inside)]
        mask = predicted & inside  # the method's foreground: the given mask and the predicted one
        error = np.linalg.norm(nocs - true, axis=-1)
        right = error < CONFIDENT_ERROR
        fixed = []
        for view in range(len(nocs)):
            turned, turned_error = best_azimuth(nocs[view], true[view], inside[view])
            fixed.append(turned)
            pixel_error.append(error[view][inside[view]].mean())
            fixed_error.append(turned_error)
            right_fraction.append(right[view][inside[view]].mean())
            on_right.append(confidence[view][inside[view] & right[view]])
            on_wrong.append(confidence[view][inside[view] & ~right[view]])
        for a, b in SAME_MODEL_PAIRS:
            pair_categories.append(str(record["category"]))
            inputs = {"nocs-net": (nocs[a], mask[a], nocs[b], mask[b], confidence[a], confidence[b]),
                      "no confidence": (nocs[a], mask[a], nocs[b], mask[b], None, None),
                      "azimuth fixed": (fixed[a], mask[a], fixed[b], mask[b], confidence[a], confidence[b]),
                      "right pixels only": (nocs[a], mask[a] & right[a], nocs[b], mask[b] & right[b], None, None)}
            for name, (nocs_a, mask_a, nocs_b, mask_b, confidence_a, confidence_b) in inputs.items():
                points_a, points_b, valid = match_nocs(nocs_a, mask_a, nocs_b, mask_b, method.k, method.seed,
                                                       confidence_a, confidence_b)
                errors[name].append(point_errors(record, a, b, points_a, points_b, valid)[0])
                points[name] += int(valid.sum())
    size = int(max(record["mask"].shape[1:]))
    print(f"nocs-net on {', '.join(map(str, args.data))} split {args.split}, {args.background} background"
          f"{f', {args.canvas}x canvas' if args.canvas > 1 else ''}"
          f"{f', turned {args.turn} degrees' if args.turn else ''}"
          f"{', foreground found by the network' if args.foreground == 'network' else ''}: "
          f"{len(quads)} quadruplets, {2 * len(quads)} same-model pairs; "
          f"{parameter_count(method.net):,} parameters, "
          f"{milliseconds_per_image(method.net, method.net.config.resolution):.1f} ms per "
          f"{method.net.config.resolution} px image (one thread)")
    print(f"{'':18s} PCK@0.05 PCK@0.10 points")
    for name in variants:
        scores = pck(np.concatenate(errors[name]), size)
        print(f"{name:18s} {scores[0.05]:8.3f} {scores[0.10]:8.3f} {points[name]:6d}")
    by_category = pck_by_category(errors["nocs-net"], pair_categories, size)
    if len(by_category) > 1:
        for category, scores in by_category.items():
            print(f"  {category:16s} {scores[0.05]:8.3f} {scores[0.10]:8.3f}  ({pair_categories.count(category)} "
                  f"same-model pairs)")
    print(f"per pixel: NOCS error {np.mean(pixel_error):.3f} mean ({np.mean(fixed_error):.3f} after the best azimuth), "
          f"{np.mean(right_fraction):.2f} of pixels within {CONFIDENT_ERROR}; mean confidence "
          f"{np.concatenate(on_right).mean():.2f} on those, {np.concatenate(on_wrong).mean():.2f} on the others; "
          f"predicted foreground IoU {np.mean(foreground_iou):.3f} with the rendered mask")


if __name__ == "__main__":
    main()
