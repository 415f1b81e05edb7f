"""Which layers are prunable and which BatchNorm follows each."""

from __future__ import annotations

import pytest
import torch
from pruning_models import build
from torch import nn

from shedding.config import PruneConfig
from shedding.errors import ConfigError
from shedding.pruning import bn_after, prunable_layers, validate_prune_config


def test_conv_and_linear_weights_in_module_order():
    layers = prunable_layers(build("conv"), PruneConfig())
    assert list(layers) == ["0", "3", "8"]
    assert [type(m) for m in layers.values()] == [nn.Conv1d, nn.Conv1d, nn.Linear]


def test_layer_type_and_first_last_switches():
    model = build("conv")
    assert list(prunable_layers(model, PruneConfig(layer_types=("linear",)))) == ["8"]
    assert list(prunable_layers(model, PruneConfig(layer_types=("conv1d",)))) == ["0", "3"]
    assert list(prunable_layers(model, PruneConfig(prune_first=False))) == ["3", "8"]
    assert list(prunable_layers(model, PruneConfig(prune_last=False))) == ["0", "3"]
    both = PruneConfig(prune_first=False, prune_last=False)
    assert list(prunable_layers(model, both)) == ["3"]


def test_unknown_type_and_nothing_prunable_raise():
    model = build("mlp")
    with pytest.raises(ConfigError, match=r"unknown prune.layer_types entry 'bn'; valid"):
        prunable_layers(model, PruneConfig(layer_types=("bn",)))
    with pytest.raises(ConfigError, match="no prunable layer in Sequential"):
        prunable_layers(model, PruneConfig(layer_types=("conv",)))
    one = nn.Sequential(nn.Linear(4, 2))
    with pytest.raises(ConfigError, match="no prunable layer"):
        prunable_layers(one, PruneConfig(prune_first=False))


def test_bn_after_by_module_order_and_by_trace():
    model = build("conv")
    assert bn_after(model, ["0", "3", "8"]) == {"0": "1", "3": "4", "8": ""}
    traced = bn_after(model, ["0", "3", "8"], example_input=torch.randn(2, 4, 24))
    assert traced == {"0": "1", "3": "4", "8": ""}


class _BnRegisteredFirst(nn.Module):
    """BNs registered before the convs: only the traced order finds them."""

    def __init__(self) -> None:
        super().__init__()
        self.bns = nn.ModuleList([nn.BatchNorm1d(8), nn.BatchNorm1d(8)])
        self.convs = nn.ModuleList([nn.Conv1d(4, 8, 3), nn.Conv1d(8, 8, 3)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, bn in zip(self.convs, self.bns, strict=True):
            x = torch.relu(bn(conv(x)))
        return x


def test_bn_after_needs_the_trace_when_registration_order_lies():
    model = _BnRegisteredFirst()
    names = ["convs.0", "convs.1"]
    assert bn_after(model, names) == {"convs.0": "", "convs.1": ""}
    got = bn_after(model, names, example_input=torch.randn(1, 4, 16))
    assert got == {"convs.0": "bns.0", "convs.1": "bns.1"}
    assert model.training  # the trace restored the mode


def test_bn_with_other_width_or_after_another_conv_is_not_matched():
    model = nn.Sequential(nn.Conv1d(2, 4, 1), nn.Conv1d(4, 6, 1), nn.BatchNorm1d(6))
    assert bn_after(model, ["0", "1"]) == {"0": "", "1": "2"}
    model = nn.Sequential(nn.Conv1d(2, 4, 1), nn.BatchNorm1d(5))
    assert bn_after(model, ["0"]) == {"0": ""}


def test_validate_prune_config_before_training():
    validate_prune_config(PruneConfig(), build("conv"))
    validate_prune_config(PruneConfig(method="nm", sparsity=0.5), build("mlp"))
    with pytest.raises(ConfigError, match="unknown pruner 'gnp'"):
        validate_prune_config(PruneConfig(method="gnp"))
    with pytest.raises(ConfigError, match=r"removes exactly 0.5 .*prune.sparsity=0.5"):
        validate_prune_config(PruneConfig(method="nm", sparsity=0.7))
    with pytest.raises(ConfigError, match=r"prune\.mode='oneshot'"):
        validate_prune_config(PruneConfig(method="nm", sparsity=0.5, mode="iterative"))
    validate_prune_config(PruneConfig(method="nm", sparsity=0.0))  # control run
    odd = nn.Sequential(nn.Conv1d(1, 8, 3), nn.ReLU(), nn.Conv1d(8, 8, 3))
    with pytest.raises(ConfigError, match=r"layer '0' .* has 1, not divisible by 4.*prune_first"):
        validate_prune_config(PruneConfig(method="nm", sparsity=0.5), odd)
    validate_prune_config(PruneConfig(method="nm", sparsity=0.5, prune_first=False), odd)


def test_bn_after_a_residual_sum_belongs_to_no_conv_in_pre_activation_wrn():
    """WRN blocks are BN-ReLU-conv: the BN after conv2 normalises conv2 + shortcut, so its
    γ says nothing about conv2's channels. Registration order pairs them; the trace must not."""
    from shedding.config import ModelConfig
    from shedding.models import build_model

    model = build_model(ModelConfig(name="wrn_16_2"), num_classes=10, input_shape=(3, 32, 32))
    names = list(prunable_layers(model, PruneConfig()))
    traced = bn_after(model, names, example_input=torch.zeros(2, 3, 32, 32))
    for name in names:
        if name.endswith(".conv1"):  # conv1 -> bn2 -> relu -> conv2 inside one block
            assert traced[name] == name.replace("conv1", "bn2")
        elif name == "conv1":  # the stem feeds only layer1.0.bn1 (its projection reads bn1's)
            assert traced[name] == "layer1.0.bn1"
        else:  # conv2 and shortcuts feed residual sums; fc feeds nothing
            assert traced[name] == "", name
    by_order = bn_after(model, names)
    assert by_order["layer1.1.conv2"] == "layer2.0.bn1"  # what the heuristic gets wrong
