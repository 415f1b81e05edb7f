"""The engine: one instrumented prune experiment, from a config to a run file.

A run is a plan of phases: the dense phase (trained once per dense config and cached,
:mod:`~shedding.engine.dense`), then prune rounds 1..K (:mod:`~shedding.engine.rounds`),
each pruned (:mod:`~shedding.engine.prune_round`) and retrained under the mask.

======================  ==========================================================
module                  what it holds
======================  ==========================================================
``experiment``          :func:`run_experiment`: the run, start to end
``runtime``             device, torchrun process group, SIGTERM, batches
``network``             the model factory and the network retraining works on
``dense``               the cached dense phase shared by every run that uses it
``prune_round``         one prune event and the weights retraining starts from
``rounds``              the round loop: prune or resume a round, then retrain it
``resume``              the checkpoint read back; which run files a run may touch
``recording``           the recorder that hands weights to the run file's writer
``identity``            run ids, control ids, where a run's files live (no torch)
======================  ==========================================================

``from shedding.engine import run_experiment`` imports torch; ``shedding.engine.identity``
alone does not.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RunResult", "resolve_budget", "run_experiment", "validate"]


def __getattr__(name: str) -> Any:
    # Lazy: importing the package (e.g. for the torch-free ``identity``) must not load torch.
    if name in __all__:
        from shedding.engine import experiment

        return getattr(experiment, name)
    raise AttributeError(f"module 'shedding.engine' has no attribute {name!r}")
