"""DistributedDataParallel with 2 processes on gloo: only rank 0 writes, masks agree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from tiny import tiny_config, write_config

from shedding.train.distributed import DistInfo, broadcast_masks
from tracking import open_run

pytestmark = pytest.mark.slow


def _worker(rank: int, world: int, port: int, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    g = torch.Generator().manual_seed(rank)  # deliberately different masks per rank
    masks = {"a": torch.rand(5, 7, generator=g) > 0.5, "b": torch.rand(3, generator=g) > 0.5}
    broadcast_masks(masks, DistInfo(rank=rank, world=world))
    out[rank] = {k: v.tolist() for k, v in masks.items()}
    dist.destroy_process_group()


def test_masks_are_identical_on_all_ranks_after_broadcast():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    manager = mp.Manager()
    out = manager.dict()
    mp.spawn(_worker, args=(2, port, out), nprocs=2, join=True)
    assert out[0] == out[1]


def test_torchrun_two_processes_writes_one_complete_run(tmp_path):
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    assert torchrun, "torchrun ships with torch"
    cfg = tiny_config("seed=21")
    cfg_file = write_config(cfg, tmp_path / "cfg.toml")
    env = {**os.environ, "SHEDDING_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            torchrun,
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "shedding",
            "run",
            str(cfg_file),
            "--quiet",
            "--data-root",
            str(tmp_path),
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    done = [ln for ln in proc.stdout.splitlines() if ln.startswith("complete:")]
    assert len(done) == 1 and "dense acc nan" not in done[0], proc.stdout  # rank 0 only
    files = list((tmp_path / "runs").glob("*.h5"))
    assert len(files) == 1  # only rank 0 wrote
    with open_run(files[0]) as run:
        assert run.status == "complete" and run.environment["world_size"] == 2
        total = sum(li.n_weights for li in run.layers)
        kept = sum(int(run.mask(li.name, len(run) - 1).sum()) for li in run.layers)
        assert abs((total - kept) - round(0.5 * total)) <= 1
        assert run.metrics["test_acc"][-1] > 0.1
