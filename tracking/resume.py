"""Continue a run file from its first N committed snapshots, also after a SIGKILL; or
start a new run file from a template's committed snapshots.

HDF5 marks a file open for SWMR writing in its superblock; after a crash the mark stays and
HDF5 refuses to reopen the file for writing (only SWMR readers get in). So resuming always
copies the committed prefix into a fresh file next to it and ``os.replace``s the original:
the original stays untouched until the copy is complete, so no committed data can be lost.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tracking import format as fmt
from tracking.errors import RecordError
from tracking.labels import copy_labels
from tracking.layout import LayerSpec, create_layout, sample_indices
from tracking.reader import Run, committed_rows, open_run
from tracking.session import WriterSession, root_attrs, snapshot_datasets

_COPY_BLOCK_BYTES = 64 << 20  # rows copied per read/write, to bound memory


def _copy_rows(src: h5py.Dataset, dst: h5py.Dataset, n: int) -> None:
    """Copy rows [0, n) of src into dst (resized to n), in blocks of about 64 MiB."""
    dst.resize(n, axis=0)
    row_bytes = max(1, int(np.prod(src.shape[1:], dtype=np.int64)) * src.dtype.itemsize)
    block = max(1, _COPY_BLOCK_BYTES // row_bytes)
    for a in range(0, n, block):
        b = min(n, a + block)
        dst[a:b] = src[a:b]


def _check_layers(run: Run, layers: Sequence[LayerSpec]) -> None:
    stored = [(i.name, i.shape, i.bn) for i in run.layers]
    wanted = [(s.name, tuple(s.shape), s.bn) for s in layers]
    if stored != wanted:
        raise RecordError(
            f"cannot resume {run.path}: its layers {stored} differ from the model's {wanted}; "
            "fix: resume with the same model and config, or start a new file"
        )


def _copy_prefix(run: Run, dst: h5py.File, n: int) -> None:
    src = run._f
    for key in fmt.INDEX_COLUMNS:
        _copy_rows(src["index"][key], dst["index"][key], n)
    for info in run.layers:
        for key, ds in snapshot_datasets(src["layers"][info.name]).items():
            _copy_rows(ds, dst["layers"][info.name][key], n)
    # metrics and events logged after snapshot n belong to the discarded future
    m_src = src["metrics"]
    n_rows = committed_rows(m_src[fmt.METRICS_MARKER], np.nan)
    keep = int(np.count_nonzero(m_src["n_snapshots"][:n_rows] <= n))
    for key in fmt.METRIC_COLUMNS:
        _copy_rows(m_src[key], dst["metrics"][key], keep)
    copy_labels(src, dst, keep)
    e_src = src["events"]
    n_events = committed_rows(e_src[fmt.EVENTS_MARKER], -1)
    keep = int(np.count_nonzero(e_src["n_snapshots"][:n_events] <= n))
    for key in fmt.EVENT_COLUMNS:
        _copy_rows(e_src[key], dst["events"][key], keep)
    n_bytes = int(e_src[fmt.EVENTS_MARKER][keep - 1]) if keep else 0
    _copy_rows(e_src["bytes"], dst["events"]["bytes"], n_bytes)


def _restore_state(session: WriterSession) -> None:
    """Reference and previous bitsets as they were after the last kept snapshot."""
    n = session.n
    if n == 0:
        return
    for spec in session.layers:
        ds = session.ds[spec.name]
        if "mask" in ds:  # a "stats" file has no bitsets: the next snapshot counts no
            # newly shed or revived weights (as for a run's first snapshot)
            session.prev_mask[spec.name] = ds["mask"][n - 1]
            session.prev_kept[spec.name] = ds["kept"][n - 1]
        if ds["ref_source"][n - 1] == 1:
            session.refs[spec.name] = float(ds["ref_rms"][n - 1])
        gmp = float(ds["gmp_threshold"][n - 1])
        session.gmp = None if np.isnan(gmp) else gmp


def resume_session(
    path: Path,
    *,
    resume_from: int,
    layers: Sequence[LayerSpec],
    config: Mapping[str, Any],
    environment: Mapping[str, Any] | None,
    run_id: str,
    control: str,
) -> WriterSession:
    """Replace ``path`` by a copy of its first ``resume_from`` snapshots, open for writing."""
    tmp = path.with_name(path.name + ".resume-tmp")
    with open_run(path) as run:
        n_committed = len(run)
        if not 0 <= resume_from <= n_committed:
            raise RecordError(
                f"cannot resume {path} from snapshot {resume_from}: it has {n_committed} "
                f"committed snapshots; fix: pass resume_from between 0 and {n_committed}"
            )
        _check_layers(run, layers)
        history = [
            *run.resumed,
            {
                "resume_from": resume_from,
                "committed": n_committed,
                "status": run.status,
                "time": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            },
        ]
        attrs = root_attrs(
            config=config,
            environment=environment,
            run_id=run_id or run.run_id,
            control=control or run.control,
            resumed=history,
        )
        attrs["created"] = run.created  # the run's identity does not change on resume
        samples = {info.name: run.samples(info.name)[0] for info in run.layers}
        try:
            with h5py.File(tmp, "w", libver="latest") as dst:
                compression = str(run._f.attrs.get("bulk_compression", "")) or None
                create_layout(
                    dst,
                    layers=layers,
                    root_attrs=attrs,
                    samples=samples,
                    compression=compression,
                    mode=run.record_mode,
                )
                _copy_prefix(run, dst, resume_from)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    os.replace(tmp, path)
    f = h5py.File(path, "r+", libver="latest")
    try:
        session = WriterSession(f, layers=layers)
        _restore_state(session)
        return session
    except BaseException:
        f.close()
        raise


def _check_template(
    f: h5py.File, template: Path, layers: Sequence[LayerSpec], *, samples: Mapping[str, Any],
    compression: str | None, mode: str,
) -> None:  # fmt: skip
    """Refuses a template whose layers, sample indices, compression or mode differ."""
    problem = ""
    names = [str(n) for n in json.loads(f["layers"].attrs["names"])]
    if names != [s.name for s in layers]:
        problem = f"its layers {names} are not {[s.name for s in layers]}"
    elif str(f.attrs.get("record_mode", "")) != mode:
        problem = f"its record mode is {f.attrs.get('record_mode')!r}, not {mode!r}"
    elif (str(f.attrs.get("bulk_compression", "")) or None) != compression:
        problem = f"its compression is {f.attrs.get('bulk_compression')!r}, not {compression!r}"
    elif str(f["status"][()].decode()) != "complete":
        problem = "it was not closed as complete"
    else:
        for spec in layers:
            g = f["layers"][spec.name]
            if (
                tuple(int(v) for v in g.attrs["shape"]) != tuple(spec.shape)
                or str(g.attrs["bn"]) != spec.bn
            ):
                problem = f"layer {spec.name!r} has another shape or BatchNorm"
            elif not np.array_equal(g["sample_idx"][()], samples[spec.name]):
                problem = f"layer {spec.name!r} samples other weights (another seed)"
            if problem:
                break
    if problem:
        raise RecordError(
            f"template {template} does not fit this run: {problem}; fix: pass a template "
            "written with the same layers, sample_per_layer, seed, compression and mode"
        )


def template_session(
    path: Path,
    *,
    template: Path,
    layers: Sequence[LayerSpec],
    sample_per_layer: int,
    seed: int,
    compression: str | None,
    mode: str,
    **attrs: Any,
) -> WriterSession:
    """A new run file at ``path`` that starts as a copy of ``template``'s committed rows.

    ``template`` is a run file a RunWriter closed as complete, with the same layers,
    sample indices, compression and record mode (checked). Its snapshots, metrics and
    events become this file's first ones; the root attributes are this run's, the
    snapshots' ``wall_time`` is now, and the statistics of the next snapshot continue from
    its last one (reference, previous bitsets) as if they had been recorded here. A
    template is a file copy: far cheaper than creating the layout and recording the rows.
    """
    samples = {s.name: sample_indices(s, n_samples=sample_per_layer, seed=seed) for s in layers}
    tmp = path.with_name(path.name + ".creating")
    try:
        shutil.copyfile(template, tmp)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise RecordError(f"template {template} cannot be copied ({e})") from None
    try:
        f = h5py.File(tmp, "r+", libver="latest")
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise RecordError(f"template {template} is not a readable HDF5 file ({e})") from None
    try:
        _check_template(f, template, layers, samples=samples, compression=compression, mode=mode)
        for key, value in root_attrs(**attrs).items():
            f.attrs[key] = value
        f["status"][()] = np.bytes_(b"running")
        n = int(f["index/step"].shape[0])
        f["index/wall_time"][:n] = time.time()
        session = WriterSession(f, layers=layers)
        _restore_state(session)
        os.replace(tmp, path)  # POSIX: the open handle follows the file
        return session
    except BaseException:
        f.close()
        tmp.unlink(missing_ok=True)
        raise
