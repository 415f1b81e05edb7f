"""Write a fake run, read every dataset back and compare with exact expected values."""

from __future__ import annotations

import json
import time

import h5py
import numpy as np
import pytest

from tests.tracking import tracking_fakes as fakes
from tracking import (
    FORMAT_VERSION,
    LayerSpec,
    RecordError,
    RunWriter,
    WriterFailed,
    open_run,
)
from tracking import format as fmt
from tracking.stats import compute_layer_snapshot

N_SNAP = 8


def write_fake(path, *, background: bool = True, n: int = N_SNAP, compression=None) -> None:
    with RunWriter(
        path,
        layers=fakes.LAYERS,
        config=fakes.CONFIG,
        environment={"torch": "2.x"},
        run_id="r1",
        control="c0",
        background=background,
        compression=compression,
    ) as w:
        fakes.write(w, 0, n)


def expected_rows(name: str):
    """Recompute what the writer must have stored for layer ``name``, snapshot by snapshot."""
    refs, gmp, prev = {}, None, (None, None)
    for i in range(N_SNAP):
        ref = fakes.reference(i)
        if ref is not None:
            refs, gmp = ref["layer_rms"], ref["gmp_threshold"]
        s = fakes.snapshot(i)
        snap = compute_layer_snapshot(
            s["weights"][name],
            s["masks"][name],
            ref_rms=refs.get(name),
            gmp_threshold=gmp,
            prev_mask=prev[0],
            prev_kept=prev[1],
        )
        prev = (snap.mask, snap.kept)
        yield i, s, snap


@pytest.fixture(scope="module")
def run_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("rt") / "run.h5"
    write_fake(path)
    return path


def test_root_metadata_and_index(run_path):
    with open_run(run_path) as run:
        assert len(run) == N_SNAP
        assert run.format_version == FORMAT_VERSION
        assert (run.run_id, run.control, run.status) == ("r1", "c0", "complete")
        assert run.config == fakes.CONFIG
        assert run.environment["torch"] == "2.x" and "python" in run.environment
        assert [(i.name, i.shape, i.bn) for i in run.layers] == [
            (s.name, s.shape, s.bn) for s in fakes.LAYERS
        ]
        assert run.layers[1].n_weights == 16 * 8 * 3 and run.layers[1].n_channels == 16
        for key, grid in fmt.GRIDS.items():
            np.testing.assert_array_equal(run.grids[key], grid)
        idx = run.index
        snaps = [fakes.snapshot(i) for i in range(N_SNAP)]
        np.testing.assert_array_equal(idx.step, [s["step"] for s in snaps])
        np.testing.assert_array_equal(idx.epoch, [s["epoch"] for s in snaps])
        np.testing.assert_array_equal(idx.lr, [s["lr"] for s in snaps])
        np.testing.assert_array_equal(idx.round, [s["round"] for s in snaps])
        assert list(idx.phase) == [s["phase"] for s in snaps]
        assert np.all(np.diff(idx.wall_time) >= 0)


def test_metrics_and_events(run_path):
    with open_run(run_path) as run:
        m = run.metrics
        np.testing.assert_array_equal(m["epoch"], np.arange(N_SNAP) / 2)
        np.testing.assert_array_equal(m["train_loss"], 1.0 / (1 + np.arange(N_SNAP)))
        np.testing.assert_array_equal(m["n_snapshots"], np.arange(1, N_SNAP + 1))
        assert np.isnan(m["test_acc"]).all() and list(m["phase"]) == ["dense"] * N_SNAP
        assert run.events == [
            {"round": 1, "step": 40, "gmp_threshold": 0.05, "n_snapshots": fakes.PRUNE_AT}
        ]


@pytest.mark.parametrize("spec", fakes.LAYERS, ids=lambda s: s.name)
def test_every_layer_dataset_exact(run_path, spec):
    with open_run(run_path) as run:
        st = run.stats(spec.name)
        idx, values = run.samples(spec.name)
        assert len(idx) == min(256, spec.n_weights) and len(np.unique(idx)) == len(idx)
        for i, s, snap in expected_rows(spec.name):
            w, mask = s["weights"][spec.name], s["masks"][spec.name]
            mags = run.magnitudes(spec.name, i)
            assert mags.dtype == np.float16 and mags.shape == spec.shape
            np.testing.assert_array_equal(mags, np.abs(w).astype(np.float16))
            np.testing.assert_array_equal(run.mask(spec.name, i), mask)
            kept = np.unpackbits(snap.kept, count=spec.n_weights).reshape(spec.shape)
            np.testing.assert_array_equal(run.kept(spec.name, i), kept.astype(bool))
            np.testing.assert_array_equal(values[i], w.reshape(-1)[idx])
            for key, value in vars(snap.stats).items():
                np.testing.assert_array_equal(getattr(st, key)[i], value, err_msg=key)
            if spec.bn:
                np.testing.assert_array_equal(st.bn_gamma[i], s["bn_gamma"][spec.name])
        if not spec.bn:
            assert st.bn_gamma is None
        # the fake run prunes at PRUNE_AT and decays afterwards: shedding must show
        assert st.newly_shed[fakes.PRUNE_AT + 1 :].sum() > 0
        assert (st.ref_source == (np.arange(N_SNAP) >= fakes.PRUNE_AT)).all()
        assert (st.below_gmp[: fakes.PRUNE_AT] == -1).all()
        assert (st.below_gmp[fakes.PRUNE_AT :] >= 0).all()


