"""What the two training loops (train-eopose: eopose.train.trainer, train-nocs: eopose.train.nocs.trainer) share.
"""
from __future__ import annotations

import math


def learning_rate(lr: float, step: int, warmup_steps: int = 0, decay_steps: int = 0,
                  final_fraction: float = 1.0) -> float:
    """The learning rate at `step` (0-based), a pure function of the step so that a resumed run gets the same
    rates: a linear ramp to `lr` over the first `warmup_steps` steps (0: none), then, with `decay_steps`, a cosine
    decay to `final_fraction` * lr at step `decay_steps` (Loshchilov & Hutter, "SGDR", ICLR 2017)."""
    rate = lr * min(1.0, (step + 1) / warmup_steps) if warmup_steps else lr
    if decay_steps:
        progress = min(step / decay_steps, 1.0)
        rate = rate * (final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress)))
    return rate
