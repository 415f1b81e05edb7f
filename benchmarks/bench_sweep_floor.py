"""A study's sweep against its training floor, and where the rest of the time goes.

The floor of a set of runs is their optimizer steps alone: for every distinct dense phase
and every run's retraining, the same model, batch size, number of steps and optimizer (the
phase's: SGD or Adam with its weight decay), one thread, bare forward / backward / step, no
recording, no evaluation, no mask. It is measured in ``--jobs`` processes stepping at the
same time (the runs shared out longest first), as the sweep's processes run, once before
the sweep and once after: the machine's speed drifts by 15% and more between minutes, and
the ratio is taken against the mean of the two. The sweep is the same runs as
``shedding sweep`` runs them (forked processes, ``--jobs`` at a time, dense phases cached and
shared). The ratio ``sweep wall / (floor / jobs)`` is what the engine costs above the floor;
the sweep's wall time is split into start-up, run processes, idle cores in the tail and
the summary table's analysis. Then one pruned run is profiled in-process (cProfile) and its
time split by phase: start-up and data, dense phase (training or cache), opening the run
file (a copy of the dense phase's template), retraining steps, evaluation, recording,
closing.

    .venv/bin/python benchmarks/bench_sweep_floor.py [--study quick] [--jobs 2] [--estimate]

``--estimate`` counts a study's steps and times a sample of them per model and data set
instead of training and sweeping it all: the floor of the full study in about a minute.

Runs go to a temporary directory; nothing in ``data/`` is touched. Report the machine's
load average with the figures (it is printed).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from shedding.config import ExperimentConfig, TrainConfig, dense_hash
from shedding.data import load_dataset
from shedding.engine import identity
from shedding.models import build_model
from shedding.pruning import round_amounts
from shedding.retrain import retrain_epochs
from shedding.retrain.optimizer import retrain_train_config
from shedding.study import study_configs
from shedding.train.optim import build_optimizer

#: (module file suffix, function) whose cumulative time makes up each phase of the run.
PHASES = {
    "data": ("data/base.py", "load_dataset"),
    "dense phase (train or cache)": ("dense.py", "ensure_dense"),
    "opening the run file (dense rows from the template)": ("recording.py", "open_recording"),
    "  of which recording a template's dense rows": ("recording.py", "replay_dense"),
    "retraining (steps, evaluation, recording)": ("train/loop.py", "train_phase"),
    "  of which evaluation": ("train/loop.py", "evaluate"),
    "  of which recording (snapshot copies)": ("recording.py", "snapshot"),
    "closing the run file (writer thread drains)": ("tracking/writer.py", "close"),
}


def _steps(n_train: int, batch: int) -> int:
    return -(-n_train // batch)


def _bare_steps(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    b: int,
    epochs: int,
    limit: int | None = None,
    train: TrainConfig | None = None,
) -> int:
    """Bare training steps over ``x, y`` (batch ``b``) for ``epochs``, at most ``limit``,
    with the optimizer ``train`` names (the phase's: SGD or Adam, its weight decay and
    parameter groups; default SGD with momentum)."""
    opt = build_optimizer(model, train or TrainConfig())
    model.train()
    steps = 0
    for _ in range(epochs):
        order = torch.randperm(len(y))
        for i in range(0, len(y), b):
            if limit is not None and steps >= limit:
                return steps
            idx = order[i : i + b]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
    return steps


def _phases(configs: list[ExperimentConfig]) -> Phases:
    """Per run, the phases the floor counts (each dense phase once): epochs and the
    training settings whose optimizer the phase steps with."""
    seen: set[str] = set()
    out = []
    for cfg in configs:
        phases = [] if dense_hash(cfg) in seen else [(cfg.train.epochs, cfg.train)]
        seen.add(dense_hash(cfg))
        # every prune round retrains (an iterative run's rounds follow from its rate)
        rounds = [(retrain_epochs(cfg), retrain_train_config(cfg))] * len(round_amounts(cfg.prune))
        out.append((cfg, phases + rounds))
    return out


Phases = list[tuple[ExperimentConfig, list[tuple[int, TrainConfig]]]]


def _floor_of(items: Phases, root: Path) -> tuple[float, int]:
    """Seconds of bare training steps of ``items`` (runs and their phases) and the steps."""
    torch.set_num_threads(1)
    total, steps = 0.0, 0
    for cfg, phases in items:
        bundle = load_dataset(cfg.data, root=root, seed=cfg.seed)
        x, y = bundle.train_tensors
        model = build_model(
            cfg.model, num_classes=bundle.num_classes, input_shape=bundle.input_shape
        )
        for epochs, train in phases:
            t0 = time.perf_counter()
            steps += _bare_steps(model, x, y, cfg.data.batch_size, epochs, train=train)
            total += time.perf_counter() - t0
    return total, steps


def floor_seconds(configs: list[ExperimentConfig], root: Path) -> tuple[float, int]:
    """Seconds of bare training steps for ``configs`` (each dense phase once) and the steps."""
    return _floor_of(_phases(configs), root)


def floor_in_parallel(configs: list[ExperimentConfig], root: Path, jobs: int) -> tuple[float, int]:
    """:func:`floor_seconds` with the runs shared out over ``jobs`` processes that step at
    the same time, as the sweep's run processes do (longest first, each to the least
    loaded process), so the floor carries whatever the cores cost each other. Returns
    the summed seconds of every process's steps and the steps."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    for cfg in configs:  # data generated once, before the timing
        load_dataset(cfg.data, root=root, seed=cfg.seed)
    items = sorted(_phases(configs), key=lambda it: -sum(e for e, _ in it[1]))
    shares: list[list[Any]] = [[] for _ in range(jobs)]
    load = [0] * jobs
    for it in items:
        k = load.index(min(load))
        shares[k].append(it)
        load[k] += sum(e for e, _ in it[1])
    # an executor, not a Pool: a process that cannot start fails the call instead of hanging
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        parts = list(pool.map(_floor_of, shares, [root] * jobs))
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def estimate_floor(
    configs: list[ExperimentConfig], root: Path, sample_steps: int = 60
) -> tuple[float, int, dict[str, float]]:
    """The floor of ``configs`` without training them all: their steps are counted per
    distinct (model, data, optimizer) triple, and each one's seconds per step are timed
    over ``sample_steps`` bare steps (after 5 warm-up steps). Returns (seconds, steps,
    seconds per step of each triple). A last, shorter batch of an epoch counts as a full
    one, so the estimate errs high by at most one batch per epoch."""
    torch.set_num_threads(1)
    counts: dict[tuple[Any, Any, str], int] = {}
    first: dict[tuple[Any, Any, str], tuple[ExperimentConfig, TrainConfig]] = {}
    sizes: dict[Any, int] = {}
    for cfg, phases in _phases(configs):
        if cfg.data not in sizes:
            sizes[cfg.data] = len(load_dataset(cfg.data, root=root, seed=cfg.seed).train_tensors[1])
        for epochs, train in phases:
            key = (cfg.model, cfg.data, train.optimizer)
            first.setdefault(key, (cfg, train))
            counts[key] = counts.get(key, 0) + epochs * _steps(sizes[cfg.data], cfg.data.batch_size)
    total, per_step = 0.0, {}
    for key, n in counts.items():
        cfg, train = first[key]
        bundle = load_dataset(cfg.data, root=root, seed=cfg.seed)
        x, y = bundle.train_tensors
        model = build_model(
            cfg.model, num_classes=bundle.num_classes, input_shape=bundle.input_shape
        )
        b = cfg.data.batch_size
        _bare_steps(model, x, y, b, 1, limit=5, train=train)
        t0 = time.perf_counter()
        done = _bare_steps(model, x, y, b, 10**6, limit=sample_steps, train=train)
        sec = (time.perf_counter() - t0) / done
        name = (
            f"{cfg.model.name} width {cfg.model.width:g}, {sizes[cfg.data]} examples, "
            f"batch {b}, {train.optimizer}"
        )
        per_step[name] = sec
        total += sec * n
    return total, sum(counts.values()), per_step


