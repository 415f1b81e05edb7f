"""Run identity and where a run's files live.

A run's id is ``<name>-<hash of its non-default config fields>``; its control's id is
computable from its config, so a pruned run records which control belongs to it before
the control even exists. Layout under the runs directory::

    <runs_dir>/<run_id>.h5            the run file (tracking format)
    <runs_dir>/.work/<run_id>/        resume checkpoint of an unfinished run
    <data_root>/cache/dense/<hash>/   the cached dense phase, shared by every run using it
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

from shedding.config import ExperimentConfig, PruneConfig, config_hash


def run_id(cfg: ExperimentConfig) -> str:
    """``<name>-<12 hex>``: stable for a config, different for any non-default change."""
    return f"{cfg.name}-{config_hash(cfg)}"


def is_control(cfg: ExperimentConfig) -> bool:
    """A control run prunes nothing: the identical retraining of the unpruned network."""
    return cfg.prune.sparsity == 0.0


def control_config(cfg: ExperimentConfig) -> ExperimentConfig | None:
    """The control of ``cfg``: same data, model, training, retraining, seed; no pruning.

    The control retrains as many rounds as ``cfg`` prunes (an iterative run's control
    replays every round's retraining) and keeps a BIMP budget, so its dense phase and
    every round have the same epochs. One-shot runs without a budget share one control
    per retraining config and seed. Returns None for controls themselves and for
    protocols with no unpruned counterpart.
    """
    from shedding.pruning.rounds import round_amounts  # torch: only when asked
    from shedding.retrain import PROTOCOLS

    if is_control(cfg) or not PROTOCOLS.get(cfg.retrain.protocol).has_control:
        return None

    n_rounds = len(round_amounts(cfg.prune))
    prune = dataclasses.replace(
        PruneConfig(),
        sparsity=0.0,
        layer_types=cfg.prune.layer_types,
        prune_first=cfg.prune.prune_first,
        prune_last=cfg.prune.prune_last,
        budget_epochs=cfg.prune.budget_epochs,
        rounds=n_rounds if n_rounds > 1 else None,
    )
    return dataclasses.replace(cfg, prune=prune)


def control_id(cfg: ExperimentConfig) -> str:
    """Run id of ``cfg``'s control, or "" when it has none."""
    ctrl = control_config(cfg)
    return run_id(ctrl) if ctrl is not None else ""


def run_path(runs_dir: Path, cfg: ExperimentConfig) -> Path:
    return runs_dir / f"{run_id(cfg)}.h5"


def work_dir(runs_dir: Path, cfg: ExperimentConfig) -> Path:
    return runs_dir / ".work" / run_id(cfg)


def _git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def environment(device: Any) -> dict[str, Any]:
    """What produced a run: versions, device, host, git commit (stored in the run file)."""
    import torch

    from shedding import __version__

    env: dict[str, Any] = {
        "toolkit": __version__,
        "torch": torch.__version__,
        "cuda": torch.version.cuda or "",
        "cuda_available": torch.cuda.is_available(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device)
        if str(device).startswith("cuda")
        else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "git_commit": _git_commit(),
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
    }
    return json.loads(json.dumps(env, default=str))
