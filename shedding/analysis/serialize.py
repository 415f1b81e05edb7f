"""JSON-ready values: numpy arrays and scalars as lists and Python numbers, NaN/inf as None.

Every result's ``to_dict()`` / ``to_table()`` goes through :func:`jsonable`, so a missing
value (NaN: no control, no aligned snapshot, nothing pruned) reads as ``null`` in JSON.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def finite_or_none(x: float) -> float | None:
    """``x`` as a float, or None when it is NaN or infinite.

    Example:
        >>> finite_or_none(np.float32(0.5)), finite_or_none(float("nan"))
        (0.5, None)
    """
    return None if not np.isfinite(x) else float(x)


def jsonable(value: Any) -> Any:
    """Numpy arrays and scalars to lists and Python numbers; NaN/inf to None.

    Tuples become lists; anything else is returned unchanged.

    Example:
        >>> jsonable(np.array([[1.0, np.nan], [np.inf, 2.0]]))
        [[1.0, None], [None, 2.0]]
        >>> jsonable(np.int64(3)), jsonable((1, 2)), jsonable("x")
        (3, [1, 2], 'x')
    """
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            if value.ndim > 1:
                return [jsonable(v) for v in value]
            return [finite_or_none(v) for v in value]
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, float | np.floating):
        return finite_or_none(float(value))
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value
