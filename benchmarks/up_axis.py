"""Where the error of a view's fitted up axis comes from: nocs-net's height, radius or azimuth.

For a category symmetric about its up axis (vases) the volume3d warp's silhouette depends on each view's up axis in
the camera frame, which `repose` fits to nocs-net's NOCS (dataset.pose_estimate.fit_view_pose, then
dataset.silhouette_axis.refine_view). Per view of the selected quadruplets this prints the angle between the fitted
axis and the rendered one (dataset.pose_estimate.up_axis_in_camera) when the fit gets:
- `predicted`: the network's NOCS as they are;
- `true azimuth` / `true height` / `true radius` / `true height and radius`: the prediction with those cylindrical
  components (about the NOCS axis x = y = 0.5; height = NOCS z) replaced by the rendered ones, on the pixels both
  foregrounds share;
- `rendered`: the rendered NOCS (the fit's own error).
What a component costs is how far replacing it lowers the error.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/up_axis.py --data out/demo/vases --split test \\
        --weights out/demo/nocs/checkpoints/final.pt
"""
import argparse
from pathlib import Path

import numpy as np
import torch

from eopose.dataset.keypoints.methods import build_method
from eopose.dataset.pose_estimate import fit_view_pose, up_axis_in_camera
from eopose.dataset.shard_format import open_dataset
from eopose.dataset.silhouette_axis import refine_view
from eopose.dataset.splits import SPLITS, split_of_quad

FIELDS = ("rgba", "mask", "nocs", "category", "rotations", "extrinsics", "model_id")
REPLACED = {"predicted": (), "true azimuth": ("azimuth",), "true height": ("height",), "true radius": ("radius",),
            "true height and radius": ("height", "radius")}


def cylindrical(nocs: np.ndarray) -> dict:
    """{radius, azimuth, height} of NOCS [..., 3] about the NOCS axis x = y = 0.5."""
    x, y = nocs[..., 0] - 0.5, nocs[..., 1] - 0.5
    return {"radius": np.hypot(x, y), "azimuth": np.arctan2(y, x), "height": nocs[..., 2]}


def from_cylindrical(parts: dict) -> np.ndarray:
    return np.stack([parts["radius"] * np.cos(parts["azimuth"]) + 0.5,
                     parts["radius"] * np.sin(parts["azimuth"]) + 0.5, parts["height"]], axis=-1).astype(np.float32)


def fitted_up_axis(nocs: np.ndarray, fit_mask: np.ndarray, silhouette: np.ndarray, confidence: np.ndarray):
    """[3] the up axis `repose` fits (NOCS fit, then the mirror line of `silhouette`), None without a fit."""
    fit = fit_view_pose(nocs, fit_mask, confidence)
    return refine_view(fit.rotation, silhouette).rotation[:, 2] if fit.valid else None


def angle_deg(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(first @ second / np.linalg.norm(first) / np.linalg.norm(second),
                                              -1.0, 1.0))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder with rendered geometry")
    parser.add_argument("--weights", type=Path, required=True, help="a train-nocs RUN/checkpoints/final.pt")
    parser.add_argument("--split", choices=SPLITS + ("all",), default="test")
    args = parser.parse_args()
    torch.set_num_threads(1)
    method = build_method("nocs-net", weights=args.weights)
    data = open_dataset(args.data)
    model_ids = data.column("model_id")
    quads = [index for index in range(len(data))
             if args.split == "all" or split_of_quad(model_ids[index]) == args.split]
    errors = {name: [] for name in (*REPLACED, "rendered")}
    with torch.inference_mode():
        for index in quads:
            record = data.read(index, FIELDS)
            state = method.prepare({name: record[name][None] for name in ("rgba", "mask", "category")})
            for view in range(len(record["mask"])):
                predicted, mask = state["nocs"][0][view], state["mask"][0][view]
                rendered, rendered_mask = record["nocs"][view].astype(np.float32), record["mask"][view] > 0
                confidence, truth = state["confidence"][0][view], up_axis_in_camera(record, view)
                guess, true = cylindrical(predicted), cylindrical(rendered)
                for name, replaced in REPLACED.items():
                    nocs = from_cylindrical({key: true[key] if key in replaced else guess[key] for key in guess})
                    axis = fitted_up_axis(nocs, mask & rendered_mask if replaced else mask, mask, confidence)
                    if axis is not None:
                        errors[name].append(angle_deg(axis, truth))
                axis = fitted_up_axis(rendered, rendered_mask, rendered_mask, np.ones(rendered_mask.shape))
                errors["rendered"].append(angle_deg(axis, truth))
    print(f"up axis fitted per view, {args.data} ({args.split}, {len(quads)} quadruplets), nocs-net {args.weights}")
    print(f"{'NOCS the fit gets':24s} {'median':>7s} {'mean':>7s} {'p90':>7s}  (degrees from the rendered axis)")
    for name, values in errors.items():
        print(f"{name:24s} {np.median(values):7.2f} {np.mean(values):7.2f} {np.percentile(values, 90):7.2f}")


if __name__ == "__main__":
    main()
