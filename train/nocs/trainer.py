"""train-nocs: nocs-net on the train split's views on the shared loop of eopose.train.loop, single process or
under torchrun (DDP).

Run-folder conventions as train-eopose (eopose.train.trainer): `checkpoints/last.pt` (every `checkpoint_every`
steps, atomic, with optimiser, progress and RNG states) and `final.pt` (network + config, what `--weights`
takes), `metrics.jsonl`, `samples/nocs-<step>.png` (image | predicted NOCS | true NOCS | predicted mask |
confidence on the predicted foreground), `tensorboard/`, `config.json`, `split.json`. The network takes each
view's category as input when the train split holds several (the sorted list goes into the checkpoints). A
step's data order is a pure function of (seed, epoch), its augmentation of (seed, step, rank) and its learning
rate of the step (cosine decay), so `--resume` continues to the same losses as an uninterrupted run. DDP:
DistributedSampler, gloo on the CPU / nccl on GPUs (eopose.train.distributed), rank-0 logging and checkpoints.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from eopose.dataset.contact_sheet import grid, save_png
from eopose.dataset.keypoints.nocs_net import NocsNet, NocsNetOutput, checkpoint_payload, parameter_count

from ..checkpoint import set_rng_state
from ..distributed import World
from ..loop import StepResult, TrainingError, TrainingLoop, learning_rate
from ..run_log import RunLog
from .augment import augment_views
from .config import NocsTrainConfig
from .data import NocsViewDataset
from .loss import SymmetryGroups, nocs_loss

SHEET_LABELS = ("image", "NOCS predicted", "NOCS true", "mask predicted", "confidence")


class NocsTrainingError(TrainingError):
    """Data that cannot fill a train-nocs batch; the message is one line saying why and what to do."""


class NocsRunLog(RunLog):
    """RunLog with nocs-net's sample sheet."""

    def sheet(self, step: int, images, output, target, rows: int = 6) -> Path | None:
        if not self.enabled:
            return None
        predicted = output.nocs.detach().float().cpu()
        mask, confidence = (torch.sigmoid(logits.detach().float().cpu()) for logits in (output.mask_logits,
                                                                                        output.confidence_logits))
        sheet = grid([[images[i], predicted[i], target[i], mask[i], confidence[i] * mask[i]]
                      for i in range(min(rows, len(images)))], labels=SHEET_LABELS)
        path = save_png(sheet, self.run_dir / "samples" / f"nocs-{step:06d}.png")
        self._writer.add_image("nocs/samples", np.asarray(sheet), step, dataformats="HWC")
        return path


class NocsTrainer(TrainingLoop):
    log_class = NocsRunLog

    def __init__(self, config: NocsTrainConfig, data_dirs, run_dir, world: World, resume: bool = False):
        super().__init__(config, run_dir, world, resume)
        self.dataset = NocsViewDataset(data_dirs, None if config.net.crop > 0 else config.net.resolution, "train",
                                       config.data.split_fractions)
        self.per_rank = config.optim.batch_size // 4 // world.size  # quadruplets per rank and step
        if self.per_rank * 4 * world.size != config.optim.batch_size or len(self.dataset) < self.per_rank * world.size:
            raise NocsTrainingError(f"{len(self.dataset)} train-split quadruplets, batch {config.optim.batch_size} "
                                    f"views on {world.size} process(es): optim.batch_size must be a multiple of "
                                    f"4 x processes and fit the data; render more or lower it")
        self.symmetries = SymmetryGroups(self.dataset.categories, config.loss.symmetry_steps)
        self._open_run_folder()
        torch.manual_seed(config.run.seed)  # identical initial weights on every rank
        self.net = NocsNet(config.net, self.dataset.categories).to(world.device)
        if config.optim.bf16:  # oneDNN's bf16 convolutions are fastest channels-last
            self.net = self.net.to(memory_format=torch.channels_last)
        self.optimisers = {"model": torch.optim.Adam(self.net.parameters(), lr=config.optim.lr)}
        if resume:
            set_rng_state(self._read_resume_state(self._restore)["rng"])
        self._write_run_files(self.dataset, data_dirs, {"train_quadruplets": len(self.dataset)})

    def _restore(self, state: dict) -> None:
        self.net.load_state_dict(state["model"])
        self.optimisers["model"].load_state_dict(state["optimiser"])
        self.step = self.global_step = int(state["progress"]["step"])

    # ---- the loop's hooks ----------------------------------------------------------------------
    def checkpoint_state(self) -> dict:
        return {**checkpoint_payload(self.net), "optimiser": self.optimisers["model"].state_dict(),
                "progress": {"step": self.step}}

    def prepare(self, batch: dict) -> dict:
        """Augmented views (augmentation drawn from (seed, step, rank)) on the device."""
        seed = self.config.run.seed * 1_000_003 + self.step * 1009 + self.world.rank
        images, target, mask = augment_views(batch["rgba"].flatten(0, 1), batch["nocs"].flatten(0, 1),
                                             batch["mask"].flatten(0, 1), self.config.augment,
                                             torch.Generator().manual_seed(seed), self.config.net.crop,
                                             self.config.net.resolution)
        if self.config.optim.bf16:
            images = images.contiguous(memory_format=torch.channels_last)
        views = {"images": images, "target": target, "mask": mask, "category": batch["category"].flatten()}
        return {key: value.to(self.world.device) for key, value in views.items()}

    def losses(self, batch: dict, step: int) -> StepResult:
        with torch.autocast(self.world.device.type, dtype=torch.bfloat16, enabled=self.config.optim.bf16):
            output = self.wrapped_net(batch["images"], batch["category"])  # ignored by a network of one category
        output = NocsNetOutput(*(part.float() for part in output))
        loss, terms = nocs_loss(output, batch["target"], batch["mask"], batch["category"], self.symmetries,
                                self.config.loss)
        return StepResult(loss, terms, output)

    def sample_images(self, stage: str, result: StepResult, batch: dict) -> None:
        self.log.sheet(self.step, batch["images"].cpu(), result.outputs, batch["target"].cpu())

    def learning_rate(self, step: int) -> float:
        """Cosine decay from optim.lr to optim.lr * optim.final_lr_fraction over the run."""
        optim = self.config.optim
        return learning_rate(optim.lr, step, decay_steps=optim.steps, final_fraction=optim.final_lr_fraction)

    def run(self) -> Path:
        """Train to `optim.steps`; returns the final checkpoint (network + config, for --weights)."""
        config = self.config
        total = config.optim.steps
        self.wrapped_net = self._wrap(self.net)
        self.log.note(f"train-nocs: {parameter_count(self.net):,} parameters, {len(self.dataset)} train-split "
                      f"quadruplets ({4 * len(self.dataset)} views), {total} steps of {config.optim.batch_size} views"
                      + (f", resuming at step {self.step}" if self.step else ""))
        self._train("nocs", self.dataset, total, self.per_rank, config.run.seed, self.learning_rate)
        self._save()
        return self._finish({**checkpoint_payload(self.net), "progress": {"step": self.step}})
