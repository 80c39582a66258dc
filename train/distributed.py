"""torchrun / DistributedDataParallel plumbing: process group from the environment, rank helpers.

Under `torchrun` (RANK, WORLD_SIZE, LOCAL_RANK set) the process group uses nccl on GPUs and gloo on
the CPU; a plain `python`/console-script run is a world of one with no process group.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def init_world(device: str = "auto") -> World:
    """Join the torchrun process group if there is one and pick this process's device."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no CUDA device; use --device cpu")
    chosen = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(chosen)
    if size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=size)
    return World(rank=rank, size=size, local_rank=local_rank, device=chosen)


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def all_reduce_mean(value: torch.Tensor, world: World) -> torch.Tensor:
    """Mean of a tensor over ranks (for logging the same loss on every rank)."""
    if not world.distributed:
        return value
    value = value.detach().clone()
    dist.all_reduce(value)
    return value / world.size


def close_world(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def joined_world(device: str = "auto"):
    """init_world for the duration of a `with` block, closed however the block ends (the trainers' CLIs)."""
    world = init_world(device)
    try:
        yield world
    finally:
        close_world(world)
