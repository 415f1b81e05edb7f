"""In-memory image data sets read through torchvision: CIFAR-10/100, MNIST, Fashion-MNIST.

Files live in torchvision's own layout under ``<root>/datasets/<name>/`` (for example
``<root>/datasets/cifar10/cifar-10-batches-py/data_batch_1`` or
``<root>/datasets/mnist/MNIST/raw/train-images-idx3-ubyte``). Nothing is downloaded unless
``SHEDDING_DOWNLOAD=1``. Each split is decoded once into a normalised float32 tensor
(N, C, H, W); CIFAR training augmentation (4-pixel padded random crop + horizontal flip, as
He et al. 2016 and Renda et al. 2020 use) is a batch-level :class:`~shedding.data.augment.CropFlip`.

torchvision's CIFAR reader insists on the md5 of the published archive members; here only
the files' presence is checked and the decoded arrays are validated instead, so that re-packed
copies and the tiny files the tests write load through the same code.
"""

from __future__ import annotations

import gzip
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from shedding.config import DataConfig
from shedding.data.augment import CropFlip
from shedding.data.base import (
    DATASETS,
    DOWNLOAD_ENV,
    DatasetBundle,
    download_allowed,
    tensor_bundle,
)
from shedding.errors import DataError
from shedding.paths import datasets_dir

_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True)
class VisionSpec:
    """How one torchvision data set is found, decoded and normalised.

    Attributes:
        name: Registry name; the data lives in ``<root>/datasets/<name>/``.
        tv_class: Class name in ``torchvision.datasets``.
        folder: Sub-folder of ``<root>/datasets/<name>/`` holding ``files``.
        files: Files that must exist there.
        image_shape: (C, H, W) of one image.
        num_classes: Number of labels.
        mean: Per-channel mean of the [0, 1] pixels, subtracted before dividing by ``std``.
        std: Per-channel standard deviation.
        crop_flip: Whether training uses padded random crop + horizontal flip.
    """

    name: str
    tv_class: str
    folder: str
    files: tuple[str, ...]
    image_shape: tuple[int, int, int]
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop_flip: bool


# Per-channel statistics of each training set (the standardisation of Zagoruyko & Komodakis'
# WRN code and of most CIFAR pruning code; He et al. subtract the per-pixel mean instead).
SPECS: dict[str, VisionSpec] = {
    s.name: s
    for s in (
        VisionSpec(
            "cifar10", "CIFAR10", "cifar-10-batches-py",
            (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"),
            (3, 32, 32), 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), crop_flip=True,
        ),
        VisionSpec(
            "cifar100", "CIFAR100", "cifar-100-python", ("train", "test", "meta"),
            (3, 32, 32), 100, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), crop_flip=True,
        ),
        VisionSpec(
            "mnist", "MNIST", "MNIST/raw", _MNIST_FILES,
            (1, 28, 28), 10, (0.1307,), (0.3081,), crop_flip=False,
        ),
        VisionSpec(
            "fashion_mnist", "FashionMNIST", "FashionMNIST/raw", _MNIST_FILES,
            (1, 28, 28), 10, (0.2860,), (0.3530,), crop_flip=False,
        ),
    )
}  # fmt: skip


def _reader(spec: VisionSpec) -> type:
    """torchvision's class for ``spec``; for CIFAR a subclass that skips the md5 check."""
    import torchvision.datasets as tvd

    base = getattr(tvd, spec.tv_class)
    if not spec.name.startswith("cifar"):
        return base  # torchvision's MNIST readers only check that the raw files exist

    class _CifarFiles(base):  # type: ignore[misc, valid-type]
        def _check_integrity(self) -> bool:
            folder = Path(self.root) / self.base_folder
            return all((folder / f).is_file() for f, _ in self.train_list + self.test_list)

        def _load_meta(self) -> None:
            import pickle

            with open(Path(self.root) / self.base_folder / self.meta["filename"], "rb") as f:
                self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
            self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    return _CifarFiles