def test_iter_snapshots_streams_the_same_arrays(run_path):
    with open_run(run_path) as run:
        seen = list(run.iter_snapshots(["fc"], start=2, stop=5))
        assert [s for s, _ in seen] == [2, 3, 4]
        for s, arrays in seen:
            np.testing.assert_array_equal(arrays["fc"], run.magnitudes("fc", s))
        for s, arrays in run.iter_snapshots(field="kept", start=N_SNAP - 1):
            assert set(arrays) == {spec.name for spec in fakes.LAYERS}
            np.testing.assert_array_equal(arrays["conv1"], run.kept("conv1", s))
        with pytest.raises(IndexError, match="out of range"):
            run.magnitudes("fc", N_SNAP)
        with pytest.raises(KeyError, match="layers"):
            run.stats("nope")


@pytest.mark.parametrize(
    "variant", [dict(background=False), dict(compression="lzf"), dict(compression="gzip")]
)
def test_foreground_and_compressed_writers_store_identical_contents(run_path, tmp_path, variant):
    write_fake(tmp_path / "v.h5", **variant)
    with h5py.File(run_path, "r") as a, h5py.File(tmp_path / "v.h5", "r") as b:
        assert b["layers/fc/magnitude"].compression == variant.get("compression")
        for spec in fakes.LAYERS:
            for key in a["layers"][spec.name]:
                np.testing.assert_array_equal(
                    a["layers"][spec.name][key][()], b["layers"][spec.name][key][()]
                )


def test_bytes_per_weight_per_snapshot(tmp_path):
    """A format property: fp16 magnitudes + two bitsets + stats <= 2.3 bytes/weight."""
    spec = LayerSpec("conv", (256, 128, 3, 3))  # 294,912 weights
    rng = np.random.default_rng(0)
    w = rng.normal(size=spec.shape).astype(np.float32)
    mask = rng.random(spec.shape) > 0.5
    n = 20
    with RunWriter(tmp_path / "big.h5", layers=[spec], config={}) as writer:
        for i in range(n):
            writer.record(
                step=i,
                epoch=i,
                phase="dense",
                round=0,
                lr=0.1,
                weights={"conv": w * (1 - i / 40)},
                masks={"conv": mask},
            )
    size = (tmp_path / "big.h5").stat().st_size
    assert size / (n * spec.n_weights) <= 2.3


def test_backpressure_blocks_record_when_queue_is_full(tmp_path):
    spec = fakes.LAYERS[0]
    w = RunWriter(tmp_path / "bp.h5", layers=[spec], config={}, max_queue=1)
    original = w._session.write_snapshot

    def slow(*args):
        time.sleep(0.3)
        original(*args)

    w._session.write_snapshot = slow
    s = fakes.snapshot(0)
    args = dict(s, weights={"conv1": s["weights"]["conv1"]}, masks={"conv1": s["masks"]["conv1"]})
    args["bn_gamma"] = {}
    waits = []
    for _ in range(4):
        t0 = time.perf_counter()
        w.record(**args)
        waits.append(time.perf_counter() - t0)
        # at most one snapshot queued plus one being written (written snapshots that wait
        # for their batch's commit hold no buffer set)
        assert w.n_recorded - (w.n_committed + w._session.pending) <= 2
    assert waits[0] < 0.1 and max(waits[2:]) > 0.15
    w.flush()
    assert w.n_committed == 4
    w.close()
    with open_run(tmp_path / "bp.h5") as run:
        assert len(run) == 4 and run.events == [] and len(run.metrics["epoch"]) == 0


