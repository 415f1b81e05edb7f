"""The prune event and threshold reference, by the engine's rules (shedding/engine/prune_round.py).

At a prune event that takes masks ``old`` to ``new`` with weights ``w`` (the effective
weights just before the prune):

- per layer: ``pruned = |old & ~new|``, ``kept = |new|``, ``rms_kept = RMS(w[new])``, the
  layer reference of the default ``layer_relative`` rule;
- ``amount = pruned / |old|`` over all layers and ``gmp_threshold`` = the largest ``|w|``
  global magnitude pruning removes at that amount (None when nothing is pruned), the
  reference of the ``gmp_relative`` rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from shedding.pruning import gmp_threshold


@dataclass(frozen=True)
class PruneReference:
    """What a prune event logs and sets as the shedding reference."""

    per_layer: dict[str, dict[str, float]]
    layer_rms: dict[str, float]
    amount: float
    sparsity: float
    gmp_threshold: float | None
    revived: int


def prune_reference(
    weights: Mapping[str, np.ndarray],
    old: Mapping[str, np.ndarray],
    new: Mapping[str, np.ndarray],
) -> PruneReference:
    """The event fields and reference for weights ``weights`` and masks ``old`` -> ``new``
    (all numpy, layer shapes; masks bool)."""
    per_layer: dict[str, dict[str, float]] = {}
    layer_rms: dict[str, float] = {}
    n_pruned = n_old = n_new = n_total = revived = 0
    for name, m in new.items():
        w = np.asarray(weights[name], dtype=np.float64)
        o = old[name]
        kept = int(m.sum())
        rms = float(np.sqrt(np.mean(w[m] ** 2))) if kept else 0.0
        pruned = int((o & ~m).sum())
        per_layer[name] = {"pruned": pruned, "kept": kept, "rms_kept": rms}
        layer_rms[name] = rms
        n_pruned, n_old, n_new = n_pruned + pruned, n_old + int(o.sum()), n_new + kept
        n_total += m.size
        revived += int((m & ~o).sum())
    amount = n_pruned / n_old if n_old else 0.0
    threshold = None
    if 0 < amount < 1:
        threshold = gmp_threshold(
            {n: torch.from_numpy(np.asarray(w, np.float32)) for n, w in weights.items()},
            {n: torch.from_numpy(np.asarray(m)) for n, m in old.items()},
            amount=amount,
        )
    return PruneReference(
        per_layer=per_layer,
        layer_rms=layer_rms,
        amount=amount,
        sparsity=1 - n_new / n_total if n_total else 0.0,
        gmp_threshold=threshold,
        revived=revived,
    )


def event_dict(
    ref: PruneReference, *, round: int, epoch: float, info: Mapping[str, Any]
) -> dict[str, Any]:
    """The /events entry: the engine's keys plus the caller's own (JSON) fields."""
    event: dict[str, Any] = {
        "method": "",
        "protocol": "",
        **dict(info),
        "round": round,
        "epoch": epoch,
        "amount": ref.amount,
        "sparsity": ref.sparsity,
        "gmp_threshold": ref.gmp_threshold,
        "per_layer": ref.per_layer,
        "source": "shedding.track",
    }
    if ref.revived:
        event["revived_by_prune"] = ref.revived
    return event
