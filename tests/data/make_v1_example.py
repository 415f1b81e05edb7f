"""Regenerate ``run_v1_example.h5``: a tiny run file in format v1, read by a test forever.

    PYTHONPATH=. python tests/data/make_v1_example.py

Only re-run this when the v1 writer is known good: tests/tracking/test_tracking_files.py
asserts the exact values below, read from the committed file. A future format v2 keeps
this file and adds a make_v2_example.py next to it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tracking import LayerSpec, RunWriter

PATH = Path(__file__).with_name("run_v1_example.h5")
LAYERS = [LayerSpec("features.0", (2, 3), bn="features.1"), LayerSpec("head", (2, 4))]
# signed effective weights of three snapshots: dense, just after pruning, one epoch later
WEIGHTS = [
    {
        "features.0": [[0.5, -0.25, 0.125], [1.0, -2.0, 0.004]],
        "head": [[0.1, 0.2, -0.3, 0.4], [-0.5, 0.6, 0.7, -0.8]],
    },
    {
        "features.0": [[0.5, 0.0, 0.125], [1.0, -2.0, 0.0]],
        "head": [[0.0, 0.2, -0.3, 0.4], [-0.5, 0.6, 0.7, -0.8]],
    },
    {
        "features.0": [[0.5, 0.0, 0.001], [1.0, -2.0, 0.0]],
        "head": [[0.0, 0.2, -0.3, 0.0001], [-0.5, 0.6, 0.7, -0.8]],
    },
]


def main(path: Path = PATH, *, run_id: str = "example-v1", **writer_args: object) -> None:
    """Write the example run to ``path`` (``writer_args``: e.g. ``mode="stats"``)."""
    masks_dense = {s.name: np.ones(s.shape, bool) for s in LAYERS}
    masks_pruned = {name: np.asarray(w) != 0 for name, w in WEIGHTS[1].items()}
    with RunWriter(
        path,
        layers=LAYERS,
        config={"model": "example", "pruning": {"method": "gmp", "amount": 0.2}},
        environment={"torch": "none", "device": "cpu", "git": "example"},
        run_id=run_id,
        control="",
        sample_per_layer=4,
        seed=0,
        background=False,
        overwrite=True,
        **writer_args,  # type: ignore[arg-type]
    ) as w:
        for i, weights in enumerate(WEIGHTS):
            if i == 1:
                w.set_reference(layer_rms={"features.0": 1.0, "head": 0.5}, gmp_threshold=0.1)
                w.log_event({"round": 1, "step": 20, "method": "global_magnitude", "amount": 0.2})
            w.record(
                step=10 * i,
                epoch=float(i),
                phase="dense" if i == 0 else "retrain",
                round=0 if i == 0 else 1,
                lr=0.1,
                weights={k: np.asarray(v, np.float32) for k, v in weights.items()},
                masks=masks_dense if i == 0 else masks_pruned,
                bn_gamma={"features.0": np.array([1.0, 0.5 - 0.25 * i], np.float32)},
            )
            w.log_metrics(
                epoch=float(i),
                phase="dense" if i == 0 else "retrain",
                round=min(i, 1),
                train_loss=1.0 - 0.25 * i,
                test_acc=0.5 + 0.1 * i,
            )


if __name__ == "__main__":
    main()