def test_background_failure_is_reported_and_marks_crashed(tmp_path):
    w = RunWriter(tmp_path / "f.h5", layers=fakes.LAYERS, config={})

    def boom(*_):
        raise RuntimeError("disk on fire")

    w._session.write_snapshot = boom
    w.record(**fakes.snapshot(0))
    with pytest.raises(WriterFailed, match="disk on fire"):
        w.flush()
    with pytest.raises(WriterFailed):
        w.close()
    with open_run(tmp_path / "f.h5") as run:
        assert run.status == "crashed" and len(run) == 0


def test_context_manager_status(tmp_path):
    with (
        pytest.raises(KeyboardInterrupt),
        RunWriter(tmp_path / "k.h5", layers=fakes.LAYERS, config={}),
    ):
        raise KeyboardInterrupt
    with (
        pytest.raises(ZeroDivisionError),
        RunWriter(tmp_path / "z.h5", layers=fakes.LAYERS, config={}),
    ):
        _ = 1 / 0
    assert open_run(tmp_path / "k.h5").status == "interrupted"
    assert open_run(tmp_path / "z.h5").status == "crashed"


def test_bad_arguments_raise_record_errors(tmp_path):
    path = tmp_path / "bad.h5"
    with RunWriter(path, layers=fakes.LAYERS, config={}) as w:
        s = fakes.snapshot(0)
        with pytest.raises(RecordError, match=r"missing \['fc'\]"):
            w.record(**dict(s, weights={k: v for k, v in s["weights"].items() if k != "fc"}))
        with pytest.raises(RecordError, match=r"shape \(3, 3\), expected \(10, 64\)"):
            w.record(**dict(s, weights={**s["weights"], "fc": np.zeros((3, 3))}))
        with pytest.raises(RecordError, match="phase '' must be a non-empty string"):
            w.record(**dict(s, phase=""))
        with pytest.raises(RecordError, match="metric 'accuracy' = 'high' is not a number"):
            w.log_metrics(epoch=1, accuracy="high")
        with pytest.raises(RecordError, match="unknown layers"):
            w.set_reference(layer_rms={"nope": 1.0}, gmp_threshold=None)
        with pytest.raises(RecordError, match="JSON"):
            w.log_event({"x": object()})
    with pytest.raises(RecordError, match="already exists"):
        RunWriter(path, layers=fakes.LAYERS, config={})
    with pytest.raises(RecordError, match="JSON"):
        RunWriter(tmp_path / "c.h5", layers=fakes.LAYERS, config={"x": object()})
    assert not (tmp_path / "c.h5").exists()
    with open_run(path) as run:
        assert len(run) == 0 and json.loads(json.dumps(run.config)) == {}


def test_a_file_started_from_a_template_continues_it_exactly(run_path, tmp_path):
    """The first PRUNE_AT + 1 snapshots as a template, then the rest recorded: every row
    equals the file recorded in one go (reference and bitsets carry over)."""
    template = tmp_path / "template.h5"
    with RunWriter(template, layers=fakes.LAYERS, config={}) as w:
        fakes.write(w, 0, fakes.PRUNE_AT + 2)
    args = dict(layers=fakes.LAYERS, config=fakes.CONFIG, run_id="r1", control="c0")
    with RunWriter(tmp_path / "t.h5", template=template, **args) as w:
        assert w.n_committed == w.n_recorded == fakes.PRUNE_AT + 2
        fakes.write(w, fakes.PRUNE_AT + 2, N_SNAP)
    with h5py.File(run_path, "r") as a, h5py.File(tmp_path / "t.h5", "r") as b:
        assert b.attrs["run_id"] == "r1" and json.loads(b.attrs["config"]) == fakes.CONFIG
        for spec in fakes.LAYERS:
            for key in a["layers"][spec.name]:
                np.testing.assert_array_equal(
                    a["layers"][spec.name][key][()], b["layers"][spec.name][key][()], key
                )
        for key in ("step", "epoch", "phase", "round", "lr"):
            np.testing.assert_array_equal(a["index"][key][()], b["index"][key][()])


@pytest.mark.parametrize(
    "change, problem",
    [
        (dict(layers=fakes.LAYERS[:2]), "its layers"),
        (dict(seed=4), "layer .block.0.conv. samples other weights"),
        (dict(compression="lzf"), "its compression"),
        (dict(mode="stats"), "its record mode"),
    ],
)
def test_a_template_that_does_not_fit_is_refused(run_path, tmp_path, change, problem):
    args = {"layers": fakes.LAYERS, "config": {}, **change}
    with pytest.raises(RecordError, match=f"does not fit this run: {problem}.*fix: pass a"):
        RunWriter(tmp_path / "t.h5", template=run_path, **args)
    assert not (tmp_path / "t.h5").exists()
    assert not list(tmp_path.glob("*.creating"))
