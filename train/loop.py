"""The training loop both trainers run (train-eopose: eopose.train.trainer, train-nocs: eopose.train.nocs.trainer).

`TrainingLoop` owns what a run folder and a step have in common: the resume checks, `metrics.jsonl` and the run
log, the data order of a step as a pure function of (seed, epoch) through a DistributedSampler, the optimiser
steps with a learning rate that is a pure function of the step, the non-finite-loss stop that keeps the last good
checkpoint, the after-step logging, samples and periodic `checkpoints/last.pt` (atomic, with every RNG state),
the final checkpoint and DDP wrapping. So `--resume` after a kill continues to the same losses as an
uninterrupted run. A trainer says what a step computes (`prepare`, `losses`) and what its checkpoints hold.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from .checkpoint import rng_state, save_checkpoint
from .distributed import World, all_reduce_mean
from .run_log import RunLog, write_run_files


class TrainingError(RuntimeError):
    """A run that cannot start or go on; the message is one line saying why and what to do."""


class NonFiniteLoss(TrainingError):
    """A NaN/inf loss stopped the run; the last good checkpoint is kept."""


@dataclass
class StepResult:
    loss: torch.Tensor  # what the main optimiser minimises
    terms: dict  # name -> detached value, for logging; "total" is shown on the progress bar
    outputs: object  # the network's forward outputs (sample images, checks)


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


class TrainingLoop:
    """The shared loop. `config` has `data.num_workers`, `data.split_fractions`, `run` (a
    eopose.train.config.RunConfig) and `to_dict()`. Progress: `step` within the stage in progress and
    `global_step` over the run."""

    log_class = RunLog

    def __init__(self, config, run_dir, world: World, resume: bool):
        self.config, self.world = config, world
        self.run_dir = Path(run_dir)
        self.checkpoint_path = self.run_dir / "checkpoints" / "last.pt"
        if self.checkpoint_path.exists() and not resume:
            raise TrainingError(f"{self.run_dir}: already holds a run; pass --resume to continue it or choose a new "
                                f"--out")
        if resume and not self.checkpoint_path.exists():
            raise TrainingError(f"{self.checkpoint_path}: nothing to resume; start without --resume")
        self.step = self.global_step = 0
        self.optimisers: dict = {}

    def _open_run_folder(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log = self.log_class(self.run_dir, enabled=self.world.is_main)

    def _write_run_files(self, dataset, data_dirs, counts: dict) -> None:
        if self.world.is_main:
            write_run_files(self.run_dir, self.config.to_dict(), dataset.datasets, data_dirs,
                            self.config.data.split_fractions, counts)

    def _read_resume_state(self, restore) -> dict:
        """The last checkpoint, after `restore(state)` has loaded the networks and the progress from it; metric
        lines past it are dropped. Any failure is a one-line TrainingError naming the file."""
        try:
            state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
            restore(state)
        except Exception as error:  # a damaged file or another run's checkpoint
            raise TrainingError(f"{self.checkpoint_path}: cannot resume from it ({type(error).__name__}); start a "
                                f"new --out") from None
        self.log.truncate_after(self.global_step)
        return state

    # ---- hooks ------------------------------------------------------------------------------------
    def prepare(self, batch: dict) -> dict:
        """A loader batch as the step uses it, on the device."""
        raise NotImplementedError

    def losses(self, batch: dict, step: int) -> StepResult:
        """Forward pass and losses at `step` of the stage in progress."""
        raise NotImplementedError

    def check(self, result: StepResult, batch: dict, stage: str) -> None:
        """Raise a TrainingError to stop the run before this step's update (the default: never)."""

    def after_update(self, result: StepResult, batch: dict) -> None:
        """Whatever steps after the main optimiser's (the default: nothing)."""

    def sample_images(self, stage: str, result: StepResult, batch: dict) -> None:
        """Write the sample sheet of this step."""
        raise NotImplementedError

    def checkpoint_state(self) -> dict:
        """What `last.pt` holds besides the RNG states and the config."""
        raise NotImplementedError

    def may_save(self) -> bool:
        """False while a checkpoint could hold a bad state (the default: always allowed)."""
        return True

    # ---- the loop ---------------------------------------------------------------------------------
    def _wrap(self, module):
        """`module` in DistributedDataParallel under torchrun."""
        if not self.world.distributed:
            return module
        device_ids = [self.world.device.index] if self.world.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=device_ids)

    def _loader(self, dataset, step: int, per_rank: int, seed: int) -> DataLoader:
        """Batches of one epoch from `step` on; the order depends only on (seed, epoch)."""
        global_batch = per_rank * self.world.size
        per_epoch = len(dataset) // global_batch
        if per_epoch == 0:
            raise TrainingError(f"only {len(dataset)} training samples, fewer than the batch size {global_batch}; "
                                f"render more quadruplets or lower the batch size")
        epoch, position = divmod(step, per_epoch)
        sampler = DistributedSampler(dataset, num_replicas=self.world.size, rank=self.world.rank, shuffle=True,
                                     seed=seed, drop_last=True)
        sampler.set_epoch(epoch)
        indices = list(sampler)[position * per_rank:per_epoch * per_rank]
        return DataLoader(dataset, batch_size=per_rank, sampler=indices, num_workers=self.config.data.num_workers,
                          drop_last=True, pin_memory=self.world.device.type == "cuda",
                          generator=torch.Generator().manual_seed(self.config.run.seed),  # keeps the global RNG
                          persistent_workers=False)

    def _kept_checkpoint(self) -> str:
        return (f"the last good checkpoint is kept at {self.checkpoint_path}" if self.checkpoint_path.exists()
                else "no checkpoint had been written yet")

    def _save(self, name: str = "last.pt") -> None:
        if self.world.is_main and self.may_save():  # never overwrite a good checkpoint with a bad state
            save_checkpoint(self.run_dir / "checkpoints" / name, {
                **self.checkpoint_state(), "rng": rng_state(), "config": self.config.to_dict()})

    def _train(self, stage: str, dataset, total: int, per_rank: int, seed: int, rate) -> None:
        """Steps `self.step` .. `total` of `stage` on `dataset` (order seed `seed`); `rate(step)`: the learning
        rate of every optimiser in `self.optimisers`, whose "model" minimises the step's loss."""
        with tqdm(total=total, initial=self.step, desc=f"train {stage}", unit="step", disable=not self.world.is_main,
                  dynamic_ncols=True) as bar:
            while self.step < total:
                for batch in self._loader(dataset, self.step, per_rank, seed):
                    batch = self.prepare(batch)
                    result = self.losses(batch, self.step)
                    if not torch.isfinite(result.loss):
                        raise NonFiniteLoss(f"non-finite loss at stage {stage} step {self.step} "
                                            f"({ {k: float(v) for k, v in result.terms.items()} }); "
                                            f"{self._kept_checkpoint()}")
                    self.check(result, batch, stage)
                    for optimiser in self.optimisers.values():
                        for group in optimiser.param_groups:
                            group["lr"] = rate(self.step)
                    self.optimisers["model"].zero_grad(set_to_none=True)
                    result.loss.backward()
                    self.optimisers["model"].step()
                    self.after_update(result, batch)
                    self.step += 1
                    self.global_step += 1
                    self._after_step(stage, total, result, batch, bar)
                    if self.step >= total:
                        break

    def _after_step(self, stage: str, total: int, result: StepResult, batch: dict, bar) -> None:
        run, step = self.config.run, self.step
        if step % run.log_every == 0 or step == total:
            terms = {k: all_reduce_mean(v.float(), self.world) for k, v in result.terms.items()}
            self.log.scalars(stage, step, self.global_step, terms)
            bar.set_postfix(loss=f"{float(terms['total']):.4f}")
        if step % run.image_every == 0 or step == total:
            self.sample_images(stage, result, batch)
        if step % run.checkpoint_every == 0 and step < total:
            self._save()
        bar.update(1)

    def _finish(self, final_state: dict) -> Path:
        """Write `checkpoints/final.pt` (`final_state` and the config), close the log; returns its path."""
        final = self.run_dir / "checkpoints" / "final.pt"
        if self.world.is_main:
            save_checkpoint(final, {**final_state, "config": self.config.to_dict()})
            self.log.note(f"done: {final}")
        self.log.close()
        return final
