"""The committed v1 and v2 example files, and clear errors for files that are not readable runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.tracking import tracking_fakes as fakes
from tracking import (
    FORMAT_VERSION,
    DamagedRunFile,
    MissingRunFile,
    NotARunFile,
    RunFileError,
    RunWriter,
    TrackingError,
    UnsupportedVersion,
    open_run,
)

EXAMPLE_V1 = Path(__file__).resolve().parents[1] / "fixtures" / "run_v1_example.h5"
EXAMPLE_V2 = EXAMPLE_V1.with_name("run_v2_labels_example.h5")


def test_committed_v1_example_reads_with_exact_values():
    with open_run(EXAMPLE_V1) as run:
        assert run.format_version == 1 and run.status == "complete" and len(run) == 3
        assert run.run_id == "example-v1" and run.control == ""
        assert run.config == {"model": "example", "pruning": {"method": "gmp", "amount": 0.2}}
        assert run.environment["git"] == "example"
        assert [(i.name, i.shape, i.bn) for i in run.layers] == [
            ("features.0", (2, 3), "features.1"),
            ("head", (2, 4), ""),
        ]
        idx = run.index
        assert idx.step.tolist() == [0, 10, 20] and idx.round.tolist() == [0, 1, 1]
        assert idx.phase.tolist() == ["dense", "retrain", "retrain"]
        m = run.metrics
        assert m["train_loss"].tolist() == [1.0, 0.75, 0.5]
        np.testing.assert_allclose(m["test_acc"], [0.5, 0.6, 0.7])
        assert run.events == [
            {"amount": 0.2, "method": "global_magnitude", "round": 1, "step": 20, "n_snapshots": 1}
        ]
        mags = run.magnitudes("features.0", 0).astype(np.float32)
        np.testing.assert_array_equal(mags, np.float16([[0.5, 0.25, 0.125], [1.0, 2.0, 0.004]]))
        assert run.mask("head", 1).astype(int).tolist() == [[0, 1, 1, 1], [1, 1, 1, 1]]
        assert run.kept("features.0", 2).astype(int).tolist() == [[1, 0, 0], [1, 1, 0]]
        f0, head = run.stats("features.0"), run.stats("head")
        assert f0.n_kept.tolist() == [6, 4, 4] and head.n_kept.tolist() == [8, 7, 7]
        assert f0.ref_rms[1:].tolist() == [1.0, 1.0] and head.ref_rms[1:].tolist() == [0.5, 0.5]
        assert f0.ref_source.tolist() == [0, 1, 1]
        assert f0.rms_kept[0] == np.float32(0.9423499703407288)
        assert f0.channel_shed.tolist() == [[0, 1], [0, 0], [1, 0]]
        assert head.channel_kept.tolist() == [[4, 4], [3, 4], [3, 4]]
        assert f0.newly_shed.tolist() == [0, 0, 1] and head.revived.tolist() == [0, 0, 0]
        assert f0.below_rel[:, 8].tolist() == [1, 0, 1]  # rel_grid[8] = 0.01, the default rule
        assert head.below_gmp[2].tolist() == [1] * 10 + [3, 4, 7]
        assert f0.hist.sum(axis=1).tolist() == [6, 4, 4]
        assert f0.bn_gamma.tolist() == [[1.0, 0.5], [1.0, 0.25], [1.0, 0.0]]
        assert head.bn_gamma is None
        idx, values = run.samples("head")
        assert idx.tolist() == [3, 5, 6, 7]
        np.testing.assert_array_equal(values[:, 0], np.float32([0.4, 0.4, 0.0001]))


def test_committed_v2_example_reads_free_form_phases_and_metrics():
    with open_run(EXAMPLE_V2) as run:
        assert run.format_version == 2 and run.status == "complete" and len(run) == 3
        assert run.run_id == "example-v2" and run.control == "example-v2-control"
        idx = run.index
        assert idx.phase.tolist() == ["warmup", "finetune", "finetune"]
        assert idx.round.tolist() == [0, 1, 1] and idx.step.tolist() == [0, 5, 10]
        m = run.metrics
        assert m["phase"].tolist() == ["warmup", "finetune", "finetune"]
        assert m["train_loss"].tolist() == [1.0, 0.75, 0.5]
        np.testing.assert_allclose(m["top5"], [0.8, 0.85, 0.9])
        assert np.isnan(m["val_ppl"][:2]).all() and m["val_ppl"][2] == 12.5
        assert np.isnan(m["test_acc"]).all()
        assert run.events == [
            {"amount": 0.25, "method": "l1_unstructured", "round": 1, "n_snapshots": 1}
        ]
        assert run.mask("fc1", 1).astype(int).tolist() == [[1, 0, 1], [1, 1, 0]]
        fc1, fc2 = run.stats("fc1"), run.stats("fc2")
        assert fc1.n_kept.tolist() == [6, 4, 4] and fc2.n_kept.tolist() == [2, 2, 2]
        assert fc1.ref_source.tolist() == [0, 1, 1] and fc2.ref_rms[1:].tolist() == [0.5, 0.5]
        assert fc2.below_rel[:, 8].tolist() == [0, 0, 1]  # 1e-4 < 1% of the 0.5 reference


def test_missing_file(tmp_path):
    with pytest.raises(MissingRunFile, match="does not exist") as err:
        open_run(tmp_path / "nope.h5")
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, TrackingError)


def test_non_hdf5_file(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("hello")
    with pytest.raises(NotARunFile, match="not an HDF5 file"):
        open_run(path)


def test_foreign_hdf5_file(tmp_path):
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(NotARunFile, match=r"not a cascade-shedding run file \(no 'format'"):
        open_run(path)


@pytest.fixture
def real_run(tmp_path) -> Path:
    path = tmp_path / "run.h5"
    with RunWriter(path, layers=fakes.LAYERS, config={}) as w:
        fakes.write(w, 0, 6)
    return path


def test_truncated_file_is_damaged(real_run, tmp_path):
    data = real_run.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DamagedRunFile) as err:
        open_run(cut)
    msg = str(err.value)
    assert str(cut) in msg and "damaged at its end (the file is truncated)" in msg
    assert "fix:" in msg and isinstance(err.value, RunFileError)


def test_newer_version_says_upgrade(real_run, tmp_path):
    newer = tmp_path / "newer.h5"
    shutil.copy(real_run, newer)
    with h5py.File(newer, "r+") as f:
        f.attrs["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(UnsupportedVersion, match="upgrade cascade-shedding"):
        open_run(newer)


def test_missing_group_is_damaged(real_run, tmp_path):
    broken = tmp_path / "broken.h5"
    shutil.copy(real_run, broken)
    with h5py.File(broken, "r+") as f:
        del f["index"]
    with pytest.raises(DamagedRunFile, match="damaged at"):
        open_run(broken)


def test_tracking_imports_neither_torch_nor_shedding():
    code = (
        "import sys, tracking, tracking.reader, tracking.writer; "
        "bad = [m for m in ('torch', 'shedding') if m in sys.modules]; "
        "sys.exit(f'tracking imported {bad}' if bad else 0)"
    )
    repo = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=repo)
