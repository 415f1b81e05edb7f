"""Built-in studies: run a study's sweeps, then write its findings from the runs.

    shedding study quick                 # the README demo's study: 24 runs, ~2 min on 2 cores
    shedding study regimes               # retraining regimes that shed, with their controls
    shedding study full                  # grid + regimes: 5 sweep files (273 runs), findings
    shedding study first                 # the first design (384 runs, mild regimes)
    shedding study full --tables-only    # only the tables, from the runs already on disk

Which studies exist, their sweep files and what writes their findings is data: the
manifest ``shedding/studies/studies.toml`` (read by :mod:`shedding.studies.catalog`).
The runs are the sweep files' runs, found by run id in the runs directory (other files
there are ignored); finished runs are skipped, interrupted ones resumed. The findings go to
``<data_root>/study/<name>/findings.md`` (markdown, mean ± half-width of the 95% Student-t
interval over seeds) next to ``summaries.json`` (every run's summary).
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

from shedding.engine import identity
from shedding.errors import ConfigError
from shedding.paths import data_root as resolve_data_root
from shedding.studies.catalog import (
    STUDIES,
    FindingsWriter,
    Part,
    Study,
    get,
    part_kind,
    study_configs,
)

__all__ = [
    "STUDIES",
    "FindingsWriter",
    "Part",
    "Study",
    "findings_writer",
    "part_kind",
    "run_study",
    "study_configs",
]


def findings_writer(name: str) -> FindingsWriter:
    """The function that writes study ``name``'s findings: its manifest's
    ``module:function``, called as f(name, runs_dir, out, rule=, c=, wall_seconds=)."""
    module, _, function = get(name).findings.partition(":")
    try:
        writer = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as e:
        raise ConfigError(
            f"study {name!r}: cannot load its findings writer {get(name).findings!r}: {e}"
        ) from None
    if not callable(writer):
        raise ConfigError(f"study {name!r}: {get(name).findings!r} is not a function")
    return writer


def run_study(
    name: str = "quick",
    *,
    data_root: str | Path | None = None,
    runs_dir: str | Path | None = None,
    out: str | Path | None = None,
    jobs: int = 1,
    tables_only: bool = False,
    progress: bool = True,
) -> int:
    """Runs study ``name`` (skipping finished runs), then writes its findings tables.

    Returns the exit code: 0, or 1 when a run failed (the tables are still written from
    the runs that exist, and name the missing ones).
    """
    from shedding.sweep import execute, plan

    root = resolve_data_root(data_root)
    rdir = Path(runs_dir) if runs_dir is not None else root / "runs"
    dest = Path(out) if out is not None else root / "study" / name
    configs = study_configs(name)
    write = findings_writer(name)
    failed: list[str] = []
    t0 = time.time()
    if not tables_only:
        # one queue for every sweep file: the jobs stay busy across parts (each part's last
        # runs overlap the next one's first) and the cores idle once, at the very end
        planned = plan([c for _, c in configs], rdir)
        action = {identity.run_id(p.cfg): p.action for p in planned}
        for part in get(name).sweeps:
            mine = [identity.run_id(c) for p, c in configs if p == part]
            todo = sum(action[r] != "skip" for r in mine)
            print(
                f"study {name}: {part}: {len(mine)} runs, {todo} to run -> {rdir}",
                file=sys.stderr,
            )
        outcome = execute(planned, data_root=root, runs_dir=rdir, jobs=jobs, progress=progress)
        failed += [f"{k}: {v}" for k, v in outcome.items() if v.startswith("failed")]
    wall = time.time() - t0
    path = write(name, rdir, dest, wall_seconds=None if tables_only else wall)
    print(f"study {name}: tables -> {path}", file=sys.stderr)
    for line in failed:
        print(line, file=sys.stderr)
    return 1 if failed else 0
