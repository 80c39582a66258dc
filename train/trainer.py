"""The staged EOPose training loop (paper, 3.4.2): warp, then generator with the warp frozen, then end-to-end.

Runs as one process or under torchrun (DDP: DistributedSampler with set_epoch, rank-0 logging and
checkpoints, gloo on CPU / nccl on GPU, bf16 autocast and channels_last on GPU). Progress is counted
in steps per stage; the data order of a step is a pure function of (seed, stage, step), and checkpoints
carry every RNG state, so `--resume` after a kill continues to the same losses as an uninterrupted run.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from eopose.dataset.pairs import PairSampleDataset
from eopose.model.discriminator import PatchDiscriminator
from eopose.model.eopose import EOPose
from eopose.model.loading import build_discriminator, build_model, read_checkpoint
from eopose.model.losses import GeneratorLoss, VGGLoss, WarpLoss

from .augment import random_flips
from .checkpoint import rng_state, save_checkpoint, set_rng_state
from .collapse import CollapseGuard
from .config import TrainConfig
from .distributed import World, all_reduce_mean
from .run_log import RunLog, write_run_files
from .stages import STAGE_ORDER, Stage, build_stages, selected_stages
from .steps import discriminator_loss, model_losses, to_device


class TrainingError(RuntimeError):
    """A run that cannot start or go on; the message is one line saying why and what to do."""


class NonFiniteLoss(TrainingError):
    """A NaN/inf loss stopped the run; the last good checkpoint is kept."""


class GeneratorCollapse(TrainingError):
    """The generator's outputs went blank (train/collapse.py); the last good checkpoint is kept."""


def use_channels_last(model: EOPose, discriminator: PatchDiscriminator, device: torch.device) -> None:
    """channels_last on GPU (tensor cores). On the CPU only the warp module: its oneDNN convolutions
    measured 3-6x faster than contiguous at 128x128 (demo config, warp step 3.3 s -> 0.5 s), while the
    generator's backward in channels_last segfaults inside torch 2.14.1's CPU kernels."""
    model.warp.to(memory_format=torch.channels_last)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
        discriminator.to(memory_format=torch.channels_last)


