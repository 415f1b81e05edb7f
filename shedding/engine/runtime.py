"""Where and how an experiment executes: device, batches, DDP wrapping, signals."""

from __future__ import annotations

import signal
from typing import Any

import torch
from torch import nn

from shedding.config import ExperimentConfig
from shedding.errors import ConfigError
from shedding.train.batches import LoaderBatches, TensorBatches
from shedding.train.distributed import DistInfo, cleanup, init_from_env


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; an unavailable device is a ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r} but CUDA is not available; use device='cpu'")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device={name!r} is not a torch device; use auto, cpu or cuda") from None


def make_batches(bundle: Any, cfg: ExperimentConfig, info: DistInfo) -> tuple[Any, Any]:
    """The run's training and test batches: in-memory tensors when the data set has them
    (MNIST-1D), else a DataLoader; sharded over torchrun's ranks, seeded by the config."""
    dc = cfg.data
    common: dict[str, Any] = {"seed": cfg.seed, "rank": info.rank, "world": info.world}
    if bundle.train_tensors is not None:
        aug = bundle.augment if dc.augment else None
        (x, y), (xt, yt) = bundle.train_tensors, bundle.test_tensors
        train: TensorBatches | LoaderBatches = TensorBatches(
            x, y, dc.batch_size, augment=aug, **common
        )
        test: TensorBatches | LoaderBatches = TensorBatches(
            xt, yt, dc.test_batch_size, shuffle=False, **common
        )
    else:
        common["num_workers"] = dc.num_workers
        train = LoaderBatches(bundle.train, dc.batch_size, **common)
        test = LoaderBatches(bundle.test, dc.test_batch_size, shuffle=False, **common)
    return train, test


def wrap_ddp(model: nn.Module, device: torch.device, info: DistInfo) -> nn.Module:
    if not info.enabled:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def sigterm_as_interrupt() -> Any:
    """SIGTERM (cluster pre-emption, `kill`) ends the run like Ctrl-C: status interrupted."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. a sweep worker thread)
        return None


class Runtime:
    """The process-level set-up of one run, undone on exit whatever happens.

    Entering picks the device, joins the torchrun process group (when launched by
    torchrun) and turns SIGTERM into an interrupt; leaving restores the SIGTERM handler
    and leaves the process group.

    Attributes:
        device: Where the run trains.
        info: This process's rank and world (``info.is_main`` writes files).
    """

    def __init__(self, device_name: str) -> None:
        self.device = resolve_device(device_name)
        self.info = init_from_env(self.device)
        if self.device.type == "cuda" and self.info.enabled:
            self.device = torch.device("cuda", self.info.local_rank)
            torch.cuda.set_device(self.device)
        self._old_handler: Any = None

    def __enter__(self) -> Runtime:
        self._old_handler = sigterm_as_interrupt()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._old_handler is not None:
            signal.signal(signal.SIGTERM, self._old_handler)
        cleanup(self.info)

    def forward_model(self, model: nn.Module) -> nn.Module:
        """``model`` as the training loop calls it (DDP-wrapped under torchrun)."""
        return wrap_ddp(model, self.device, self.info)
