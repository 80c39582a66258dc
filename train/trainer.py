"""train-eopose: the stages of eopose.train.stages in order (paper, 3.4.2: warp, then generator with the warp
frozen, then end-to-end) on the shared loop of eopose.train.loop.

Runs as one process or under torchrun (DDP: DistributedSampler with set_epoch, rank-0 logging and
checkpoints, gloo on CPU / nccl on GPU, bf16 autocast and channels_last on GPU). Progress is counted
in steps per stage; the data order of a step is a pure function of (seed, stage, step), and checkpoints
carry every RNG state, so `--resume` after a kill continues to the same losses as an uninterrupted run.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from eopose.model.discriminator import PatchDiscriminator
from eopose.model.eopose import EOPose
from eopose.model.loading import build_discriminator, build_model
from eopose.model.losses import GeneratorLoss, VGGLoss, WarpLoss

from .augment import perturb_rotations, random_flips
from .checkpoint import set_rng_state
from .collapse import CollapseGuard
from .config import TrainConfig, pair_samples
from .distributed import World
from .loop import StepResult, TrainingError, TrainingLoop
from .stages import STAGE_ORDER, Stage, build_stages, selected_stages
from .steps import discriminator_loss, model_losses, to_device


class GeneratorCollapse(TrainingError):
    """The generator's outputs went blank (train/collapse.py); the last good checkpoint is kept."""


def use_channels_last(model: EOPose, discriminator: PatchDiscriminator, device: torch.device) -> None:
    """channels_last on GPU (tensor cores). On the CPU only the warp module: its oneDNN convolutions
    measured 3-6x faster than contiguous at 128x128 (demo config, warp step 3.3 s -> 0.5 s), while the
    generator's backward in channels_last segfaults inside torch 2.14.1's CPU kernels. Only 2-D convolutions: the
    volume3d warp keeps its 3-D ones channels-last-3d itself (eopose.model.volume_warp)."""
    for module in (model, discriminator) if device.type == "cuda" else (model.warp,):
        for layer in module.modules():
            if isinstance(layer, nn.Conv2d):
                layer.to(memory_format=torch.channels_last)


