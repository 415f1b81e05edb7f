"""The README demo (``shedding demo``): the quick MNIST-1D study with its closing summary."""

from __future__ import annotations

from pathlib import Path

from shedding.paths import data_root as resolve_data_root
from shedding.studies.catalog import get
from shedding.studies.regimes import demo_summary
from shedding.study import findings_writer, run_study
from shedding.sweep import run_sweep


def run_demo(
    *,
    data_root: str | Path | None = None,
    runs_dir: str | Path | None = None,
    jobs: int = 1,
    full: bool = False,
) -> int:
    """The README demo: the quick MNIST-1D study (a regime that sheds next to a mild one,
    every pruned run with its control), its per-run table, a table per regime with one
    sentence each on what the control shows, then what to do next. ``full`` runs
    ``shedding study full`` instead."""
    root = resolve_data_root(data_root)
    rdir = Path(runs_dir) if runs_dir is not None else root / "runs"
    if full:
        code = run_study("full", data_root=root, runs_dir=rdir, jobs=jobs)
    else:
        code = run_sweep(get("quick").sweeps[0], data_root=root, runs_dir=rdir, jobs=jobs)
        tables = findings_writer("quick")("quick", rdir, root / "study" / "quick")
        print("\n" + demo_summary("quick", rdir))
        print(f"\nfindings tables (mean ± 95% interval over seeds): {tables}")
    print(
        "\nnext:\n"
        f"  shedding analyze {rdir}/<run>.h5      cascade summary of one run, with its control\n"
        f"  shedding compare {rdir} --by retrain.optimizer,prune.method\n"
        f"  shedding report {rdir} -o report.html\n"
        f"  shedding dashboard {rdir}             then open http://127.0.0.1:8050\n"
        "  shedding study regimes --jobs 2     the regime study behind docs/findings.md"
    )
    return code
