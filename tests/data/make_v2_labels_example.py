"""Regenerate ``run_v2_labels_example.h5``: a tiny v2 run file with free-form labels and metrics.

    PYTHONPATH=. python tests/data/make_v2_labels_example.py

Format v2 adds free-form phase labels and free-form metrics to v1. Only re-run this when
the v2 writer is known good: tests/tracking/test_tracking_files.py asserts the exact values
below, read from the committed file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tracking import LayerSpec, RunWriter

PATH = Path(__file__).with_name("run_v2_labels_example.h5")
LAYERS = [LayerSpec("fc1", (2, 3)), LayerSpec("fc2", (1, 2))]
WEIGHTS = [
    {"fc1": [[0.5, -0.25, 0.125], [1.0, -2.0, 0.004]], "fc2": [[0.3, -0.6]]},
    {"fc1": [[0.5, 0.0, 0.125], [1.0, -2.0, 0.0]], "fc2": [[0.3, -0.6]]},
    {"fc1": [[0.5, 0.0, 0.001], [1.0, -2.0, 0.0]], "fc2": [[0.0001, -0.6]]},
]
PHASES = ["warmup", "finetune", "finetune"]


def main() -> None:
    with RunWriter(
        PATH,
        layers=LAYERS,
        config={"source": "own-loop", "pruning": {"method": "l1_unstructured"}},
        environment={"torch": "none", "device": "cpu", "git": "example"},
        run_id="example-v2",
        control="example-v2-control",
        sample_per_layer=2,
        seed=0,
        background=False,
        overwrite=True,
    ) as w:
        for i, weights in enumerate(WEIGHTS):
            if i == 1:
                w.set_reference(layer_rms={"fc1": 1.0, "fc2": 0.5}, gmp_threshold=0.25)
                w.log_event({"round": 1, "method": "l1_unstructured", "amount": 0.25})
            w.record(
                step=5 * i,
                epoch=float(i),
                phase=PHASES[i],
                round=min(i, 1),
                lr=0.01,
                weights={k: np.asarray(v, np.float32) for k, v in weights.items()},
                masks={
                    k: np.asarray(v) != 0 if i else np.ones_like(v, bool)
                    for k, v in WEIGHTS[1].items()
                },
            )
            metrics = {"train_loss": 1.0 - 0.25 * i, "top5": 0.8 + 0.05 * i}
            if i == 2:
                metrics["val_ppl"] = 12.5
            w.log_metrics(epoch=float(i), phase=PHASES[i], round=min(i, 1), **metrics)


if __name__ == "__main__":
    main()
