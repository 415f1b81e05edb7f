"""Sweeps: grid expansion with shared controls, skip/resume on re-run, executors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny import TINY

from shedding.config import parse_override
from shedding.engine import identity
from shedding.errors import ConfigError
from shedding.sweep import execute, expand, plan, read_sweep, run_sweep
from tracking import open_run

SET = dict(parse_override(o) for o in TINY)


def _sweep(grid: dict) -> dict:
    return {"base": "mnist1d-demo", "set": dict(SET), "grid": grid}


def test_grid_gains_exactly_one_shared_control_per_retraining_config_and_seed():
    sweep = _sweep(
        {
            "prune.method": ["gmp", "random", "random_matched"],
            "prune.sparsity": [0.2, 0.5],
            "retrain.protocol": ["lrr", "ft"],
            "seed": [0, 1],
        }
    )
    configs = expand(sweep)
    pruned = [c for c in configs if not identity.is_control(c)]
    controls = [c for c in configs if identity.is_control(c)]
    assert len(pruned) == 3 * 2 * 2 * 2
    assert len(controls) == 2 * 2  # (protocol, seed) pairs
    ids = {identity.run_id(c) for c in controls}
    assert {identity.control_id(c) for c in pruned} == ids
    assert expand(sweep, controls=False) == pruned


def test_scratch_and_reduced_get_no_control():
    configs = expand(_sweep({"retrain.protocol": ["scratch", "reduced"]}))
    assert len(configs) == 2 and not any(identity.is_control(c) for c in configs)


def test_bad_sweep_files_fail_clearly(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('base = "mnist1d-demo"\ngrids = 1\n')
    with pytest.raises(ConfigError, match="unknown sweep keys"):
        read_sweep(f)
    with pytest.raises(ConfigError, match="non-empty list"):
        expand({"base": "mnist1d-demo", "grid": {"seed": 3}})
    with pytest.raises(ConfigError, match="unknown config key"):
        expand({"base": "mnist1d-demo", "grid": {"prune.sparsty": [0.1]}})
    with pytest.raises(ConfigError, match="does not exist"):
        read_sweep(tmp_path / "nope.toml")


@pytest.mark.slow
def test_sweep_resumes_interrupted_runs_and_skips_finished_ones(data_root, tmp_path, capsys):
    from test_resume import _committed, _start, _wait_for

    grid = tmp_path / "grid.toml"
    # a checkpoint (so a commit) after every epoch: the victim is killed once two
    # retraining epochs are in its file, well before it ends
    fixed = {**SET, "retrain.protocol": "llr", "retrain.epochs": 4, "record.checkpoint_every_s": 0}
    lines = [
        'base = "mnist1d-demo"',
        "[set]",
        *(f'"{k}" = {json.dumps(v)}' for k, v in fixed.items()),
        "[grid]",
        '"prune.method" = ["gmp", "random"]',
    ]
    grid.write_text("\n".join(lines) + "\n")
    rdir = tmp_path / "runs"
    victim = expand(read_sweep(grid))[0]
    # Interrupt one run of the grid for real: SIGKILL after two retraining epochs.
    cfg_file = tmp_path / "victim.toml"
    cfg_file.write_text(__import__("shedding.config").config.dumps_toml(victim))
    proc = _start(cfg_file, data_root, rdir)
    _wait_for(lambda: _committed(identity.run_path(rdir, victim)) >= 4 + 1 + 2, proc)
    proc.kill()
    proc.wait()
    actions = {p.run_id: p.action for p in plan(expand(read_sweep(grid)), rdir)}
    assert actions[identity.run_id(victim)] == "resume"
    assert sorted(actions.values()) == ["resume", "run", "run"]

    assert run_sweep(grid, data_root=data_root, runs_dir=rdir, jobs=2, progress=False) == 0
    out = capsys.readouterr().out
    assert "(control)" in out and "C excess" in out
    files = sorted(rdir.glob("*.h5"))
    assert len(files) == 3  # gmp, random, one shared control
    for f in files:
        with open_run(f) as r:
            assert r.status == "complete"
    with open_run(identity.run_path(rdir, victim)) as r:  # resumed: no duplicate snapshot
        keys = list(zip(r.index.round.tolist(), r.index.epoch.tolist(), strict=True))
        assert len(keys) == len(set(keys)) == 4 + 1 + 4
    _live_rows_equal_the_table_of_the_finished_files(expand(read_sweep(grid)), rdir)
    stamps = {f: f.stat().st_mtime_ns for f in files}
    assert [p.action for p in plan(expand(read_sweep(grid)), rdir)] == ["skip"] * 3
    assert run_sweep(grid, data_root=data_root, runs_dir=rdir, progress=False) == 0
    assert {f: f.stat().st_mtime_ns for f in files} == stamps


def _live_rows_equal_the_table_of_the_finished_files(configs: list, rdir: Path) -> None:
    """Rows made as runs complete, pruned ones reported before their control, print the
    table the finished files give."""
    from shedding.sweep import LiveSummaries, PlannedRun, summary_table

    planned = [PlannedRun(c, "run") for c in configs]
    paths = [identity.run_path(rdir, c) for c in configs]
    rows = LiveSummaries(planned, rdir)
    pruned = [p for p in planned if not identity.is_control(p.cfg)]
    control = next(p for p in planned if identity.is_control(p.cfg))
    for p in pruned:
        rows.complete(p)
    assert rows.made() == {}  # both wait for their control
    rows.complete(control)
    rows.stop()
    made = rows.made()
    assert set(made) == {str(p) for p in paths}
    assert all(made[str(identity.run_path(rdir, p.cfg))].result().control_found for p in pruned)
    assert summary_table(paths, made=made) == summary_table(paths)


@pytest.mark.slow
def test_a_failing_run_is_reported_with_its_log_and_the_others_finish(data_root, tmp_path):
    """Runs start from a preloaded forkserver; each is still its own process with its own log."""
    from tiny import tiny_config

    from shedding.sweep import PlannedRun

    good = tiny_config("prune.sparsity=0.5")
    bad = tiny_config("data.name=cifar10", "model.name=resnet20")  # no CIFAR-10 on disk
    rdir = tmp_path / "runs"
    out = execute(
        [PlannedRun(good, "run"), PlannedRun(bad, "run")],
        data_root=data_root,
        runs_dir=rdir,
        jobs=2,
        progress=False,
    )
    assert out[identity.run_id(good)] == "complete"
    log = identity.work_dir(rdir, bad) / "log.txt"
    text = log.read_text()
    last = text.strip().splitlines()[-1].strip()
    assert out[identity.run_id(bad)] == f"failed (exit 2): {last}  [log: {log}]"
    assert "shedding run: error:" in text and "cifar10" in text.lower()
    assert "complete:" in (identity.work_dir(rdir, good) / "log.txt").read_text()
    with open_run(identity.run_path(rdir, good)) as r:
        assert r.status == "complete"
    assert not identity.run_path(rdir, bad).exists()


@pytest.mark.slow
def test_submitit_local_executor_runs_a_job(data_root, tmp_path):
    pytest.importorskip("submitit")
    cfgs = expand(_sweep({"prune.sparsity": [0.3]}), controls=False)
    out = execute(
        plan(cfgs, tmp_path),
        data_root=data_root,
        runs_dir=tmp_path,
        executor="submitit-local",
        progress=False,
    )
    assert list(out.values()) == ["complete"]
    with open_run(identity.run_path(tmp_path, cfgs[0])) as r:
        assert r.status == "complete"


def test_a_lost_exit_status_is_settled_by_the_run_file(tmp_path, monkeypatch):
    """multiprocessing reports 255 when the forkserver could not send a child's exit
    status (seen once on a run whose log and file said complete): the file decides."""
    from shedding import sweep

    class FakeProcess:  # a run process whose status arrives as ``code``
        code = 0

        def __init__(self, target, args):
            pass

        def start(self):
            pass

        def join(self):
            self.exitcode = FakeProcess.code

    class Ctx:
        Process = FakeProcess

    p = sweep.PlannedRun(identity.control_config(sweep.load_config("mnist1d-demo")), "run")
    recorded = {"status": "complete"}
    monkeypatch.setattr(sweep, "_file_status", lambda path: recorded["status"])
    go = lambda: sweep._run_process(p, ctx=Ctx, data_root=tmp_path, runs_dir=tmp_path, threads=1)  # noqa: E731
    for code, status, expected in [
        (255, "complete", 0),  # finished and recorded: only the status was lost
        (255, "running", 255),  # did not finish: a failure, reported as it came
        (255, None, 255),  # no readable file
        (3, "complete", 3),  # any other code stands
        (0, "complete", 0),
    ]:
        FakeProcess.code, recorded["status"] = code, status
        assert go() == expected, (code, status)


@pytest.mark.slow
def test_a_sweep_where_every_run_fails_prints_each_reason(data_root, tmp_path, capsys):
    """LRR with more retraining than dense epochs is refused in every child; the sweep says why."""
    grid = tmp_path / "sweep.toml"
    grid.write_text(
        'base = "mnist1d-demo"\n[set]\n"data.subset_train" = 256\n"train.epochs" = 2\n'
        '"train.milestones" = [1]\n"retrain.epochs" = 5\n"retrain.protocol" = "lrr"\n'
        "[grid]\nseed = [0]\n"
    )
    code = run_sweep(grid, data_root=data_root, runs_dir=tmp_path / "runs", progress=False)
    captured = capsys.readouterr()
    assert code == 1
    assert "no run of this sweep wrote a run file" in captured.out
    failures = [ln for ln in captured.err.splitlines() if "failed (exit 2)" in ln]
    assert len(failures) == 2, captured.err  # the run and its control
    assert all("retrain.epochs=5 must be <= train.epochs=2" in ln for ln in failures)


@pytest.mark.slow
def test_children_of_a_killed_sweep_die_with_it(data_root, tmp_path):
    """SIGKILL of the sweep process ends its run processes too (no orphan keeps writing)."""
    import signal
    import subprocess
    import sys
    import time

    from tracking.lock import lock_path

    grid = tmp_path / "sweep.toml"
    grid.write_text(
        'base = "mnist1d-demo"\n[set]\n"data.subset_train" = 512\n"model.width" = 0.25\n'
        '"train.epochs" = 2\n"train.milestones" = [1]\n"retrain.protocol" = "ft"\n'
        '"retrain.epochs" = 200\n[grid]\nseed = [5]\n'
    )
    rdir = tmp_path / "runs"
    cmd = [sys.executable, "-m", "shedding", "sweep", str(grid), "--quiet", "--no-controls"]
    cmd += ["--data-root", str(data_root), "--runs-dir", str(rdir)]
    sweep = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t0 = time.time()
        child = None
        while child is None:
            assert sweep.poll() is None, "the sweep ended before its run started"
            assert time.time() - t0 < 180, "the run never took its lock"
            for lock in rdir.glob("*.lock"):
                words = lock.read_text().split()
                child = int(words[0]) if words else None
            time.sleep(0.1)
        assert child != sweep.pid
        sweep.send_signal(signal.SIGKILL)
        sweep.wait()
        t0 = time.time()
        while _alive(child):
            assert time.time() - t0 < 60, f"run process {child} outlived its sweep"
            time.sleep(0.2)
        assert not any(lock_path(p).exists() for p in rdir.glob("*.h5"))
    finally:
        sweep.kill()


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def test_plan_puts_each_dense_phase_first_then_the_longest_runs(tmp_path):
    from tiny import tiny_config

    short = tiny_config("retrain.epochs=1")
    long = tiny_config("retrain.epochs=2", "prune.method=random")
    rounds = tiny_config("retrain.epochs=1", "prune.sparsity=0", "prune.rounds=3")  # a control
    other_dense = tiny_config("seed=1", "retrain.epochs=1")
    fifth = tiny_config("seed=1", "retrain.epochs=1", "prune.method=random")
    # 2 rounds from its rate (50% a round to 75%), though prune.rounds is unset
    by_rate = tiny_config(
        "seed=1", "retrain.epochs=1", "prune.mode=iterative", "prune.rate=0.5",
        "prune.sparsity=0.75",
    )  # fmt: skip
    order = plan([short, long, rounds, other_dense, fifth, by_rate], tmp_path)
    ids = [identity.run_id(p.cfg) for p in order]
    # the first run of each dense phase (seeds 0 and 1), then 3 rounds x 1 epoch, 2 epochs
    # and 2 rounds x 1 epoch (a tie keeps its order), 1 epoch
    expected = [short, other_dense, rounds, long, by_rate, fifth]
    assert ids == [identity.run_id(c) for c in expected]
    assert all(p.action == "run" for p in order)
