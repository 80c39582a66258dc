"""Run under torchrun: one DDP step's gradients on a fixed global batch, saved by rank 0 (tests/test_train.py)."""
import sys

import torch
from torch.nn.parallel import DistributedDataParallel

from eopose.dataset.pairs import PairSampleDataset
from eopose.train.config import load_config
from eopose.train.distributed import close_world, init_world
from eopose.train.steps import model_losses
from eopose.train.stages import build_stage
from eopose.model.loading import build_discriminator, build_model
from eopose.model.losses import GeneratorLoss, WarpLoss


def batch_of(dataset, indices):
    items = [dataset[i] for i in indices]
    return {k: torch.stack([item[k] for item in items]) for k in items[0] if isinstance(items[0][k], torch.Tensor)}


def gradients(stage, data_dir, indices, world=None):
    config = load_config("tiny")
    dataset = PairSampleDataset(data_dir, resolution=64, keypoint_method="nocs", with_flow=True)
    torch.manual_seed(0)
    model = build_model(config.model, config.data.background)
    discriminator = build_discriminator(config.model, config.discriminator)
    stage = build_stage(config, stage)
    stage.set_trainable(model)
    if world is not None and world.distributed:
        model = DistributedDataParallel(model)
        discriminator = DistributedDataParallel(discriminator)
    result = model_losses(stage, 0, model, discriminator if stage.with_discriminator else None,
                          WarpLoss(None, config.warp_loss), GeneratorLoss(None, config.gen_loss),
                          batch_of(dataset, indices))
    result.loss.backward()
    module = model.module if hasattr(model, "module") else model
    return {name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None}


if __name__ == "__main__":
    out, data_dir, stage = sys.argv[1], sys.argv[2], sys.argv[3]
    world = init_world("cpu")
    global_batch = list(range(8))
    share = len(global_batch) // world.size
    grads = gradients(stage, data_dir, global_batch[world.rank * share:(world.rank + 1) * share], world)
    if world.is_main:
        torch.save(grads, out)
    close_world(world)
