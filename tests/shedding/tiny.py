"""Tiny real experiment configs: MNIST-1D subsets, a narrow ResNet-1D, a few epochs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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


def run_argv(cfg_file: Path, data_root: Path, runs_dir: Path, *extra: str) -> list[str]:
    """``python -m shedding run CFG --quiet ...`` for a real subprocess."""
    return [
        sys.executable,
        "-m",
        "shedding",
        "run",
        str(cfg_file),
        "--quiet",
        "--data-root",
        str(data_root),
        "--runs-dir",
        str(runs_dir),
        *extra,
    ]


def one_thread_env() -> dict[str, str]:
    """The environment of a subprocess run that trains on one thread (deterministic)."""
    return {**os.environ, "SHEDDING_THREADS": "1", "OMP_NUM_THREADS": "1"}
