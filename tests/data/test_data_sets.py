"""Every data-set entry loaded through the real code from tiny files in the real formats.

The writers below produce the on-disk layouts torchvision reads (pickled CIFAR batches, IDX
``*-ubyte`` files, an image-folder tree of PNGs). MNIST-1D's entry is fed a tiny cache file
here; its real generation is tested in test_data_mnist1d.py.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from shedding.config import DataConfig
from shedding.data import DATASETS, DOWNLOAD_ENV, CropFlip, load_dataset
from shedding.data import mnist1d as m1d
from shedding.data.vision import SPECS
from shedding.errors import ConfigError, DataError


@pytest.fixture(autouse=True)
def _no_download(monkeypatch):
    monkeypatch.delenv(DOWNLOAD_ENV, raising=False)
    monkeypatch.delenv("SHEDDING_IMAGEFOLDER", raising=False)
    torch.set_num_threads(1)


# --------------------------------------------------------------------------- tiny writers


def pattern(n: int, shape: tuple[int, ...], offset: int = 0) -> np.ndarray:
    """uint8 images (n, *shape) whose every pixel value encodes its position."""
    idx = np.indices((n, *shape)).reshape(len(shape) + 1, -1)
    weights = np.array([7, 50, 3, 11][: len(shape) + 1])[:, None]
    return ((idx * weights).sum(0) + offset).reshape(n, *shape).astype(np.uint8)


def _pickle(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def write_cifar10(root: Path, n_per_batch: int = 4, n_test: int = 6) -> None:
    folder = root / "datasets" / "cifar10" / "cifar-10-batches-py"
    for i in range(1, 6):
        imgs = pattern(n_per_batch, (3, 32, 32), offset=i)  # (N, C, H, W): CIFAR row layout
        _pickle(
            folder / f"data_batch_{i}",
            {
                "batch_label": f"training batch {i} of 5",
                "labels": [(i + j) % 10 for j in range(n_per_batch)],
                "data": imgs.reshape(n_per_batch, 3072),
                "filenames": [f"img_{i}_{j}.png" for j in range(n_per_batch)],
            },
        )
    _pickle(
        folder / "test_batch",
        {
            "batch_label": "testing batch 1 of 1",
            "labels": [j % 10 for j in range(n_test)],
            "data": pattern(n_test, (3, 32, 32), offset=100).reshape(n_test, 3072),
            "filenames": [f"t_{j}.png" for j in range(n_test)],
        },
    )
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship"]
    _pickle(
        folder / "batches.meta",
        {"label_names": [*names, "truck"], "num_cases_per_batch": n_per_batch, "num_vis": 3072},
    )


def write_cifar100(root: Path, n_train: int = 10, n_test: int = 5) -> None:
    folder = root / "datasets" / "cifar100" / "cifar-100-python"
    for split, n, off in (("train", n_train, 0), ("test", n_test, 9)):
        _pickle(
            folder / split,
            {
                "filenames": [f"{split}_{j}.png" for j in range(n)],
                "batch_label": f"{split} batch",
                "fine_labels": [(off + 11 * j) % 100 for j in range(n)],
                "coarse_labels": [j % 20 for j in range(n)],
                "data": pattern(n, (3, 32, 32), offset=off).reshape(n, 3072),
            },
        )
    _pickle(
        folder / "meta",
        {
            "fine_label_names": [f"fine{i}" for i in range(100)],
            "coarse_label_names": [f"coarse{i}" for i in range(20)],
        },
    )


def _idx_bytes(arr: np.ndarray) -> bytes:
    # IDX: two zero bytes, type code 0x08 (uint8), number of dims, big-endian int32 dims, data.
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write_mnist_like(
    root: Path, name: str, sub: str, *, gz: bool, n: int = 12, nt: int = 5
) -> None:
    raw = root / "datasets" / name / sub / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    files = {
        "train-images-idx3-ubyte": pattern(n, (28, 28), offset=1),
        "train-labels-idx1-ubyte": np.arange(n) % 10,
        "t10k-images-idx3-ubyte": pattern(nt, (28, 28), offset=2),
        "t10k-labels-idx1-ubyte": (np.arange(nt) * 3) % 10,
    }
    for fname, arr in files.items():
        data = _idx_bytes(arr)
        if gz:
            with gzip.open(raw / f"{fname}.gz", "wb") as f:
                f.write(data)
        else:
            (raw / fname).write_bytes(data)


def write_imagefolder(tree: Path, classes=("cat", "dog"), n: int = 2) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in classes:
            d = tree / split / c
            d.mkdir(parents=True, exist_ok=True)
            for j in range(n):
                arr = rng.integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
                Image.fromarray(arr).save(d / f"{c}_{j}.png")


def write_mnist1d_cache(root: Path) -> None:
    """A tiny stand-in cache at the path of the default generation arguments."""
    rng = np.random.default_rng(0)
    arrays = {
        "x": rng.standard_normal((30, 40)).astype(np.float32),
        "y": np.arange(30, dtype=np.int64) % 10,
        "x_test": rng.standard_normal((10, 40)).astype(np.float32),
        "y_test": np.arange(10, dtype=np.int64),
    }
    path = m1d.cache_path(root, m1d.default_args())
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)


MAKERS: dict[str, Callable[[Path], None]] = {
    "mnist1d": write_mnist1d_cache,
    "cifar10": write_cifar10,
    "cifar100": write_cifar100,
    "mnist": lambda r: write_mnist_like(r, "mnist", "MNIST", gz=False),
    "fashion_mnist": lambda r: write_mnist_like(r, "fashion_mnist", "FashionMNIST", gz=True),
    "imagefolder": lambda r: write_imagefolder(r / "datasets" / "imagefolder"),
}


# --------------------------------------------------------------------------- every entry


def test_every_registered_data_set_has_a_tiny_writer():
    assert set(MAKERS) == set(DATASETS.names())


@pytest.mark.parametrize("name", DATASETS.names())
def test_bundle_contract_holds_for_every_entry(name, tmp_path):
    MAKERS[name](tmp_path)
    b = load_dataset(DataConfig(name=name), root=tmp_path, seed=0)
    assert b.name == name
    assert len(b.train) > 0 and len(b.test) > 0
    x0, y0 = b.train[0]
    assert tuple(x0.shape) == b.input_shape and x0.dtype == torch.float32
    assert 0 <= int(y0) < b.num_classes
    xt0, _ = b.test[0]
    assert tuple(xt0.shape) == b.input_shape
    assert Path(b.meta["source"]).exists()
    assert b.meta["n_train"] == len(b.train) and b.meta["n_test"] == len(b.test)
    for tensors, ds in ((b.train_tensors, b.train), (b.test_tensors, b.test)):
        if tensors is None:
            continue
        x, y = tensors
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert tuple(x.shape[1:]) == b.input_shape and x.shape[0] == y.shape[0] == len(ds)
        assert int(y.min()) >= 0 and int(y.max()) < b.num_classes
        assert torch.isfinite(x).all()
    if b.augment is not None:
        x = b.train_tensors[0][:3]
        out = b.augment(x, torch.Generator().manual_seed(0))
        assert out.shape == x.shape and out.dtype == x.dtype
    # augment=False never returns an augmentation; caps shrink both splits.
    small = load_dataset(
        DataConfig(name=name, augment=False, subset_train=3, subset_test=2), root=tmp_path
    )
    assert small.augment is None
    assert (len(small.train), len(small.test)) == (3, 2)
    assert small.meta["n_train"] == 3
    if small.train_tensors is not None:
        assert small.train_tensors[0].shape[0] == 3 and small.test_tensors[1].shape[0] == 2


@pytest.mark.parametrize("name", sorted(SPECS))
def test_missing_torchvision_data_says_where_and_how(name, tmp_path):
    spec = SPECS[name]
    with pytest.raises(DataError) as err:
        load_dataset(DataConfig(name=name), root=tmp_path)
    msg = str(err.value)
    folder = (tmp_path / "datasets" / name / spec.folder).resolve()
    assert str(folder) in msg
    assert spec.files[0] in msg
    assert f"{DOWNLOAD_ENV}=1" in msg
    assert f"torchvision.datasets.{spec.tv_class}(" in msg and "download=True" in msg


def test_unknown_data_set_lists_the_valid_names(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_dataset(DataConfig(name="cifar-10"), root=tmp_path)
    msg = str(err.value)
    assert "'cifar-10'" in msg
    for name in DATASETS.names():
        assert name in msg


def test_bad_subset_cap_is_a_config_error(tmp_path):
    write_mnist1d_cache(tmp_path)
    with pytest.raises(ConfigError, match="subset_train=0"):
        load_dataset(DataConfig(subset_train=0), root=tmp_path)


def test_subsets_are_seeded(tmp_path):
    write_mnist1d_cache(tmp_path)
    cfg = DataConfig(subset_train=10)
    a = load_dataset(cfg, root=tmp_path, seed=0).train_tensors[1]
    b = load_dataset(cfg, root=tmp_path, seed=0).train_tensors[1]
    c = load_dataset(cfg, root=tmp_path, seed=1).train_tensors[0]
    full = load_dataset(DataConfig(), root=tmp_path).train_tensors[0]
    assert torch.equal(a, b)
    assert not torch.equal(load_dataset(cfg, root=tmp_path, seed=0).train_tensors[0], c)
    # Each kept example is one of the originals; a cap above the size keeps everything.
    rows = {tuple(r.flatten().tolist()) for r in full}
    assert all(tuple(r.flatten().tolist()) in rows for r in c)
    assert len(load_dataset(DataConfig(subset_train=10_000), root=tmp_path).train) == 30


# --------------------------------------------------------------------------- formats


def _unnormalise(x: torch.Tensor, name: str) -> np.ndarray:
    spec = SPECS[name]
    c = len(spec.mean)
    mean, std = torch.tensor(spec.mean).view(1, c, 1, 1), torch.tensor(spec.std).view(1, c, 1, 1)
    return np.rint(((x * std + mean) * 255).numpy()).astype(np.int64)


def test_cifar10_pixels_labels_and_layout(tmp_path):
    write_cifar10(tmp_path)
    b = load_dataset(DataConfig(name="cifar10"), root=tmp_path)
    xs, ys = b.train_tensors
    assert xs.shape == (20, 3, 32, 32) and b.num_classes == 10 and b.input_shape == (3, 32, 32)
    # Train batches are concatenated in order 1..5; channel-major rows become (C, H, W).
    expected = np.concatenate([pattern(4, (3, 32, 32), offset=i) for i in range(1, 6)])
    np.testing.assert_array_equal(_unnormalise(xs, "cifar10"), expected)
    assert ys.tolist() == [(i + j) % 10 for i in range(1, 6) for j in range(4)]
    xt, yt = b.test_tensors
    np.testing.assert_array_equal(_unnormalise(xt, "cifar10"), pattern(6, (3, 32, 32), 100))
    assert yt.tolist() == [0, 1, 2, 3, 4, 5]
    assert isinstance(b.augment, CropFlip) and b.augment.pad == 4
    # Padding is the normalised value of a black pixel, as RandomCrop before Normalize gives.
    spec = SPECS["cifar10"]
    black = [-m / s for m, s in zip(spec.mean, spec.std, strict=True)]
    np.testing.assert_allclose(b.augment.fill, black)


def test_cifar100_uses_fine_labels(tmp_path):
    write_cifar100(tmp_path)
    b = load_dataset(DataConfig(name="cifar100"), root=tmp_path)
    assert b.num_classes == 100
    assert b.train_tensors[1].tolist() == [(11 * j) % 100 for j in range(10)]
    assert b.test_tensors[1].tolist() == [(9 + 11 * j) % 100 for j in range(5)]
    np.testing.assert_array_equal(
        _unnormalise(b.test_tensors[0], "cifar100"), pattern(5, (3, 32, 32), offset=9)
    )


@pytest.mark.parametrize("gz", [False, True], ids=["ubyte", "ubyte.gz"])
@pytest.mark.parametrize(("name", "sub"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_like_idx_files(name, sub, gz, tmp_path):
    write_mnist_like(tmp_path, name, sub, gz=gz)
    b = load_dataset(DataConfig(name=name), root=tmp_path)
    xs, ys = b.train_tensors
    assert b.input_shape == (1, 28, 28) and xs.shape == (12, 1, 28, 28)
    np.testing.assert_array_equal(_unnormalise(xs, name)[:, 0], pattern(12, (28, 28), offset=1))
    assert ys.tolist() == [j % 10 for j in range(12)]
    assert b.test_tensors[1].tolist() == [(3 * j) % 10 for j in range(5)]
    assert b.augment is None  # no augmentation in the MNIST recipes


def test_damaged_cifar_file_is_a_data_error(tmp_path):
    write_cifar10(tmp_path)
    bad = tmp_path / "datasets" / "cifar10" / "cifar-10-batches-py" / "data_batch_3"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(DataError, match=r"unreadable.*delete the folder"):
        load_dataset(DataConfig(name="cifar10"), root=tmp_path)


def test_out_of_range_labels_are_a_data_error(tmp_path):
    write_mnist_like(tmp_path, "mnist", "MNIST", gz=False)
    raw = tmp_path / "datasets" / "mnist" / "MNIST" / "raw"
    (raw / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(np.array([3, 12, 1, 0, 0])))
    with pytest.raises(DataError, match=r"labels outside 0\.\.9"):
        load_dataset(DataConfig(name="mnist"), root=tmp_path)


def test_download_happens_only_with_the_env_switch(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    calls = []

    def fake_download(self):  # stands in for the network: writes the files torchvision would
        calls.append(self.root)
        write_mnist_like(tmp_path, "mnist", "MNIST", gz=False)

    monkeypatch.setattr(tvd.MNIST, "download", fake_download)
    with pytest.raises(DataError):
        load_dataset(DataConfig(name="mnist"), root=tmp_path)
    assert calls == []
    monkeypatch.setenv(DOWNLOAD_ENV, "1")
    b = load_dataset(DataConfig(name="mnist"), root=tmp_path)
    assert len(calls) == 1 and Path(calls[0]) == (tmp_path / "datasets" / "mnist").resolve()
    assert len(b.train) == 12


# --------------------------------------------------------------------------- imagefolder


def test_imagefolder_transforms_and_classes(tmp_path):
    write_imagefolder(tmp_path / "datasets" / "imagefolder", classes=("ant", "bee", "cow"))
    b = load_dataset(DataConfig(name="imagefolder"), root=tmp_path)
    assert b.num_classes == 3 and b.input_shape == (3, 224, 224)
    assert b.train_tensors is None and b.augment is None
    assert len(b.train) == 6 and len(b.test) == 6
    x, y = b.test[0]
    assert x.shape == (3, 224, 224) and y == 0
    assert torch.equal(b.test[0][0], x)  # evaluation transform is deterministic
    names = [type(t).__name__ for t in b.train.transform.transforms]
    assert names[:2] == ["RandomResizedCrop", "RandomHorizontalFlip"]
    plain = load_dataset(DataConfig(name="imagefolder", augment=False), root=tmp_path)
    assert [type(t).__name__ for t in plain.train.transform.transforms][:2] == [
        "Resize",
        "CenterCrop",
    ]


def test_imagefolder_env_override_and_errors(tmp_path, monkeypatch):
    tree = tmp_path / "elsewhere"
    write_imagefolder(tree)
    with pytest.raises(DataError) as err:
        load_dataset(DataConfig(name="imagefolder"), root=tmp_path)
    assert str(tmp_path / "datasets" / "imagefolder" / "train") in str(err.value)
    assert "SHEDDING_IMAGEFOLDER" in str(err.value)
    monkeypatch.setenv("SHEDDING_IMAGEFOLDER", str(tree))
    assert load_dataset(DataConfig(name="imagefolder"), root=tmp_path).num_classes == 2
    (tree / "val" / "dog").rename(tree / "val" / "dingo")
    with pytest.raises(DataError, match="different classes"):
        load_dataset(DataConfig(name="imagefolder"), root=tmp_path)
