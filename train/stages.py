"""The three training stages of EOPose (paper, section 3.4.2): one object per stage holding everything that
depends on the stage.

A `Stage` says how many steps it runs and on what batch size, which parts of the network train and with which
optimisers, whether the generator and the discriminator run, which losses apply and how they are weighted: the
eq. 7 mix (L = alpha1 L_wrp + alpha2 L_gen in the end-to-end stage), the "initial" TPS loss of section 3.2, the
adversarial warm-up and the learning-rate warm-up. `build_stages` is the one place that reads these from a
config. Schedules are pure functions of the step, so the configuration object is never written during a run and
`--resume` reproduces them exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .loop import learning_rate

STAGE_ORDER = ("warp", "gen", "e2e")  # the order of section 3.4.2


@dataclass(frozen=True)
class LossWeights:
    """The weights one step of a stage gives its losses."""

    alpha_warp: float  # alpha1 of eq. 7 (1 outside the end-to-end stage)
    alpha_gen: float  # alpha2 of eq. 7
    tps: float  # the TPS loss (0 after its warm-up)
    adv: float  # the generator's adversarial loss


@dataclass(frozen=True)
class Stage:
    name: str
    trains: tuple  # sub-modules of EOPose whose parameters the stage optimises
    with_generator: bool  # the generator runs (and L_gen applies)
    with_warp_loss: bool  # L_wrp applies
    steps: int
    batch_size: int  # over all processes
    lr: float  # Adam's learning rate after the warm-up
    betas: tuple  # Adam's betas
    lr_warmup_steps: int  # linear learning-rate warm-up at the start of the stage (0: none)
    alpha_warp: float
    alpha_gen: float
    tps: float  # TPS loss weight during its warm-up
    tps_steps: int  # steps at the start of the stage with the TPS loss on
    adv: float  # adversarial weight after its warm-up
    adv_warmup_steps: int  # steps at adversarial weight 0, then as many ramping it to `adv` (0: full from the start)

    @property
    def with_discriminator(self) -> bool:
        """The pose-conditioned discriminator trains whenever the generator's output is scored."""
        return self.with_generator

    def set_trainable(self, model) -> list:
        """requires_grad on the stage's sub-modules only; returns the trainable parameters."""
        for name, module in model.named_children():
            module.requires_grad_(name in self.trains)
        return [p for p in model.parameters() if p.requires_grad]

    def optimisers(self, model, discriminator) -> dict:
        """Fresh Adam optimisers of the stage: "model" over the parts it trains (set trainable here) and, when the
        generator is scored, "discriminator"."""
        optimisers = {"model": torch.optim.Adam(self.set_trainable(model), lr=self.lr, betas=self.betas)}
        if self.with_discriminator:
            optimisers["discriminator"] = torch.optim.Adam(discriminator.parameters(), lr=self.lr, betas=self.betas)
        return optimisers

    def learning_rate(self, step: int) -> float:
        """Adam's learning rate at `step` (0-based). Every stage starts a fresh Adam, whose first updates are about
        lr * sign(gradient) for every parameter at once (bias-corrected moments of one step; Liu et al., "On the
        Variance of the Adaptive Learning Rate and Beyond", ICLR 2020): a jolt to a generator that starts as the
        identity on Iwrp, or to a warp module the previous stage has trained. So the rate ramps linearly over
        `optim.warmup_steps` (Goyal et al., "Accurate, Large Minibatch SGD", 2017) at the start of every stage."""
        return learning_rate(self.lr, step, warmup_steps=self.lr_warmup_steps)

    def loss_weights(self, step: int) -> LossWeights:
        """The weights at `step` (0-based). The paper's TPS loss is "initial" (3.2): it guides the warp stage's
        first `warp_loss.tps_warmup_steps` steps only. The adversarial weight is 0 for the generator stage's first
        `gen_loss.adv_warmup_steps` steps (the generator first learns to reconstruct from L1 and the warp, so the
        discriminator cannot win against a blank start), then ramped linearly to `gen_loss.adv` over as many
        steps; full in the end-to-end stage."""
        tps = self.tps if step < self.tps_steps else 0.0
        warmup = self.adv_warmup_steps
        adv = self.adv * min(1.0, max(0.0, (step - warmup) / warmup)) if warmup else self.adv
        return LossWeights(self.alpha_warp, self.alpha_gen, tps, adv)


def build_stages(config) -> dict:
    """name -> Stage for a TrainConfig, in training order: the stage table."""
    optim, warp_loss, gen_loss = config.optim, config.warp_loss, config.gen_loss
    adam = dict(lr=optim.lr, betas=optim.betas, lr_warmup_steps=optim.warmup_steps)
    return {
        "warp": Stage("warp", trains=("warp",), with_generator=False, with_warp_loss=True, steps=optim.warp_steps,
                      batch_size=optim.batch_size_warp, alpha_warp=1.0, alpha_gen=1.0, tps=warp_loss.tps,
                      tps_steps=warp_loss.tps_warmup_steps, adv=gen_loss.adv, adv_warmup_steps=0, **adam),
        "gen": Stage("gen", trains=("generator",), with_generator=True, with_warp_loss=False, steps=optim.gen_steps,
                     batch_size=optim.batch_size_gen, alpha_warp=1.0, alpha_gen=1.0, tps=0.0, tps_steps=0,
                     adv=gen_loss.adv, adv_warmup_steps=gen_loss.adv_warmup_steps, **adam),
        "e2e": Stage("e2e", trains=("warp", "generator"), with_generator=True, with_warp_loss=True,
                     steps=optim.e2e_steps, batch_size=optim.batch_size_gen, alpha_warp=optim.e2e_alpha_warp,
                     alpha_gen=optim.e2e_alpha_gen, tps=0.0, tps_steps=0, adv=gen_loss.adv, adv_warmup_steps=0,
                     **adam),
    }


def build_stage(config, name: str) -> Stage:
    if name not in STAGE_ORDER:
        raise ValueError(f"stage must be one of {STAGE_ORDER}, got {name!r}")
    return build_stages(config)[name]


def selected_stages(choice: str) -> tuple:
    """The stage names a `--stage` choice runs, in training order (`all`: every stage)."""
    if choice == "all":
        return STAGE_ORDER
    if choice not in STAGE_ORDER:
        raise ValueError(f"stage must be one of {STAGE_ORDER} or 'all', got {choice!r}")
    return (choice,)
