"""Every model entry: published sizes, forward shapes, width scaling, BatchNorm switch, errors."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from shedding.config import ModelConfig
from shedding.errors import ConfigError
from shedding.models import MODELS, build_model, count_params, model_names, resolve_model

SEQ = (1, 40)  # MNIST-1D
IMG = (3, 32, 32)  # CIFAR
SEQ_MODELS = {"mlp", "resnet1d"}

# Published parameter counts (He et al. 2016 Table 6; Zagoruyko & Komodakis 2016 Table 1 & 2;
# torchvision's model cards); 2% tolerance.
PUBLISHED = {
    "resnet20": 0.27e6,
    "resnet32": 0.46e6,
    "resnet44": 0.66e6,
    "resnet56": 0.85e6,
    "resnet110": 1.7e6,
    "wrn_16_4": 2.7e6,
    "wrn_16_8": 10.96e6,
    "wrn_40_4": 8.9e6,
    "wrn_28_10": 36.5e6,
    "wrn_22_8": 17.2e6,  # by pattern, not registered
    "vgg16_bn": 14.7e6,  # CIFAR VGG-16 with one linear layer (open_lth, Li et al. 2017 ≈ 15 M)
    "resnet50": 25.557032e6,  # torchvision, exact
    "mobilenet_v3_large": 5.483032e6,  # torchvision, exact
}

# Exact sizes of this toolkit's networks at width 1 (10 classes): a change to an
# architecture must show up here.
PINNED = {
    "mlp": 15_410,
    "resnet1d": 241_258,
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    "vgg16_bn": 14_724_042,
    "vgg19_bn": 20_035_018,
    "wrn_16_4": 2_748_890,
    "wrn_16_8": 10_961_370,
    "wrn_28_10": 36_479_194,
    "wrn_40_4": 8_949_210,
}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def shape_for(name: str) -> tuple[int, ...]:
    return SEQ if name in SEQ_MODELS else IMG


def build(name: str, *, classes: int = 10, shape=None, **kw) -> nn.Module:
    cfg = ModelConfig(name=name, **kw)
    return build_model(cfg, num_classes=classes, input_shape=shape or shape_for(name))


@functools.cache
def count_default(name: str, classes: int = 10) -> int:
    """Parameters at width 1 (cached: the 36 M-parameter WRN-28-10 is built once)."""
    return count_params(build(name, classes=classes))


@functools.cache
def weights_at(name: str, width: float) -> int:
    return n_weights(build(name, width=width))


def n_weights(model: nn.Module) -> int:
    """Conv and linear weights (what width scales quadratically)."""
    return sum(
        m.weight.numel()
        for m in model.modules()
        if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Linear)
    )


def test_every_registered_model_is_pinned():
    assert set(PINNED) == set(MODELS.names())


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_counts_match_the_papers(name):
    classes = 1000 if name in ("resnet50", "mobilenet_v3_large") else 10
    n = count_default(name, classes)
    assert abs(n - PUBLISHED[name]) / PUBLISHED[name] < 0.02, n


@pytest.mark.parametrize("name", sorted(PINNED))
def test_pinned_sizes(name):
    assert count_default(name, 10) == PINNED[name]


@pytest.mark.parametrize("name", MODELS.names())
def test_forward_shapes_for_every_entry(name):
    torch.manual_seed(0)
    # Images at 8x8 keep the big WRNs fast; every family pools adaptively.
    shape = SEQ if name in SEQ_MODELS else (3, 8, 8)
    model = build(name, classes=7, shape=shape)
    x = torch.randn(2, *shape)
    model.train()
    out = model(x)
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    out.sum().backward()
    model.eval()
    with torch.no_grad():
        assert model(x[:1]).shape == (1, 7)


@pytest.mark.parametrize("name", ["resnet20", "vgg16_bn", "wrn_16_4"])
def test_image_models_adapt_to_one_channel_28x28(name):
    model = build(name, shape=(1, 28, 28)).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize("name", MODELS.names())
def test_width_scales_weights_about_quadratically(name):
    full, half = weights_at(name, 1.0), weights_at(name, 0.5)
    # Interior layers scale by 4; the input and output layers only by 2.
    assert 2.9 <= full / half <= 4.05, full / half


@pytest.mark.parametrize("name", MODELS.names())
def test_batchnorm_off_leaves_no_batchnorm(name):
    # A quarter width keeps it fast; the module structure does not depend on the width.
    shape = SEQ if name in SEQ_MODELS else (3, 8, 8)
    model = build(name, batchnorm=False, width=0.25, shape=shape)
    with_bn = build(name, width=0.25, shape=shape)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in with_bn.modules())
    # Without BN the convs carry the bias BN would have provided.
    convs = [m for m in model.modules() if isinstance(m, nn.Conv1d | nn.Conv2d)]
    assert all(c.bias is not None for c in convs)
    assert model(torch.randn(2, *shape)).shape == (2, 10)


def test_depth_options():
    assert count_params(build("resnet1d", depth=8)) < count_params(build("resnet1d"))
    hidden = [m for m in build("mlp", depth=3).modules() if isinstance(m, nn.Linear)]
    assert len(hidden) == 4
    assert count_params(build("resnet20", depth=20)) == PINNED["resnet20"]
    with pytest.raises(ConfigError, match=r"model.depth=56 conflicts with model 'resnet20'"):
        build("resnet20", depth=56)
    with pytest.raises(ConfigError, match=r"6n \+ 2"):
        build("resnet1d", depth=15)
    with pytest.raises(ConfigError, match="does not apply"):
        build("vgg16_bn", depth=16)


def test_wrn_names_resolve_by_pattern():
    model = build("wrn_10_1")
    assert count_params(model) < 0.1e6
    assert resolve_model("WRN_16_8") is MODELS.get("wrn_16_8")
    with pytest.raises(ConfigError, match=r"wrn_15_8.*6n \+ 4"):
        build("wrn_15_8")


def test_unknown_model_lists_choices_and_suggests():
    with pytest.raises(ConfigError) as err:
        build("resnet21")
    msg = str(err.value)
    assert "unknown model 'resnet21'" in msg
    for name in MODELS.names():
        assert name in msg
    assert "wrn_<depth>_<k>" in msg and "torchvision" in msg
    assert "Did you mean" in msg and "resnet20" in msg


def test_wrong_input_shape_and_width_are_config_errors():
    with pytest.raises(ConfigError, match=r"'resnet20' needs \(C, H, W\) images.*\(1, 40\)"):
        build("resnet20", shape=SEQ)
    with pytest.raises(ConfigError, match=r"'resnet1d' needs \(C, L\) sequences"):
        build("resnet1d", shape=IMG)
    with pytest.raises(ConfigError, match=r"model.width=0"):
        build("resnet20", width=0.0)


def test_torchvision_models_by_name():
    names = model_names(include_torchvision=True)
    assert "resnet50" in names and "mobilenet_v3_large" in names
    m = build("resnet18", classes=5).eval()
    with torch.no_grad():
        assert m(torch.randn(1, 3, 32, 32)).shape == (1, 5)
    narrow = build("mobilenet_v3_small", classes=5, width=0.5)
    assert count_params(narrow) < count_params(build("mobilenet_v3_small", classes=5))
    no_bn = build("resnet18", batchnorm=False)
    assert not any(isinstance(x, nn.BatchNorm2d) for x in no_bn.modules())
    # The toolkit's CIFAR VGG owns the short name; the prefix reaches torchvision's.
    assert resolve_model("vgg16_bn") is MODELS.get("vgg16_bn")
    assert "torchvision.models.vgg16_bn" in resolve_model("torchvision.vgg16_bn").__doc__


def test_torchvision_refusals():
    with pytest.raises(ConfigError, match=r"model.width=0.5 is not supported.*'resnet50'"):
        build("resnet50", width=0.5)
    with pytest.raises(ConfigError, match="3-channel"):
        build("resnet18", shape=(1, 28, 28))
    with pytest.raises(ConfigError, match="choose the depth by name"):
        build("resnet18", depth=34)


def test_option_a_shortcut_subsamples_and_zero_pads_both_sides():
    from shedding.models.cifar_resnet import PadShortcut

    x = torch.arange(16 * 4 * 4, dtype=torch.float32).view(1, 16, 4, 4) + 1
    out = PadShortcut(16, 32, stride=2)(x)
    assert out.shape == (1, 32, 2, 2)
    assert torch.equal(out[:, 8:24], x[:, :, ::2, ::2])
    assert not out[:, :8].any() and not out[:, 24:].any()
