"""MNIST-1D (Greydanus 2020), generated offline and cached.

The data set is *generated* with ``mnist1d.data.make_dataset(get_dataset_args())`` — never the
package's download path — which gives 4000 train / 1000 test sequences of length 40 over 10
classes, already centred and scaled to unit variance by the generator. The arrays are cached in
``<root>/datasets/mnist1d/mnist1d-<key>.npz`` where ``<key>`` hashes the generation arguments,
so a changed argument never reads a stale cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shedding.config import DataConfig
from shedding.data.base import DATASETS, DatasetBundle, tensor_bundle
from shedding.errors import DataError
from shedding.paths import datasets_dir

#: The generation arguments of the published data set (``mnist1d.data.get_dataset_args()``
#: without its download URL), pinned here so that a cache hit never imports ``mnist1d``
#: (it pulls in matplotlib, ~2 s) and a new package default cannot silently change the data.
DEFAULT_ARGS: dict[str, Any] = {
    "num_samples": 5000,
    "train_split": 0.8,
    "template_len": 12,
    "padding": [36, 60],
    "scale_coeff": 0.4,
    "max_translation": 48,
    "corr_noise_scale": 0.25,
    "iid_noise_scale": 2e-2,
    "shear_scale": 0.75,
    "shuffle_seq": False,
    "final_seq_length": 40,
    "seed": 42,
}


def default_args() -> dict[str, Any]:
    """A copy of :data:`DEFAULT_ARGS` (4000 train / 1000 test, length 40)."""
    return {k: list(v) if isinstance(v, list) else v for k, v in DEFAULT_ARGS.items()}


def cache_key(args: dict[str, Any]) -> str:
    """12-hex-digit hash of the generation arguments (JSON, sorted keys)."""
    blob = json.dumps({k: args[k] for k in sorted(args)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def cache_path(root: Path, args: dict[str, Any]) -> Path:
    """Where the arrays generated from ``args`` are cached under the data root."""
    return datasets_dir(root) / "mnist1d" / f"mnist1d-{cache_key(args)}.npz"


def generate(args: dict[str, Any]) -> dict[str, np.ndarray]:
    """Runs ``mnist1d.data.make_dataset(args)`` offline (never the package's download path).

    ``make_dataset`` reseeds the *global* ``random`` and ``numpy.random`` generators; their
    states are restored afterwards so that loading data never changes a caller's randomness.

    Returns:
        ``x`` (N, L) float32, ``y`` (N,) int64, ``x_test``, ``y_test``.
    """
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(ObjectView(dict(args)))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {
        "x": np.asarray(data["x"], dtype=np.float32),
        "y": np.asarray(data["y"], dtype=np.int64),
        "x_test": np.asarray(data["x_test"], dtype=np.float32),
        "y_test": np.asarray(data["y_test"], dtype=np.int64),
    }


def _write_atomic(path: Path, arrays: dict[str, np.ndarray], args: dict[str, Any]) -> None:
    # Write to a temporary file in the same folder, then rename: a reader (or a second
    # process generating the same data) never sees a half-written cache.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem, suffix=".tmp.npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            entries: dict[str, Any] = {"args": np.array(json.dumps(args, sort_keys=True)), **arrays}
            np.savez(f, **entries)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_arrays(root: Path, args: dict[str, Any] | None = None) -> tuple[dict, Path, bool]:
    """Reads the cached arrays, generating and caching them on a miss.

    Returns:
        ``(arrays, cache file, cache_hit)``.
    """
    args = default_args() if args is None else dict(args)
    path = cache_path(root, args)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in ("x", "y", "x_test", "y_test")}
            return arrays, path, True
        except (OSError, ValueError, KeyError) as e:
            raise DataError(
                f"MNIST-1D cache {path} is unreadable ({e}); delete it and it will be regenerated"
            ) from None
    arrays = generate(args)
    try:
        _write_atomic(path, arrays, args)
    except OSError as e:
        raise DataError(
            f"cannot write the MNIST-1D cache to {path} ({e}); choose a writable data root "
            "with --data-root or SHEDDING_DATA_ROOT"
        ) from None
    return arrays, path, False


def generation_args(cfg: DataConfig) -> dict[str, Any]:
    """The generator's arguments for ``data.num_train`` / ``data.num_test``.

    Unset sizes keep the published split (4000 / 1000). Other sizes generate
    ``num_train + num_test`` sequences, rounded up to a whole number per class (the
    generator makes as many of each of the 10 digits), and split them at ``num_train``;
    :func:`load_mnist1d` drops the rounding's extra test sequences. The templates, noise
    and seed stay those of the published set.

    Raises:
        DataError: A size below 1.
    """
    args = default_args()
    if cfg.num_train is None and cfg.num_test is None:
        return args
    n_train = cfg.num_train if cfg.num_train is not None else 4000
    n_test = cfg.num_test if cfg.num_test is not None else 1000
    for key, n in (("num_train", n_train), ("num_test", n_test)):
        if n < 1:
            raise DataError(f"data.{key}={n} must be >= 1 (or unset for the published split)")
    total = -(-(n_train + n_test) // 10) * 10
    args["num_samples"] = total
    # The generator splits at int(total * train_split): half a sequence of margin makes
    # that exactly n_train whatever the float rounding.
    args["train_split"] = (n_train + 0.5) / total
    return args


@DATASETS.register("mnist1d")
def load_mnist1d(cfg: DataConfig, *, root: Path, seed: int = 0) -> DatasetBundle:
    """MNIST-1D: input (1, 40), 10 classes, no augmentation (none is published)."""
    arrays, path, hit = load_arrays(root, generation_args(cfg))
    n_test = len(arrays["y_test"]) if cfg.num_test is None else cfg.num_test
    # (N, L) -> (N, 1, L): one input channel for Conv1d models.
    xs = torch.from_numpy(arrays["x"]).unsqueeze(1).contiguous()
    xt = torch.from_numpy(arrays["x_test"][:n_test]).unsqueeze(1).contiguous()
    ys = torch.from_numpy(arrays["y"])
    yt = torch.from_numpy(arrays["y_test"][:n_test])
    return tensor_bundle(
        "mnist1d",
        train=(xs, ys),
        test=(xt, yt),
        num_classes=10,
        augment=None,
        meta={
            "source": str(path),
            "generated": "mnist1d.data.make_dataset(get_dataset_args())",
            "cache_hit": hit,
            "normalisation": "dataset-wide mean 0, std 1 (by the generator)",
            "augment": "none",
            "generated_sizes": True,
        },
    )
