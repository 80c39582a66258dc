"""The three training stages of EOPose (paper, section 3.4.2) and everything that depends on the stage.

One table says, per stage: which parts of the network train, whether the generator and the discriminator
run, and how the warp and generator losses are mixed (eq. 7: L = alpha1 L_wrp + alpha2 L_gen in the
end-to-end stage). Schedules inside a stage (the "initial" TPS loss of section 3.2) are pure functions of
(config, stage, step), so the configuration object is never written during a run.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    name: str
    trains: tuple  # sub-modules of EOPose whose parameters the stage optimises
    with_generator: bool  # the generator runs (and L_gen applies)
    with_warp_loss: bool  # L_wrp applies

    @property
    def with_discriminator(self) -> bool:
        """The pose-conditioned discriminator trains whenever the generator's output is scored."""
        return self.with_generator


STAGES = {
    "warp": Stage("warp", trains=("warp",), with_generator=False, with_warp_loss=True),
    "gen": Stage("gen", trains=("generator",), with_generator=True, with_warp_loss=False),
    "e2e": Stage("e2e", trains=("warp", "generator"), with_generator=True, with_warp_loss=True),
}
STAGE_ORDER = tuple(STAGES)  # the order of section 3.4.2


def get_stage(name: str) -> Stage:
    if name not in STAGES:
        raise ValueError(f"stage must be one of {STAGE_ORDER}, got {name!r}")
    return STAGES[name]


def selected_stages(choice: str) -> tuple:
    """The stage names a `--stage` choice runs, in training order (`all`: every stage)."""
    return STAGE_ORDER if choice == "all" else (get_stage(choice).name,)


def set_trainable(model, stage: Stage) -> list:
    """requires_grad on the stage's sub-modules only; returns the trainable parameters."""
    for name, module in model.named_children():
        module.requires_grad_(name in stage.trains)
    return [p for p in model.parameters() if p.requires_grad]


def loss_mix(config, stage: Stage) -> tuple[float, float]:
    """(alpha1, alpha2): weights of L_wrp and L_gen; 1 for the single loss of the first two stages."""
    if stage.name == "e2e":
        return config.optim.e2e_alpha_warp, config.optim.e2e_alpha_gen
    return 1.0, 1.0


def tps_weight(config, stage: Stage, step: int) -> float:
    """Weight of the TPS loss at `step` (0-based) of `stage`: the paper's TPS loss is "initial" (3.2), so it
    guides the warp stage's first `warp_loss.tps_warmup_steps` steps only."""
    if stage.name == "warp" and step < config.warp_loss.tps_warmup_steps:
        return config.warp_loss.tps
    return 0.0


def adv_weight(config, stage: Stage, step: int) -> float:
    """Weight of the generator's adversarial loss at `step` of `stage`: 0 for the generator stage's first
    `gen_loss.adv_warmup_steps` steps (the generator first learns to reconstruct from L1 and the warp, so the
    discriminator cannot win against a blank start), then ramped linearly to `gen_loss.adv` over as many
    steps; the full weight in the end-to-end stage."""
    warmup = config.gen_loss.adv_warmup_steps
    if stage.name != "gen" or warmup == 0:
        return config.gen_loss.adv
    return config.gen_loss.adv * min(1.0, max(0.0, (step - warmup) / warmup))


def learning_rate(config, stage: Stage, step: int) -> float:
    """Adam's learning rate at `step` (0-based) of `stage`. Every stage starts a fresh Adam, whose first updates
    are about lr * sign(gradient) for every parameter at once (bias-corrected moments of one step; Liu et al.,
    "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020): a jolt to a generator that starts as
    the identity on Iwrp, or to a warp module the previous stage has trained. So the rate ramps linearly over
    `optim.warmup_steps` (Goyal et al., "Accurate, Large Minibatch SGD", 2017) at the start of every stage."""
    warmup = config.optim.warmup_steps
    return config.optim.lr * min(1.0, (step + 1) / warmup) if warmup else config.optim.lr
