"""Why a regime sheds: the kept-weight norm and the effective step of scale-invariant layers.

A convolution or linear layer followed by BatchNorm is *scale-invariant*: scaling its
weights w by any a > 0 leaves the network's output unchanged, so only the direction of w
matters, and one SGD step of size η turns that direction by about η / ‖w‖² (the gradient
of a scale-invariant loss is orthogonal to w and shrinks as 1/‖w‖). Weight decay shrinks
‖w‖ and so raises this **effective step**; a large LR restart after pruning raises it
again. Per layer and snapshot this module derives, from what every run file stores
(``rms_kept``, ``n_kept`` and the index's LR):

- the kept-weight norm ‖m⊙w‖ = rms_kept · sqrt(n_kept) (float16-rounded magnitudes, as
  every statistic of the file);
- the effective step η_t / ‖m⊙w‖², NaN for layers not followed by BatchNorm.

``η_t`` is the LR of the last optimizer step before snapshot t (after a prune event: the
first LR of retraining).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shedding.analysis import _cache

if TYPE_CHECKING:
    from tracking.reader import Run


@dataclass(frozen=True)
class Mechanism:
    """Per-snapshot mechanism statistics of one run.

    Attributes:
        run_id: The run.
        layers: Layer names, in file order.
        scale_invariant: (L,) bool, the layer is followed by BatchNorm.
        epoch: (S,) snapshot epochs.
        lr: (S,) LR in force at each snapshot.
        kept_norm: (S, L) ‖m⊙w‖ per layer.
        effective_step: (S, L) η / ‖m⊙w‖² (NaN where not scale-invariant or no kept weight).
    """

    run_id: str
    layers: tuple[str, ...]
    scale_invariant: np.ndarray
    epoch: np.ndarray
    lr: np.ndarray
    kept_norm: np.ndarray
    effective_step: np.ndarray

    def total_norm(self, snapshot: int) -> float:
        """‖m⊙w‖ over every recorded layer at ``snapshot``."""
        if not len(self.layers):
            return float("nan")
        return float(np.sqrt(np.sum(self.kept_norm[snapshot] ** 2)))

    def mean_effective_step(self, snapshot: int) -> float:
        """Mean effective step over the scale-invariant layers (NaN without any)."""
        row = self.effective_step[snapshot][self.scale_invariant]
        row = row[np.isfinite(row)]
        return float(row.mean()) if row.size else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (lists; NaN as None)."""

        def clean(a: np.ndarray) -> Any:
            return [[float(v) if np.isfinite(v) else None for v in row] for row in a]

        return {
            "run_id": self.run_id,
            "layers": list(self.layers),
            "scale_invariant": self.scale_invariant.tolist(),
            "epoch": self.epoch.tolist(),
            "lr": self.lr.tolist(),
            "kept_norm": clean(self.kept_norm),
            "effective_step": clean(self.effective_step),
        }


def mechanism(run: Run) -> Mechanism:
    """Kept-weight norms and effective steps of every layer at every snapshot of ``run``.

    Example:
        >>> m = mechanism(run)
        >>> m.kept_norm.shape == (len(run), len(run.layers))
        True
    """
    index = _cache.index(run)
    lr = np.asarray(index.lr, dtype=np.float64)
    names = tuple(info.name for info in run.layers)
    invariant = np.array([bool(info.bn) for info in run.layers], dtype=bool)
    norm = np.empty((len(lr), len(names)))
    for li, name in enumerate(names):
        rms = np.asarray(_cache.column(run, name, "rms_kept"), dtype=np.float64)
        n_kept = np.asarray(_cache.column(run, name, "n_kept"), dtype=np.float64)
        norm[:, li] = rms[: len(lr)] * np.sqrt(n_kept[: len(lr)])
    with np.errstate(divide="ignore", invalid="ignore"):
        step = lr[:, None] / norm**2
    step[:, ~invariant] = np.nan
    step[~np.isfinite(step)] = np.nan
    return Mechanism(
        run_id=run.run_id,
        layers=names,
        scale_invariant=invariant,
        epoch=np.asarray(index.epoch, dtype=np.float64),
        lr=lr,
        kept_norm=norm,
        effective_step=step,
    )
