"""Fuzzing the config loader: random tables, values, override strings and file bytes give
a ConfigError or a config, never another exception."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from shedding.config import ExperimentConfig, dumps_toml, load_config, to_dict
from shedding.errors import ConfigError

FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None)


def _keys(table: dict, prefix: str = "") -> list[str]:
    """Every dotted key of a config table."""
    out = []
    for k, v in table.items():
        out += _keys(v, f"{prefix}{k}.") if isinstance(v, dict) else [prefix + k]
    return out


KEYS = _keys(to_dict(ExperimentConfig()))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["none", "null", "true", "gmp", "lrr", "[1", "1e400", "nan", "-0"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _loads(source: object, overrides: object) -> None:
    try:
        cfg = load_config(source, overrides)
    except ConfigError:
        return
    assert isinstance(cfg, ExperimentConfig)
    load_config(None, {})  # still usable
    dumps_toml(cfg)


@FUZZ
@given(overrides=st.dictionaries(st.sampled_from(KEYS), values, max_size=4))
def test_random_override_values(overrides):
    _loads("mnist1d-demo", overrides)


@FUZZ
@given(texts=st.lists(st.text(max_size=30), max_size=4), keys=st.lists(st.sampled_from(KEYS)))
def test_random_override_strings(texts, keys):
    _loads(
        "mnist1d-demo", [f"{k}={t}" for k, t in zip(keys, texts, strict=False)] + texts[len(keys) :]
    )


@FUZZ
@given(table=st.dictionaries(st.sampled_from(["data", "model", "train", "seed", "x"]), values))
def test_random_tables_as_yaml(table):
    import yaml

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.yaml"
        path.write_text(yaml.safe_dump(table))
        _loads(path, ())


@FUZZ
@given(data=st.binary(max_size=200), suffix=st.sampled_from([".toml", ".yaml", ".yml"]))
def test_random_file_bytes(data, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"c{suffix}"
        path.write_bytes(data)
        _loads(path, ())
