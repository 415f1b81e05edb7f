"""The ``shedding`` command: a thin shell, one library call per command.

Library errors (bad config, unknown name, missing data, damaged run file) become one
line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from shedding.errors import SheddingError

EXAMPLES: dict[str, str] = {
    "run": "shedding run mnist1d-demo --set prune.sparsity=0.8 --set retrain.protocol=ft",
    "sweep": "shedding sweep examples/sweep-mnist1d.toml --jobs 2",
    "demo": "shedding demo            # quick MNIST-1D study, about 5 minutes on 2 cores",
    "study": "shedding study full --jobs 2   # the full MNIST-1D study, then its tables",
    "inspect": "shedding inspect data/runs/mnist1d-demo-1a2b3c4d5e6f.h5",
    "analyze": "shedding analyze data/runs/*.h5 --threshold-rule layer_relative --threshold 0.01",
    "link": "shedding link runs/pruned.h5 runs/control.h5",
    "compare": "shedding compare data/runs --by prune.method,retrain.protocol",
    "report": "shedding report data/runs -o report.html",
    "export": "shedding export data/runs --format parquet -o exported/",
    "tensorboard": "shedding tensorboard data/runs --logdir tb/   # then: tensorboard --logdir tb/",
    "dashboard": "shedding dashboard data/runs --port 8050",
    "presets": "shedding presets",
    "config": "shedding config mnist1d-demo --set train.lr=0.05",
}


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "config",
        nargs="?",
        default="mnist1d-demo",
        help="preset name or .toml/.yaml file (default: mnist1d-demo)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set train.lr=0.05 (repeatable)",
    )


def _add_roots(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-root", default=None, help="data root (default: $SHEDDING_DATA_ROOT or ./data)"
    )
    p.add_argument("--runs-dir", default=None, help="where run files go (default: DATA_ROOT/runs)")


def _add_study_jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="runs in parallel (default: 2, or 1 on a 1-core machine)",
    )


def _add_threshold(p: argparse.ArgumentParser) -> None:
    from shedding.analysis.thresholds import DEFAULT_C, DEFAULT_RULE

    p.add_argument(
        "--threshold-rule",
        default=DEFAULT_RULE,
        help=f"absolute, layer_relative or gmp_relative (default {DEFAULT_RULE})",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_C,
        help=f"the constant c of the rule (default {DEFAULT_C})",
    )


def _add_by(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--by",
        default="prune.method,retrain.protocol",
        help="comma-separated config keys to group by",
    )


def _cmd_run(a: argparse.Namespace) -> int:
    from shedding.config import dumps_toml, load_config

    cfg = load_config(a.config, a.overrides)  # value checks, before torch is imported
    from shedding.engine.experiment import run_experiment, validate
    from shedding.engine.identity import control_config

    _set_threads()
    if a.control:
        ctrl = control_config(cfg)
        if ctrl is None:
            raise SheddingError(
                f"retrain.protocol={cfg.retrain.protocol!r} has no unpruned control"
            )
        cfg = ctrl
    validate(cfg)  # names and combinations, before the config print-out and any data
    if not a.quiet:
        print(f"# resolved config\n{dumps_toml(cfg)}", file=sys.stderr)
    res = run_experiment(
        cfg,
        data_root=a.data_root,
        runs_dir=a.runs_dir,
        resume=a.resume,
        overwrite=a.overwrite,
        progress=not a.quiet,
    )
    if os.environ.get("RANK", "0") != "0":
        return 0  # under torchrun the main rank alone reports (the others log no metrics)
    print(
        f"{res.status}: {res.path}  dense acc {res.dense_test_acc:.4f}  final acc "
        f"{res.test_acc:.4f}  sparsity {res.sparsity:.4f}  ({res.seconds:.0f} s)"
    )
    print(f"next: shedding analyze {res.path}")
    return 0


def _set_threads() -> None:
    # Parallel sweep jobs share the cores: each gets SHEDDING_THREADS torch threads.
    import os

    n = os.environ.get("SHEDDING_THREADS")
    if n:
        import torch

        torch.set_num_threads(max(1, int(n)))


def _cmd_sweep(a: argparse.Namespace) -> int:
    from shedding.sweep import run_sweep

    return run_sweep(
        a.grid,
        data_root=a.data_root,
        runs_dir=a.runs_dir,
        jobs=a.jobs,
        executor=a.executor,
        controls=not a.no_controls,
        progress=not a.quiet,
    )


def _cmd_study(a: argparse.Namespace) -> int:
    from shedding.study import run_study

    return run_study(
        a.name,
        data_root=a.data_root,
        runs_dir=a.runs_dir,
        out=a.out,
        jobs=a.jobs,
        tables_only=a.tables_only,
        progress=not a.quiet,
    )


def _cmd_demo(a: argparse.Namespace) -> int:
    from shedding.studies.demo import run_demo

    return run_demo(data_root=a.data_root, runs_dir=a.runs_dir, jobs=a.jobs, full=a.full)


def _cmd_inspect(a: argparse.Namespace) -> int:
    from shedding.describe import inspect_text

    for path in a.runs:
        print(inspect_text(path))
    return 0


def _cmd_analyze(a: argparse.Namespace) -> int:
    from shedding.analysis.cascade import DeadCut
    from shedding.analysis.cli_format import analyze_text
    from tracking import open_run

    for path in a.runs:  # a file named on the command line must be readable
        if not os.path.isdir(path):
            open_run(path).close()
    dead = DeadCut(shed=a.dead_shed, gamma=a.dead_gamma)
    print(
        analyze_text(
            a.runs,
            rule=a.threshold_rule,
            c=a.threshold,
            as_json=a.json,
            control=a.control,
            dead=dead,
        )
    )
    return 0


def _cmd_link(a: argparse.Namespace) -> int:
    from shedding.analysis.link import link_control

    print(link_control(a.run, a.control))
    return 0


def _cmd_compare(a: argparse.Namespace) -> int:
    from shedding.analysis.cli_format import compare_text

    by = [k for k in a.by.split(",") if k]
    print(compare_text(a.runs, by=by, rule=a.threshold_rule, c=a.threshold, as_json=a.json))
    return 0


def _cmd_report(a: argparse.Namespace) -> int:
    from shedding.analysis.report import write_report

    by = tuple(k for k in a.by.split(",") if k)
    out = write_report(a.runs_dir, a.output, rule=a.threshold_rule, c=a.threshold, by=by)
    print(f"wrote {out}")
    return 0


def _cmd_export(a: argparse.Namespace) -> int:
    from shedding.analysis.export import export_runs

    written, bad = export_runs(a.runs, a.output, fmt=a.format, rule=a.threshold_rule, c=a.threshold)
    for path, why in bad:
        print(f"skipped {path}: {why}", file=sys.stderr)
    print(f"wrote {len(written)} files to {a.output}")
    return 0


def _cmd_tensorboard(a: argparse.Namespace) -> int:
    from shedding.analysis.runs import load_runs
    from shedding.analysis.to_tensorboard import log_run

    with load_runs(a.runs) as rs:
        for path, why in rs.bad:
            print(f"skipped {path}: {why}", file=sys.stderr)
        for run in rs:
            print(f"wrote {log_run(run, a.logdir, rule=a.threshold_rule, c=a.threshold)}")
    return 0


def _cmd_dashboard(a: argparse.Namespace) -> int:
    from dashboard.app import serve

    serve(a.runs_dir, host=a.host, port=a.port, refresh_ms=a.refresh_ms)
    return 0


def _cmd_presets(a: argparse.Namespace) -> int:
    from shedding.config import preset_names

    print("\n".join(preset_names()))
    return 0


def _cmd_config(a: argparse.Namespace) -> int:
    from shedding.config import config_hash, dumps_toml, load_config

    cfg = load_config(a.config, a.overrides)
    print(f"# hash {config_hash(cfg)}\n{dumps_toml(cfg)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every command's --help ends with an example."""
    parser = argparse.ArgumentParser(
        prog="shedding",
        description="Instrumented pruning experiments; measurement of cascade weight shedding.",
        epilog="examples:\n" + "\n".join(f"  {v}" for v in EXAMPLES.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from shedding import __version__

    parser.add_argument("--version", action="version", version=f"cascade-shedding {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(
        name: str, help_: str, fn: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_,
            description=help_,
            epilog=f"example:\n  {EXAMPLES[name]}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(fn=fn)
        return p

    p = add("run", "train, prune and retrain one experiment, recording a run file", _cmd_run)
    _add_config_args(p)
    _add_roots(p)
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run file")
    p.add_argument(
        "--control",
        action="store_true",
        help="run the unpruned control of this config (same retraining, no pruning)",
    )
    p.add_argument("--quiet", action="store_true", help="no config print-out, no progress bars")

    p = add(
        "sweep",
        "run a grid of experiments (with their controls), skipping finished ones",
        _cmd_sweep,
    )
    p.add_argument("grid", help="sweep file (.toml) with [grid] lists of values per config key")
    _add_roots(p)
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel on this machine")
    p.add_argument(
        "--executor",
        default="local",
        choices=["local", "slurm", "submitit-local"],
        help="where runs execute (slurm needs submitit)",
    )
    p.add_argument("--no-controls", action="store_true", help="do not add unpruned control runs")
    p.add_argument("--quiet", action="store_true")

    p = add("demo", "the quick MNIST-1D study: runs, controls and a results table", _cmd_demo)
    _add_roots(p)
    _add_study_jobs(p)
    p.add_argument("--full", action="store_true", help="the full study (= shedding study full)")

    p = add("study", "run a built-in study's sweeps, then write its findings tables", _cmd_study)
    p.add_argument("name", nargs="?", default="quick", help="quick (default), regimes or full")
    _add_roots(p)
    _add_study_jobs(p)
    p.add_argument("--out", help="folder for findings.md (default: <data root>/study/<name>)")
    p.add_argument(
        "--tables-only", action="store_true", help="write the tables from the runs on disk"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")

    p = add(
        "inspect", "print a run file's format, status, layers, snapshots and config", _cmd_inspect
    )
    p.add_argument("runs", nargs="+", help="run files (.h5)")

    for name, help_, fn in (
        ("analyze", "cascade summary per prune round, with the control", _cmd_analyze),
        ("compare", "compare groups of runs (mean, CI over seeds, tests)", _cmd_compare),
    ):
        p = add(name, help_, fn)
        p.add_argument("runs", nargs="+", help="run files or directories")
        p.add_argument("--json", action="store_true", help="JSON with the same fields")
        _add_threshold(p)
        if name == "analyze":
            p.add_argument(
                "--control",
                default=None,
                help="the control run file (default: found by run id beside the run)",
            )
            p.add_argument(
                "--dead-shed",
                type=float,
                default=0.9,
                help="a channel is dead when at least this share of its kept weights is shed "
                "(default 0.9)",
            )
            p.add_argument(
                "--dead-gamma",
                type=float,
                default=1e-3,
                help="... or when its BatchNorm |gamma| is below this (default 1e-3)",
            )
        else:
            _add_by(p)

    p = add(
        "link", "make CONTROL the unpruned control run of RUN (files of your own loop)", _cmd_link
    )
    p.add_argument("run", help="the pruned run file (.h5)")
    p.add_argument("control", help="its control: the same loop without pruning (.h5)")

    p = add("report", "write one self-contained HTML report of a runs directory", _cmd_report)
    p.add_argument("runs_dir", nargs="?", default="data/runs")
    p.add_argument("-o", "--output", default="report.html")
    _add_threshold(p)
    _add_by(p)

    p = add(
        "export",
        "write run statistics and run summaries as Parquet or CSV tables",
        _cmd_export,
    )
    p.add_argument("runs", nargs="+", help="run files or directories")
    p.add_argument("--format", default="parquet", choices=["parquet", "csv"])
    p.add_argument("-o", "--output", required=True, help="folder for the tables")
    _add_threshold(p)

    p = add(
        "tensorboard",
        "log shed fraction, effective sparsity, C and C excess per layer and round",
        _cmd_tensorboard,
    )
    p.add_argument("runs", nargs="+", help="run files or directories")
    p.add_argument("--logdir", required=True, help="TensorBoard log directory")
    _add_threshold(p)

    p = add("dashboard", "serve the web dashboard over a runs directory", _cmd_dashboard)
    p.add_argument("runs_dir", nargs="?", default="data/runs")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8050)
    p.add_argument(
        "--refresh-ms",
        type=int,
        default=2000,
        help="how often open pages look for new snapshots (default 2000)",
    )

    add("presets", "list the built-in presets", _cmd_presets)
    p = add("config", "print the resolved config of a preset or file with overrides", _cmd_config)
    _add_config_args(p)
    return parser


def _user_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [SheddingError]
    try:
        from tracking.errors import RunFileError, RunLocked

        types += [RunFileError, RunLocked]
    except ImportError:
        pass
    return tuple(types)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shedding`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "fn", None):
        parser.print_help()
        return 2
    try:
        return int(args.fn(args) or 0)
    except _user_error_types() as e:
        print(f"shedding {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"shedding {args.command}: interrupted; continue with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
