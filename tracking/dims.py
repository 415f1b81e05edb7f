"""Named dimensions of a run file (format v2) as HDF5 dimension scales.

netCDF-4 (and so h5netcdf and xarray) reads an HDF5 dataset's axes by name when each axis
has a dimension scale attached: a dataset whose ``CLASS`` is ``DIMENSION_SCALE``, named by
its own name. Scales are looked up in the dataset's group and its parents, so the root
``snapshot`` scale is one axis shared by ``/index`` and every layer, and each layer group
holds its own ``weight``, ``byte``, ``channel`` and ``sample`` scales (their lengths differ
between layers). Scales without values are empty datasets (nothing is allocated on disk).

Attaching writes attributes, so it happens in :func:`tracking.layout.create_layout`, before
SWMR writing starts.
"""

from __future__ import annotations

import h5py
import numpy as np

from tracking import format as fmt


def _bare_dimension(group: h5py.Group, name: str, size: int | None) -> h5py.Dataset:
    """An empty dimension scale; ``size=None``: unlimited (its length follows its datasets)."""
    shape, maxshape = ((0,), (None,)) if size is None else ((size,), (size,))
    ds = group.create_dataset(name, shape=shape, maxshape=maxshape, dtype="f4", chunks=None)
    length = 0 if size is None else size
    ds.make_scale(fmt.NOT_A_VARIABLE + f"{length:10}".encode())
    return ds


def create_root_dimensions(f: h5py.File) -> dict[str, h5py.Dataset]:
    """The root scales: snapshot, metric_row, event, event_byte and the grid coordinates."""
    scales = {name: _bare_dimension(f, name, None) for name in fmt.ROOT_DIMS}
    for name, values in fmt.coordinate_values().items():
        ds = f.create_dataset(name, data=np.asarray(values, dtype=np.float64))
        ds.make_scale(name)
        scales[name] = ds
    return scales


def create_layer_dimensions(
    group: h5py.Group, widths: dict[str, int], root: dict[str, h5py.Dataset]
) -> dict[str, h5py.Dataset]:
    """A layer group's own scales plus the root ones, keyed by width code ("" = none)."""
    by_code: dict[str, h5py.Dataset] = {}
    for code, name in fmt.DIM_NAMES.items():
        if name in fmt.LAYER_DIMS:
            by_code[code] = _bare_dimension(group, name, widths[code])
        else:
            by_code[code] = root[name]
    return by_code


def attach(ds: h5py.Dataset, *scales: h5py.Dataset) -> None:
    """Attach one scale per axis of ``ds``, in axis order."""
    for axis, scale in enumerate(scales):
        ds.dims[axis].attach_scale(scale)
