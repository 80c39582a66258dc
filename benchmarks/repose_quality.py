"""`repose` on images it never saw, against their true renders: masked L1 and silhouette IoU per method.

Takes quadruplets of a rendered folder (e.g. a held-out style), reposes appearance M1c1 into the pose of M2c2
through the full `repose` path (PNG-like RGBA in, keypoints computed on the fly by the chosen method, output at
the appearance image's size) and compares with the true render M1c2 composited on white; the identity (the
appearance image returned unchanged) is the floor.

    .venv/bin/python benchmarks/repose_quality.py --data out/demo/urns --checkpoint out/demo/run/checkpoints/final.pt \\
        --weights out/demo/nocs/checkpoints/final.pt --pairs 20
"""
import argparse
from pathlib import Path

import numpy as np
import torch

from eopose.dataset.compositing import composite
from eopose.dataset.shard_format import open_dataset
from eopose.train.evaluation.metrics import masked_l1, silhouette_iou
from eopose.train.inference.repose import Reposer

WHITE = (1.0, 1.0, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--method", help="keypoint method (default: the checkpoint's image method)")
    parser.add_argument("--weights", type=Path, help="weights of the keypoint method (nocs-net checkpoint, ViT)")
    parser.add_argument("--pairs", type=int, default=20)
    args = parser.parse_args()
    data = open_dataset(args.data)
    reposer = Reposer(args.checkpoint, args.method, args.weights)
    scores = {"repose": ([], []), "identity": ([], [])}
    for quad in range(min(args.pairs, len(data))):
        views = data.read(quad, ["rgba"])["rgba"]  # M1c1, M1c2, M2c1, M2c2
        target, mask = composite(views[1], WHITE)
        appearance, _ = composite(views[0], WHITE)
        output = torch.from_numpy(reposer(views[0], views[3]).output).permute(2, 0, 1).float() / 255
        for name, image in (("repose", output), ("identity", appearance)):
            scores[name][0].append(float(masked_l1(image[None], target[None], mask[None])))
            scores[name][1].append(float(silhouette_iou(image[None], mask[None], WHITE)))
    print(f"{args.data}: {len(scores['repose'][0])} pairs M1c1 -> pose of M2c2 vs true M1c2 "
          f"(keypoints: {reposer.method_name})")
    for name, (l1, iou) in scores.items():
        print(f"  {name:9s} masked L1 {np.mean(l1):.4f}  silhouette IoU {np.mean(iou):.4f}")


if __name__ == "__main__":
    main()