class Trainer(TrainingLoop):
    def __init__(self, config: TrainConfig, data_dirs, run_dir, world: World, stage: str = "all",
                 resume: bool = False, vgg_weights=None):
        super().__init__(config, run_dir, world, resume)
        self.stages = selected_stages(stage)
        self.stage_table = build_stages(config)
        self._open_run_folder()
        self.dataset = pair_samples(config, data_dirs, "train", with_flow=config.uses_flow, uint8=True)
        if config.inert_settings():
            self.log.note(f"note: {config.inert_settings()}")
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
        self.completed = []  # stages finished in this run folder (any invocation)
        self.stage = None  # the Stage in progress
        self.stage_name = None  # its name, also in a checkpoint read before the stage starts
        self.wrapped_model = self.wrapped_discriminator = None  # the stage's networks, in DDP under torchrun
        self.resume_state = self._read_resume_state(self._restore) if resume else None
        self._write_run_files(self.dataset, data_dirs, {"train_samples": len(self.dataset)})

    def _restore(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.discriminator.load_state_dict(state["discriminator"])
        progress = state["progress"]
        self.completed, self.stage_name = list(progress["completed"]), progress["stage"]
        self.step, self.global_step = progress["step"], progress["global_step"]

    def _progress(self) -> dict:
        return {"completed": list(self.completed), "stage": self.stage_name, "step": self.step,
                "global_step": self.global_step}

    # ---- the loop's hooks ----------------------------------------------------------------------
    def checkpoint_state(self) -> dict:
        return {"model": self.model.state_dict(), "discriminator": self.discriminator.state_dict(),
                "optimisers": {key: opt.state_dict() for key, opt in self.optimisers.items()},
                "progress": self._progress(), "stages": list(self.stages)}

    def may_save(self) -> bool:
        return not self.guard.suspect  # never overwrite a good checkpoint with a collapsing one

    def prepare(self, batch: dict) -> dict:
        batch = random_flips(to_device(batch, self.world.device), self.config.run.seed, self.global_step,
                             self.config.data.flip_probability)
        return perturb_rotations(batch, self.config.run.seed, self.global_step, self.config.data.rotation_noise_deg)

    def losses(self, batch: dict, step: int) -> StepResult:
        with self._autocast():
            return model_losses(self.stage, step, self.wrapped_model, self.wrapped_discriminator, self.warp_loss, self.gen_loss,
                                batch)

    def check(self, result: StepResult, batch: dict, stage: str) -> None:
        if self.stage.with_generator and self.guard.update(result.outputs.output, batch["mask_target"]):
            raise GeneratorCollapse(f"generator collapsed at stage {stage} step {self.step}: most outputs blank "
                                    f"for {self.guard.patience} steps; {self._kept_checkpoint()}; lower "
                                    f"gen_loss.adv or raise gen_loss.adv_warmup_steps in the config")

    def after_update(self, result: StepResult, batch: dict) -> None:
        if self.wrapped_discriminator is None:
            return
        with self._autocast():
            d_loss = discriminator_loss(self.wrapped_discriminator, result.outputs, batch)
        self.optimisers["discriminator"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimisers["discriminator"].step()
        result.terms["disc/lsgan"] = d_loss.detach()

    def sample_images(self, stage: str, result: StepResult, batch: dict) -> None:
        self.log.images(stage, self.step, self.global_step, batch, result.outputs)

    # ---- stages --------------------------------------------------------------------------------
    def _per_rank_batch(self, stage: Stage) -> int:
        if stage.batch_size % self.world.size:
            raise TrainingError(f"batch size {stage.batch_size} of stage {stage.name} is not divisible by "
                                f"{self.world.size} processes; change optim.batch_size_* in the config")
        return stage.batch_size // self.world.size

    def _autocast(self):
        if self.world.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def run(self):
        """Train the requested stages not yet completed in this run folder; returns the final checkpoint path."""
        remaining = [stage for stage in self.stages if stage not in self.completed]
        if self.resume_state is not None:
            if not remaining:
                self.log.note(f"{self.run_dir}: stages {list(self.stages)} already trained; rewriting final.pt only")
            else:
                step = self.step if self.stage_name == remaining[0] else 0
                self.log.note(f"resuming at stage {remaining[0]} step {step} (global step "
                              f"{self.global_step}; completed: {self.completed or 'none'})")
        for stage in remaining:
            self._run_stage(self.stage_table[stage])
        return self._finish({"model": self.model.state_dict(), "stages": list(self.completed),
                             "progress": self._progress()})

    def _run_stage(self, stage: Stage) -> None:
        world = self.world
        if self.stage_name != stage.name:  # a new stage (a checkpoint inside another one restarts at 0 here)
            self.stage_name, self.step = stage.name, 0
        self.stage = stage
        self.optimisers = stage.optimisers(self.model, self.discriminator)
        if self.resume_state is not None:
            if self.step > 0:
                for key, opt in self.optimisers.items():
                    opt.load_state_dict(self.resume_state["optimisers"][key])
            set_rng_state(self.resume_state["rng"])
            self.resume_state = None
        self.wrapped_model = self._wrap(self.model)
        self.wrapped_discriminator = self._wrap(self.discriminator) if stage.with_discriminator else None
        per_rank = self._per_rank_batch(stage)
        self.log.note(f"stage {stage.name}: {stage.steps} steps, batch {per_rank * world.size} "
                      f"({world.size} process{'es' if world.size > 1 else ''}), {len(self.dataset)} training samples")
        order_seed = self.config.run.seed + STAGE_ORDER.index(stage.name)
        self._train(stage.name, self.dataset, stage.steps, per_rank, order_seed, stage.learning_rate)
        self.completed.append(stage.name)
        self.stage_name, self.step = None, 0
        self._save()
        self._save(f"{stage.name}.pt")
