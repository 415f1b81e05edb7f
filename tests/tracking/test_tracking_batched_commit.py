"""Snapshots committed in batches: the same rows as one commit each, and never late."""

from __future__ import annotations

import time

import h5py
import numpy as np
import pytest
import tracking_fakes as fakes

from tracking import RunWriter, open_run
from tracking import writer as writer_module

#: Datasets that hold the time they were written, so differ between any two files.
_CLOCKS = {"/index/wall_time", "/metrics/wall_time"}


def _datasets(path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, obj: (
                out.__setitem__("/" + name, obj[()]) if isinstance(obj, h5py.Dataset) else None
            )
        )
    return out


def _write(path, *, background: bool, batch: int | None = None) -> None:
    with RunWriter(path, layers=fakes.LAYERS, config=fakes.CONFIG, background=background) as w:
        if batch is not None:
            w._session.batch = batch
        fakes.write(w, 0, 13)
        if not background:  # a foreground writer with a batch forced on it leaves a tail
            w._session.commit()


@pytest.mark.parametrize(("background", "batch"), [(False, 5), (True, None)])
def test_batched_commits_write_the_rows_of_one_commit_per_snapshot(tmp_path, background, batch):
    _write(tmp_path / "one.h5", background=False)  # one commit per snapshot
    _write(tmp_path / "batched.h5", background=background, batch=batch)
    one, batched = _datasets(tmp_path / "one.h5"), _datasets(tmp_path / "batched.h5")
    assert one.keys() == batched.keys() and len(one) > 50
    for name, values in one.items():
        if name in _CLOCKS:
            assert batched[name].shape == values.shape, name
            continue
        assert batched[name].dtype == values.dtype, name
        np.testing.assert_array_equal(batched[name], values, err_msg=name)
    with open_run(tmp_path / "batched.h5") as run:
        assert len(run) == 13 and run.status == "complete"


def test_pending_snapshots_are_committed_within_the_lag_unasked(tmp_path):
    path = tmp_path / "live.h5"
    with RunWriter(path, layers=fakes.LAYERS, config={}) as w:
        for i in range(3):
            w.record(**fakes.snapshot(i))
        t0 = time.monotonic()
        while w.n_committed < 3 and time.monotonic() - t0 < writer_module._COMMIT_LAG_S + 5:
            time.sleep(0.05)
        assert w.n_committed == 3  # no flush, no further record: the writer's own deadline
        with open_run(path) as run:  # a live reader sees them
            assert len(run) == 3 and run.status == "running"


def test_an_event_follows_the_snapshots_recorded_before_it(tmp_path):
    with RunWriter(tmp_path / "ev.h5", layers=fakes.LAYERS, config={}, background=False) as w:
        w._session.batch = 16
        for i in range(2):
            w.record(**fakes.snapshot(i))
        assert (w.n_committed, w._session.pending) == (0, 2)
        w.log_event({"round": 1})
        assert (w.n_committed, w._session.pending) == (2, 0)
    with open_run(tmp_path / "ev.h5") as run:
        assert len(run) == 2 and run.events[0]["n_snapshots"] == 2
