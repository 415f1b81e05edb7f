"""Fuzzing the reader and the CLI with damaged run files: random bytes, truncations,
flipped bytes and mutated HDF5 objects. Every outcome is a RunFileError (CLI: exit 2,
one line) or a clean read, never another exception."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracking import RunFileError, open_run

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "run_v1_example.h5"
SIZE = EXAMPLE.stat().st_size
with h5py.File(EXAMPLE, "r") as _f:
    OBJECTS: list[str] = []
    _f.visit(OBJECTS.append)
    ROOT_ATTRS = sorted(_f.attrs)
    DATASETS = [n for n in OBJECTS if isinstance(_f[n], h5py.Dataset)]

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

odd_values = st.one_of(
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.lists(st.integers(-5, 5), max_size=4).map(np.asarray),
)


def read_everything(path: Path) -> None:
    """Open the file and touch every accessor (what inspect and analyze use)."""
    with open_run(path) as run:
        _ = run.status, run.index, run.metrics, run.events, run.config, len(run)
        for li in run.layers:
            run.stats(li.name)
            run.samples(li.name)
            if len(run):
                run.magnitudes(li.name, len(run) - 1)
                run.mask(li.name, 0)
                run.kept(li.name, 0)


def check(path: Path) -> None:
    with contextlib.suppress(RunFileError):
        read_everything(path)
    from shedding.cli import main

    for argv in (["inspect", str(path)], ["analyze", str(path)]):
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(argv)
        assert code in (0, 2), (argv, code, err.getvalue())
        if code == 2:
            assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()


def _copy(tmp: Path) -> Path:
    dst = tmp / "run.h5"
    shutil.copy(EXAMPLE, dst)
    return dst


@FUZZ
@given(data=st.binary(max_size=4096), keep_signature=st.booleans())
def test_random_bytes(data, keep_signature):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.h5"
        path.write_bytes((b"\x89HDF\r\n\x1a\n" if keep_signature else b"") + data)
        check(path)


@FUZZ
@given(cut=st.integers(0, SIZE - 1))
def test_truncations(cut):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.h5"
        path.write_bytes(EXAMPLE.read_bytes()[:cut])
        check(path)


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, SIZE - 1), st.integers(1, 255)), max_size=8))
def test_flipped_bytes(flips):
    data = bytearray(EXAMPLE.read_bytes())
    for offset, xor in flips:
        data[offset] ^= xor
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.h5"
        path.write_bytes(bytes(data))
        check(path)


mutation = st.one_of(
    st.tuples(st.just("delete"), st.sampled_from(OBJECTS), st.none()),
    st.tuples(st.just("attr"), st.sampled_from(ROOT_ATTRS), odd_values),
    st.tuples(st.just("replace"), st.sampled_from(DATASETS), odd_values),
    st.tuples(st.just("resize"), st.sampled_from(DATASETS), st.integers(0, 12)),
)


def _mutate(f: h5py.File, kind: str, name: str, value: object) -> None:
    if kind == "delete" and name in f:
        del f[name]
    elif kind == "attr":
        f.attrs[name] = value
    elif kind == "replace" and name in f:
        del f[name]
        f[name] = value
    elif kind == "resize" and name in f:
        ds = f[name]
        if ds.maxshape and ds.maxshape[0] is None:
            ds.resize(int(value), axis=0)


def test_a_layer_dataset_of_the_wrong_shape_or_kind_is_damage_at_open(tmp_path):
    """Found by the fuzzer: a replaced bitset or magnitude dataset used to fail later, in
    numpy (a reshape, an unpackbits), instead of naming the damage when the file opens."""
    import pytest

    from tracking import DamagedRunFile

    for name, value in [
        ("layers/features.0/magnitude", np.array([0, 0, 0])),
        ("layers/features.0/kept", np.array([0, 0, 0])),
        ("layers/features.0/kept", np.zeros((4, 1), np.float32)),
    ]:
        path = _copy(tmp_path)
        with h5py.File(path, "r+") as f:
            _mutate(f, "replace", name, value)
        with pytest.raises(DamagedRunFile, match=f"{name.split('/')[-1]}' holds"):
            open_run(path)
        check(path)


@FUZZ
@given(mutations=st.lists(mutation, min_size=1, max_size=3))
def test_mutated_hdf5_objects(mutations):
    with tempfile.TemporaryDirectory() as tmp:
        path = _copy(Path(tmp))
        with h5py.File(path, "r+") as f:
            for kind, name, value in mutations:
                # a value h5py cannot store leaves the file as it was
                with contextlib.suppress(TypeError, ValueError, OSError, KeyError):
                    _mutate(f, kind, name, value)
        check(path)
