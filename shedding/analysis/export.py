"""Export run statistics and run summaries as Parquet or CSV tables for other tools.

Per run ``<stem>.stats``, ``<stem>.metrics`` and ``<stem>.events`` (long form, see
:mod:`tracking.tables`); over all runs ``summaries`` (one row per run, config keys as
``config.<key>`` columns) and ``rounds`` (one row per run and prune round). Needs pandas,
and pyarrow for Parquet (``pip install 'cascade-shedding[export]'``).
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

from shedding.analysis.runs import BAD_FILE_ERRORS, PathsOrDir, describe_error, load_runs
from shedding.analysis.summary import RunSummary, summarize_loaded
from shedding.analysis.thresholds import DEFAULT_C, DEFAULT_RULE
from shedding.errors import ConfigError

FORMATS = ("parquet", "csv")


def _require(fmt: str) -> Any:
    if fmt not in FORMATS:
        raise ConfigError(f"export format {fmt!r} is not one of {FORMATS}; fix: --format csv")
    for module in ("pandas", "pyarrow") if fmt == "parquet" else ("pandas",):
        try:
            importlib.import_module(module)
        except ImportError:
            raise ConfigError(
                f"export to {fmt} needs {module}; fix: pip install 'cascade-shedding[export]'"
            ) from None
    return importlib.import_module("pandas")


def _flat(frame: Any) -> Any:
    """Lists and dicts in object columns (event fields) as JSON text, so every column has
    one type that Parquet and CSV can hold."""
    for col in frame.columns:
        if (
            frame[col].dtype == object
            and frame[col].map(lambda v: isinstance(v, list | dict)).any()
        ):
            frame[col] = frame[col].map(
                lambda v: json.dumps(v) if isinstance(v, list | dict) else v
            )
    return frame


def _write(frame: Any, out: Path, name: str, fmt: str) -> Path:
    path = out / f"{name}.{fmt}"
    frame = _flat(frame)
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


def summary_rows(summaries: list[RunSummary]) -> tuple[list[dict], list[dict]]:
    """(one dict per run, one dict per run and round) from run summaries.

    Example:
        >>> from shedding.analysis import summarize_runs
        >>> runs, rounds = summary_rows(summarize_runs(run_dir)[0])
        >>> len(runs) >= 1 and {"run_id", "cascade_ratio"} <= set(runs[0])
        True
    """
    runs, rounds = [], []
    for s in summaries:
        d = s.to_dict()
        config = d.pop("config")
        d.pop("excess")
        for r in d.pop("rounds"):
            rounds.append({"run_id": s.run_id, **r})
        runs.append({**d, **{f"config.{k}": _cell(v) for k, v in config.items()}})
    return runs, rounds


def export_runs(
    paths_or_dir: PathsOrDir,
    out_dir: str | os.PathLike[str],
    *,
    fmt: str = "parquet",
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Write every readable run's tables and the summaries of all runs into ``out_dir``.

    Returns:
        ``(written files, bad files as (path, reason))``.

    Example:
        >>> written, bad = export_runs(run_dir, tmp_path / "out", fmt="csv")
        >>> sorted(p.name for p in written)[-2:]
        ['rounds.csv', 'summaries.csv']
    """
    pd = _require(fmt)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with load_runs(paths_or_dir) as rs:
        bad = list(rs.bad)
        for run in list(rs.runs):
            stem = Path(run.path).stem
            try:
                for table in ("stats", "metrics", "events"):
                    frame = run.to_dataframe(table)
                    written.append(_write(frame, out, f"{stem}.{table}", fmt))
            except BAD_FILE_ERRORS as e:
                bad.append((str(run.path), describe_error(e)))
        summaries, more_bad = summarize_loaded(rs, rule=rule, c=c)
    bad.extend(b for b in more_bad if b not in bad)
    runs, rounds = summary_rows(summaries)
    written.append(_write(pd.DataFrame(runs), out, "summaries", fmt))
    written.append(_write(pd.DataFrame(rounds), out, "rounds", fmt))
    return written, bad
