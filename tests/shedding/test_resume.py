"""A run killed with SIGKILL at any moment resumes and ends bit-exactly where an
uninterrupted run ends (same seed, CPU). Real subprocesses, really killed."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny import one_thread_env, run_argv, tiny_config, write_config

from shedding.engine.experiment import run_experiment
from tracking import open_run

pytestmark = pytest.mark.slow


def _start(cfg_file: Path, data_root: Path, runs_dir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        run_argv(cfg_file, data_root, runs_dir, *extra),
        env=one_thread_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(pred, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    t0 = time.time()
    while not pred():
        if proc.poll() is not None:
            raise AssertionError(f"run ended before it could be killed: {proc.communicate()}")
        if time.time() - t0 > timeout:
            proc.kill()
            raise AssertionError("timed out waiting for the run to make progress")
        time.sleep(0.05)


def _committed(path: Path) -> int:
    try:
        with open_run(path) as run:
            return len(run)
    except Exception:
        return 0


def _assert_same_final(a: Path, b: Path) -> None:
    fa = torch.load(a.with_suffix(".final.pt"), weights_only=False)
    fb = torch.load(b.with_suffix(".final.pt"), weights_only=False)
    for k in fa["model"]:
        assert torch.equal(fa["model"][k], fb["model"][k]), k
    with open_run(a) as ra, open_run(b) as rb:
        np.testing.assert_array_equal(ra.index.step, rb.index.step)  # no gap, no duplicate
        np.testing.assert_array_equal(ra.index.epoch, rb.index.epoch)
        for li in ra.layers:
            np.testing.assert_array_equal(ra.samples(li.name)[1], rb.samples(li.name)[1])
        np.testing.assert_array_equal(ra.metrics["test_acc"], rb.metrics["test_acc"])
        assert ra.status == rb.status == "complete"


@pytest.mark.parametrize(
    ("cadence", "epochs"),
    [("record.checkpoint_every_s=0", 6), ("record.checkpoint_every_s=30", 48)],
)
def test_sigkill_during_retraining_then_resume_is_bit_exact(data_root, tmp_path, cadence, epochs):
    """After every epoch (0) or at the prune event only (30 s: longer than the run): the
    resumed run repeats what came after its checkpoint and ends where a clean run ends.
    Without a checkpoint per epoch, retraining snapshots are committed in batches up to 1 s
    late, so that run retrains long enough (~5 s on 2 cores) to be killed after some of them."""
    cfg = tiny_config(f"retrain.epochs={epochs}", "retrain.protocol=llr", "seed=11", cadence)
    cfg_file = write_config(cfg, tmp_path / "cfg.toml")
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    proc = _start(cfg_file, data_root, killed)
    run_file = killed / f"{cfg.name}-{__import__('shedding.config').config.config_hash(cfg)}.h5"
    _wait_for(lambda: _committed(run_file) >= 4 + 1 + 2, proc)  # dense + after-prune + 2 epochs
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with open_run(run_file) as run:  # the killed file opens and holds its committed snapshots
        assert len(run) >= 7 and run.status == "running"
    proc = _start(cfg_file, data_root, killed, "--resume")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    ref = run_experiment(cfg, data_root=data_root, runs_dir=clean, progress=False)
    _assert_same_final(run_file, ref.path)


def test_sigkill_during_dense_training_then_resume_is_bit_exact(tmp_path):
    root_a, root_b = tmp_path / "a", tmp_path / "b"  # separate dense caches
    cfg = tiny_config(
        "train.epochs=6", "train.milestones=[4]", "seed=12", "record.checkpoint_every_s=0"
    )
    cfg_file = write_config(cfg, tmp_path / "cfg.toml")
    proc = _start(cfg_file, root_a, root_a / "runs")
    ck = lambda: any((root_a / "cache" / "dense").glob("*/checkpoint.pt"))  # noqa: E731
    _wait_for(ck, proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc = _start(cfg_file, root_a, root_a / "runs", "--resume")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    ref = run_experiment(cfg, data_root=root_b, runs_dir=root_b / "runs", progress=False)
    got = next((root_a / "runs").glob("*.h5"))
    _assert_same_final(got, ref.path)
