"""The own-loop examples, shortened: the file's pruned counts are the zeros of the masks,
and the linked control gives C_excess."""

from __future__ import annotations

import numpy as np
import pytest
from torch import nn

from shedding.cli import main
from tests.track.loops import analyze_json, load_example


def pruned_zeros(model: nn.Module) -> dict[str, int]:
    """Zeros of each layer's weight_mask, or (pruning made permanent) of its weight."""
    out = {}
    for name, m in model.named_modules():
        mask = getattr(m, "weight_mask", None)
        if mask is not None:
            out[name] = int((mask == 0).sum())
        elif isinstance(m, nn.Conv1d | nn.Linear):
            out[name] = int((m.weight == 0).sum())
    return out


@pytest.mark.parametrize(
    ("name", "epochs"), [("own_loop", 4), ("own_loop_lightning", 4), ("own_loop_hf", 2)]
)
def test_example_records_the_masks_and_a_linked_control(tmp_path, name, epochs):
    model = load_example(name).run(tmp_path, epochs=epochs)
    result = analyze_json(tmp_path / "pruned.h5")["runs"][0]
    assert result["role"] == "pruned" and result["control_id"] == "control"
    layers = {x["layer"]: x["pruned"] for x in result["rounds"][0]["layers"]}
    zeros = pruned_zeros(model)
    assert layers == {n: zeros[n] for n in layers} and sum(layers.values()) > 0
    assert result["control_found"] and np.isfinite(result["excess_cascade_ratio"])
    if name == "own_loop":  # its config names the groups `shedding compare` uses by default
        assert main(["compare", str(tmp_path)]) == 0
