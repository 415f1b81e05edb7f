"""Deterministic batching: epoch ``e`` of phase ``key`` always yields the same batches.

The order is a permutation drawn from a generator seeded by ``(seed, key, epoch)`` rather
than from a stateful RNG, so a run resumed at epoch ``e`` sees exactly the batches an
uninterrupted run would (bit-exact resume), and a control run sees the same data order as
the pruned run it controls. Under DDP every rank draws the same permutation and takes
its own strided share.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset


def epoch_generator(seed: int, key: int, epoch: int) -> torch.Generator:
    """A CPU generator seeded from (seed, phase key, epoch); independent streams per triple."""
    g = torch.Generator()
    g.manual_seed((seed * 1_000_003 + key * 10_007 + epoch) % (2**63 - 1))
    return g


class TensorBatches:
    """Batches over in-memory tensors (the fast path: no DataLoader, no worker processes).

    Args:
        x: Inputs, shape (N, ...), already normalised.
        y: Labels, shape (N,), int64.
        batch_size: Global batch size (split across ranks under DDP).
        seed: Experiment seed.
        shuffle: Draw a fresh permutation every epoch (training); off for evaluation.
        augment: Optional ``fn(x, generator) -> x`` applied per batch (deterministic).
        rank: This process's rank; world: number of processes.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.seed, self.shuffle, self.augment = seed, shuffle, augment
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def epoch(self, key: int, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yields this rank's (x, y) batches of epoch ``epoch`` of phase ``key``."""
        g = epoch_generator(self.seed, key, epoch)
        n = len(self.y)
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size][self.rank :: self.world]
            xb, yb = self.x[idx], self.y[idx]
            if self.augment is not None:
                xb = self.augment(xb, g)
            yield xb, yb


class LoaderBatches:
    """Batches through a DataLoader (for data sets too large for memory, e.g. ImageNet)."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        num_workers: int = 0,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        self.dataset, self.batch_size = dataset, batch_size
        self.seed, self.shuffle, self.num_workers = seed, shuffle, num_workers
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.batch_size)  # type: ignore[arg-type]

    def epoch(self, key: int, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.dataset)  # type: ignore[arg-type]
        g = epoch_generator(self.seed, key, epoch)
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        indices = order[self.rank :: self.world].tolist()
        loader = DataLoader(
            self.dataset,
            batch_size=max(1, self.batch_size // self.world),
            sampler=indices,
            num_workers=self.num_workers,
            pin_memory=torch.cuda.is_available(),
        )
        yield from loader
