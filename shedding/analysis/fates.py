"""The fate of each sampled weight of a layer: pruned, shed, revived or kept.

The run file keeps a fixed random sample of every layer's weights at every snapshot
(``Run.samples``); their trajectories show what the counts summarise.
"""

from __future__ import annotations

import numpy as np

from shedding.analysis.thresholds import get_rule, tau_f32
from tracking import Run

#: The fates, in the order they are decided (a later one overrides an earlier one).
FATES = ("kept", "revived", "shed", "pruned")


def layer_tau(run: Run, layer: str, rule: str, c: float) -> np.ndarray:
    """(S,) threshold in force for ``layer`` (as the writer rounds it); NaN = unknown."""
    return tau_f32(c, get_rule(rule).scale(run.stats(layer))).astype(float)


def sample_fates(run: Run, layer: str, rule: str, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Sampled weights of a layer (S, K) and each one's fate at the last snapshot.

    Fates: ``pruned`` (the last mask removes it), ``shed`` (kept, below τ now),
    ``revived`` (kept, below τ at an earlier snapshot, at or above it now), ``kept``.
    Magnitudes are rounded to float16 first, as the stored statistics are.

    Example:
        >>> values, fates = sample_fates(run, "conv1", "layer_relative", 0.01)
        >>> set(fates) <= set(FATES)
        True
    """
    idx, values = run.samples(layer)
    n = values.shape[0]
    if n == 0:
        return values, np.array([], dtype=str)
    mask = run.mask(layer, n - 1).reshape(-1)[idx]  # (K,) one bitset row of one snapshot
    mag = np.abs(values).astype(np.float16).astype(np.float64)  # (S, K)
    tau = layer_tau(run, layer, rule, c)[:, None]  # (S, 1); NaN -> nothing shed
    below = np.where(np.isnan(tau), False, mag < np.nan_to_num(tau, nan=0.0))
    fates = np.full(idx.shape, "kept", dtype=object)
    fates[below[:-1].any(axis=0) & ~below[-1]] = "revived"
    fates[below[-1]] = "shed"
    fates[~mask] = "pruned"
    return values, fates.astype(str)
