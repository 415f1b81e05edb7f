"""DistributedDataParallel plumbing for ``torchrun --nproc_per_node=N -m shedding run``.

Only rank 0 writes outputs. Masks are computed on rank 0 and broadcast, so every rank
prunes identically even if floating-point ties broke differently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


#: The DistInfo of a plain single-process run.
SINGLE_PROCESS = DistInfo()


def init_from_env(device: torch.device) -> DistInfo:
    """Joins the process group when launched by torchrun (WORLD_SIZE > 1), else no-op."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return DistInfo(
        rank=dist.get_rank(),
        world=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sums ``t`` over ranks in place (no-op on one process)."""
    if info.enabled:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast_masks(masks: dict[str, torch.Tensor], info: DistInfo) -> None:
    """Makes every rank's masks equal to rank 0's, in place."""
    if not info.enabled:
        return
    for name in sorted(masks):
        m = masks[name].to(torch.uint8)
        dist.broadcast(m, src=0)
        masks[name].copy_(m.bool())


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
