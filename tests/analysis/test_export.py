"""`shedding export`: Parquet and CSV tables that pandas reads back, and the summaries."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shedding.analysis import summarize_runs
from shedding.analysis.export import export_runs
from shedding.cli import main
from shedding.errors import ConfigError
from tracking import open_run


def test_cli_export_parquet_reads_back_with_pandas(planted_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    assert main(["export", str(planted_dir), "--format", "parquet", "-o", str(out)]) == 0
    assert "wrote 8 files" in capsys.readouterr().out
    stats = pd.read_parquet(out / "pruned.stats.parquet")
    with open_run(planted_dir / "pruned.h5") as run:
        assert len(stats) == len(run) * len(run.layers)
        first = run.layers[0].name
        np.testing.assert_array_equal(
            stats[stats.layer == first]["n_kept"], run.stats(first).n_kept
        )
        events = pd.read_parquet(out / "pruned.events.parquet")
        assert len(events) == len(run.events)
    summaries = pd.read_parquet(out / "summaries.parquet").set_index("run_id")
    expected = {s.run_id: s for s in summarize_runs(planted_dir)[0]}
    assert set(summaries.index) == set(expected)
    assert summaries.loc["pruned", "cascade_ratio"] == pytest.approx(
        expected["pruned"].cascade_ratio
    )
    assert summaries.loc["pruned", "role"] == "pruned"
    rounds = pd.read_parquet(out / "rounds.parquet")
    assert len(rounds[rounds.run_id == "pruned"]) == expected["pruned"].n_rounds


def test_csv_export_and_bad_files_are_skipped_by_name(planted_dir: Path, tmp_path: Path):
    runs = tmp_path / "runs"
    shutil.copytree(planted_dir, runs)
    (runs / "junk.h5").write_bytes(b"not hdf5")
    written, bad = export_runs(runs, tmp_path / "csv", fmt="csv")
    assert [Path(p).name for p, _ in bad] == ["junk.h5"] and "not an HDF5" in bad[0][1]
    metrics = pd.read_csv(tmp_path / "csv" / "control.metrics.csv")
    with open_run(runs / "control.h5") as ctl:
        assert len(metrics) == len(ctl.metrics["epoch"])
    summaries = pd.read_csv(tmp_path / "csv" / "summaries.csv")
    assert summaries.set_index("run_id").loc["pruned", "config.prune.method"] == "gmp"
    assert all(p.exists() for p in written)


def test_unknown_format_is_one_line_exit_2(planted_dir: Path, tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as err:
        main(["export", str(planted_dir), "--format", "xlsx", "-o", str(tmp_path)])
    assert err.value.code == 2
    with pytest.raises(ConfigError, match="'xlsx' is not one of"):
        export_runs(planted_dir, tmp_path, fmt="xlsx")


def test_nested_event_fields_become_dotted_columns(planted_dir: Path, tmp_path: Path):
    export_runs(planted_dir, tmp_path, fmt="parquet")
    events = pd.read_parquet(tmp_path / "pruned.events.parquet")
    with open_run(planted_dir / "pruned.h5") as run:
        first = run.events[0]
    layer = next(iter(first["per_layer"]))
    assert events.loc[0, f"per_layer.{layer}.pruned"] == first["per_layer"][layer]["pruned"]
    assert events.loc[0, "method"] == first["method"]
