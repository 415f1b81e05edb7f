"""A study's sweep against its training floor, and where the rest of the time goes.

The floor of a set of runs is their optimizer steps alone: for every distinct dense phase
and every run's retraining, the same model, batch size, number of steps and optimizer (the
phase's: SGD or Adam with its weight decay), one thread, bare forward / backward / step, no
recording, no evaluation, no mask. It is measured in ``--jobs`` processes stepping at the
same time (the runs shared out longest first), as the sweep's processes run, once before
the sweep and once after: the machine's speed drifts by 15% and more between minutes, and
the ratio is taken against the mean of the two. The sweep is the study's runs as
``shedding study`` runs them (every part in one queue of forked processes, ``--jobs`` at a
time, dense phases cached and shared). The ratio ``sweep wall / (floor / jobs)`` is what the
engine costs above the floor; the sweep's wall time is split into start-up, run processes
and idle cores in the tail, and the findings written after it are timed apart. Then one
pruned run is profiled in-process (cProfile) and its time split by phase: start-up and data,
dense phase (training or cache), opening the run file (a copy of the dense phase's
template), retraining steps, evaluation, recording, closing.

    .venv/bin/python benchmarks/bench_sweep_floor.py [--study quick] [--jobs 2]
        [--estimate | --sampled-floor | --interleaved K] [--sample-steps 320]

``--estimate`` counts a study's steps and times a sample of them per (model, data,
optimizer) triple, in ``--jobs`` processes at once, instead of training it all: the floor of
the full study in about a minute. ``--sampled-floor`` sweeps the study between two such
estimates (the full study's floor stepped in full would take twice its sweep).
``--interleaved K`` sweeps the study's queue in K slices and samples the rates before the
first and after each, so each slice is set against the machine's speed of its own minutes
(it drifts by ±10% between minutes: two sweeps of the full study measured 1.06 and 1.21
against floors sampled only before and after them).

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


def _sample_rates(
    samples: list[tuple[ExperimentConfig, TrainConfig]], root: Path, sample_steps: int
) -> list[float]:
    """Seconds per bare step of each (config, training settings) in ``samples``, each
    over ``sample_steps`` steps after 5 warm-up steps, one thread."""
    torch.set_num_threads(1)
    out = []
    for cfg, train in samples:
        bundle = load_dataset(cfg.data, root=root, seed=cfg.seed)
        x, y = bundle.train_tensors
        model = build_model(
            cfg.model, num_classes=bundle.num_classes, input_shape=bundle.input_shape
        )
        b = cfg.data.batch_size
        _bare_steps(model, x, y, b, 1, limit=5, train=train)
        t0 = time.perf_counter()
        done = _bare_steps(model, x, y, b, 10**6, limit=sample_steps, train=train)
        out.append((time.perf_counter() - t0) / done)
    return out


Triple = tuple[Any, Any, str]  # (model config, data config, optimizer name)


def _run_steps(
    configs: list[ExperimentConfig], root: Path
) -> tuple[
    list[dict[Triple, int]], dict[Triple, tuple[ExperimentConfig, TrainConfig]], dict[Triple, str]
]:
    """Per run of ``configs`` (in their order), its optimizer steps per (model, data,
    optimizer) triple, each dense phase counted with the first run that uses it (the one
    the sweep plans first to train it); the first (config, training settings) of each
    triple, to sample its rate with; and each triple's name."""
    per_run: list[dict[Triple, int]] = []
    first: dict[Triple, tuple[ExperimentConfig, TrainConfig]] = {}
    names: dict[Triple, str] = {}
    sizes: dict[Any, int] = {}
    for cfg, phases in _phases(configs):
        if cfg.data not in sizes:
            sizes[cfg.data] = len(load_dataset(cfg.data, root=root, seed=cfg.seed).train_tensors[1])
        counts: dict[Triple, int] = {}
        for epochs, train in phases:
            key = (cfg.model, cfg.data, train.optimizer)
            if key not in first:
                first[key] = (cfg, train)
                names[key] = (
                    f"{cfg.model.name} width {cfg.model.width:g}, {sizes[cfg.data]} examples, "
                    f"batch {cfg.data.batch_size}, {train.optimizer}"
                )
            counts[key] = counts.get(key, 0) + epochs * _steps(sizes[cfg.data], cfg.data.batch_size)
        per_run.append(counts)
    return per_run, first, names


def _rates(
    samples: list[tuple[ExperimentConfig, TrainConfig]],
    root: Path,
    sample_steps: int,
    jobs: int,
    pool: Any = None,
) -> list[float]:
    """Seconds per bare step of each sample, stepped in ``jobs`` processes at once (of
    ``pool``, or of a new one) and averaged over them; in this process when ``jobs`` is 1."""
    if jobs <= 1:
        return _sample_rates(samples, root, sample_steps)
    if pool is None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as new:
            return _rates(samples, root, sample_steps, jobs, new)
    parts = list(pool.map(_sample_rates, [samples] * jobs, [root] * jobs, [sample_steps] * jobs))
    return [sum(r) / jobs for r in zip(*parts, strict=True)]


