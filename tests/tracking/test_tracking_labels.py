"""Format v2: free-form phase labels and metrics, live, after resume, and bad values."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from tests.tracking import tracking_fakes as fakes
from tracking import RecordError, RunWriter, open_run


def _write(path, n: int, **kwargs) -> None:
    with RunWriter(path, layers=fakes.LAYERS, config={}, **kwargs) as w:
        for i in range(n):
            s = fakes.snapshot(i)
            phase = "warmup" if i < 2 else s["phase"]
            w.record(**dict(s, phase=phase))
            w.log_metrics(epoch=s["epoch"], phase=phase, top5=0.5 + i / 100, test_acc=i)


def test_free_form_phases_and_metrics_from_the_background_writer(tmp_path):
    path = tmp_path / "labels.h5"
    _write(path, 6)
    with open_run(path) as run:
        phases = run.index.phase.tolist()
        assert phases == ["warmup", "warmup", "dense", "dense", "retrain", "retrain"]
        m = run.metrics
        assert m["phase"].tolist() == phases and m["test_acc"].tolist() == list(range(6))
        np.testing.assert_allclose(m["top5"], 0.5 + np.arange(6) / 100)
    with h5py.File(path, "r") as f:  # dense and retrain keep their v1 codes 0 and 1
        assert f["index/phase"][:].tolist() == [2, 2, 0, 0, 1, 1]


def test_resume_keeps_labels_and_free_form_metrics(tmp_path):
    path = tmp_path / "resume.h5"
    _write(path, 6)
    with RunWriter(path, layers=fakes.LAYERS, config={}, resume_from=3) as w:
        w.record(**dict(fakes.snapshot(3), phase="finetune"))
        w.log_metrics(epoch=9.0, phase="finetune", top5=0.99)
    with open_run(path) as run:
        assert run.index.phase.tolist() == ["warmup", "warmup", "dense", "finetune"]
        m = run.metrics
        assert m["phase"].tolist() == ["warmup", "warmup", "dense", "finetune"]
        np.testing.assert_allclose(m["top5"], [0.5, 0.51, 0.52, 0.99])


@pytest.mark.parametrize(
    ("metrics", "match"),
    [
        ({"top5": "0.9"}, "metric 'top5' = '0.9' is not a number"),
        ({"test_acc": None}, "metric 'test_acc' = None is not a number"),
        ({"done": True}, "metric 'done' = True is not a number"),
        ({"top5": np.zeros(3)}, "is not a number"),
    ],
)
def test_non_numeric_metrics_are_refused(tmp_path, metrics, match):
    with RunWriter(tmp_path / "m.h5", layers=fakes.LAYERS, config={}) as w:
        with pytest.raises(RecordError, match=match):
            w.log_metrics(epoch=0.0, **metrics)
        w.log_metrics(epoch=0.0, top1=np.float32(0.5))  # numpy scalars are numbers
    with open_run(tmp_path / "m.h5") as run:
        assert run.metrics["top1"].tolist() == [0.5]


def test_too_long_phase_label_is_refused(tmp_path):
    with (
        RunWriter(tmp_path / "p.h5", layers=fakes.LAYERS, config={}) as w,
        pytest.raises(RecordError, match="at most 64 UTF-8 bytes"),
    ):
        w.record(**dict(fakes.snapshot(0), phase="x" * 65))
