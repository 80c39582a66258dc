"""The evaluation loop of eval-eopose: one trained checkpoint and its baselines on exactly the same test samples.

Samples come from the training loader (PairSampleDataset) with the checkpoint's own resolution, background,
keypoint method and split fractions, plus the ground-truth flow. Every method of baselines.py is scored per
sample; the scores are averaged per category and over all samples ("All together", as the paper's Table 1).
FID is a distribution distance, so it is computed per group from the Inception features of that group's
outputs and ground truths (Heusel et al. 2017); with few samples it is strongly biased upwards, so compare
FIDs only at equal sample counts.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from eopose.model.loading import load_trained, warp_fill

from ..config import TrainConfig, config_from_dict, pair_samples
from .baselines import METHODS, predict
from .rotations import EstimatedRotations
from .metric_models import Status, frechet_distance, load_metric
from .metrics import (BLANK_COVERAGE, FOREGROUND_THRESHOLD, blank, end_point_error, masked_l1, masked_ssim, psnr,
                      silhouette_iou, ssim)

ALL = "All together"  # the paper's Table 1 row over every category
# name: (label, better, definition); the order is the report's column order (the paper's three first)
METRICS = {
    "ssim": ("SSIM", "up", "structural similarity to the ground truth, Gaussian window 11 px / sigma 1.5, K1 0.01, "
                           "K2 0.03 on [0,1] RGB, channels averaged (Wang et al. 2004; = scikit-image's "
                           "gaussian_weights=True, use_sample_covariance=False)"),
    "masked_ssim": ("Masked SSIM", "up", "SSIM averaged over the union of the target's mask and the output's "
                                         "silhouette, dilated by 2 px: unlike full-frame SSIM, a blank output "
                                         "scores low"),
    "lpips": ("LPIPS", "down", "learned perceptual distance, AlexNet trunk, lpips v0.1 (Zhang et al. 2018)"),
    "fid": ("FID", "down", "Frechet Inception distance between the outputs and the ground truths of the group, "
                           "torch-fidelity Inception-v3 pool3 (Heusel et al. 2017); biased upwards for small groups"),
    "psnr": ("PSNR", "up", "10 log10(1 / MSE) on [0,1] RGB, capped at 100 dB"),
    "masked_l1": ("Masked L1", "down", "mean absolute RGB error over the pixels inside the target's mask"),
    "iou": ("Silhouette IoU", "up", f"IoU of the output's silhouette (pixels where some channel differs from the "
                                    f"background by > {FOREGROUND_THRESHOLD}) and the target mask (alpha > 0.5)"),
    "epe": ("Flow EPE (px)", "down", "mean end-point error of the method's backward flow against the rendered "
                                     "ground-truth flow, over pixels with a valid ground truth (identity: zero "
                                     "flow; EOPose's flow is its warp module's, reported under Warp only)"),
    "blank": ("Blank outputs", "down", f"number of outputs whose silhouette covers less than {BLANK_COVERAGE:.0%} "
                                       f"of the target's mask (a blank or nearly blank frame)"),
}
NO_FLOW = "n/a: no flow of its own"


class EvaluationError(RuntimeError):
    """Evaluation cannot run; the message is one line naming the file and the fix."""


@dataclass
class EvalSettings:
    checkpoint: Path
    data_dirs: list
    split: str = "test"
    batch_size: int = 8
    max_samples: int | None = None
    lpips_weights: Path | None = None
    fid_weights: Path | None = None
    device: str = "cpu"
    examples: int = 8
    seed: int = 0  # the generator's noise injection draws from torch's RNG
    rotation: str | None = None  # volume3d: "shard" | "estimated" (rotations.ROTATION_SOURCES); None: estimated
    nocs_weights: Path | None = None  # the nocs-net checkpoint estimated rotations come from


@dataclass
class EvalResult:
    """Everything the report shows. table[group][method][metric] = {"value": float | None, "status": str}."""

    info: dict
    statuses: dict
    table: dict
    examples: list = field(default_factory=list)


def load_for_evaluation(path, device) -> tuple[torch.nn.Module, TrainConfig]:
    """The trained EOPose of a checkpoint (eval mode, eopose.model.loading) and its training config."""
    model, config = load_trained(path, device)
    return model, config_from_dict(config, path)


def stage1_warp(checkpoint: Path, model, device):
    """The warp module as stage 1 left it, for the Warp-only row: `warp.pt` beside the checkpoint (the end-to-end
    stage tunes the warp further, so the final model's warp is not the stage-1 baseline), else `model` itself.
    Returns (model whose warp to use, path it came from)."""
    path = Path(checkpoint).parent / "warp.pt"
    if path.is_file() and path.resolve() != Path(checkpoint).resolve():
        return load_trained(path, device)[0], path
    return model, Path(checkpoint)


def _samples(settings: EvalSettings, config: TrainConfig) -> Subset:
    split = None if settings.split == "all" else settings.split  # "all": every sample, e.g. an evaluation-only set
    dataset = pair_samples(config, settings.data_dirs, split, with_flow=True)
    if len(dataset) == 0:
        raise EvaluationError(f"{', '.join(map(str, settings.data_dirs))}: no '{settings.split}' samples (splits "
                              f"by model id, fractions {tuple(config.data.split_fractions)}); render more "
                              f"quadruplets or pass another --split")
    count = len(dataset) if settings.max_samples is None else max(1, min(settings.max_samples, len(dataset)))
    # evenly spaced over the split, so a subset still covers every category
    return Subset(dataset, np.unique(np.linspace(0, len(dataset) - 1, count).round().astype(int)).tolist())


def _rotation_source(settings: EvalSettings, model, device, samples: Subset) -> tuple[str, EstimatedRotations | None]:
    """(where the volume3d warp's rotations come from, the estimator when they are estimated, checked against the
    categories of `samples`' split); "n/a" for flow2d."""
    if model.warp_kind != "volume3d":
        return "n/a (flow2d warp)", None
    source = settings.rotation or "estimated"
    if source == "shard":
        return source, None
    if settings.nocs_weights is None:
        raise EvaluationError(f"{settings.checkpoint}: a volume3d model evaluated with estimated rotations needs "
                              f"nocs-net weights; pass --nocs-weights RUN/checkpoints/final.pt (a train-nocs run) or "
                              f"--rotation shard")
    return source, EstimatedRotations(settings.nocs_weights, samples.dataset.categories, str(device))


def _cell(values: list, status: str = "ok") -> dict:
    if status != "ok":
        return {"value": None, "status": status}
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return {"value": None, "status": "unavailable: no sample has the pixels this metric needs"}
    return {"value": float(np.mean(finite)), "status": "ok"}


def _fid_cell(features: dict, method: str, rows: np.ndarray, status: Status) -> dict:
    if not status.available:
        return {"value": None, "status": str(status)}
    if len(rows) < 2:
        return {"value": None, "status": "unavailable: FID needs at least 2 samples in the group"}
    return {"value": frechet_distance(features[method][rows], features["target"][rows]), "status": "ok"}


def evaluate(settings: EvalSettings) -> EvalResult:
    device = torch.device(settings.device)
    model, config = load_for_evaluation(settings.checkpoint, device)
    warp_model, warp_source = stage1_warp(settings.checkpoint, model, device)
    samples = _samples(settings, config)
    background = warp_fill(config.data.background)
    lpips_metric, lpips_status = load_metric("lpips", device, settings.lpips_weights)
    inception, fid_status = load_metric("fid", device, settings.fid_weights)
    scores = {method: {name: [] for name in METRICS if name != "fid"} for method in METHODS}
    features = {name: [] for name in (*METHODS, "target")}
    categories, examples = [], []
    wanted = set(np.linspace(0, len(samples) - 1, min(settings.examples, len(samples))).round().astype(int).tolist())
    rotation_source, estimator = _rotation_source(settings, model, device, samples)
    torch.manual_seed(settings.seed)
    loader = DataLoader(samples, batch_size=settings.batch_size, num_workers=config.data.num_workers)
    start = time.perf_counter()
    with torch.no_grad(), tqdm(total=len(samples), desc="eval-eopose", unit="sample", dynamic_ncols=True) as bar:
        for batch in loader:
            categories += list(batch["category"])
            batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
            if estimator is not None:
                batch = estimator(batch)
            target = batch["target"]
            predictions = predict(model, warp_model, batch, background)
            for method, (image, flow) in predictions.items():
                per = scores[method]
                per["ssim"] += ssim(image, target).tolist()
                per["masked_ssim"] += masked_ssim(image, target, batch["mask_target"], config.data.background).tolist()
                per["blank"] += blank(image, batch["mask_target"], config.data.background).double().tolist()
                per["psnr"] += psnr(image, target).tolist()
                per["masked_l1"] += masked_l1(image, target, batch["mask_target"]).tolist()
                per["iou"] += silhouette_iou(image, batch["mask_target"], config.data.background).tolist()
                per["epe"] += (end_point_error(flow, batch["flow_gt"], batch["flow_valid"]).tolist()
                               if flow is not None else [math.nan] * len(image))
                if lpips_metric is not None:
                    per["lpips"] += lpips_metric(image, target).tolist()
                if inception is not None:
                    features[method].append(inception(image))
            if inception is not None:
                features["target"].append(inception(target))
            _keep_examples(examples, batch, predictions, wanted, bar.n)  # bar.n: samples before this batch
            bar.update(len(target))
    seconds = time.perf_counter() - start
    features = {k: torch.cat(v).numpy() for k, v in features.items() if v}
    categories = np.asarray(categories)
    groups = {name: np.flatnonzero(categories == name) for name in sorted(set(categories.tolist()))}
    groups[ALL] = np.arange(len(categories))
    table = {}
    for group, rows in groups.items():
        table[group] = {}
        for method in METHODS:
            cells = {name: _cell([scores[method][name][r] for r in rows]) for name in ("ssim", "masked_ssim", "psnr",
                                                                                       "masked_l1", "iou")}
            cells["blank"] = {"value": float(sum(scores[method]["blank"][r] for r in rows)), "status": "ok"}
            cells["lpips"] = _cell([scores[method]["lpips"][r] for r in rows] if lpips_metric else [],
                                   str(lpips_status))
            cells["fid"] = _fid_cell(features, method, rows, fid_status)
            cells["epe"] = (_cell([scores[method]["epe"][r] for r in rows]) if method != "eopose"
                            else {"value": None, "status": NO_FLOW})
            table[group][method] = {name: cells[name] for name in METRICS}
    info = {"checkpoint": str(settings.checkpoint), "data": [str(d) for d in settings.data_dirs],
            "split": settings.split, "samples": len(samples), "samples_in_split": len(samples.dataset),
            "group_sizes": {group: int(len(rows)) for group, rows in groups.items()},
            "resolution": config.data.resolution, "keypoint_method": config.data.keypoint_method,
            "warp_only_checkpoint": str(warp_source), "warp": config.model.warp, "rotation": rotation_source,
            **({"rotation_estimate": estimator.summary()} if estimator is not None else {}), "config": config.name, "tps_lambda": config.model.tps_lambda, "device": str(device),
            "seconds": round(seconds, 3), "samples_per_second": round(len(samples) / max(seconds, 1e-9), 3)}
    statuses = {"lpips": str(lpips_status), "fid": str(fid_status)}
    return EvalResult(info=info, statuses=statuses, table=table, examples=examples)


def _keep_examples(examples: list, batch: dict, predictions: dict, wanted: set, first: int) -> None:
    """The samples of the batch (starting at sample `first`) whose positions are `wanted`, as CPU tensors, for the
    report's example grid (evenly spaced, so the grid shows every category)."""
    for i in (i for i in range(len(batch["target"])) if first + i in wanted):
        examples.append({"appearance": batch["appearance"][i].cpu(), "pose": batch["pose"][i].cpu(),
                         "target": batch["target"][i].cpu(), "points_a": batch["points_a"][i].cpu(),
                         "points_p": batch["points_p"][i].cpu(), "valid": batch["valid"][i].cpu(),
                         "category": batch["category"][i],
                         **{method: image[i].cpu() for method, (image, _) in predictions.items()}})
