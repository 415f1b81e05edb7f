"""The floor estimate counts the same steps the measured floor trains, and times each
(model, data, optimizer) triple of a study once."""

from __future__ import annotations

from pathlib import Path

from shedding.config import load_config

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
TINY = [
    "data.num_train=200",
    "data.num_test=50",
    "data.batch_size=64",
    "train.epochs=2",
    "train.milestones=[1]",
    "retrain.epochs=1",
    "model.width=0.25",
]


def _floor_functions(monkeypatch):
    # on sys.path for the whole test: the parallel floor's processes import the module too
    monkeypatch.syspath_prepend(str(BENCH))
    from bench_sweep_floor import estimate_floor, floor_in_parallel, floor_seconds

    return estimate_floor, floor_seconds, floor_in_parallel


def test_estimate_counts_the_measured_floors_steps_and_times_each_pair(tmp_path, monkeypatch):
    estimate_floor, floor_seconds, floor_in_parallel = _floor_functions(monkeypatch)
    configs = [
        load_config("mnist1d-demo", [*TINY, f"seed={seed}", f"prune.sparsity={s}"])
        for seed in (0, 1)
        for s in (0.0, 0.5)
    ]
    two = ["model.width=0.5", "prune.sparsity=0", "prune.rounds=2"]  # a 2-round control
    configs.append(load_config("mnist1d-demo", [*TINY, *two]))
    iterative = ["seed=1", "prune.mode=iterative", "prune.rate=0.5", "prune.sparsity=0.75"]
    configs.append(load_config("mnist1d-demo", [*TINY, *iterative]))  # 2 rounds
    adam = ["seed=0", "prune.sparsity=0.2", "retrain.optimizer=adam", "retrain.lr=0.01"]
    configs.append(load_config("mnist1d-demo", [*TINY, *adam]))  # seed 0's dense phase
    seconds, steps = floor_seconds(configs, tmp_path)
    est, est_steps, per_step = estimate_floor(configs, tmp_path, sample_steps=4)
    # 3 dense phases of 2 epochs, 5 one-round and two 2-round retrainings of 1 epoch per
    # round; 4 steps each; the Adam retraining is timed with Adam
    assert steps == est_steps == (3 * 2 + 5 + 2 + 2) * 4
    assert sorted(per_step) == [
        "resnet1d width 0.25, 200 examples, batch 64, adam",
        "resnet1d width 0.25, 200 examples, batch 64, sgd",
        "resnet1d width 0.5, 200 examples, batch 64, sgd",
    ]
    assert seconds > 0 and est > 0 and all(s > 0 for s in per_step.values())
    # shared out over 2 processes stepping at once: the same steps
    parallel, parallel_steps = floor_in_parallel(configs, tmp_path, 2)
    assert parallel_steps == steps and parallel > 0
    # the estimate sampled in 2 processes at once: the same steps and triples
    est2, est2_steps, per_step2 = estimate_floor(configs, tmp_path, sample_steps=4, jobs=2)
    assert est2_steps == steps and sorted(per_step2) == sorted(per_step)
    assert est2 > 0 and all(s > 0 for s in per_step2.values())


def test_the_interleaved_sweep_sets_each_slice_against_its_own_rates(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    from bench_sweep_floor import floor_seconds, interleaved_sweep

    from tracking import open_run

    configs = [load_config("mnist1d-demo", [*TINY, f"prune.sparsity={s}"]) for s in (0, 0.3, 0.6)]
    rows, rates = interleaved_sweep(configs, tmp_path, jobs=2, chunks=2, sample_steps=4)
    # 3 planned runs in slices of 2 and 1; the dense phase (2 epochs) and 3 retrainings
    assert [r["runs"] for r in rows] == [2, 1]
    _, steps = floor_seconds(configs, tmp_path)
    assert sum(r["steps"] for r in rows) == steps == (2 + 3) * 4
    assert all(r["wall"] > 0 and r["floor / jobs"] > 0 for r in rows)
    (series,) = rates.values()  # one triple: sampled before the first slice and after each
    assert len(series) == 3 and all(r > 0 for r in series)
    runs = sorted((tmp_path / "runs").glob("*.h5"))
    assert len(runs) == 3
    for path in runs:
        with open_run(path) as run:
            assert run.status == "complete"