class Trainer:
    def __init__(self, config: TrainConfig, data_dirs, run_dir, world: World, stage: str = "all",
                 resume: bool = False, vgg_weights=None):
        self.config, self.world = config, world
        self.run_dir = Path(run_dir)
        self.stages = selected_stages(stage)
        self.stage_table = build_stages(config)
        self.checkpoint_path = self.run_dir / "checkpoints" / "last.pt"
        if self.checkpoint_path.exists() and not resume:
            raise TrainingError(f"{self.run_dir}: already holds a run; pass --resume to continue it or choose a new "
                                f"--out")
        if resume and not self.checkpoint_path.exists():
            raise TrainingError(f"{self.checkpoint_path}: nothing to resume; start without --resume")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log = RunLog(self.run_dir, enabled=world.is_main)
        wants_flow = config.data.with_flow and config.warp_loss.flow_gt > 0
        self.dataset = PairSampleDataset(data_dirs, split="train", resolution=config.data.resolution,
                                         background=config.data.background,
                                         keypoint_method=config.data.keypoint_method, with_flow=wants_flow,
                                         split_fractions=config.data.split_fractions, uint8=True)
        if config.run.threads:
            torch.set_num_threads(config.run.threads)
        torch.manual_seed(config.run.seed)  # identical initial weights on every rank
        self.model = build_model(config.model, config.data.background).to(world.device)
        self.guard = CollapseGuard(config.data.background, config.run.collapse_patience)
        self.discriminator = build_discriminator(config.model, config.discriminator).to(world.device)
        use_channels_last(self.model, self.discriminator, world.device)
        vgg = None
        if config.uses_vgg:
            vgg = VGGLoss(weights_path=vgg_weights).to(world.device)  # raises one line naming --vgg-weights
        else:
            self.log.note("perceptual and style terms are off in this config (no VGG19 needed)")
        self.warp_loss = WarpLoss(vgg, config.warp_loss)
        self.gen_loss = GeneratorLoss(vgg, config.gen_loss)
        # completed: stages finished in this run folder (any invocation); stage/step: the one in progress
        self.progress = {"completed": [], "stage": None, "step": 0, "global_step": 0}
        self.resume_state = read_checkpoint(self.checkpoint_path) if resume else None
        if self.resume_state is not None:
            self.model.load_state_dict(self.resume_state["model"])
            self.discriminator.load_state_dict(self.resume_state["discriminator"])
            self.progress = dict(self.resume_state["progress"])
            self.log.truncate_after(self.progress["global_step"])
        if world.is_main:
            write_run_files(self.run_dir, self.config.to_dict(), self.dataset.datasets, data_dirs,
                            self.config.data.split_fractions, {"train_samples": len(self.dataset)})


    # ---- checkpoints -------------------------------------------------------------------------
    def _kept_checkpoint(self) -> str:
        return (f"the last good checkpoint is kept at {self.checkpoint_path}" if self.checkpoint_path.exists()
                else "no checkpoint had been written yet")

    def _save(self, optimisers: dict, name: str = "last.pt") -> None:
        if not self.world.is_main or self.guard.suspect:  # never overwrite a good checkpoint with a collapsing one
            return
        save_checkpoint(self.run_dir / "checkpoints" / name, {
            "model": self.model.state_dict(), "discriminator": self.discriminator.state_dict(),
            "optimisers": {key: opt.state_dict() for key, opt in optimisers.items()},
            "progress": dict(self.progress), "rng": rng_state(), "config": self.config.to_dict(),
            "stages": list(self.stages)})

    # ---- data ----------------------------------------------------------------------------------
    def _per_rank_batch(self, stage: Stage) -> int:
        if stage.batch_size % self.world.size:
            raise TrainingError(f"batch size {stage.batch_size} of stage {stage.name} is not divisible by "
                                f"{self.world.size} processes; change optim.batch_size_* in the config")
        return stage.batch_size // self.world.size

    def _loader(self, stage: str, step: int, per_rank: int):
        """Batches of one epoch from `step` on; the order depends only on (seed, stage, epoch)."""
        global_batch = per_rank * self.world.size
        per_epoch = len(self.dataset) // global_batch
        if per_epoch == 0:
            raise TrainingError(f"only {len(self.dataset)} training samples, fewer than the batch size "
                                f"{global_batch}; render more quadruplets or lower the batch size")
        epoch, position = divmod(step, per_epoch)
        sampler = DistributedSampler(self.dataset, num_replicas=self.world.size, rank=self.world.rank,
                                     shuffle=True, seed=self.config.run.seed + STAGE_ORDER.index(stage), drop_last=True)
        sampler.set_epoch(epoch)
        indices = list(sampler)[position * per_rank:per_epoch * per_rank]
        workers = self.config.data.num_workers
        return DataLoader(self.dataset, batch_size=per_rank, sampler=indices, num_workers=workers,
                          drop_last=True, pin_memory=self.world.device.type == "cuda",
                          generator=torch.Generator().manual_seed(self.config.run.seed),  # keeps the global RNG
                          persistent_workers=False)

    # ---- training --------------------------------------------------------------------------------
    def _wrap(self, module):
        if not self.world.distributed:
            return module
        device_ids = [self.world.device.index] if self.world.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=device_ids)

    def _autocast(self):
        if self.world.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def run(self) -> Path:
        """Train the requested stages not yet completed in this run folder; returns the final checkpoint path."""
        remaining = [stage for stage in self.stages if stage not in self.progress["completed"]]
        if self.resume_state is not None:
            if not remaining:
                self.log.note(f"{self.run_dir}: stages {list(self.stages)} already trained; rewriting final.pt only")
            else:
                step = self.progress["step"] if self.progress["stage"] == remaining[0] else 0
                self.log.note(f"resuming at stage {remaining[0]} step {step} (global step "
                              f"{self.progress['global_step']}; completed: {self.progress['completed'] or 'none'})")
        for stage in remaining:
            self._run_stage(stage)
        final = self.run_dir / "checkpoints" / "final.pt"
        if self.world.is_main:
            save_checkpoint(final, {"model": self.model.state_dict(), "config": self.config.to_dict(),
                                    "stages": list(self.progress["completed"]), "progress": dict(self.progress)})
            self.log.note(f"done: {final}")
        self.log.close()
        return final

    def _run_stage(self, name: str) -> None:
        config, world = self.config, self.world
        stage = self.stage_table[name]
        if self.progress["stage"] != name:  # a new stage (a checkpoint inside another one restarts at 0 here)
            self.progress.update(stage=name, step=0)
        optimisers = stage.optimisers(self.model, self.discriminator)
        if self.resume_state is not None:
            if self.progress["step"] > 0:
                for key, opt in optimisers.items():
                    opt.load_state_dict(self.resume_state["optimisers"][key])
            set_rng_state(self.resume_state["rng"])
            self.resume_state = None
        model = self._wrap(self.model)
        discriminator = self._wrap(self.discriminator) if stage.with_discriminator else None
        total = stage.steps
        per_rank = self._per_rank_batch(stage)
        self.log.note(f"stage {name}: {total} steps, batch {per_rank * world.size} "
                      f"({world.size} process{'es' if world.size > 1 else ''}), {len(self.dataset)} training samples")
        bar = tqdm(total=total, initial=self.progress["step"], desc=f"train {name}", unit="step",
                   disable=not world.is_main, dynamic_ncols=True)
        while self.progress["step"] < total:
            for batch in self._loader(name, self.progress["step"], per_rank):
                step = self.progress["step"]
                batch = random_flips(to_device(batch, world.device), config.run.seed, self.progress["global_step"],
                                     config.data.flip_probability)
                with self._autocast():
                    result = model_losses(stage, step, model, discriminator, self.warp_loss, self.gen_loss, batch)
                if not torch.isfinite(result.loss):
                    bar.close()
                    raise NonFiniteLoss(f"non-finite loss at stage {name} step {step} "
                                        f"({ {k: float(v) for k, v in result.terms.items()} }); "
                                        f"{self._kept_checkpoint()}")
                if stage.with_generator and self.guard.update(result.outputs.output, batch["mask_target"]):
                    bar.close()
                    raise GeneratorCollapse(f"generator collapsed at stage {name} step {step}: most outputs blank "
                                            f"for {self.guard.patience} steps; {self._kept_checkpoint()}; lower "
                                            f"gen_loss.adv or raise gen_loss.adv_warmup_steps in the config")
                rate = stage.learning_rate(step)  # a pure function of the step: resume stays exact
                for optimiser in optimisers.values():
                    for group in optimiser.param_groups:
                        group["lr"] = rate
                optimisers["model"].zero_grad(set_to_none=True)
                result.loss.backward()
                optimisers["model"].step()
                if discriminator is not None:
                    with self._autocast():
                        d_loss = discriminator_loss(discriminator, result.outputs, batch)
                    optimisers["discriminator"].zero_grad(set_to_none=True)
                    d_loss.backward()
                    optimisers["discriminator"].step()
                    result.terms["disc/lsgan"] = d_loss.detach()
                self.progress["step"] += 1
                self.progress["global_step"] += 1
                self._after_step(name, result, batch, optimisers, bar, total)
                if self.progress["step"] >= total:
                    break
        bar.close()
        self.progress["completed"].append(name)
        self.progress.update(stage=None, step=0)
        self._save(optimisers)
        self._save(optimisers, f"{name}.pt")

    def _after_step(self, stage, result, batch, optimisers, bar, total) -> None:
        run, step, global_step = self.config.run, self.progress["step"], self.progress["global_step"]
        if step % run.log_every == 0 or step == total:
            terms = {k: all_reduce_mean(v.float(), self.world) for k, v in result.terms.items()}
            self.log.scalars(stage, step, global_step, terms)
            bar.set_postfix(loss=f"{float(terms['total']):.4f}")
        if step % run.image_every == 0 or step == total:
            self.log.images(stage, step, global_step, batch, result.outputs)
        if step % run.checkpoint_every == 0 and step < total:
            self._save(optimisers)
        bar.update(1)

