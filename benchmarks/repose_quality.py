"""`repose` on images it never saw, against their true renders: masked L1 and silhouette IoU per method.

Takes quadruplets of a rendered folder (a held-out style, or renders with `--lighting random --camera random`:
the "your own photos" figure), reposes appearance M1c1 into the pose of M2c2 through the full `repose` path
(RGBA in, keypoints and, for a volume3d checkpoint, the rotation computed on the fly by nocs-net, output at the
appearance image's size) and compares with the true render M1c2 composited on white; the identity (the
appearance image returned unchanged) is the floor. `--plain-backgrounds` drops the alpha channel and puts each
input on a random plain colour, so `repose` must find the object itself (its border estimate);
`--busy-backgrounds` puts each input on clutter instead (eopose.dataset.clutter.busy_background: coloured 1/f
noise crossed by lines, which no training augmentation draws), where only nocs-net can find it. `--canvas F` pastes
the four views of a quadruplet at one random place of a transparent picture F times their size (one camera
whose objects are smaller and off centre, as another rig frames them; the true render moves with them). A pair `repose`
refuses (one-line ReposeError) scores as the identity, and the refusals are counted. nocs-net is told the folder's
category (`--category`, as `repose` takes it: what a network of several categories needs); settings the checkpoint
or weights refuse end in one line, exit 2.

    .venv/bin/python benchmarks/repose_quality.py --data out/demo/urns --checkpoint out/demo/run/checkpoints/final.pt \\
        --weights out/demo/nocs/checkpoints/final.pt --pairs 24
"""
import sys
from pathlib import Path

import numpy as np
import torch

from eopose.dataset import command_line
from eopose.dataset.clutter import busy_background
from eopose.dataset.compositing import composite, composite_uint8, opaque
from eopose.dataset.shard_format import open_dataset
from eopose.dataset.weights import WeightsUnavailable
from eopose.train.evaluation.metrics import masked_l1, masked_ssim, silhouette_iou
from eopose.train.inference.repose import Reposer, ReposeError

WHITE = (1.0, 1.0, 1.0)


def on_plain_colour(rgba: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Opaque RGBA: `rgba` composited on a random plain colour (what a product photo without alpha looks like)."""
    colour = rng.uniform(0.0, 1.0, size=3)
    rgb, _ = composite(rgba, tuple(colour))
    return opaque(np.round(rgb.permute(1, 2, 0).numpy() * 255).astype(np.uint8))


def on_canvas(views: np.ndarray, factor: int, rng: np.random.Generator) -> np.ndarray:
    """RGBA views [V, H, W, 4] pasted at one random place of a transparent picture `factor` times their size."""
    count, height, width = views.shape[:3]
    top, left = (int(rng.integers(0, (factor - 1) * side + 1)) for side in (height, width))
    canvas = np.zeros((count, factor * height, factor * width, 4), np.uint8)
    canvas[:, top:top + height, left:left + width] = views
    return canvas


def on_clutter(rgba: np.ndarray, index: int) -> np.ndarray:
    """Opaque RGBA: `rgba` composited on busy_background number `index` (a photo of the object in a busy room)."""
    height, width = rgba.shape[:2]
    clutter = busy_background(1, index, max(height, width))[:height, :width]
    return opaque(composite_uint8(rgba, clutter * 255.0))


def folder_category(data) -> str | None:
    """The category of a folder's quadruplets when they share one, else None."""
    categories = {str(category) for category in data.column("category")}
    return categories.pop() if len(categories) == 1 else None


def main() -> int:
    parser = command_line.ArgumentParser(prog="repose_quality", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--method", help="keypoint method (default: the checkpoint's image method)")
    parser.add_argument("--weights", type=Path, help="weights of the keypoint method (nocs-net checkpoint, ViT)")
    parser.add_argument("--category", help="the category nocs-net is told for every pair (default: the folder's, "
                                           "when its quadruplets share one)")
    parser.add_argument("--pairs", type=int, default=20)
    backgrounds = parser.add_mutually_exclusive_group()
    backgrounds.add_argument("--plain-backgrounds", action="store_true", help="inputs without alpha on plain colours")
    backgrounds.add_argument("--busy-backgrounds", action="store_true", help="inputs without alpha on clutter")
    parser.add_argument("--canvas", type=int, default=1, help="views pasted at one random place of a picture this "
                                                              "many times their size (1: as rendered)")
    args = parser.parse_args()
    try:  # e.g. a nocs-net of several categories on a folder of several without --category
        data = open_dataset(args.data)
        reposer = Reposer(args.checkpoint, args.method, args.weights, category=args.category or folder_category(data))
    except (ValueError, WeightsUnavailable) as error:
        return command_line.fail("repose_quality", error)
    rng = np.random.default_rng(0)
    scores = {"repose": ([], [], []), "identity": ([], [], [])}
    refused = 0
    for quad in range(min(args.pairs, len(data))):
        views = data.read(quad, ["rgba"])["rgba"]  # M1c1, M1c2, M2c1, M2c2
        if args.canvas > 1:
            views = on_canvas(views, args.canvas, rng)
        target, mask = composite(views[1], WHITE)
        appearance, _ = composite(views[0], WHITE)
        inputs = (views[0], views[3])
        if args.plain_backgrounds:
            inputs = (on_plain_colour(views[0], rng), on_plain_colour(views[3], rng))
        elif args.busy_backgrounds:
            inputs = (on_clutter(views[0], 2 * quad), on_clutter(views[3], 2 * quad + 1))
        try:
            output = torch.from_numpy(reposer(*inputs).output).permute(2, 0, 1).float() / 255
        except ReposeError:
            refused += 1
            output = appearance
        for name, image in (("repose", output), ("identity", appearance)):
            scores[name][0].append(float(masked_ssim(image[None], target[None], mask[None], WHITE)))
            scores[name][1].append(float(masked_l1(image[None], target[None], mask[None])))
            scores[name][2].append(float(silhouette_iou(image[None], mask[None], WHITE)))
    print(f"{args.data}: {len(scores['repose'][0])} pairs M1c1 -> pose of M2c2 vs true M1c2 (keypoints: "
          f"{reposer.method_name}{', plain backgrounds' if args.plain_backgrounds else ''}"
          f"{', busy backgrounds' if args.busy_backgrounds else ''}"
          f"{f', {args.canvas}x canvas' if args.canvas > 1 else ''}; refused: {refused})")
    for name, (ssim_values, l1, iou) in scores.items():
        print(f"  {name:9s} masked SSIM {np.mean(ssim_values):.4f}  masked L1 {np.mean(l1):.4f}  "
              f"silhouette IoU {np.mean(iou):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
