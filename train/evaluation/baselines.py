"""The methods compared on each batch: EOPose, its stage-1 warp alone, TPS warping and the identity.

Every method maps a batch (appearance, pose, keypoints) to an image and, where it has one, the flow it
warped with (backward convention of eopose.model.flow), so image and flow metrics treat them alike:

- `eopose`: the generator's output (paper, section 3.3); its flow is the warp module's;
- `warp_only`: Iwrp, the appearance image warped by the warp module's final flow (section 3.2);
- `tps`: the paper's TPS baseline (section 4, "Baselines"): Ia warped by the thin-plate spline fitted to
  the same keypoints Pa -> Pp, with the regularisation of the training run's TPS loss (warp_loss.tps_lambda);
- `identity`: Ia unchanged (zero flow), the floor any method should beat.
"""
from __future__ import annotations

import torch

from eopose.model.flow import warp
from eopose.model.tps import tps_flow

METHODS = ("tps", "warp_only", "identity", "eopose")  # the paper's Table 1 puts TPS first and its own method last
METHOD_LABELS = {"tps": "TPS", "warp_only": "Warp only", "identity": "Identity", "eopose": "EOPose"}


@torch.no_grad()
def predict(model, batch: dict, tps_lambda: float, background: float) -> dict:
    """{method: (image [B, 3, H, W], flow [B, 2, H, W] or None)} for one batch on the model's device."""
    appearance = batch["appearance"]
    height, width = appearance.shape[-2:]
    result = model(appearance, batch["pose"], batch["points_a"], batch["points_p"], batch["valid"])
    flow_tps = tps_flow(batch["points_a"], batch["points_p"], batch["valid"], height, width, tps_lambda)
    return {"tps": (warp(appearance, flow_tps, fill=background), flow_tps),
            "warp_only": (result.warped, result.flow),
            "identity": (appearance, torch.zeros_like(flow_tps)),
            "eopose": (result.output.clamp(0, 1), None)}
