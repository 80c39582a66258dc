"""Angular error of the relative rotation estimated from canonical coordinates (dataset.pose_estimate), on the
samples of held-out models.

For every sample (appearance a, pose p -> target t) of the selected quadruplets the rotation R = R_p R_a^T is fitted
to the NOCS of views a and p and compared with the shards' R (dataset.geometry.relative_rotation(record, a, t)):
plain, and modulo the dataset's shape symmetry (QuadDataset.symmetry: the turns of the appearance object about its
up axis that leave its shape unchanged, a vase's every angle, a briefcase's half turn; rotation_error_deg).
NOCS come from the rendered pass (`--method nocs`: the estimator's own error, near 0) or from a trained nocs-net
(`--method nocs-net --weights RUN/checkpoints/final.pt`: predicted NOCS, foreground and confidence, as `repose`
sees an image). Three cameras: `unknown` (a photo's case: weak perspective or a searched focal length), `weak`
(scaled orthographic only) and `intrinsics` (the shards' K: perspective-corrected, POSIT); for a category symmetric
about its up axis (vases) also `unknown+mirror`, each view's axis then turned onto its silhouette's mirror line
(dataset.silhouette_axis), which is what `repose` and `eval-eopose --rotation estimated` use.
Also the CPU milliseconds per pair of each fit, and the error in pixels of the object centre's image (the volume3d
warp's pivot, dataset.image_pose.pair_pose, as `repose` estimates it) from the appearance view alone and from both
views (a vase's two mirror lines cross there; dataset.silhouette_axis.shared_centre).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/rotation.py --data out/demo/vases --split test --method nocs
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/rotation.py --data out/demo/urns --split all --method nocs-net \\
        --weights out/demo/nocs/checkpoints/final.pt
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch

from eopose.dataset.geometry import pivot_pixel, relative_rotation
from eopose.dataset.image_pose import pair_pose
from eopose.dataset.keypoints.methods import build_method
from eopose.dataset.pose_estimate import (UNKNOWN_CAMERA, relative_rotation_from_nocs, rotation_error_deg,
                                          up_axis_in_camera)
from eopose.dataset.shard_format import SAMPLE_VIEWS, open_dataset
from eopose.dataset.splits import SPLITS, split_of_quad

FIELDS = ("rgba", "mask", "nocs", "rotations", "intrinsics", "extrinsics", "model_id", "category")
MIRRORED = "unknown+mirror"  # a body of revolution's up axis turned onto its silhouette's mirror line, as repose does
CAMERAS = ("unknown", "weak", "intrinsics", MIRRORED)


def view_inputs(method, record) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(NOCS [V, H, W, 3], foreground [V, H, W], confidence [V, H, W] or None) the estimator gets."""
    if method is None:
        return record["nocs"].astype(np.float32), record["mask"] > 0, None
    state = method.prepare({name: record[name][None] for name in ("rgba", "mask", "category")})
    return state["nocs"][0], state["mask"][0], state["confidence"][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder with rendered geometry")
    parser.add_argument("--split", choices=SPLITS + ("all",), default="test",
                        help="quadruplets of this split (all: every quadruplet, e.g. a held-out style)")
    parser.add_argument("--method", choices=("nocs", "nocs-net"), default="nocs")
    parser.add_argument("--weights", type=Path, help="nocs-net: a train-nocs RUN/checkpoints/final.pt")
    parser.add_argument("--max-quads", type=int)
    args = parser.parse_args()
    if args.method == "nocs-net" and args.weights is None:
        parser.error("--method nocs-net needs --weights RUN/checkpoints/final.pt")
    torch.set_num_threads(1)
    method = build_method("nocs-net", weights=args.weights) if args.method == "nocs-net" else None
    data = open_dataset(args.data)
    model_ids = data.column("model_id")
    quads = [index for index in range(len(data))
             if args.split == "all" or split_of_quad(model_ids[index]) == args.split][:args.max_quads]
    fits_of = [camera for camera in CAMERAS if camera != MIRRORED or data.symmetry.continuous]
    plain = {camera: [] for camera in fits_of}
    symmetric = {camera: [] for camera in fits_of}
    seconds = dict.fromkeys(fits_of, 0.0)
    fits = failed = 0
    pivot_errors = {False: [], True: []}
    with torch.inference_mode():
        for index in quads:
            record = data.read(index, FIELDS)
            nocs, mask, confidence = view_inputs(method, record)
            for a, p, t in SAMPLE_VIEWS:
                truth, axis = relative_rotation(record, a, t), up_axis_in_camera(record, a)
                for camera in fits_of:
                    start = time.process_time()
                    intrinsics = {"weak": None, "intrinsics": record["intrinsics"]}.get(camera, UNKNOWN_CAMERA)
                    estimate, valid = relative_rotation_from_nocs(
                        nocs[a], mask[a], nocs[p], mask[p],
                        *((None, None) if confidence is None else (confidence[a], confidence[p])),
                        intrinsics=intrinsics, mirror_axis=camera == MIRRORED)
                    seconds[camera] += time.process_time() - start
                    failed += not valid
                    plain[camera].append(rotation_error_deg(estimate, truth))
                    symmetric[camera].append(rotation_error_deg(estimate, truth, data.symmetry, axis))
                views = [(nocs[v], mask[v], np.ones(mask[v].shape) if confidence is None else confidence[v])
                         for v in (a, p)]
                pair = pair_pose(*views, str(record["category"]))
                for shared, pivot in ((False, pair.appearance_pivot), (True, pair.pivot)):
                    pivot_errors[shared].append(float(np.linalg.norm(pivot - pivot_pixel(record))))
                fits += 1
    print(f"rotation from {args.method} NOCS on {args.data} ({args.split}): {len(quads)} quadruplets, "
          f"{fits} samples, {failed} fits without enough foreground; shape symmetry {data.symmetry.to_json()}")
    print(f"{'camera':14s} {'median':>8s} {'p90':>8s} {'median mod sym':>14s} {'p90 mod sym':>11s}  (degrees)  "
          f"ms CPU per pair")
    for camera in fits_of:
        if plain[camera]:
            print(f"{camera:14s} {np.median(plain[camera]):8.2f} {np.percentile(plain[camera], 90):8.2f} "
                  f"{np.median(symmetric[camera]):14.2f} {np.percentile(symmetric[camera], 90):11.2f}  "
                  f"{1000 * seconds[camera] / fits:19.2f}")
    for shared, name in ((False, "appearance view alone"), (True, "both views")):
        print(f"object centre's pixel, {name}: median {np.median(pivot_errors[shared]):.2f} px, "
              f"p90 {np.percentile(pivot_errors[shared], 90):.2f} px")


if __name__ == "__main__":
    main()
