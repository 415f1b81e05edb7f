"""The committed format-v2 examples hold the v1 example's run: same values, named axes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from tracking import NoMagnitudes, open_run

DATA = Path(__file__).resolve().parents[1] / "fixtures"
V1, V2, V2_STATS = (
    DATA / n for n in ("run_v1_example.h5", "run_v2_example.h5", "run_v2_stats_example.h5")
)


@pytest.mark.parametrize("path", [V2, V2_STATS], ids=["full", "stats"])
def test_v2_examples_hold_the_v1_values(path):
    with open_run(V1) as v1, open_run(path) as v2:
        assert (v1.format_version, v2.format_version) == (1, 2)
        assert v2.record_mode == ("stats" if path == V2_STATS else "full")
        assert [i.name for i in v2.layers] == [i.name for i in v1.layers]
        np.testing.assert_array_equal(v2.index.step, v1.index.step)
        assert v2.events == v1.events
        for info in v1.layers:
            a, b = v1.stats(info.name), v2.stats(info.name)
            for name in vars(a):
                np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
            if v2.has_magnitudes:
                np.testing.assert_array_equal(
                    v2.magnitudes(info.name, 2), v1.magnitudes(info.name, 2)
                )
                np.testing.assert_array_equal(v2.kept(info.name, 2), v1.kept(info.name, 2))
            else:
                with pytest.raises(NoMagnitudes):
                    v2.magnitudes(info.name, 2)


def test_v2_example_opens_in_xarray_with_named_axes():
    with xr.open_dataset(V2, engine="h5netcdf", group="layers/features.0") as g:
        assert g["magnitude"].dims == ("snapshot", "weight") and g.sizes["weight"] == 6
        assert g["bn_gamma"].dims == ("snapshot", "channel") and g.sizes["snapshot"] == 3
    with xr.open_dataset(V2_STATS, engine="h5netcdf", group="layers/head") as g:
        assert "magnitude" not in g and g["hist"].dims == ("snapshot", "bin")
