"""A run file is either wholly readable or refused as damaged when it is opened."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import tracking_fakes as fakes

from tracking import DamagedRunFile, RunWriter, UnsupportedVersion, open_run


@pytest.fixture
def real_run(tmp_path) -> Path:
    path = tmp_path / "run.h5"
    with RunWriter(path, layers=fakes.LAYERS, config={}) as w:
        fakes.write(w, 0, 4)
    return path


def _broken(src: Path, tmp_path: Path, edit) -> Path:
    dst = tmp_path / "broken.h5"
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)
    return dst


LAYER = fakes.LAYERS[0].name


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda f: f.__delitem__("metrics"), "/metrics is missing"),
        (lambda f: f.__delitem__("metrics/test_acc"), "/metrics/test_acc is missing"),
        (lambda f: f.__delitem__("events/bytes"), "/events/bytes is missing"),
        (lambda f: f.__delitem__("status"), "/status is missing"),
        (lambda f: f.__delitem__(f"layers/{LAYER}/magnitude"), "has no 'magnitude' dataset"),
        (lambda f: f.__delitem__(f"layers/{LAYER}"), "layer list"),
        (lambda f: f[f"layers/{LAYER}/hist"].resize(1, axis=0), "'hist' has 1 rows for 4"),
        (lambda f: f.attrs.__setitem__("config", "{not json"), "root metadata"),
        (lambda f: f[f"layers/{LAYER}"].attrs.__delitem__("n_weights"), "no 'n_weights' attr"),
        (lambda f: f[f"layers/{LAYER}"].attrs.__delitem__("n_channels"), "no 'n_channels' attr"),
    ],
)
def test_a_missing_or_short_object_is_refused_at_open(real_run, tmp_path, edit, needle):
    broken = _broken(real_run, tmp_path, edit)
    with pytest.raises(DamagedRunFile, match="damaged") as err:
        open_run(broken)
    assert needle in str(err.value) and str(broken) in str(err.value)


def test_a_whole_file_opens(real_run):
    with open_run(real_run) as run:
        assert len(run) == 4 and run.status == "complete"


@pytest.mark.parametrize(
    ("value", "shown"), [("one", "'one'"), (np.int64(99), "99"), (np.float64(np.nan), "'nan'")]
)
def test_a_bad_format_version_is_one_clear_refusal(real_run, tmp_path, value, shown):
    broken = _broken(real_run, tmp_path, lambda f: f.attrs.__setitem__("format_version", value))
    with pytest.raises(UnsupportedVersion) as err:
        open_run(broken)
    assert f"run format version {shown};" in str(err.value)
    assert "np.int64" not in str(err.value)
