"""Run files that other tools open: named dimensions for xarray/netCDF, DataFrames, and the
statistics-only recording mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from tests.tracking import tracking_fakes as fakes
from tracking import NoMagnitudes, RunWriter, open_run
from tracking import format as fmt

EXAMPLE_V1 = Path(__file__).resolve().parents[1] / "fixtures" / "run_v1_example.h5"
N = 7


def _write(path: Path, **kwargs) -> Path:
    with RunWriter(path, layers=fakes.LAYERS, config=fakes.CONFIG, run_id="fake", **kwargs) as w:
        fakes.write(w, 0, N)
    return path


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("full") / "full.h5")


@pytest.fixture(scope="module")
def stats_run(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("stats") / "stats.h5", mode="stats")


def test_xarray_sees_named_dimensions_shared_across_groups(full_run):
    with xr.open_dataset(full_run, engine="h5netcdf", group="index") as index:
        assert dict(index.sizes) == {"snapshot": N}
        assert index["step"].values.tolist() == [10 * i for i in range(N)]
    for spec in fakes.LAYERS:
        with xr.open_dataset(full_run, engine="h5netcdf", group=f"layers/{spec.name}") as g:
            assert g["magnitude"].dims == ("snapshot", "weight")
            assert g["mask"].dims == ("snapshot", "byte")
            assert g["channel_kept"].dims == ("snapshot", "channel")
            assert g["below_abs"].dims == ("snapshot", "abs_grid")
            assert g["hist"].dims == ("snapshot", "bin")
            assert g["n_kept"].dims == ("snapshot",)
            assert g.sizes["snapshot"] == N and g.sizes["weight"] == spec.n_weights
            assert g.sizes["channel"] == spec.shape[0]
            with open_run(full_run) as run:
                np.testing.assert_array_equal(
                    g["magnitude"].values[3], run.magnitudes(spec.name, 3).reshape(-1)
                )
    with xr.open_dataset(full_run, engine="h5netcdf") as root:  # grids are coordinates
        np.testing.assert_array_equal(root["abs_grid"].values, fmt.ABS_GRID)
        np.testing.assert_array_equal(root["bin"].values, fmt.HIST_EDGES[:-1])
    with xr.open_dataset(full_run, engine="h5netcdf", group="metrics") as m:
        assert m["train_loss"].dims == ("metric_row",) and m.sizes["metric_row"] == N


def test_to_dataframe_is_long_form_and_matches_the_reader(full_run):
    with open_run(full_run) as run:
        df = run.to_dataframe()
        assert len(df) == N * len(fakes.LAYERS)
        assert df["layer"].tolist()[: len(fakes.LAYERS)] == [s.name for s in fakes.LAYERS]
        fc = df[df["layer"] == "fc"]
        st = run.stats("fc")
        np.testing.assert_array_equal(fc["n_kept"], st.n_kept)
        np.testing.assert_array_equal(fc["shed_default"], st.below_rel[:, fmt.DEFAULT_REL_INDEX])
        np.testing.assert_array_equal(fc["p50"], st.percentiles[:, 4])
        assert (fc["step"] == run.index.step).all() and set(fc["phase"]) == {"dense", "retrain"}
        metrics = run.to_dataframe("metrics")
        assert len(metrics) == N and np.allclose(metrics["train_loss"], 1 / (1 + np.arange(N)))
        events = run.to_dataframe("events")
        assert events["round"].tolist() == [1] and events["n_snapshots"].tolist() == [4]
        with pytest.raises(Exception, match="not one of"):
            run.to_dataframe("weights")


def test_to_xarray_has_shared_axes(full_run):
    with open_run(full_run) as run:
        ds = run.to_xarray()
        assert ds["n_kept"].dims == ("snapshot", "layer")
        assert ds["below_rel"].dims == ("snapshot", "layer", "rel_grid")
        assert ds["layer"].values.tolist() == [s.name for s in fakes.LAYERS]
        np.testing.assert_array_equal(ds["hist"].sel(layer="conv1").values, run.stats("conv1").hist)
        np.testing.assert_array_equal(ds["rel_grid"].values, fmt.REL_GRID)
        assert ds.attrs["record_mode"] == "full" and ds.attrs["format_version"] == 2


def test_v1_file_still_reads_and_converts():
    with open_run(EXAMPLE_V1) as run:
        assert run.format_version == 1 and run.record_mode == "full"
        ds = run.to_xarray()
        assert ds.sizes["snapshot"] == 3 and ds.sizes["layer"] == 2
        assert len(run.to_dataframe()) == 6


def test_stats_mode_keeps_statistics_drops_magnitudes(full_run, stats_run):
    with open_run(full_run) as full, open_run(stats_run) as stats:
        assert stats.record_mode == "stats" and not stats.has_magnitudes
        for spec in fakes.LAYERS:
            a, b = full.stats(spec.name), stats.stats(spec.name)
            for name in vars(a):
                np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
            np.testing.assert_array_equal(full.samples(spec.name)[1], stats.samples(spec.name)[1])
        with pytest.raises(NoMagnitudes, match=r"statistics-only .* fix: ") as err:
            stats.magnitudes("fc", 0)
        assert "\n" not in str(err.value)
        with pytest.raises(NoMagnitudes):
            stats.kept("fc", 0)
    with xr.open_dataset(stats_run, engine="h5netcdf", group="layers/fc") as g:
        assert "magnitude" not in g and g["below_abs"].dims == ("snapshot", "abs_grid")


def test_stats_mode_resumes_in_stats_mode(stats_run, tmp_path):
    path = tmp_path / "resumed.h5"
    path.write_bytes(stats_run.read_bytes())
    kw = dict(layers=fakes.LAYERS, config=fakes.CONFIG, run_id="fake")
    with RunWriter(path, resume_from=5, **kw) as w:
        fakes.write(w, 5, N)
    with open_run(path) as run, open_run(stats_run) as ref:
        assert run.record_mode == "stats" and len(run) == N
        np.testing.assert_array_equal(run.stats("fc").n_kept, ref.stats("fc").n_kept)


def test_bad_mode_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="record mode 'tiny' must be one of"):
        RunWriter(tmp_path / "x.h5", layers=fakes.LAYERS, config={}, mode="tiny")


def test_pandas_reads_back_an_exported_table(full_run, tmp_path):
    with open_run(full_run) as run:
        run.to_dataframe().to_parquet(tmp_path / "s.parquet")
        back = pd.read_parquet(tmp_path / "s.parquet")
        assert back.shape == (N * len(fakes.LAYERS), run.to_dataframe().shape[1])
