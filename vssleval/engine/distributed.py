"""``torchrun`` support: which batches this process owns, and a barrier before rank 0 reports.

Each rank computes the maps of its own batches and writes them as shards of the shared run
directory (shards are numbered by batch, so ranks never write the same file); rank 0 waits at a
barrier and then scores the whole store. Under ``torchrun`` on several nodes the output directory
must therefore be on a shared filesystem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from vssleval.engine.device import dist_backend


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def owns(self, batch_number: int) -> bool:
        """Batches are dealt round-robin: rank r takes batches r, r + W, r + 2W, ..."""
        return batch_number % self.world_size == self.rank


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group when launched by ``torchrun`` (NCCL on CUDA, gloo otherwise)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend=dist_backend(device))
    return DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size(),
                    local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def local_device(device: torch.device, info: DistInfo) -> torch.device:
    """On multi-GPU nodes each rank takes the GPU of its local rank."""
    if device.type == "cuda" and info.world_size > 1 and device.index is None:
        torch.cuda.set_device(info.local_rank)
        return torch.device("cuda", info.local_rank)
    return device


def barrier(info: DistInfo) -> None:
    if info.world_size > 1 and dist.is_initialized():
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()