def sweep_seconds(study: str, root: Path, jobs: int) -> tuple[float, dict[str, float]]:
    """Wall time of ``shedding study <study>``'s runs through the sweep machinery, and how
    it splits: start-up before the first run process, the run processes (their summed
    lifetimes over ``jobs``), cores left idle while runs were executing (the tail, where
    fewer runs than jobs remain), and the summary table analysed after the runs."""
    import shedding.sweep as sw
    from shedding.study import STUDIES

    spans: list[tuple[float, float]] = []
    split = {"summary table (analysis)": 0.0, "executing": 0.0, "rows still being made": 0.0}
    run_process, execute, summary_table = sw._run_process, sw.execute, sw.summary_table
    stop = sw.LiveSummaries.stop

    def timed_run(*args: Any, **kwargs: Any) -> int:
        t = time.perf_counter()
        try:
            return run_process(*args, **kwargs)
        finally:
            spans.append((t, time.perf_counter()))

    def timed(key: str, f: Any) -> Any:
        def inner(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return f(*args, **kwargs)
            finally:
                split[key] += time.perf_counter() - t

        return inner

    sw._run_process = timed_run
    sw.execute = timed("executing", execute)
    sw.summary_table = timed("summary table (analysis)", summary_table)
    sw.LiveSummaries.stop = timed("rows still being made", stop)  # type: ignore[method-assign]
    try:
        t0 = time.perf_counter()
        for part in STUDIES[study].sweeps:
            sw.run_sweep(part, data_root=root, runs_dir=root / "runs", jobs=jobs, progress=False)
        wall = time.perf_counter() - t0
    finally:
        sw._run_process, sw.execute, sw.summary_table = run_process, execute, summary_table
        sw.LiveSummaries.stop = stop  # type: ignore[method-assign]
    busy = sum(e - s for s, e in spans)
    durations = sorted(e - s for s, e in spans)
    out = {
        "start-up before the first run process": min(s for s, _ in spans) - t0,
        "run processes (summed lifetimes / jobs)": busy / jobs,
        "idle cores while executing (/ jobs)": split["executing"] - busy / jobs,
        "summary rows still being made after the last run": split["rows still being made"],
        "summary table (the rest of its analysis)": split["summary table (analysis)"],
        "median run process": durations[len(durations) // 2],
        "longest run process": durations[-1],
    }
    return wall, out


def profile_one(cfg: ExperimentConfig, root: Path) -> dict[str, float]:
    """Cumulative seconds per phase of one run, in-process (its dense phase cached)."""
    from shedding.engine.experiment import run_experiment

    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    run_experiment(cfg, data_root=root, runs_dir=root / "profiled", progress=False)
    prof.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(prof).stats  # (file, line, name) -> (cc, nc, tt, ct, callers)
    out = {"total (in-process)": wall}
    for phase, (suffix, name) in PHASES.items():
        out[phase] = sum(v[3] for k, v in stats.items() if k[2] == name and k[0].endswith(suffix))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--study", default="quick")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--estimate",
        action="store_true",
        help="only estimate the floor (steps counted, seconds per step sampled): no sweep",
    )
    a = ap.parse_args()
    configs = [cfg for _, cfg in study_configs(a.study)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"load average before: {os.getloadavg()}")
        if a.estimate:
            floor, steps, per_step = estimate_floor(configs, root)
            print(f"study {a.study!r}: {len(configs)} runs, {steps} optimizer steps")
            for name, sec in per_step.items():
                print(f"  {name}: {1000 * sec:.1f} ms per step")
            print(
                f"estimated floor (bare steps, 1 thread): {floor:.0f} s; floor / jobs: "
                f"{floor / a.jobs:.0f} s ({floor / a.jobs / 60:.1f} min)"
            )
            print(f"load average after: {os.getloadavg()}")
            return
        before, steps = floor_in_parallel(configs, root, a.jobs)
        wall, split = sweep_seconds(a.study, root, a.jobs)
        after, _ = floor_in_parallel(configs, root, a.jobs)
        floor = (before + after) / 2
        print(f"study {a.study!r}: {len(configs)} runs, {steps} optimizer steps")
        print(
            f"floor (bare steps, 1 thread, {a.jobs} processes at once): {before:.1f} s before "
            f"the sweep, {after:.1f} s after; their mean / jobs: {floor / a.jobs:.1f} s"
        )
        print(
            f"sweep wall, {a.jobs} jobs: {wall:.1f} s; ratio sweep / (floor / jobs): "
            f"{wall / (floor / a.jobs):.2f} (against the floor before: "
            f"{wall / (before / a.jobs):.2f}, after: {wall / (after / a.jobs):.2f})"
        )
        for what, seconds in split.items():
            print(f"  {what:<46} {seconds:7.1f} s")
        pruned = next(c for c in configs if not identity.is_control(c))
        print(f"phase profile of one pruned run ({identity.run_id(pruned)}), in-process:")
        for phase, seconds in profile_one(pruned, root).items():
            print(f"  {phase:<46} {seconds:7.2f} s")
        print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
