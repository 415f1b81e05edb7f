"""Planted-truth run files for the analysis tests, written through the real RunWriter.

Weights are set explicitly per snapshot: BIG (1.0) is never shed, SMALL (0.001) is shed
at every tested threshold (layer-relative c=0.01 of a reference RMS 1.0 -> τ = 0.01),
pruned weights are 0. The expected numbers in the tests follow from the planted sets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tracking.layout import LayerSpec
from tracking.writer import RunWriter

BIG = 1.0
SMALL = 0.001
LAYERS = (LayerSpec("conv1", (4, 8), bn="bn1"), LayerSpec("fc", (2, 16)))
N = sum(spec.n_weights for spec in LAYERS)  # 64


def config(**overrides: Any) -> dict[str, Any]:
    """A small resolved-config-like dict; dotted overrides ("prune.method": "random")."""
    cfg: dict[str, Any] = {
        "name": "planted",
        "seed": 0,
        "prune": {"method": "gmp", "sparsity": 0.125, "mode": "oneshot"},
        "retrain": {"protocol": "lrr", "epochs": 2},
        "train": {"epochs": 2},
    }
    for key, value in overrides.items():
        *parents, last = key.split(".")
        node = cfg
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return cfg


class PlantedRun:
    """Builds one run file snapshot by snapshot; use as a context manager."""

    def __init__(
        self,
        path: Path,
        *,
        run_id: str,
        control: str = "",
        layers: Iterable[LayerSpec] = LAYERS,
        cfg: Mapping[str, Any] | None = None,
    ) -> None:
        self.layers = tuple(layers)
        self.writer = RunWriter(
            path,
            layers=self.layers,
            config=dict(cfg or config()),
            run_id=run_id,
            control=control,
            background=False,
            sample_per_layer=4,
        )
        self.masks = {s.name: np.ones(s.shape, dtype=bool) for s in self.layers}
        self.step = 0

    def weights(self, small: Mapping[str, Iterable[int]] = (), **values: Any) -> dict:
        """BIG everywhere, SMALL at the given flat indices per layer, 0 where pruned."""
        out = {}
        for spec in self.layers:
            w = np.full(spec.n_weights, BIG, dtype=np.float32)
            w[list(dict(small).get(spec.name, ()))] = SMALL
            for idx, v in dict(values.get(spec.name, {})).items():
                w[idx] = v
            out[spec.name] = w.reshape(spec.shape) * self.masks[spec.name]
        return out

    def snap(
        self,
        *,
        epoch: float,
        round: int,
        small: Mapping[str, Iterable[int]] = (),
        bn: Mapping[str, np.ndarray] | None = None,
        values: Mapping[str, Mapping[int, float]] | None = None,
    ) -> None:
        """Record one snapshot (phase from round: 0 = dense)."""
        self.step += 10
        self.writer.record(
            step=self.step,
            epoch=epoch,
            phase="dense" if round == 0 else "retrain",
            round=round,
            lr=0.1,
            weights=self.weights(small, **dict(values or {})),
            masks=self.masks,
            bn_gamma=bn,
        )

    def prune(
        self,
        *,
        round: int,
        epoch: float,
        pruned: Mapping[str, Iterable[int]],
        gmp: float | None = 0.5,
        method: str = "gmp",
    ) -> None:
        """Remove flat indices per layer; reference RMS 1.0 per layer (τ = c)."""
        per_layer = {}
        for spec in self.layers:
            idx = list(dict(pruned).get(spec.name, ()))
            flat = self.masks[spec.name].reshape(-1).copy()
            flat[idx] = False
            self.masks[spec.name] = flat.reshape(spec.shape)
            per_layer[spec.name] = {"pruned": len(idx), "kept": int(flat.sum()), "rms_kept": 1.0}
        self.writer.set_reference(layer_rms={s.name: 1.0 for s in self.layers}, gmp_threshold=gmp)
        self.writer.log_event(
            {
                "round": round,
                "epoch": epoch,
                "step": self.step,
                "method": method,
                "gmp_threshold": gmp,
                "per_layer": per_layer,
            }
        )

    def metrics(self, *, epoch: float, round: int, test_acc: float) -> None:
        """Log one metrics row."""
        self.writer.log_metrics(
            epoch=epoch,
            phase="dense" if round == 0 else "retrain",
            round=round,
            test_acc=test_acc,
            train_acc=test_acc,
            test_loss=1.0,
            train_loss=1.0,
            lr=0.1,
        )

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> PlantedRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cascade_run(path: Path, *, run_id: str = "pruned", control: str = "") -> Path:
    """One-shot run with a known cascade (see test_cascade for the expected numbers).

    conv1 (4x8, BN) and fc (2x16): 64 weights. Round 1 prunes 8 (conv1 0..3, fc 0..3).
    Shed (SMALL) kept weights per snapshot:
      s0 dense e1: {}             s1 dense e2: {}
      s2 r1 e2 (after prune): conv1 {4,5}                       -> 2
      s3 r1 e3: conv1 {4..9} (6), fc {4,5} (2)                 -> 8
      s4 r1 e4: conv1 {4..8, 10..15} (11, 9 revived), fc {4,5,6,7} (4) -> 15
    Channel conv1[1] (flat 8..15): 7 of 8 kept shed at s4 (not dead: < 90%); BN gamma of
    conv1 channel 3 is 1e-4 at s4 (dead by BN).
    """
    with PlantedRun(path, run_id=run_id, control=control) as r:
        gamma = np.ones(4, dtype=np.float32)
        r.snap(epoch=1, round=0, bn={"conv1": gamma})
        r.metrics(epoch=1, round=0, test_acc=0.5)
        r.snap(epoch=2, round=0, bn={"conv1": gamma})
        r.metrics(epoch=2, round=0, test_acc=0.9)
        r.prune(round=1, epoch=2, pruned={"conv1": range(4), "fc": range(4)})
        r.snap(epoch=2, round=1, small={"conv1": [4, 5]}, bn={"conv1": gamma})
        r.snap(epoch=3, round=1, small={"conv1": range(4, 10), "fc": [4, 5]})
        r.metrics(epoch=3, round=1, test_acc=0.8)
        dead_bn = np.array([1, 1, 1, 1e-4], dtype=np.float32)
        r.snap(
            epoch=4,
            round=1,
            small={"conv1": [4, 5, 6, 7, 8, *range(10, 16)], "fc": [4, 5, 6, 7]},
            bn={"conv1": dead_bn},
        )
        r.metrics(epoch=4, round=1, test_acc=0.85)
    return path


def control_run(path: Path, *, run_id: str = "control") -> Path:
    """The control of :func:`cascade_run`: same snapshots, nothing pruned.

    Shed (SMALL) per snapshot; on the pruned run's kept set (conv1 4.., fc 4..):
      s2 r1 e2: conv1 {4,5} (both kept in the pruned run)              -> 2 on kept
      s3 r1 e3: conv1 {0,1,4,5,6}                                      -> 3 on kept
      s4 r1 e4: conv1 {0,1,2,3,4,5,6,7} (channel 0 all shed), fc {0,4} -> 4 + 1 = 5 on kept
    Its own count at s4 is 10 (0..3 are pruned in the pruned run, not here).
    Control Δ on kept = 5 - 2 = 3; pruned Δ = 13; pruned = 8 -> C_excess = 10 / 8 = 1.25.
    Dead channels on the kept set at s4: conv1[0] (4 of 4 kept shed) -> 1; the pruned run
    has 2 (conv1[0] and conv1[3] by BN) -> excess 1.
    """
    with PlantedRun(path, run_id=run_id, cfg=config(**{"prune.sparsity": 0.0})) as r:
        gamma = np.ones(4, dtype=np.float32)
        r.snap(epoch=1, round=0, bn={"conv1": gamma})
        r.snap(epoch=2, round=0, bn={"conv1": gamma})
        r.prune(round=1, epoch=2, pruned={})
        r.snap(epoch=2, round=1, small={"conv1": [4, 5]}, bn={"conv1": gamma})
        r.snap(epoch=3, round=1, small={"conv1": [0, 1, 4, 5, 6]}, bn={"conv1": gamma})
        r.snap(epoch=4, round=1, small={"conv1": range(8), "fc": [0, 4]}, bn={"conv1": gamma})
        r.metrics(epoch=4, round=1, test_acc=0.9)
    return path


def simple_run(
    path: Path,
    *,
    run_id: str,
    control: str = "",
    shed_end: int,
    acc: float,
    method: str = "gmp",
    protocol: str = "lrr",
    seed: int = 0,
    is_control: bool = False,
) -> Path:
    """One-shot run: prune 8 (conv1 0..3, fc 0..3) unless ``is_control``; at the end,
    ``shed_end`` kept fc weights (flat 4, 5, ...) are SMALL. So C = shed_end / 8, and a
    control with ``shed_end = j`` gives C_control = j / 8 on the pruned run's kept set."""
    cfg = config(**{"prune.method": method, "retrain.protocol": protocol, "seed": seed})
    if is_control:
        cfg["prune"]["sparsity"] = 0.0
    with PlantedRun(path, run_id=run_id, control=control, cfg=cfg) as r:
        r.snap(epoch=1, round=0)
        pruned = {} if is_control else {"conv1": range(4), "fc": range(4)}
        r.prune(round=1, epoch=1, pruned=pruned, method=method)
        r.snap(epoch=1, round=1)
        r.snap(epoch=2, round=1, small={"fc": range(4, 4 + shed_end)})
        r.metrics(epoch=2, round=1, test_acc=acc)
    return path


