"""Data sets: a registry of loaders that return a :class:`DatasetBundle`.

Example:
    >>> from shedding.config import DataConfig
    >>> bundle = load_dataset(DataConfig(name="mnist1d"), root=data_root())  # doctest: +SKIP
    >>> bundle.input_shape, bundle.num_classes  # doctest: +SKIP
    ((1, 40), 10)

Entries: ``mnist1d`` (generated offline, cached), ``cifar10``, ``cifar100``, ``mnist``,
``fashion_mnist`` (torchvision files, in memory), ``imagefolder`` (ImageNet-style trees).
"""

from shedding.data import imagefolder, mnist1d, vision  # noqa: F401  (register entries)
from shedding.data.augment import CropFlip
from shedding.data.base import (
    DATASETS,
    DOWNLOAD_ENV,
    Augment,
    DatasetBundle,
    apply_subsets,
    download_allowed,
    load_dataset,
)

__all__ = [
    "DATASETS",
    "DOWNLOAD_ENV",
    "Augment",
    "CropFlip",
    "DatasetBundle",
    "apply_subsets",
    "download_allowed",
    "load_dataset",
]
