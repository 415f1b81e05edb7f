"""Sweeps: expand a grid of config values into runs, add their controls, run them.

A sweep file (TOML)::

    base = "mnist1d-demo"                 # preset name or config file
    [set]                                 # overrides applied to every run
    "retrain.epochs" = 10
    [grid]                                # the cartesian product of these lists
    "prune.method" = ["gmp", "random"]
    "prune.sparsity" = [0.5, 0.9]
    seed = [0, 1, 2]
    [cases.adam-l2]                       # optional: named override sets, each crossed
    "retrain.optimizer" = "adam"          # with the grid (a regime, a recipe, ...)
    "retrain.lr" = 1e-2
    [executor]                            # submitit/Slurm parameters (see shedding.cluster)
    partition = "gpu"

With ``noise_controls = true`` every control gets a twin that differs only in the order of
the retraining batches (``retrain.data_order = 1``): the spread between the two is the
control-to-control noise that an excess cascade ratio is judged against.

Runs sharing a dense configuration share one cached dense phase (the first run of each
dense configuration is scheduled first). One control per distinct (retraining config,
seed) is added automatically and shared. Re-running a sweep skips finished runs and
resumes interrupted ones.
"""

from __future__ import annotations

import itertools
import os
import sys
import tomllib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from shedding.config import ExperimentConfig, dense_hash, dumps_toml, load_config
from shedding.engine import identity
from shedding.errors import ConfigError
from shedding.paths import data_root as resolve_data_root

