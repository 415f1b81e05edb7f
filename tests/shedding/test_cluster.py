"""The cluster path: [executor] tables as submitit parameters, the generated sbatch script
of a job array, re-running a sweep, and the dense cache lock."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import filelock
import pytest
from tiny import TINY

from shedding.cluster import executor_parameters, sbatch_options, time_minutes
from shedding.config import parse_override
from shedding.engine import identity
from shedding.engine.dense import cache_lock
from shedding.errors import CheckpointError, ConfigError
from shedding.sweep import expand, plan, read_sweep, run_sweep
from tracking import open_run

pytest.importorskip("submitit")

EXECUTOR = """
[executor]
partition = "gpu"
time = "12:00:00"
gpus_per_node = 1
cpus_per_task = 8
mem_gb = 32
account = "my-lab"
qos = "normal"
array_parallelism = 2
sbatch = ["--constraint=a100", "--mail-type=END"]
setup = ["module load cuda/12.4"]
wait = false
"""


def _toml_value(v) -> str:
    return repr(v).replace("'", '"') if not isinstance(v, bool) else str(v).lower()


def _sweep_file(path: Path, grid: dict, executor: str) -> Path:
    lines = ['base = "mnist1d-demo"', "controls = false", "[set]"]
    for key, value in (parse_override(o) for o in TINY):
        lines.append(f'"{key}" = {_toml_value(value)}')
    lines.append("[grid]")
    lines += [f'"{k}" = {_toml_value(v)}' for k, v in grid.items()]
    path.write_text("\n".join(lines) + "\n" + executor)
    return path


def _fake_slurm(bin_dir: Path, copies: Path) -> None:
    """``srun`` (submitit checks it is on PATH) and an ``sbatch`` that keeps a copy of the
    script it was given and answers like Slurm."""
    bin_dir.mkdir()
    scripts = {
        "srun": "#!/bin/sh\nexit 0\n",
        "sbatch": f'#!/bin/sh\ncp "$1" "{copies}/"\necho "Submitted batch job 4242"\n',
    }
    for name, text in scripts.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(stat.S_IRWXU)


def test_executor_table_becomes_submitit_parameters():
    table = tomllib.loads(EXECUTOR)["executor"]
    assert executor_parameters(table) == {
        "slurm_partition": "gpu",
        "timeout_min": 720,
        "gpus_per_node": 1,
        "cpus_per_task": 8,
        "mem_gb": 32,
        "slurm_account": "my-lab",
        "slurm_qos": "normal",
        "slurm_array_parallelism": 2,
        "slurm_additional_parameters": {"constraint": "a100", "mail-type": "END"},
        "slurm_setup": ["module load cuda/12.4"],
    }
    assert time_minutes("2-00:00:30") == 2 * 1440 + 1


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"partitoin": "gpu"}, r"unknown \[executor\] keys \['partitoin'\]; valid: .*partition"),
        ({"time": "noon"}, r"time = 'noon' is not minutes or \[D-\]HH:MM\[:SS\]"),
        ({"time": 0}, "must be a positive number of minutes"),
        ({"gpus_per_node": "one"}, "gpus_per_node = 'one' must be int"),
        ({"sbatch": ["constraint a100"]}, "is not an sbatch option; fix: write it as"),
        ({"wait": "no"}, "wait = 'no' must be a bool"),
        ({"mem_gb": -1}, "mem_gb = -1 must be positive"),
    ],
)
def test_bad_executor_tables_fail_clearly(table, message):
    with pytest.raises(ConfigError, match=message):
        executor_parameters(table)


def test_sbatch_lines_keep_flags():
    assert sbatch_options(["--exclusive"]) == {"exclusive": True}


def test_a_sweep_goes_out_as_one_job_array_with_the_executor_parameters(
    tmp_path, monkeypatch, capsys
):
    copies = tmp_path / "scripts"
    copies.mkdir()
    _fake_slurm(tmp_path / "bin", copies)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    sweep = _sweep_file(tmp_path / "s.toml", {"prune.sparsity": [0.2, 0.5, 0.8]}, EXECUTOR)
    rdir = tmp_path / "runs"
    code = run_sweep(sweep, data_root=tmp_path / "data", runs_dir=rdir, executor="slurm")
    assert code == 0
    assert "submitted 3 runs (job 4242); re-run the sweep" in capsys.readouterr().err
    (script,) = copies.iterdir()  # one sbatch call for the three runs
    text = script.read_text()
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --time=720",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=32GB",
        "#SBATCH --account=my-lab",
        "#SBATCH --qos=normal",
        "#SBATCH --array=0-2%2",
        "#SBATCH --constraint=a100",
        "#SBATCH --mail-type=END",
        "#SBATCH --job-name=shedding-sweep",
        "module load cuda/12.4",
    ):
        assert line in text.splitlines(), line
    assert "submitit.core._submit" in text and str(rdir / ".submitit") in text
    # the three pickled runs wait in submitit's folder for the array's tasks
    assert len(list((rdir / ".submitit").glob("4242_*_submitted.pkl"))) == 3


def test_slurm_without_srun_says_where_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun here
    sweep = _sweep_file(tmp_path / "s.toml", {"prune.sparsity": [0.2]}, "")
    with pytest.raises(ConfigError, match=r"--executor slurm: .*srun.*login node"):
        run_sweep(sweep, data_root=tmp_path / "d", runs_dir=tmp_path / "r", executor="slurm")


@pytest.mark.slow
def test_local_executor_runs_the_array_and_a_rerun_picks_up_what_finished(
    data_root, tmp_path, capsys
):
    table = '[executor]\ntime = 30\ncpus_per_task = 1\npartition = "ignored-locally"\n'
    sweep = _sweep_file(tmp_path / "s.toml", {"prune.sparsity": [0.3]}, table)
    rdir = tmp_path / "runs"
    assert run_sweep(sweep, data_root=data_root, runs_dir=rdir, executor="submitit-local") == 0
    (cfg,) = expand(read_sweep(sweep), controls=False)
    with open_run(identity.run_path(rdir, cfg)) as r:
        assert r.status == "complete"
    capsys.readouterr()
    assert [p.action for p in plan([cfg], rdir)] == ["skip"]
    assert run_sweep(sweep, data_root=data_root, runs_dir=rdir, executor="submitit-local") == 0
    assert "(1 already complete)" in capsys.readouterr().err


def test_dense_cache_lock_times_out_with_the_lock_file_named(tmp_path):
    held = filelock.FileLock(tmp_path / "cache" / ".lock")
    (tmp_path / "cache").mkdir()
    stuck = pytest.raises(CheckpointError, match=r"stayed locked for 0.3 s .*\.lock")
    with held, stuck, cache_lock(tmp_path / "cache", timeout_s=0.3):
        pass
    with cache_lock(tmp_path / "cache", timeout_s=0.3):  # free again once released
        pass


def test_lock_timeout_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SHEDDING_LOCK_TIMEOUT_S", "soon")
    bad = pytest.raises(CheckpointError, match="SHEDDING_LOCK_TIMEOUT_S='soon' is not a number")
    with bad, cache_lock(tmp_path):
        pass