def estimate_floor(
    configs: list[ExperimentConfig], root: Path, sample_steps: int = 60, jobs: int = 1
) -> tuple[float, int, dict[str, float]]:
    """The floor of ``configs`` without training them all: their steps are counted per
    distinct (model, data, optimizer) triple, and each one's seconds per step are timed
    over ``sample_steps`` bare steps (after 5 warm-up steps). With ``jobs`` > 1 the same
    samples are stepped in ``jobs`` processes at once and their seconds per step averaged,
    so the rate carries what the processes cost each other, as the sweep's ``jobs`` run
    processes do.
    Returns (seconds, steps, seconds per step of each triple). A last, shorter batch of an
    epoch counts as a full one, so the estimate errs high by at most one batch per epoch."""
    per_run, first, names = _run_steps(configs, root)
    counts = {key: sum(c.get(key, 0) for c in per_run) for key in first}
    rates = _rates(list(first.values()), root, sample_steps, jobs)
    per_step = {names[key]: sec for key, sec in zip(first, rates, strict=True)}
    total = sum(counts[key] * sec for key, sec in zip(first, rates, strict=True))
    return total, sum(counts.values()), per_step


def interleaved_sweep(
    configs: list[ExperimentConfig], root: Path, jobs: int, chunks: int, sample_steps: int
) -> tuple[list[dict[str, float]], dict[str, list[float]]]:
    """The study's planned runs swept in ``chunks`` consecutive slices of its one queue,
    the floor's rates sampled (as :func:`estimate_floor`, ``jobs`` processes at once)
    before the first slice and after each, so each slice is set against the machine's
    speed of its own minutes rather than the speed before and after the whole sweep (it
    drifts by ±10% between minutes). Each slice ends with an idle tail the one queue does
    not have, so the summed wall time errs high. Returns per slice its runs, steps, wall
    time and floor over ``jobs`` (its steps at the mean of the rates sampled on either side),
    and the sampled rates of each triple."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import shedding.sweep as sw

    runs_dir = root / "runs"
    per_run, first, names = _run_steps(configs, root)
    steps_of = {identity.run_id(c): n for c, n in zip(configs, per_run, strict=True)}
    planned = sw.plan(configs, runs_dir)  # dense phases first, then longest first
    size = -(-len(planned) // chunks)
    slices = [planned[i : i + size] for i in range(0, len(planned), size)]
    samples = list(first.values())
    ctx = multiprocessing.get_context("spawn")
    rates: list[list[float]] = []
    walls: list[float] = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        rates.append(_rates(samples, root, sample_steps, jobs, pool))
        for part in slices:
            t = time.perf_counter()
            out = sw.execute(part, data_root=root, runs_dir=runs_dir, jobs=jobs, progress=False)
            walls.append(time.perf_counter() - t)
            failed = {k: v for k, v in out.items() if v != "complete"}
            if failed:
                raise SystemExit(f"a run failed: {next(iter(failed.items()))}")
            rates.append(_rates(samples, root, sample_steps, jobs, pool))
    rows = []
    for k, (part, wall) in enumerate(zip(slices, walls, strict=True)):
        rate = {key: (rates[k][i] + rates[k + 1][i]) / 2 for i, key in enumerate(first)}
        floor = sum(n * rate[key] for p in part for key, n in steps_of[p.run_id].items())
        steps = sum(sum(steps_of[p.run_id].values()) for p in part)
        rows.append({"runs": len(part), "steps": steps, "wall": wall, "floor / jobs": floor / jobs})
    return rows, {names[key]: [r[i] for r in rates] for i, key in enumerate(first)}


def sweep_seconds(study: str, root: Path, jobs: int) -> tuple[float, dict[str, float]]:
    """Wall time of ``shedding study <study>``'s runs as the study runs them (every part's
    runs in one queue of ``jobs`` forked processes), and how it splits: start-up before
    the first run process, the run processes (their summed lifetimes over ``jobs``), cores
    left idle while runs were executing (the tail, where fewer runs than jobs remain).
    The findings written after the runs are timed apart (returned in the split, not in
    the wall time)."""
    import shedding.study as st
    import shedding.sweep as sw

    spans: list[tuple[float, float]] = []
    executing: list[tuple[float, float]] = []
    run_process, execute = sw._run_process, sw.execute

    def timed_run(*args: Any, **kwargs: Any) -> int:
        t = time.perf_counter()
        try:
            return run_process(*args, **kwargs)
        finally:
            spans.append((t, time.perf_counter()))

    def timed_execute(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return execute(*args, **kwargs)
        finally:
            executing.append((t, time.perf_counter()))

    sw._run_process, sw.execute = timed_run, timed_execute
    try:
        t0 = time.perf_counter()
        rc = st.run_study(
            study, data_root=root, runs_dir=root / "runs", out=root / "findings", jobs=jobs,
            progress=False,
        )  # fmt: skip
        done = time.perf_counter()
    finally:
        sw._run_process, sw.execute = run_process, execute
    if rc != 0:
        raise SystemExit(f"study {study!r}: a run failed (exit {rc}); see its log")
    ((start, end),) = executing
    busy = sum(e - s for s, e in spans)
    durations = sorted(e - s for s, e in spans)
    out = {
        "start-up before the first run process": min(s for s, _ in spans) - t0,
        "run processes (summed lifetimes / jobs)": busy / jobs,
        "idle cores while executing (/ jobs)": (end - start) - busy / jobs,
        "median run process": durations[len(durations) // 2],
        "longest run process": durations[-1],
        "findings after the runs (not in the wall time)": done - end,
    }
    return end - t0, out


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


def _print_interleaved(
    configs: list[ExperimentConfig], root: Path, jobs: int, chunks: int, sample_steps: int
) -> None:
    rows, rates = interleaved_sweep(configs, root, jobs, chunks, sample_steps)
    print(
        f"{len(configs)} runs in {len(rows)} slices, rates sampled over {sample_steps} steps "
        f"per triple in {jobs} processes at once before the first slice and after each:"
    )
    for name, series in rates.items():
        print(f"  {name}: " + ", ".join(f"{1000 * r:.1f}" for r in series) + " ms per step")
    for k, row in enumerate(rows, 1):
        print(
            f"  slice {k}: {row['runs']:3d} runs, sweep {row['wall']:6.1f} s, floor / jobs "
            f"{row['floor / jobs']:6.1f} s: {row['wall'] / row['floor / jobs']:.2f}"
        )
    wall = sum(r["wall"] for r in rows)
    floor = sum(r["floor / jobs"] for r in rows)
    print(
        f"sweep wall, {jobs} jobs: {wall:.1f} s ({wall / 60:.1f} min); floor / jobs at each "
        f"slice's rates: {floor:.1f} s ({floor / 60:.1f} min); ratio {wall / floor:.2f}"
    )
    print(f"load average after: {os.getloadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--study", default="quick")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--estimate",
        action="store_true",
        help="only estimate the floor (steps counted, seconds per step sampled in --jobs "
        "processes at once): no sweep",
    )
    ap.add_argument(
        "--sampled-floor",
        action="store_true",
        help="time the sweep against floors estimated (as --estimate) right before and "
        "right after it, instead of stepping every run twice: for the full study",
    )
    ap.add_argument(
        "--sample-steps", type=int, default=320, help="bare steps timed per sampled triple"
    )
    ap.add_argument(
        "--interleaved",
        type=int,
        default=0,
        metavar="K",
        help="sweep the study's queue in K slices with the floor's rates sampled between "
        "them, each slice against the rates on either side of it (the findings are not "
        "written)",
    )
    a = ap.parse_args()
    configs = [cfg for _, cfg in study_configs(a.study)]

    def floor_now() -> tuple[float, int, dict[str, float]]:
        if a.estimate or a.sampled_floor:
            return estimate_floor(configs, root, sample_steps=a.sample_steps, jobs=a.jobs)
        return (*floor_in_parallel(configs, root, a.jobs), {})

    how = (
        f"estimated: steps counted, {a.sample_steps} sampled per triple"
        if a.estimate or a.sampled_floor
        else "every run stepped"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"load average before: {os.getloadavg()}")
        if a.interleaved:
            _print_interleaved(configs, root, a.jobs, a.interleaved, a.sample_steps)
            return
        before, steps, rates = floor_now()
        print(f"study {a.study!r}: {len(configs)} runs, {steps} optimizer steps")
        for name, sec in rates.items():
            print(f"  {name}: {1000 * sec:.1f} ms per step ({a.jobs} processes at once)")
        if a.estimate:
            print(
                f"floor (bare steps, 1 thread, {how}): {before:.0f} s; floor / jobs: "
                f"{before / a.jobs:.0f} s ({before / a.jobs / 60:.1f} min)"
            )
            print(f"load average after: {os.getloadavg()}")
            return
        wall, split = sweep_seconds(a.study, root, a.jobs)
        print(f"load average at the sweep's end: {os.getloadavg()}")
        after, _, rates = floor_now()
        for name, sec in rates.items():
            print(f"  after the sweep, {name}: {1000 * sec:.1f} ms per step")
        floor = (before + after) / 2
        print(
            f"floor (bare steps, 1 thread, {a.jobs} processes at once, {how}): {before:.1f} s "
            f"before the sweep, {after:.1f} s after; their mean / jobs: {floor / a.jobs:.1f} s "
            f"({floor / a.jobs / 60:.1f} min)"
        )
        print(
            f"sweep wall, {a.jobs} jobs: {wall:.1f} s ({wall / 60:.1f} min); ratio sweep / "
            f"(floor / jobs): {wall / (floor / a.jobs):.2f} (against the floor before: "
            f"{wall / (before / a.jobs):.2f}, after: {wall / (after / a.jobs):.2f})"
        )
        for what, seconds in split.items():
            print(f"  {what:<48} {seconds:7.1f} s")
        pruned = next(c for c in configs if not identity.is_control(c))
        print(f"phase profile of one pruned run ({identity.run_id(pruned)}), in-process:")
        for phase, seconds in profile_one(pruned, root).items():
            print(f"  {phase:<48} {seconds:7.2f} s")
        print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