SWEEP_KEYS = {"base", "set", "grid", "controls", "cases", "noise_controls", "executor"}


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep and what to do with it."""

    cfg: ExperimentConfig
    action: str  # "run", "resume" or "skip"

    @property
    def run_id(self) -> str:
        return identity.run_id(self.cfg)


def read_sweep(path: str | Path) -> dict[str, Any]:
    """Reads and validates a sweep file (or a built-in study by name)."""
    p = Path(path)
    if not p.is_file():
        builtin = resources.files("shedding") / "studies" / f"{path}.toml"
        if builtin.is_file():
            return tomllib.loads(builtin.read_text())
        raise ConfigError(f"sweep file {str(path)!r} does not exist")
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p} is not valid TOML: {e}") from None
    unknown = set(data) - SWEEP_KEYS
    if unknown:
        raise ConfigError(
            f"unknown sweep keys {sorted(unknown)} in {p}; valid: {sorted(SWEEP_KEYS)}"
        )
    return data


def expand_cases(
    sweep: dict[str, Any], *, controls: bool = True
) -> list[tuple[str, ExperimentConfig]]:
    """``(case, config)`` of every run of a sweep, controls included (deduplicated by run
    id, stable order). ``case`` is the name under ``[cases]``, "" without cases."""
    grid = sweep.get("grid", {})
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"grid key {key!r} must be a non-empty list, got {values!r}")
    cases = sweep.get("cases") or {"": {}}
    if not isinstance(cases, dict) or not all(isinstance(v, dict) for v in cases.values()):
        raise ConfigError('[cases] must hold tables of overrides, e.g. [cases.adam] "a.b" = 1')
    with_controls = controls and sweep.get("controls", True)
    keys = list(grid)
    out: dict[str, tuple[str, ExperimentConfig]] = {}
    for case, overrides in cases.items():
        base = load_config(sweep.get("base"), {**sweep.get("set", {}), **overrides})
        for combo in itertools.product(*(grid[k] for k in keys)):
            cfg = base.replace(**dict(zip(keys, combo, strict=True)))
            out.setdefault(identity.run_id(cfg), (case, cfg))
            ctrl = identity.control_config(cfg) if with_controls else None
            if ctrl is None:
                continue
            twins = [ctrl]
            if sweep.get("noise_controls", False):
                twins.append(ctrl.replace(**{"retrain.data_order": 1}))
            for c in twins:
                out.setdefault(identity.run_id(c), (case, c))
    return list(out.values())


def expand(sweep: dict[str, Any], *, controls: bool = True) -> list[ExperimentConfig]:
    """All configs of a sweep, controls included (deduplicated by run id, stable order)."""
    return [cfg for _, cfg in expand_cases(sweep, controls=controls)]


def _file_status(path: Path) -> str | None:
    """The status a run file records ("complete", "running", ...); None if unreadable."""
    from tracking import open_run

    try:
        with open_run(path) as r:
            return r.status
    except Exception:
        return None


def plan(configs: Sequence[ExperimentConfig], runs_dir: Path) -> list[PlannedRun]:
    """Decides run / resume / skip per config and orders the runs for ``--jobs`` workers:
    the first run of each dense phase first (it trains the phase the others wait for), then
    the rest longest first (retraining epochs over all rounds; ties keep their order), so
    the last runs to finish are short ones and the cores idle little at the end."""
    from shedding.pruning import round_amounts
    from shedding.retrain import retrain_epochs

    planned: list[PlannedRun] = []
    for cfg in configs:
        path = identity.run_path(runs_dir, cfg)
        action = "run"
        if (identity.work_dir(runs_dir, cfg) / "checkpoint.pt").exists():
            action = "resume"
        elif path.exists():  # damaged leftovers (status None) are rewritten
            action = "skip" if _file_status(path) == "complete" else "run"
        planned.append(PlannedRun(cfg, action))
    seen: set[str] = set()
    first: list[PlannedRun] = []
    rest: list[PlannedRun] = []
    for p in planned:
        h = dense_hash(p.cfg)
        (rest if h in seen else first).append(p)
        seen.add(h)
    # every prune round retrains; an iterative run's rounds follow from its rate
    rest.sort(key=lambda p: -retrain_epochs(p.cfg) * len(round_amounts(p.cfg.prune)))
    return first + rest


# Modules every run process needs: torch alone takes ~3 s to import on a 2-core CPU and the
# optimizer's first use imports torch._dynamo (~3.7 s more). A forkserver imports them once;
# each run is still its own process (a crash or a leak ends with that run), forked from it.
_PRELOAD = [
    "torch",
    "torch._dynamo",
    "torch._inductor.config",
    "shedding.engine.experiment",
    "tracking",  # h5py and the run-file writer (~40 ms a run otherwise)
]


def _run_context() -> Any:
    """The multiprocessing context that starts run processes: a preloaded forkserver where
    the platform has one (Linux, macOS), else spawn (each run imports everything itself)."""
    import multiprocessing

    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


#: What multiprocessing reports when the forkserver could not send a child's exit status
#: (popen_forkserver: "perhaps the forkserver process itself got killed"; under load it
#: happens without that, CPython issue #140867). Seen once here, on a run whose log and file
#: said complete; the run file is then the record.
_STATUS_LOST = 255


def _die_with_parent(sweep_pid: int) -> None:
    """SIGTERM this run process when the sweep process dies, so a killed sweep leaves no
    orphan writing on (SIGTERM ends the run as "interrupted": re-running the sweep resumes
    it). A thread waits on a pidfd of the sweep (Linux); the forkserver cannot serve here,
    since every child holds its liveness pipe open. Elsewhere the run lock still refuses
    a second writer while an orphan lives."""
    import select
    import signal
    import threading

    try:
        fd = os.pidfd_open(sweep_pid)
    except ProcessLookupError:
        os._exit(143)  # the sweep is already gone
    except (AttributeError, OSError):
        return

    def watch() -> None:
        select.select([fd], [], [])
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="sweep-watch", daemon=True).start()


def _run_child(
    cfg_dict: dict[str, Any], paths: tuple[str, str], resume: bool, log: str, threads: int,
    sweep_pid: int,
) -> None:  # fmt: skip
    """Body of one run process: :func:`run_planned` with stdout and stderr in ``log``; exits
    0 (complete), 2 (a config or run-file error, named on the log's last line), 130
    (interrupted) or 1 (a crash, its traceback in the log)."""
    _die_with_parent(sweep_pid)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.environ["SHEDDING_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    from shedding.errors import SheddingError
    from tracking.errors import RunFileError, RunLocked

    torch.set_num_threads(max(1, threads))
    try:
        print(f"{run_planned(cfg_dict, *paths, resume)}: {cfg_dict.get('name', '')}")
        code = 0
    except (SheddingError, RunFileError, RunLocked) as e:
        print(f"shedding run: error: {e}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("shedding run: interrupted; the sweep resumes it when run again", file=sys.stderr)
        code = 130
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    sys.exit(code)


def _run_process(p: PlannedRun, *, ctx: Any, data_root: Path, runs_dir: Path, threads: int) -> int:
    """Runs one planned run in its own process; returns its exit code."""
    from shedding.config import to_dict

    work = identity.work_dir(runs_dir, p.cfg)
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.toml").write_text(dumps_toml(p.cfg))  # what ran, beside its log
    args = (
        to_dict(p.cfg), (str(data_root), str(runs_dir)), p.action == "resume",
        str(work / "log.txt"), threads, os.getpid(),
    )  # fmt: skip
    proc = ctx.Process(target=_run_child, args=args)
    proc.start()
    proc.join()
    code = proc.exitcode
    if code == _STATUS_LOST and _file_status(identity.run_path(runs_dir, p.cfg)) == "complete":
        return 0  # the run finished and recorded it; only its exit status went missing
    return 1 if code is None else code


def _failure(rc: int, log: Path) -> str:
    """A failed run's outcome: its exit status and why (the last line of its log)."""
    try:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        lines = []
    why = lines[-1].strip() if lines else "(empty log)"
    return f"failed (exit {rc}): {why}  [log: {log}]"


def run_planned(cfg_dict: dict[str, Any], data_root: str, runs_dir: str, resume: bool) -> str:
    """One run of a sweep, the same call in a local worker process and in a SLURM job: the
    engine on the config (resumed, or started over). Returns the run's status."""
    from shedding.config import from_dict
    from shedding.engine.experiment import run_experiment

    res = run_experiment(
        from_dict(cfg_dict),
        data_root=data_root,
        runs_dir=runs_dir,
        resume=resume,
        overwrite=not resume,
        progress=False,
    )
    return res.status


def execute(
    planned: Iterable[PlannedRun],
    *,
    data_root: Path,
    runs_dir: Path,
    jobs: int = 1,
    executor: str = "local",
    progress: bool = True,
    executor_table: dict[str, Any] | None = None,
    on_complete: Callable[[PlannedRun], None] | None = None,
) -> dict[str, str]:
    """Runs the planned runs; returns run_id -> outcome ("complete", "skipped", "submitted",
    "failed: ..."). ``executor_table``: the sweep file's ``[executor]`` table (submitit).
    ``on_complete``: called in this thread with each run that completes, as it does."""
    from tqdm.auto import tqdm

    from shedding.config import to_dict

    todo = [p for p in planned if p.action != "skip"]
    outcome = {p.run_id: "skipped" for p in planned if p.action == "skip"}
    if jobs < 1:
        raise ConfigError(f"--jobs {jobs} must be at least 1")
    bar = tqdm(total=len(todo), desc="sweep", unit="run", disable=not progress, file=sys.stderr)
    if executor == "local":
        threads = max(1, (os.cpu_count() or 1) // jobs)
        ctx = _run_context()
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {
                pool.submit(
                    _run_process,
                    p,
                    ctx=ctx,
                    data_root=data_root,
                    runs_dir=runs_dir,
                    threads=threads,
                ): p
                for p in todo
            }
            for fut in as_completed(futures):
                p, rc = futures[fut], fut.result()
                log = identity.work_dir(runs_dir, p.cfg) / "log.txt"
                outcome[p.run_id] = "complete" if rc == 0 else _failure(rc, log)
                if rc == 0 and on_complete is not None:
                    on_complete(p)
                bar.update(1)
    else:
        from shedding.cluster import submit_array

        table = dict(executor_table or {})
        cluster = "local" if executor == "submitit-local" else "slurm"
        args = [(to_dict(p.cfg), str(data_root), str(runs_dir), p.action == "resume") for p in todo]
        jobs_ = submit_array(run_planned, args, cluster=cluster, runs_dir=runs_dir, table=table)
        subs = list(zip(todo, jobs_, strict=True))
        if not table.get("wait", True):
            ids = ", ".join(sorted({str(job.job_id).split("_")[0] for _, job in subs}))
            print(
                f"submitted {len(subs)} runs (job {ids or '-'}); re-run the sweep "
                "to collect them and to resume any that did not finish",
                file=sys.stderr,
            )
            outcome.update({p.run_id: "submitted" for p, _ in subs})
            subs = []
        for p, job in subs:
            try:
                outcome[p.run_id] = job.result()
            except Exception as e:  # a failed job must not hide the others' results
                outcome[p.run_id] = f"failed ({type(e).__name__}: {str(e).splitlines()[-1:]})"
            bar.update(1)
    bar.close()
    return outcome


def run_sweep(
    grid: str | Path,
    *,
    data_root: str | Path | None = None,
    runs_dir: str | Path | None = None,
    jobs: int = 1,
    executor: str = "local",
    controls: bool = True,
    progress: bool = True,
) -> int:
    """Expands, plans and executes a sweep, then prints the summary table. Returns exit code."""
    root = resolve_data_root(data_root)
    rdir = Path(runs_dir) if runs_dir is not None else root / "runs"
    sweep = read_sweep(grid)
    configs = expand(sweep, controls=controls)
    planned = plan(configs, rdir)
    n_skip = sum(p.action == "skip" for p in planned)
    print(f"sweep: {len(planned)} runs ({n_skip} already complete) -> {rdir}", file=sys.stderr)
    rows = LiveSummaries(planned, rdir)
    try:
        outcome = execute(
            planned,
            data_root=root,
            runs_dir=rdir,
            jobs=jobs,
            executor=executor,
            progress=progress,
            executor_table=sweep.get("executor"),
            on_complete=rows.complete,
        )
    except BaseException:
        rows.stop(cancel=True)  # an interrupted sweep prints no table: do not wait for rows
        raise
    rows.stop()
    print(summary_table([identity.run_path(rdir, p.cfg) for p in planned], made=rows.made()))
    failed = [k for k, v in outcome.items() if v.startswith("failed")]
    for k in failed:
        print(f"{k}: {outcome[k]}", file=sys.stderr)
    return 1 if failed else 0


class LiveSummaries:
    """The summary table's rows, each made on a background thread as soon as its run is
    complete (a pruned run once its control is too, when the control is in the sweep).

    The analysis then overlaps the runs still training and fills the cores left idle in
    the sweep's tail, instead of following the last run (4-5 s for 24 quick-study runs).
    A row equals the one :func:`summary_table` makes from the finished files: the same
    files, read the same way.
    """

    def __init__(self, planned: Sequence[PlannedRun], runs_dir: Path) -> None:
        self._dir = runs_dir
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep-summaries")
        self._rows: dict[str, Future[Any]] = {}
        self._ids = {p.run_id for p in planned}
        self._complete: set[str] = set()
        self._waiting: dict[str, list[PlannedRun]] = {}  # control id -> runs waiting for it
        for p in planned:
            if p.action == "skip":
                self.complete(p)

    def complete(self, p: PlannedRun) -> None:
        """``p`` finished: summarise it, unless it waits for its control; release any run
        that waited for ``p``."""
        self._complete.add(p.run_id)
        ctl = identity.control_id(p.cfg)
        if ctl in self._ids and ctl not in self._complete:
            self._waiting.setdefault(ctl, []).append(p)
        else:
            self._submit(p)
        for q in self._waiting.pop(p.run_id, []):
            self._submit(q)

    def _submit(self, p: PlannedRun) -> None:
        from shedding.analysis.summary import summarize_file

        ctl = identity.control_config(p.cfg)
        path = identity.run_path(self._dir, p.cfg)
        control = identity.run_path(self._dir, ctl) if ctl is not None else None
        self._rows[str(path)] = self._pool.submit(summarize_file, path, control=control)

    def stop(self, *, cancel: bool = False) -> None:
        """Wait for the rows started (``cancel``: only the one being made now)."""
        self._pool.shutdown(wait=True, cancel_futures=cancel)

    def made(self) -> dict[str, Future[Any]]:
        """Run-file path -> its row (a finished future: the summary, or the read error)."""
        return dict(self._rows)


def summary_table(paths: Sequence[Path], made: dict[str, Future[Any]] | None = None) -> str:
    """One line per run: what it was, its accuracy, and its shedding next to its control's.

    ``made``: rows summarised already (:class:`LiveSummaries`), by run-file path; the other
    runs are summarised here.
    """
    from shedding.analysis.runs import BAD_FILE_ERRORS, describe_error, load_runs
    from shedding.analysis.summary import summarize_loaded

    existing = [p for p in paths if p.exists()]
    if not existing:  # every run failed, or all were submitted to a cluster without waiting
        return "no run of this sweep wrote a run file yet (reasons of failed runs follow)"
    made = made or {}
    with load_runs([p for p in existing if str(p) not in made], require=False) as rs:
        summaries, bad = summarize_loaded(rs)
    for p in existing:
        if str(p) in made:
            try:
                summaries.append(made[str(p)].result())
            except BAD_FILE_ERRORS as e:
                bad.append((str(p), describe_error(e)))
    order = {str(p): i for i, p in enumerate(paths)}
    summaries.sort(key=lambda s: (s.role != "pruned", order.get(s.path, 0)))
    head = (
        f"{'run':<28}{'pruner':<16}{'sparsity':>9}{'protocol':>9}{'seed':>5}{'acc':>8}"
        f"{'shed':>8}{'ctrl shed':>10}{'C':>8}{'C excess':>9}"
    )
    lines = [head, "-" * len(head)]
    for s in summaries:
        cfg = s.config
        is_ctrl = s.role == "control"
        lines.append(
            f"{s.run_id[:27]:<28}{'(control)' if is_ctrl else cfg.get('prune.method', ''):<16}"
            f"{cfg.get('prune.sparsity', float('nan')):>9.2f}{cfg.get('retrain.protocol', ''):>9}"
            f"{cfg.get('seed', 0):>5}{s.test_acc:>8.3f}{s.shed_fraction:>8.3f}"
            f"{s.control_shed_fraction:>10.3f}{s.cascade_ratio:>8.2f}{s.excess_cascade_ratio:>9.2f}"
        )
    lines.append(
        "shed: fraction of kept weights below 1% of their layer's RMS at the prune event "
        "(layer_relative, c=0.01); ctrl shed: the unpruned control, counted on the same "
        "kept set; C: cascade ratio (weights shed during retraining per weight pruned); "
        "C excess: C minus the control's."
    )
    for path, reason in bad:
        lines.append(f"unreadable: {path}: {reason}")
    return "\n".join(lines)
