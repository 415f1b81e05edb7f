"""The data-set registry, the bundle every loader returns, and helpers shared by loaders.

A loader is registered under a lowercase name and called as
``loader(cfg, root=<data root>, seed=seed) -> DatasetBundle``. It returns the *full* data set;
:func:`load_dataset` applies ``cfg.subset_train`` / ``cfg.subset_test`` afterwards so every
loader caps sizes the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset, TensorDataset

from shedding.config import DataConfig
from shedding.errors import ConfigError
from shedding.registry import Registry

#: Environment variable that allows loaders to download missing data (``1`` = allowed).
DOWNLOAD_ENV = "SHEDDING_DOWNLOAD"

#: A tensor-level training augmentation: ``augment(x, generator) -> x`` on a batch (N, ...).
Augment = Callable[[Tensor, torch.Generator], Tensor]


@dataclass
class DatasetBundle:
    """A loaded data set, ready for the training loop.

    Attributes:
        name: Registry name (``mnist1d``, ``cifar10``, ...).
        train: Training split as a map-style Dataset of ``(x, y)``. For in-memory sets this
            is a ``TensorDataset`` over ``train_tensors`` *without* augmentation: apply
            ``augment`` to each training batch (the loop's ``TensorBatches`` does).
        test: Test split, never augmented.
        num_classes: Number of classes; labels are ``0 .. num_classes - 1``.
        input_shape: Shape of one example, ``(C, L)`` or ``(C, H, W)``.
        train_tensors: ``(X float32 normalised, y int64)`` when the split fits in memory,
            so the loop can batch with index tensors; None for streaming sets (imagefolder).
        test_tensors: The same for the test split.
        augment: Batch augmentation for training, deterministic given a
            ``torch.Generator``; None when the data set has none or ``cfg.augment`` is off.
        meta: JSON-safe description (source path, normalisation, augmentation, sizes)
            for the run file.
    """

    name: str
    train: Dataset
    test: Dataset
    num_classes: int
    input_shape: tuple[int, ...]
    train_tensors: tuple[Tensor, Tensor] | None = None
    test_tensors: tuple[Tensor, Tensor] | None = None
    augment: Augment | None = None
    meta: dict[str, Any] = field(default_factory=dict)


#: Loader signature: ``loader(cfg, *, root, seed) -> DatasetBundle``.
Loader = Callable[..., DatasetBundle]

DATASETS: Registry[Loader] = Registry("dataset")


def download_allowed() -> bool:
    """True when ``SHEDDING_DOWNLOAD=1`` (downloads are off by default)."""
    return os.environ.get(DOWNLOAD_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def tensor_bundle(
    name: str,
    *,
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    num_classes: int,
    augment: Augment | None = None,
    meta: dict[str, Any] | None = None,
) -> DatasetBundle:
    """Builds a bundle for an in-memory data set (X float32 normalised, y int64)."""
    xs, ys = train
    xt, yt = test
    return DatasetBundle(
        name=name,
        train=TensorDataset(xs, ys),
        test=TensorDataset(xt, yt),
        num_classes=num_classes,
        input_shape=tuple(xs.shape[1:]),
        train_tensors=(xs, ys),
        test_tensors=(xt, yt),
        augment=augment,
        meta=dict(meta or {}),
    )


def _len(ds: Any) -> int:
    """Size of a map-style data set (torch's Dataset type does not declare __len__)."""
    return len(ds)


def _subset_indices(n: int, cap: int, seed: int, salt: int) -> Tensor:
    # A seeded random subset, sorted so examples keep their original order.
    g = torch.Generator().manual_seed(seed * 1_000_003 + salt)
    return torch.randperm(n, generator=g)[:cap].sort().values


def _check_cap(key: str, cap: int | None) -> None:
    if cap is not None and cap < 1:
        raise ConfigError(f"data.{key}={cap!r} must be a positive number of examples or unset")


def apply_subsets(bundle: DatasetBundle, cfg: DataConfig, *, seed: int) -> DatasetBundle:
    """Caps the splits at ``cfg.subset_train`` / ``cfg.subset_test`` examples.

    The kept examples are a random subset drawn from ``seed`` (same seed, same subset).
    A cap at or above the split size keeps the whole split.
    """
    _check_cap("subset_train", cfg.subset_train)
    _check_cap("subset_test", cfg.subset_test)
    out = bundle
    for split, cap, salt in (("train", cfg.subset_train, 1), ("test", cfg.subset_test, 2)):
        ds = getattr(out, split)
        n = len(ds)
        if cap is None or cap >= n:
            continue
        idx = _subset_indices(n, cap, seed, salt)
        tensors = getattr(out, f"{split}_tensors")
        if tensors is not None:
            x, y = tensors[0][idx], tensors[1][idx]
            fields: dict[str, Any] = {split: TensorDataset(x, y), f"{split}_tensors": (x, y)}
            out = replace(out, **fields)
        else:
            subset: dict[str, Any] = {split: Subset(ds, idx.tolist())}
            out = replace(out, **subset)
    if out is not bundle:
        out.meta = {**bundle.meta, "n_train": _len(out.train), "n_test": _len(out.test)}
    return out


def load_dataset(cfg: DataConfig, *, root: Path, seed: int = 0) -> DatasetBundle:
    """Loads the data set ``cfg.name`` from the data root.

    Args:
        cfg: Data config; ``name`` picks the registry entry, ``augment`` switches training
            augmentation, ``subset_train`` / ``subset_test`` cap the split sizes.
        root: The data root (see :func:`shedding.paths.data_root`); data sets live under
            ``root/datasets/<name>/``.
        seed: Picks the random subset when a cap applies.

    Returns:
        The bundle; ``meta`` records where the data came from.

    Raises:
        ConfigError: Unknown data set name (the message lists the valid ones) or bad caps.
        DataError: The data is missing or unreadable; the message names the path looked at
            and how to get the data.
    """
    loader = DATASETS.get(cfg.name)
    bundle = loader(cfg, root=Path(root), seed=seed)
    sized = cfg.num_train is not None or cfg.num_test is not None
    if sized and not bundle.meta.get("generated_sizes"):
        raise ConfigError(
            f"data.num_train / data.num_test ask a generator for a size, and {cfg.name!r} is "
            "a fixed data set; use data.subset_train / data.subset_test to take fewer examples"
        )
    bundle.meta.setdefault("n_train", _len(bundle.train))
    bundle.meta.setdefault("n_test", _len(bundle.test))
    return apply_subsets(bundle, cfg, seed=seed)
