"""The methods compared on each batch: EOPose, its stage-1 warp alone, TPS warping and the identity.

Every method maps a batch (appearance, pose, keypoints) to an image and, where it has one, the flow it
warped with (backward convention of eopose.model.flow), so image and flow metrics treat them alike:

- `eopose`: the generator's output (paper, section 3.3); its flow is the warp module's;
- `warp_only`: Iwrp of the stage-1 warp module (section 3.2): Ia warped by its final flow and composed with its
  predicted silhouette and visibility (eopose.model.warp_module);
- `tps`: the paper's TPS baseline (section 4, "Baselines"): Ia warped by the thin-plate spline fitted to
  the same keypoints Pa -> Pp, the very flow the warp module starts from (model.tps_lambda);
- `identity`: Ia unchanged (zero flow), the floor any method should beat.
"""
from __future__ import annotations

import torch

from eopose.model.flow import warp

METHODS = ("tps", "warp_only", "identity", "eopose")  # the paper's Table 1 puts TPS first and its own method last
METHOD_LABELS = {"tps": "TPS", "warp_only": "Warp only", "identity": "Identity", "eopose": "EOPose"}


@torch.no_grad()
def predict(model, warp_model, batch: dict, background: float) -> dict:
    """{method: (image [B, 3, H, W], flow [B, 2, H, W] or None)} for one batch on the model's device;
    `warp_model` gives the Warp-only row (the stage-1 checkpoint, eopose.train.evaluation.evaluate.stage1_warp)."""
    appearance = batch["appearance"]
    inputs = (appearance, batch["pose"], batch["points_a"], batch["points_p"], batch["valid"],
              batch["mask_appearance"], batch["mask_pose"])
    result = model(*inputs)
    warped = result if warp_model is model else warp_model(*inputs, with_generator=False)
    flow_tps = result.warp.prior
    return {"tps": (warp(appearance, flow_tps, fill=background), flow_tps),
            "warp_only": (warped.warped, warped.flow),
            "identity": (appearance, torch.zeros_like(flow_tps)),
            "eopose": (result.output.clamp(0, 1), None)}
