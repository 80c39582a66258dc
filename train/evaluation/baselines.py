"""The methods compared on each batch: EOPose, its stage-1 warp alone, TPS warping, the identity and the
exact-geometry oracle.

Every method maps a batch (appearance, pose, keypoints) to an image and, where it has one, the flow it
warped with (backward convention of eopose.model.flow), so image and flow metrics treat them alike:

- `eopose`: the generator's output (paper, section 3.3); its flow is the warp module's;
- `warp_only`: Iwrp of the stage-1 warp (section 3.2 for `flow2d`, eopose.model.volume_warp for `volume3d`): Ia
  warped by its final flow and composed with its predicted silhouette and visibility;
- `tps`: the paper's TPS baseline (section 4, "Baselines"): Ia warped by the thin-plate spline fitted to
  the same keypoints Pa -> Pp (model.tps_lambda), the flow the `flow2d` warp starts from;
- `identity`: Ia unchanged (zero flow), the floor any method should beat;
- `oracle`: what exact geometry allows a warp, the ceiling: the target's rendered silhouette, Ia warped by the
  exact flow where the target pixel is visible in Ia, Ia's mean foreground colour where it is hidden
  (needs the rendered flow; data without it get no oracle row).
"""
from __future__ import annotations

import torch

from eopose.model.eopose import batch_inputs
from eopose.model.flow import warp
from eopose.model.warp_module import compose, mean_colour

# the paper's Table 1 puts TPS first and its own method last; the oracle is a ceiling, not a competitor
METHODS = ("tps", "warp_only", "identity", "oracle", "eopose")
METHOD_LABELS = {"tps": "TPS", "warp_only": "Warp only", "identity": "Identity",
                 "oracle": "Oracle (exact flow, mean colour where hidden)", "eopose": "EOPose"}


def oracle(batch: dict, background: float) -> torch.Tensor:
    """The exact-geometry ceiling image [B, 3, H, W] (module docstring)."""
    appearance = batch["appearance"]
    return compose(warp(appearance, batch["flow_gt"], fill=background), mean_colour(appearance,
                                                                                     batch["mask_appearance"]),
                   (batch["mask_target"] > 0.5).to(appearance.dtype), batch["flow_valid"], background)


@torch.no_grad()
def predict(model, warp_model, batch: dict, background: float) -> dict:
    """{method: (image [B, 3, H, W], flow [B, 2, H, W] or None)} for one batch on the model's device;
    `warp_model` gives the Warp-only row (the stage-1 checkpoint, eopose.train.evaluation.evaluate.stage1_warp)."""
    appearance = batch["appearance"]
    inputs = batch_inputs(batch)
    result = model(**inputs)
    warp_only = result if warp_model is model else warp_model(**inputs, with_generator=False)
    height, width = appearance.shape[-2:]
    flow_tps = model.prior_flow(batch["points_a"], batch["points_p"], batch["valid"], height, width)
    methods = {"tps": (warp(appearance, flow_tps, fill=background), flow_tps),
               "warp_only": (warp_only.composed, warp_only.flow),
               "identity": (appearance, torch.zeros_like(flow_tps))}
    if "flow_gt" in batch:
        methods["oracle"] = (oracle(batch, background), batch["flow_gt"])
    methods["eopose"] = (result.output.clamp(0, 1), None)
    return methods
