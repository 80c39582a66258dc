"""Training loader: expands each quadruplet into its four (appearance, pose -> target) samples.

Images are composited from straight-alpha RGBA onto a background colour (white by default, in the
stored sRGB values) or, as a training option, a random solid colour or linear gradient per sample
(deterministic in the sample index and a seed), resized to the training resolution, and returned with
their alpha masks, the keypoints of the chosen method and, on request, the exact ground-truth flow
target -> appearance.
Quadruplets are filtered by split (by model identity, see splits.py). HDF5 is opened lazily inside
each DataLoader worker through QuadDataset.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .compositing import composite
from .geometry import ground_truth_flow, pivot_pixel, relative_rotation
from .pose_estimate import up_axis_in_camera
from .shard_format import SAMPLE_VIEWS, DatasetFormatError, QuadDataset
from .splits import DEFAULT_FRACTIONS, split_of_quad


def random_background(seed: int, index: int, height: int, width: int) -> np.ndarray:
    """float32 [3,H,W] in [0,1]: sample `index`'s background, a solid colour or (half the time) a linear
    gradient between two colours along a random direction, drawn from (seed, index) alone."""
    rng = np.random.default_rng([seed, index])
    first, second = rng.uniform(0.0, 1.0, size=(2, 3))
    if rng.random() < 0.5:
        return np.broadcast_to(first[:, None, None], (3, height, width)).astype(np.float32)
    angle = rng.uniform(0.0, 2 * np.pi)
    ys, xs = np.mgrid[:height, :width]
    t = (xs + 0.5) / width * np.cos(angle) + (ys + 0.5) / height * np.sin(angle)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-12)
    return (first[:, None, None] * (1 - t) + second[:, None, None] * t).astype(np.float32)


def frustum_depth(record: dict, views: list) -> np.ndarray:
    """float32 [len(views), H, W]: the views' rendered depth in the units of the volume3d warp's frustum
    (eopose.model.volume_warp: 0 at the object centre's depth, 1 = the image half-width at that depth); 0 where
    nothing was rendered."""
    depth = np.asarray(record["depth"], dtype=np.float32)[views]
    centre = float(record["extrinsics"][2, 3])
    unit = centre * (depth.shape[-1] / 2) / float(record["intrinsics"][0, 0])
    return np.where(np.isfinite(depth) & (depth > 0), (depth - centre) / unit, 0.0).astype(np.float32)


def _resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(images.shape[-2:]) == size:
        return images
    return F.interpolate(images, size=size, mode="bilinear", antialias=True, align_corners=False)


class PairSampleDataset(Dataset):
    """Samples (Ia, Ip -> Igt) of one or more dataset folders.

    Args:
        data_dirs: dataset folder(s).
        split: 'train' | 'val' | 'test' (quadruplets whose two models are both in it) or None for all.
        resolution: output size, an int (square) or (H, W); None keeps the stored size.
        background: RGB in [0,1] the RGBA views are composited onto.
        random_backgrounds: instead, composite each sample's three images onto one `random_background` of
            (background_seed, sample index), the same for a given index in every epoch and worker.
        keypoint_method: keypoint set to return (`points_a`, `points_p`, `valid`), None for none.
        with_flow: also return `flow_gt` [2,H,W] (pixels) and `flow_valid` [1,H,W] target -> appearance.
        with_rotation: also return the camera-frame rotation from the appearance to the target pose `rotation`
            [3,3] (geometry.relative_rotation), the pixel the object turns about `pivot` [2] (geometry.pivot_pixel,
            at the output size), `camera_depth` (2 f / W: the camera's distance in image half-widths) and the
            rendered depth of the appearance and target views, `depth_appearance`, `depth_target` [1,H,W]
            (frustum_depth), the appearance object's up axis in its camera frame `up_axis` [3]
            (pose_estimate.up_axis_in_camera) and the order of its dataset's shape symmetry `symmetry_order`
            (QuadDataset.symmetry; 0 = continuous), with which pose_estimate.rotation_error_deg scores an
            estimated rotation modulo the symmetry.
        uint8: images and masks as uint8 (value * 255, rounded) instead of float32 in [0,1]: a quarter of
            the bytes through DataLoader worker queues, which is what limits 2-worker throughput; the
            training step turns them back into floats on its device (eopose.train.steps.to_device).
    """

    def __init__(self, data_dirs, split=None, resolution=None, background=(1.0, 1.0, 1.0), keypoint_method=None,
                 with_flow=False, split_fractions=DEFAULT_FRACTIONS, uint8=False, random_backgrounds=False,
                 background_seed=0, with_rotation=False):
        dirs = [data_dirs] if isinstance(data_dirs, (str, Path)) else list(data_dirs)
        self.datasets = [QuadDataset(path) for path in dirs]
        self.resolution = (resolution, resolution) if isinstance(resolution, int) else resolution
        self.background = tuple(float(c) for c in background)
        self.random_backgrounds, self.background_seed = random_backgrounds, int(background_seed)
        self.keypoint_method = keypoint_method
        self.with_flow = with_flow
        self.with_rotation = with_rotation
        self.uint8 = uint8
        self.quads: list[tuple[int, int]] = []
        self.categories: list[str] = []
        for number, data in enumerate(self.datasets):
            if keypoint_method is not None:
                self._require_keypoints(data, keypoint_method)
            model_ids, categories = data.column("model_id"), data.column("category")
            for quad in range(len(data)):
                if split is None or split_of_quad(model_ids[quad], split_fractions) == split:
                    self.quads.append((number, quad))
                    self.categories.append(str(categories[quad]))

    @staticmethod
    def _require_keypoints(data: QuadDataset, method: str) -> None:
        for shard, path in enumerate(data.shard_paths):
            if method not in data.keypoint_methods(shard):
                raise DatasetFormatError(f"{path}: no '{method}' keypoints; run `build-keypoint-cache {data.path} "
                                         f"--method {method}` first")

    def __len__(self) -> int:
        return 4 * len(self.quads)

    def __getitem__(self, index: int) -> dict:
        quad_number, sample = divmod(index, 4)
        dataset_number, quad = self.quads[quad_number]
        data = self.datasets[dataset_number]
        fields = ["rgba"] + (["mask", "depth", "nocs", "nocs_to_object"] if self.with_flow else []) + \
            (["rotations", "intrinsics", "extrinsics"] if self.with_flow or self.with_rotation else []) + \
            (["depth"] if self.with_rotation and not self.with_flow else [])
        record = data.read(quad, fields)
        views = list(SAMPLE_VIEWS[sample])
        background = (random_background(self.background_seed, index, *record["rgba"].shape[1:3])
                      if self.random_backgrounds else self.background)
        rgb, alpha = composite(record["rgba"][views], background)
        height, width = rgb.shape[-2:]
        size = self.resolution or (height, width)
        rgb, alpha = _resize(rgb, size), _resize(alpha, size)
        if self.uint8:
            rgb, alpha = (image.mul_(255).round_().to(torch.uint8) for image in (rgb, alpha))
        scale = torch.tensor([size[1] / width, size[0] / height], dtype=torch.float32)
        out = {"appearance": rgb[0], "pose": rgb[1], "target": rgb[2],
               "mask_appearance": alpha[0], "mask_pose": alpha[1], "mask_target": alpha[2],
               "category": self.categories[quad_number], "index": index}
        if self.keypoint_method is not None:
            points = data.read_keypoints(quad, self.keypoint_method)
            out["points_a"] = torch.from_numpy(points["points_a"][sample]) * scale
            out["points_p"] = torch.from_numpy(points["points_p"][sample]) * scale
            out["valid"] = torch.from_numpy(points["valid"][sample])
        if self.with_rotation:
            out["rotation"] = torch.from_numpy(relative_rotation(record, views[0], views[2])).float()
            out["pivot"] = torch.from_numpy(pivot_pixel(record)).float() * scale
            out["camera_depth"] = torch.tensor(2 * float(record["intrinsics"][0, 0]) / width)
            out["up_axis"] = torch.from_numpy(up_axis_in_camera(record, views[0])).float()
            out["symmetry_order"] = torch.tensor(data.symmetry.order)
            depth = torch.from_numpy(frustum_depth(record, [views[0], views[2]]))[:, None]
            if (height, width) != tuple(size):
                depth = F.interpolate(depth, size=size, mode="nearest")
            out["depth_appearance"], out["depth_target"] = depth[0], depth[1]
        if self.with_flow:
            flow, valid = ground_truth_flow(record, appearance_view=views[0], target_view=views[2])
            flow = torch.from_numpy(flow)[None]
            valid = torch.from_numpy(valid)[None, None].float()
            if (height, width) != tuple(size):
                flow = F.interpolate(flow, size=size, mode="nearest") * scale.view(1, 2, 1, 1)
                valid = F.interpolate(valid, size=size, mode="nearest")
            out["flow_gt"], out["flow_valid"] = flow[0], valid[0]
        return out
