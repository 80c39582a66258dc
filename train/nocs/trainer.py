"""The train-nocs loop: nocs-net on the train split's views, single process or under torchrun (DDP).

Run-folder conventions as train-eopose (eopose.train.trainer): `checkpoints/last.pt` (every `checkpoint_every`
steps, atomic, with optimiser, progress and RNG states) and `final.pt` (network + config, what `--weights`
takes), `metrics.jsonl`, `samples/nocs-<step>.png` (image | predicted NOCS | true NOCS | predicted mask |
confidence on the predicted foreground), `tensorboard/`, `config.json`, `split.json`. A step's data order is a
pure function of (seed, epoch), its augmentation of (seed, step, rank) and its learning rate of the step (cosine
decay), so `--resume` continues to the same losses as an uninterrupted run. DDP: DistributedSampler, gloo on the
CPU / nccl on GPUs (eopose.train.distributed), rank-0 logging and checkpoints.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from eopose.dataset.contact_sheet import grid, save_png
from eopose.dataset.keypoints.nocs_net import NocsNet, checkpoint_payload, parameter_count

from ..checkpoint import rng_state, save_checkpoint, set_rng_state
from ..distributed import World, all_reduce_mean
from ..loop import learning_rate
from ..run_log import RunLog, write_run_files
from .augment import augment_views
from .config import NocsTrainConfig
from .data import NocsViewDataset
from .loss import nocs_loss

SHEET_LABELS = ("image", "NOCS predicted", "NOCS true", "mask predicted", "confidence")


class NocsTrainingError(RuntimeError):
    """A run that cannot start or go on; the message is one line saying why and what to do."""


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


class NocsTrainer:
    def __init__(self, config: NocsTrainConfig, data_dirs, run_dir, world: World, resume: bool = False):
        self.config, self.world = config, world
        self.run_dir = Path(run_dir)
        self.checkpoint_path = self.run_dir / "checkpoints" / "last.pt"
        if self.checkpoint_path.exists() and not resume:
            raise NocsTrainingError(f"{self.run_dir}: already holds a run; pass --resume to continue it or choose "
                                    f"a new --out")
        if resume and not self.checkpoint_path.exists():
            raise NocsTrainingError(f"{self.checkpoint_path}: nothing to resume; start without --resume")
        self.dataset = NocsViewDataset(data_dirs, config.net.resolution, "train", config.data.split_fractions,
                                       config.loss.symmetric_categories)
        self.per_rank = config.optim.batch_size // 4 // world.size  # quadruplets per rank and step
        if self.per_rank * 4 * world.size != config.optim.batch_size or len(self.dataset) < self.per_rank * world.size:
            raise NocsTrainingError(f"{len(self.dataset)} train-split quadruplets, batch {config.optim.batch_size} "
                                    f"views on {world.size} process(es): optim.batch_size must be a multiple of "
                                    f"4 x processes and fit the data; render more or lower it")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log = NocsRunLog(self.run_dir, enabled=world.is_main)
        torch.manual_seed(config.run.seed)  # identical initial weights on every rank
        self.net = NocsNet(config.net).to(world.device)
        self.optimiser = torch.optim.Adam(self.net.parameters(), lr=config.optim.lr)
        self.step = 0
        if resume:
            try:
                state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
                self.net.load_state_dict(state["model"])
                self.optimiser.load_state_dict(state["optimiser"])
            except Exception as error:  # a damaged file or another run's checkpoint
                raise NocsTrainingError(f"{self.checkpoint_path}: cannot resume from it ({type(error).__name__}); "
                                        f"start a new --out") from None
            self.step = int(state["progress"]["step"])
            set_rng_state(state["rng"])
            self.log.truncate_after(self.step)
        if world.is_main:
            write_run_files(self.run_dir, self.config.to_dict(), self.dataset.datasets, data_dirs,
                            self.config.data.split_fractions, {"train_quadruplets": len(self.dataset)})


    def _loader(self, step: int):
        """Batches of one epoch from `step` on; the order depends only on (seed, epoch)."""
        per_epoch = len(self.dataset) // (self.per_rank * self.world.size)
        epoch, position = divmod(step, per_epoch)
        sampler = DistributedSampler(self.dataset, num_replicas=self.world.size, rank=self.world.rank, shuffle=True,
                                     seed=self.config.run.seed, drop_last=True)
        sampler.set_epoch(epoch)
        indices = list(sampler)[position * self.per_rank:per_epoch * self.per_rank]
        return DataLoader(self.dataset, batch_size=self.per_rank, sampler=indices,
                          num_workers=self.config.data.num_workers, drop_last=True)

    def _save(self, name: str = "last.pt") -> None:
        if self.world.is_main:
            save_checkpoint(self.run_dir / "checkpoints" / name, {
                **checkpoint_payload(self.net), "optimiser": self.optimiser.state_dict(),
                "progress": {"step": self.step}, "rng": rng_state(), "config": self.config.to_dict()})

    def run(self) -> Path:
        """Train to `optim.steps`; returns the final checkpoint (network + config, for --weights)."""
        config, world = self.config, self.world
        total = config.optim.steps
        net = self.net if not world.distributed else DistributedDataParallel(
            self.net, device_ids=[world.device.index] if world.device.type == "cuda" else None)
        self.log.note(f"train-nocs: {parameter_count(self.net):,} parameters, {len(self.dataset)} train-split "
                      f"quadruplets ({4 * len(self.dataset)} views), {total} steps of {config.optim.batch_size} views"
                      + (f", resuming at step {self.step}" if self.step else ""))
        bar = tqdm(total=total, initial=self.step, desc="train-nocs", unit="step", disable=not world.is_main,
                   dynamic_ncols=True)
        while self.step < total:
            for batch in self._loader(self.step):
                generator = torch.Generator().manual_seed(config.run.seed * 1_000_003 + self.step * 1009 + world.rank)
                images, target, mask = augment_views(batch["rgba"].flatten(0, 1), batch["nocs"].flatten(0, 1),
                                                     batch["mask"].flatten(0, 1), config.augment, generator)
                images, target, mask = (t.to(world.device) for t in (images, target, mask))
                symmetric = batch["symmetric"].flatten().to(world.device)
                for group in self.optimiser.param_groups:
                    group["lr"] = learning_rate(config.optim.lr, self.step, decay_steps=config.optim.steps,
                                                final_fraction=config.optim.final_lr_fraction)
                output = net(images)
                loss, terms = nocs_loss(output, target, mask, symmetric, config.loss)
                if not torch.isfinite(loss):
                    raise NocsTrainingError(f"non-finite loss at step {self.step}; the last good checkpoint is kept "
                                            f"at {self.checkpoint_path}")
                self.optimiser.zero_grad(set_to_none=True)
                loss.backward()
                self.optimiser.step()
                self.step += 1
                self._after_step(terms, images, output, target, bar)
                if self.step >= total:
                    break
        bar.close()
        self._save()
        final = self.run_dir / "checkpoints" / "final.pt"
        if world.is_main:
            save_checkpoint(final, {**checkpoint_payload(self.net), "config": self.config.to_dict(),
                                    "progress": {"step": self.step}})
            self.log.note(f"done: {final}")
        self.log.close()
        return final

    def _after_step(self, terms, images, output, target, bar) -> None:
        run, step, total = self.config.run, self.step, self.config.optim.steps
        if step % run.log_every == 0 or step == total:
            terms = {name: all_reduce_mean(value.float(), self.world) for name, value in terms.items()}
            self.log.scalars("nocs", step, step, terms)
            bar.set_postfix(loss=f"{float(terms['total']):.4f}")
        if step % run.image_every == 0 or step == total:
            self.log.sheet(step, images.cpu(), output, target.cpu())
        if step % run.checkpoint_every == 0 and step < total:
            self._save()
        bar.update(1)
