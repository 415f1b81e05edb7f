"""Tiny real experiments: MNIST-1D subsets, a narrow ResNet-1D, a few epochs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from shedding.config import ExperimentConfig, dumps_toml, load_config

TINY = [
    "name=tiny",
    "data.subset_train=512",
    "data.subset_test=256",
    "data.batch_size=64",
    "model.width=0.25",
    "train.epochs=3",
    "train.milestones=[2]",
    "retrain.epochs=2",
    "record.sample_per_layer=16",
]


def tiny_config(*overrides: str) -> ExperimentConfig:
    return load_config("mnist1d-demo", [*TINY, *overrides])


def write_config(cfg: ExperimentConfig, path: Path) -> Path:
    path.write_text(dumps_toml(cfg))
    return path


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    """One data root per test session: MNIST-1D is generated once and cached."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(1)
    yield