def iterative_run(path: Path, *, run_id: str = "iter", record_dense: bool = True) -> Path:
    """Two prune rounds of 8 weights each. Without ``record_dense`` the file has no
    snapshot before round 1, whose pruned count then comes from N.

    Round 1: at prune fc {4} shed (1); end fc {4..9} (6)        -> C1 = 5 / 8
    Round 2 prunes conv1 4..7 and fc 4..7 (4 of them were shed); at prune fc {8, 9} (2);
    end fc {8..15} (8) and conv1 {8..11} (4) -> 12               -> C2 = 10 / 8
    """
    with PlantedRun(path, run_id=run_id) as r:
        if record_dense:
            r.snap(epoch=1, round=0)
        r.prune(round=1, epoch=1, pruned={"conv1": range(4), "fc": range(4)})
        r.snap(epoch=1, round=1, small={"fc": [4]})
        r.snap(epoch=2, round=1, small={"fc": range(4, 10)})
        r.snap(epoch=3, round=1, small={"fc": range(4, 10)})
        r.prune(round=2, epoch=3, pruned={"conv1": range(4, 8), "fc": range(4, 8)})
        r.snap(epoch=3, round=2, small={"fc": [8, 9]})
        r.snap(epoch=4, round=2, small={"fc": range(8, 16), "conv1": range(8, 12)})
    return path
