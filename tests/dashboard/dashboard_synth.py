"""Synthetic run files for the dashboard tests and benchmark, written by tracking.RunWriter.

A run has ``n_dense`` dense snapshots (epochs 1..n_dense), a one-shot global magnitude
prune at epoch ``n_dense`` (a snapshot right after it), and ``n_retrain`` retraining
snapshots. During retraining a planted share ``shed`` of the kept weights decays
geometrically towards zero (part of it whole output channels, so channels die), and a
tenth of those recover at the end (revivals). A control run is the same with
``sparsity=0``.

Also a script for the live test: ``python dashboard_synth.py PATH N SLEEP_S`` writes the
first N snapshots of the default run, printing ``committed <n>`` after each, and waits
``SLEEP_S`` between snapshots (the test reads the file while it grows).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shedding.config import ExperimentConfig, apply_overrides, to_dict
from tracking import LayerSpec, RunWriter

SMALL_LAYERS = (
    LayerSpec("conv1", (8, 1, 5), bn="bn1"),
    LayerSpec("block.0.conv", (16, 8, 3), bn="block.0.bn"),
    LayerSpec("block.1.conv", (16, 16, 3), bn="block.1.bn"),
    LayerSpec("fc", (10, 64)),
)


@dataclass(frozen=True)
class Synth:
    """Parameters of one synthetic run (see the module docstring)."""

    run_id: str = "run"
    control: str = ""
    sparsity: float = 0.5
    shed: float = 0.3
    seed: int = 0
    method: str = "gmp"
    protocol: str = "lrr"
    n_dense: int = 3
    n_retrain: int = 5
    layers: Sequence[LayerSpec] = SMALL_LAYERS
    sample_per_layer: int = 64
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def n_snapshots(self) -> int:
        return self.n_dense + 1 + self.n_retrain

    def config(self) -> dict[str, Any]:
        cfg = apply_overrides(
            ExperimentConfig(),
            {
                "name": self.run_id,
                "seed": self.seed,
                "prune.method": self.method,
                "prune.sparsity": self.sparsity,
                "retrain.protocol": self.protocol,
                "train.epochs": self.n_dense,
                "retrain.epochs": self.n_retrain,
                **self.overrides,
            },
        )
        return to_dict(cfg)


class _State:
    """Dense weights, the prune mask and the planted shed/revive sets of a run."""

    def __init__(self, p: Synth) -> None:
        rng = np.random.default_rng(p.seed)
        self.w0 = {}
        for spec in p.layers:
            fan_in = max(1, spec.n_weights // spec.n_channels)
            self.w0[spec.name] = rng.standard_normal(spec.shape).astype(np.float32) / np.sqrt(
                fan_in
            )
        # one global magnitude threshold over all layers (GMP)
        allmag = np.concatenate([np.abs(w).ravel() for w in self.w0.values()])
        k = round(p.sparsity * allmag.size)
        self.gmp = float(np.partition(allmag, k)[k]) if k > 0 else float(allmag.min())
        self.mask = {
            n: np.abs(w) >= self.gmp if k > 0 else np.ones(w.shape, bool)
            for n, w in self.w0.items()
        }
        self.decay, self.revive, self.dead = {}, {}, {}
        for spec in p.layers:
            kept = self.mask[spec.name]
            # a quarter of the planted shedding is whole channels (channel death)
            n_dead = round(p.shed * 0.25 * spec.n_channels)
            dead = np.zeros(spec.n_channels, bool)
            dead[rng.choice(spec.n_channels, n_dead, replace=False)] = True
            per_ch = dead.reshape((-1,) + (1,) * (len(spec.shape) - 1))
            d = (rng.random(spec.shape) < p.shed * 0.75) | per_ch
            d &= kept
            self.decay[spec.name] = d
            self.revive[spec.name] = d & (rng.random(spec.shape) < 0.1) & ~per_ch
            self.dead[spec.name] = dead

    def snapshot(self, p: Synth, i: int) -> dict[str, Any]:
        """``record`` arguments of snapshot i."""
        pruned = i >= p.n_dense
        j = max(0, i - p.n_dense)  # retraining snapshots since the prune (0 = right after)
        weights, masks, gammas = {}, {}, {}
        for spec in p.layers:
            n = spec.name
            w = self.w0[n] * np.float32(1.0 + 0.01 * i)
            if pruned:
                factor = np.float32(0.05) ** j  # below 1% of the RMS after 2 snapshots
                back = j >= p.n_retrain - 1  # revivals recover at the end
                f = np.where(self.decay[n], factor, np.float32(1.0))
                f = np.where(self.revive[n] & back, np.float32(1.0), f)
                w = w * f * self.mask[n]
            weights[n] = w.astype(np.float32)
            masks[n] = self.mask[n] if pruned else np.ones(spec.shape, bool)
            if spec.bn:
                g = np.ones(spec.n_channels, np.float32)
                if pruned and j > 0:
                    g[self.dead[n]] = 1e-4
                gammas[n] = g
        return dict(
            step=100 * i,
            epoch=float(min(i + 1, p.n_dense) if i <= p.n_dense else i),
            phase="retrain" if pruned else "dense",
            round=1 if pruned else 0,
            lr=0.1 if j < p.n_retrain // 2 else 0.01,
            weights=weights,
            masks=masks,
            bn_gamma=gammas,
        )


def write_snapshots(
    writer: RunWriter,
    p: Synth,
    *,
    start: int = 0,
    stop: int | None = None,
    sleep_s: float = 0.0,
    echo: Callable[[str], None] | None = None,
) -> None:
    """Records snapshots ``start..stop-1`` of ``p`` (with metrics and the prune event)."""
    st = _State(p)
    stop = p.n_snapshots if stop is None else stop
    for i in range(start, stop):
        snap = st.snapshot(p, i)
        if i == p.n_dense:
            rms = {
                n: float(np.sqrt(np.mean(w[st.mask[n]] ** 2))) if st.mask[n].any() else 1.0
                for n, w in snap["weights"].items()
            }
            writer.set_reference(layer_rms=rms, gmp_threshold=st.gmp)
            writer.log_event(
                {
                    "round": 1,
                    "epoch": float(p.n_dense),
                    "step": snap["step"],
                    "method": p.method,
                    "amount": p.sparsity,
                    "sparsity": p.sparsity,
                    "gmp_threshold": st.gmp,
                }
            )
        writer.record(**snap)
        if i != p.n_dense:  # the after-prune snapshot shares its epoch with the last dense one
            acc = 0.5 + 0.4 * (1 - np.exp(-(i + 1) / 3)) - (0.05 if i > p.n_dense else 0)
            writer.log_metrics(
                epoch=snap["epoch"],
                phase=snap["phase"],
                round=snap["round"],
                train_loss=1.5 - acc,
                test_loss=1.6 - acc,
                train_acc=acc + 0.02,
                test_acc=acc,
                lr=snap["lr"],
            )
        if echo is not None:
            writer.flush()
            echo(f"committed {writer.n_committed}")
        if sleep_s:
            time.sleep(sleep_s)


def open_writer(path: str | Path, p: Synth, *, background: bool = True) -> RunWriter:
    """A RunWriter for ``p``'s run file (replacing any file there)."""
    return RunWriter(
        path,
        layers=list(p.layers),
        config=p.config(),
        run_id=p.run_id,
        control=p.control,
        sample_per_layer=p.sample_per_layer,
        seed=p.seed,
        overwrite=True,
        background=background,
    )


def write_run(
    path: str | Path, p: Synth, *, stop: int | None = None, status: str = "complete"
) -> Path:
    """Writes a whole synthetic run file (or its first ``stop`` snapshots) and closes it."""
    path = Path(path)
    w = open_writer(path, p, background=False)  # synchronous: no thread hand-off (tests)
    try:
        write_snapshots(w, p, stop=stop)
    finally:
        w.close(status)
    return path


def main(argv: list[str]) -> None:
    path, n, sleep_s = argv[0], int(argv[1]), float(argv[2])
    p = Synth(run_id="live", n_retrain=max(1, n - 4))
    with open_writer(path, p) as w:
        write_snapshots(w, p, stop=n, sleep_s=sleep_s, echo=lambda s: print(s, flush=True))


if __name__ == "__main__":
    main(sys.argv[1:])
