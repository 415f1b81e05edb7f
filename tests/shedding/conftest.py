"""Fixtures for the experiment tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    """One data root per test session: MNIST-1D is generated once and cached."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(1)
    yield
