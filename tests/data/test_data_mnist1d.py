"""MNIST-1D: generated offline by the mnist1d package, deterministic, cached by its arguments."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from shedding.config import DataConfig
from shedding.data import load_dataset
from shedding.data import mnist1d as m1d
from shedding.errors import DataError

SMALL = {"num_samples": 60}  # a quick generation for the determinism checks


def small_args() -> dict:
    return {**m1d.default_args(), **SMALL}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The real default data set, generated once for this module (a few seconds)."""
    root = tmp_path_factory.mktemp("root")
    return root, load_dataset(DataConfig(), root=root)


def test_default_generation_is_the_published_data_set(generated):
    root, b = generated
    xs, ys = b.train_tensors
    xt, _ = b.test_tensors
    assert b.name == "mnist1d" and b.num_classes == 10 and b.input_shape == (1, 40)
    assert xs.shape == (4000, 1, 40) and xt.shape == (1000, 1, 40)
    assert xs.dtype == torch.float32 and ys.dtype == torch.int64
    assert sorted(ys.unique().tolist()) == list(range(10))
    assert b.augment is None
    # Golden from mnist1d.data.make_dataset(get_dataset_args()) (seed 42): the first labels
    # and the generator's own standardisation of the whole set.
    assert ys[:10].tolist() == [2, 6, 4, 5, 6, 6, 6, 0, 3, 1]
    both = torch.cat([xs.flatten(), xt.flatten()]).double()
    assert abs(both.mean().item()) < 1e-4 and abs(both.std().item() - 1) < 1e-4
    assert not b.meta["cache_hit"]
    cache = m1d.cache_path(root, m1d.default_args())
    assert cache.is_file() and b.meta["source"] == str(cache)


def test_pinned_arguments_are_the_packages_defaults():
    from mnist1d.data import get_dataset_args

    package = get_dataset_args(as_dict=True)
    package.pop("url")
    assert m1d.default_args() == package


def test_second_load_reads_the_cache(generated, monkeypatch):
    root, first = generated

    def no_generation(args):
        raise AssertionError("generated again instead of reading the cache")

    monkeypatch.setattr(m1d, "generate", no_generation)
    again = load_dataset(DataConfig(), root=root)
    assert again.meta["cache_hit"]
    assert torch.equal(again.train_tensors[0], first.train_tensors[0])
    assert torch.equal(again.test_tensors[1], first.test_tensors[1])


def test_generation_is_deterministic_and_keyed_by_arguments(tmp_path):
    a, path_a, hit_a = m1d.load_arrays(tmp_path / "a", small_args())
    b, path_b, _ = m1d.load_arrays(tmp_path / "b", small_args())
    assert not hit_a and path_a.name == path_b.name
    for k in ("x", "y", "x_test", "y_test"):
        np.testing.assert_array_equal(a[k], b[k])
    assert a["x"].shape == (48, 40) and a["x_test"].shape == (12, 40)
    other = {**small_args(), "seed": 7}
    assert m1d.cache_path(tmp_path, other) != m1d.cache_path(tmp_path, small_args())
    assert m1d.cache_path(tmp_path, small_args()) != m1d.cache_path(tmp_path, m1d.default_args())


def test_generation_leaves_global_random_state_alone(tmp_path):
    np.random.seed(123)
    random.seed(123)
    np_before, py_before = np.random.get_state()[1].copy(), random.getstate()
    m1d.generate(small_args())  # make_dataset reseeds both global generators internally
    assert np.array_equal(np.random.get_state()[1], np_before)
    assert random.getstate() == py_before


def test_unreadable_cache_is_a_data_error_naming_the_file(tmp_path):
    path = m1d.cache_path(tmp_path, m1d.default_args())
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    with pytest.raises(DataError) as err:
        load_dataset(DataConfig(), root=tmp_path)
    assert str(path) in str(err.value) and "delete it" in str(err.value)
