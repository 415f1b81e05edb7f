"""Deterministic fake runs for the tracking tests, also runnable as a writer subprocess.

    python tracking_fakes.py PATH N_SNAPSHOTS SLEEP_S [--resume-from K] [--compression C]

writes snapshots 0..N-1 of :func:`snapshot` (printing "committed <n>" after each flush)
and closes the file "complete". The tests kill it, read it live, and resume it.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from tracking import LayerSpec, RunWriter

LAYERS = [
    LayerSpec("conv1", (8, 3, 5), bn="bn1"),
    LayerSpec("block.0.conv", (16, 8, 3), bn="block.0.bn"),
    LayerSpec("fc", (10, 64)),
]
CONFIG = {"model": "fake", "seed": 3, "nested": {"lr": 0.1}}
PRUNE_AT = 4  # snapshot index at which the fake run prunes and sets a reference


def snapshot(i: int) -> dict:
    """Snapshot i of the fake run: record() keyword arguments, the same on every call.

    Weights decay over snapshots after the prune so that weights get shed during
    "retraining"; magnitudes span 1e-9..10 so every grid is exercised.
    """
    weights, masks, gammas = {}, {}, {}
    for k, spec in enumerate(LAYERS):
        rng = np.random.default_rng([k, 7])
        base = np.exp(rng.uniform(np.log(1e-9), np.log(10.0), size=spec.shape))
        sign = rng.choice([-1.0, 1.0], size=spec.shape)
        decay = rng.uniform(0.3, 1.0, size=spec.shape) ** max(0, i - PRUNE_AT)
        mask = np.ones(spec.shape, dtype=bool)
        if i >= PRUNE_AT:
            mask = rng.random(spec.shape) > 0.3  # the same 30% pruned from the prune on
        w = (sign * base * decay * mask).astype(np.float32)
        weights[spec.name], masks[spec.name] = w, mask
        if spec.bn:
            gammas[spec.name] = np.linspace(0.5, 1.5, spec.shape[0], dtype=np.float32) / (1 + i)
    phase, rnd = ("dense", 0) if i < PRUNE_AT else ("retrain", 1)
    return dict(
        step=10 * i,
        epoch=i / 2,
        phase=phase,
        round=rnd,
        lr=0.1 / (1 + i),
        weights=weights,
        masks=masks,
        bn_gamma=gammas,
    )


def reference(i: int) -> dict | None:
    """set_reference() arguments to apply just before snapshot i, or None."""
    if i != PRUNE_AT:
        return None
    s = snapshot(i)
    rms = {n: float(np.sqrt(np.mean(w[s["masks"][n]] ** 2))) for n, w in s["weights"].items()}
    return {"layer_rms": rms, "gmp_threshold": 0.05}


def write(writer: RunWriter, start: int, stop: int, *, sleep_s: float = 0.0, echo=None) -> None:
    """Record snapshots start..stop-1 (with metrics and the prune event) into ``writer``."""
    for i in range(start, stop):
        ref = reference(i)
        if ref is not None:
            writer.set_reference(**ref)
            writer.log_event({"round": 1, "step": 10 * i, "gmp_threshold": 0.05})
        writer.record(**snapshot(i))
        writer.log_metrics(epoch=i / 2, phase="dense", round=0, train_loss=1.0 / (1 + i))
        if echo is not None:
            writer.flush()
            echo(f"committed {writer.n_committed}")
        if sleep_s:
            time.sleep(sleep_s)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("n", type=int)
    parser.add_argument("sleep_s", type=float)
    parser.add_argument("--resume-from", type=int, default=None)
    parser.add_argument("--compression", default=None)
    a = parser.parse_args(argv)
    with RunWriter(
        a.path,
        layers=LAYERS,
        config=CONFIG,
        run_id="fake",
        resume_from=a.resume_from,
        overwrite=True,
        compression=a.compression,
    ) as w:
        write(w, a.resume_from or 0, a.n, sleep_s=a.sleep_s, echo=lambda s: print(s, flush=True))


if __name__ == "__main__":
    main(sys.argv[1:])
