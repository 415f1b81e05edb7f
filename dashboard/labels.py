"""The words the pages use: run names built from the config, metric and column names,
their tooltips, and the short explainer of what the numbers mean.

Kept in one module so the table header, the summary table, the legends and the
explainer say the same thing in the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def config_value(config: Mapping[str, Any], dotted: str) -> Any:
    """``config["a"]["b"]`` for ``"a.b"``; None when absent."""
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def percent(x: float) -> str:
    """``0.9`` -> ``"90%"``, ``0.925`` -> ``"92.5%"`` (no trailing zeros)."""
    return f"{x * 100:.1f}".rstrip("0").rstrip(".") + "%"


def run_label(config: Mapping[str, Any] | None, fallback: str) -> str:
    """A run's readable name from its config: ``"gmp 90% · lrr · seed 1"`` for a pruned
    run, ``"control · lrr · seed 0"`` for an unpruned one; ``fallback`` (the file name)
    when the config says neither pruner nor amount.

    The retraining optimizer is named where it differs from dense training, and a
    control's batch-order twin says so ("· order 1").

    Example:
        >>> run_label({"prune": {"method": "gmp", "sparsity": 0.9},
        ...            "retrain": {"protocol": "lrr"}, "seed": 1}, "x")
        'gmp 90% · lrr · seed 1'
        >>> run_label({"prune": {"sparsity": 0.0}, "seed": 0,
        ...            "retrain": {"protocol": "clr", "optimizer": "adam", "lr": 0.01,
        ...                        "data_order": 1}}, "x")
        'control · clr · adam lr 0.01 · seed 0 · order 1'
    """
    cfg = config if isinstance(config, Mapping) else {}
    method, amount = config_value(cfg, "prune.method"), config_value(cfg, "prune.sparsity")
    protocol, seed = config_value(cfg, "retrain.protocol"), config_value(cfg, "seed")
    if not method and not isinstance(amount, int | float):
        return fallback
    if isinstance(amount, int | float) and amount == 0:
        parts = ["control"]
    else:
        amount_text = percent(float(amount)) if isinstance(amount, int | float) else ""
        parts = [f"{method or 'pruned'} {amount_text}".strip()]
    if protocol:
        parts.append(str(protocol))
    parts += _retraining_words(cfg)
    if config_value(cfg, "prune.harvest"):
        parts.append("harvest")
    if isinstance(seed, int):
        parts.append(f"seed {seed}")
    order = config_value(cfg, "retrain.data_order")
    if isinstance(order, int) and order:
        parts.append(f"order {order}")
    return " · ".join(parts)


def _retraining_words(cfg: Mapping[str, Any]) -> list[str]:
    """The retraining optimizer where it differs from dense training ("adam lr 0.01")."""
    words = []
    opt = config_value(cfg, "retrain.optimizer")
    if opt:
        words.append(str(opt))
    for key, name in (("lr", "lr"), ("weight_decay", "wd")):
        value = config_value(cfg, f"retrain.{key}")
        if isinstance(value, int | float) and not isinstance(value, bool):
            words.append(f"{name} {value:g}")
    if config_value(cfg, "retrain.decay_bn_bias") is False:
        words.append("BN exempt")
    return [" ".join(words)] if words else []


#: Tooltip of each runs-table column and summary-table field.
TOOLTIPS = {
    "run": "Name built from the config (pruner, amount, retraining protocol, seed); "
    "hover a name for the file and its id",
    "status": "running (still being written), complete, crashed or interrupted",
    "model": "the network trained",
    "pruner": "how weights were chosen for removal",
    "protocol": "how the network was retrained after pruning",
    "sparsity": "fraction of the weights the pruner removed (0 = a control run)",
    "seed": "random seed of initialisation and data order",
    "snapshots": "recorded snapshots of every weight",
    "final_acc": "test accuracy at the last logged epoch",
    "effective_sparsity": "fraction of weights pruned or shed at the end (default rule)",
    "cascade_ratio": "C: kept weights shed during retraining per weight pruned, last round",
    "excess_ratio": "C_excess = C - C_control: the part of C caused by pruning",
    "control": "whether the control run (same retraining, no pruning) was found",
    "round": "prune round (iterative pruning has several)",
    "method": "pruning method of this round",
    "pruned": "weights removed by the pruner in this round",
    "shed at prune": "kept weights already below the threshold right after the prune",
    "shed at end": "kept weights below the threshold at the end of the round's retraining",
    "C (raw)": "C = (shed at end - shed at prune) / pruned",
    "C control": "the same count for the control run on this run's kept set, per pruned weight",
    "C excess": "C_excess = C - C_control; above 1 over seeds means pruning caused a cascade",
    "onset (ep)": "epochs after the prune until shedding starts",
    "half-time (ep)": "epochs after the prune until half of the round's shedding happened",
    "effective sparsity": "fraction of weights pruned or shed at the end of the round",
    "dead channels": "output channels (almost) entirely shed at the end / all channels",
    "dead (excess)": "dead channels beyond those of the control on the same kept set",
    "dead: γ / shed": (
        "dead channels by cause: BatchNorm |γ| below 1e-3 (γ collapse) / at least 90% of the "
        "kept weights shed; a channel can count under both"
    ),
    "‖w‖ end / prune": (
        "L2 norm of the kept weights at the end of the round over the one at the prune"
    ),
    "max η/‖w‖²": (
        "peak over the round of the effective step of the layers followed by BatchNorm "
        "(scale-invariant: one step turns their weights by about η/‖w‖²)"
    ),
    "test acc": "test accuracy at the end of the round",
}

EXPLAINER = [
    (
        "Cascade shedding",
        "After a network is pruned and retrained, some of the weights the pruner kept "
        "shrink towards zero: they are shed. A cascade is shedding caused by the pruning "
        "itself, beyond what retraining alone does.",
    ),
    (
        "Shed",
        "A kept weight is shed when its magnitude falls below the threshold; by default "
        "1% of its layer's RMS at the prune event (other rules: absolute, GMP-relative).",
    ),
    (
        "C",
        "The cascade ratio: kept weights shed during retraining per weight pruned.",
    ),
    (
        "C_control",
        "The same count for the control run: the identical retraining of the unpruned "
        "network, counted on this run's kept set with this run's thresholds.",
    ),
    (
        "C_excess",
        "C - C_control: shedding caused by pruning. It is called attributable to pruning "
        "only when the 95% interval of its mean over seeds lies above 1 (at least two "
        "seeds with a control).",
    ),
]
