"""Config loading, overrides, validation and the pinned run identity."""

from __future__ import annotations

import dataclasses

import pytest

from shedding.config import (
    ExperimentConfig,
    PruneConfig,
    config_hash,
    dense_hash,
    dumps_toml,
    load_config,
    parse_override,
    preset_names,
    to_dict,
)
from shedding.errors import ConfigError


def test_hash_of_defaults_and_of_one_change_is_pinned():
    # If these change, every existing run id changes: only ever add fields with defaults.
    assert config_hash(ExperimentConfig()) == "44136fa355b3"
    cfg = ExperimentConfig().replace(**{"train.lr": 0.05})
    assert config_hash(cfg) == "69542c675115"


def test_hash_ignores_defaults_so_new_fields_keep_old_hashes():
    a = ExperimentConfig()
    b = dataclasses.replace(a, prune=PruneConfig(sparsity=PruneConfig().sparsity))
    assert config_hash(a) == config_hash(b)
    assert config_hash(a.replace(**{"seed": 1})) != config_hash(a)


def test_dense_hash_ignores_pruning_and_retraining_but_not_seed():
    a = load_config("mnist1d-demo")
    assert dense_hash(a) == dense_hash(
        a.replace(**{"prune.method": "random", "retrain.protocol": "ft"})
    )
    assert dense_hash(a) != dense_hash(a.replace(**{"seed": 3}))
    assert dense_hash(a) != dense_hash(a.replace(**{"train.lr": 0.01}))


def test_preset_loads_and_overrides_apply_with_types():
    assert "mnist1d-demo" in preset_names()
    cfg = load_config("mnist1d-demo", ["train.lr=0.05", 'prune.layer_types=["conv"]', "seed=3"])
    assert cfg.train.lr == 0.05 and cfg.prune.layer_types == ("conv",) and cfg.seed == 3


def test_toml_and_yaml_files_round_trip(tmp_path):
    cfg = load_config("mnist1d-demo", ["retrain.protocol=ft", "train.milestones=[5, 8]"])
    f = tmp_path / "c.toml"
    f.write_text(dumps_toml(cfg))
    assert load_config(f) == cfg
    y = tmp_path / "c.yaml"
    y.write_text("seed: 4\ntrain:\n  lr: 0.2\n  milestones: [3, 4]\nprune:\n  method: random\n")
    got = load_config(y)
    assert (got.seed, got.train.lr, got.train.milestones, got.prune.method) == (
        4,
        0.2,
        (3, 4),
        "random",
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lrr=0.1", "unknown config key 'train.lrr'"),
        ("bogus.lr=0.1", "unknown config section 'bogus'"),
        ("train.lr=fast", "train.lr='fast' must be a float"),
        ("train.epochs=2.5", "must be a whole number"),
        ("record.enabled=maybe", "must be true or false"),
        ("seed", "must look like key=value"),
    ],
)
def test_bad_overrides_fail_with_one_clear_line(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config("mnist1d-demo", [override])


def test_unknown_preset_lists_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError, match="mnist1d-demo"):
        load_config("no-such-preset")
    bad = tmp_path / "broken.toml"
    bad.write_text("[train\nlr = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_to_dict_is_json_safe_and_complete():
    d = to_dict(ExperimentConfig())
    assert set(d) == {
        "name",
        "seed",
        "device",
        "data",
        "model",
        "train",
        "prune",
        "retrain",
        "record",
    }
    assert d["train"]["milestones"] == [15, 23]


def test_parse_override_reads_toml_values():
    assert parse_override("a.b=[1, 2]") == ("a.b", [1, 2])
    assert parse_override("a=hello") == ("a", "hello")
    assert parse_override("a=true") == ("a", True)


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_loads_and_validates(name):
    from shedding.engine.experiment import validate

    cfg = load_config(name)
    validate(cfg)
    assert cfg.prune.layer_types == ("conv", "linear")  # presets say what is prunable