def _gunzip_missing(folder: Path, files: tuple[str, ...]) -> None:
    # The MNIST mirrors serve *.gz; torchvision reads the decompressed files. Decompress a
    # user-supplied .gz next to it, as torchvision's own download does.
    for name in files:
        target, gz = folder / name, folder / f"{name}.gz"
        if not target.exists() and gz.is_file():
            tmp = target.with_suffix(".tmp")
            with gzip.open(gz, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(tmp, target)


def _missing_error(spec: VisionSpec, base: Path, folder: Path, missing: list[Path]) -> DataError:
    shown = ", ".join(p.name for p in missing[:3])
    if len(missing) > 3:
        shown += f" and {len(missing) - 3} more"
    return DataError(
        f"data set {spec.name!r} not found: looked in {folder} and found no {shown}. "
        f"To get it on a machine with internet, rerun with {DOWNLOAD_ENV}=1, or run "
        f"`python -c \"import torchvision; torchvision.datasets.{spec.tv_class}('{base}', "
        f'download=True)"`; or copy the files into {folder}/, or point '
        f"--data-root / SHEDDING_DATA_ROOT at a root that has datasets/{spec.name}/{spec.folder}/."
    )


def _locate(spec: VisionSpec, root: Path) -> Path:
    """Returns the torchvision root for ``spec``, downloading when allowed; raises DataError."""
    base = (datasets_dir(root) / spec.name).resolve()
    folder = base / spec.folder
    if spec.files == _MNIST_FILES and folder.is_dir():
        _gunzip_missing(folder, spec.files)
    missing = [folder / f for f in spec.files if not (folder / f).is_file()]
    if missing and download_allowed():
        import torchvision.datasets as tvd

        try:
            getattr(tvd, spec.tv_class)(str(base), train=True, download=True)
        except Exception as e:  # network, disk or checksum failure: one clear line
            raise DataError(f"downloading {spec.name!r} into {base} failed: {e}") from None
        missing = [folder / f for f in spec.files if not (folder / f).is_file()]
    if missing:
        raise _missing_error(spec, base, folder, missing)
    return base


def _decode(spec: VisionSpec, base: Path, *, train: bool) -> tuple[Tensor, Tensor]:
    """Reads one split into (X float32 (N, C, H, W) normalised, y int64 (N,))."""
    try:
        ds = _reader(spec)(str(base), train=train, download=False)
        data, targets = ds.data, ds.targets
    except Exception as e:  # unpickling / parsing errors of a damaged file
        split = "train" if train else "test"
        raise DataError(
            f"data set {spec.name!r} ({split} split) in {base / spec.folder} is unreadable: "
            f"{type(e).__name__}: {e}; delete the folder and fetch it again"
        ) from None
    c, h, w = spec.image_shape
    x = torch.as_tensor(np.asarray(data))
    if x.dim() == 4:  # CIFAR: (N, H, W, C) -> (N, C, H, W)
        x = x.permute(0, 3, 1, 2)
    elif x.dim() == 3:  # MNIST: (N, H, W) -> (N, 1, H, W)
        x = x.unsqueeze(1)
    y = torch.as_tensor(np.asarray(targets), dtype=torch.int64)
    if tuple(x.shape[1:]) != (c, h, w) or x.shape[0] != y.shape[0] or x.dtype != torch.uint8:
        raise DataError(
            f"data set {spec.name!r} in {base / spec.folder} has images of shape "
            f"{tuple(x.shape)} {x.dtype} and {y.shape[0]} labels; expected (N, {c}, {h}, {w}) "
            "uint8 with one label each; delete the folder and fetch it again"
        )
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= spec.num_classes):
        raise DataError(
            f"data set {spec.name!r} in {base / spec.folder} has labels outside "
            f"0..{spec.num_classes - 1}; delete the folder and fetch it again"
        )
    mean = torch.tensor(spec.mean).view(1, c, 1, 1)
    std = torch.tensor(spec.std).view(1, c, 1, 1)
    # uint8 -> float32 in [0, 1], then per-channel standardisation, in place (CIFAR-10's
    # training split is 614 MB as float32; avoid a second copy).
    xf = x.contiguous().to(torch.float32).div_(255.0).sub_(mean).div_(std)
    return xf, y


def load_vision(spec: VisionSpec, cfg: DataConfig, *, root: Path) -> DatasetBundle:
    """Loads both splits of ``spec`` into memory."""
    base = _locate(spec, root)
    train = _decode(spec, base, train=True)
    test = _decode(spec, base, train=False)
    augment = None
    if spec.crop_flip and cfg.augment:
        black = tuple(-m / s for m, s in zip(spec.mean, spec.std, strict=True))
        augment = CropFlip(pad=4, fill=black, flip=True)
    meta: dict[str, Any] = {
        "source": str(base / spec.folder),
        "normalisation": {"mean": list(spec.mean), "std": list(spec.std)},
        "augment": "random crop (pad 4) + horizontal flip" if augment else "none",
    }
    return tensor_bundle(
        spec.name,
        train=train,
        test=test,
        num_classes=spec.num_classes,
        augment=augment,
        meta=meta,
    )


def _register(spec: VisionSpec) -> None:
    def loader(cfg: DataConfig, *, root: Path, seed: int = 0) -> DatasetBundle:
        return load_vision(spec, cfg, root=root)

    loader.__name__ = f"load_{spec.name}"
    loader.__doc__ = f"{spec.tv_class} from <root>/datasets/{spec.name}/{spec.folder}/."
    DATASETS.add(spec.name, loader)


for _spec in SPECS.values():
    _register(_spec)
