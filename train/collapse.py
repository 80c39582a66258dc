"""The collapse guard: stops a run whose generator outputs have gone blank, keeping the last good checkpoint.

A GAN whose discriminator wins can drive the generator to a constant frame (on the CPU demo before the
composing generator: a blank white image after the LSGAN loss fell to ~0.001). Each step with a generator the
guard counts the batch's blank outputs (eopose.train.evaluation.metrics.blank: the output's silhouette covers
less than BLANK_COVERAGE of the target's mask); when most of the batch has been blank for `patience`
consecutive steps it fires. While any recent batch was mostly blank the trainer writes no checkpoint, so the
last one on disk predates the collapse.
"""
from __future__ import annotations

import torch

from .evaluation.metrics import blank


class CollapseGuard:
    def __init__(self, background, patience: int):
        self.background = background
        self.patience = patience
        self.streak = 0  # consecutive steps with most of the batch blank

    @property
    def suspect(self) -> bool:
        return self.streak > 0

    def update(self, output: torch.Tensor, mask_target: torch.Tensor) -> bool:
        """Record one step's outputs; True when the run has collapsed (the guard fires)."""
        if self.patience <= 0:
            return False
        mostly_blank = bool(blank(output.detach().float(), mask_target, self.background).float().mean() > 0.5)
        self.streak = self.streak + 1 if mostly_blank else 0
        return self.streak >= self.patience
