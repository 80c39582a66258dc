"""The TPS prior against its regularisation: how well the thin-plate spline fitted to a keypoint set warps the
appearance image onto the target, per lambda (eopose.model.tps; the warp module starts from this flow and the
TPS baseline is this warp).

Prints, per lambda: masked SSIM, masked L1 and silhouette IoU of the TPS-warped Ia against the target, and the
flow's end-point error (px) on target pixels visible in Ia, on one split of a dataset with keypoints.

    .venv/bin/python benchmarks/tps_prior.py --data out/demo/vases --split test --lambdas 0.01 0.1 1 10 1000
"""
import argparse

import torch
from torch.utils.data import DataLoader

from eopose.dataset.pairs import PairSampleDataset
from eopose.model.flow import warp
from eopose.model.tps import tps_flow
from eopose.train.evaluation.metrics import end_point_error, masked_l1, masked_ssim, silhouette_iou
from eopose.train.steps import to_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="dataset folder with keypoints")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--method", default="nocs", help="keypoint method of the cache")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--lambdas", type=float, nargs="+", default=[0.01, 0.1, 1.0, 10.0, 1000.0])
    args = parser.parse_args()
    torch.set_num_threads(1)
    samples = PairSampleDataset([args.data], split=args.split, resolution=args.resolution,
                                keypoint_method=args.method, with_flow=True, uint8=True)
    scores = {lam: [[], [], [], []] for lam in args.lambdas}
    for batch in DataLoader(samples, batch_size=64):
        batch = to_device(batch, torch.device("cpu"))
        visible = batch["flow_valid"] * batch["mask_target"]
        for lam, rows in scores.items():
            flow = tps_flow(batch["points_a"], batch["points_p"], batch["valid"], args.resolution, args.resolution, lam)
            out = warp(batch["appearance"], flow, fill=1.0)
            for row, value in zip(rows, (masked_ssim(out, batch["target"], batch["mask_target"], 1.0),
                                         masked_l1(out, batch["target"], batch["mask_target"]),
                                         silhouette_iou(out, batch["mask_target"], 1.0),
                                         end_point_error(flow, batch["flow_gt"], visible))):
                row.append(value)
    print(f"{len(samples)} {args.split} samples of {args.data} ({args.method} keypoints, {args.resolution} px)")
    print("| TPS lambda | masked SSIM | masked L1 | IoU | EPE (px) |\n|---|---|---|---|---|")
    for lam, rows in scores.items():
        print(f"| {lam:g} | " + " | ".join(f"{torch.cat(row).nanmean().item():.3f}" for row in rows) + " |")


if __name__ == "__main__":
    main()
