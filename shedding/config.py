"""Experiment configuration: frozen dataclasses per concern, composed into one config.

A config loads from a TOML or YAML file or a built-in preset by name, takes CLI overrides
(``train.lr=0.05``), and is stored fully resolved in every run file so any run can be
re-run from its own output. A run's identity is a hash of its *non-default* fields, so
adding a new field (defaulting to "off") never changes the hash of existing configs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from shedding.errors import ConfigError


@dataclass(frozen=True)
class DataConfig:
    """Which data set and how it is batched.

    ``subset_train``/``subset_test`` cap the number of examples (tests, quick looks).
    ``num_train``/``num_test`` ask a generated data set (MNIST-1D) for that many examples
    (None: the published 4000 / 1000); other data sets refuse them.
    """

    name: str = "mnist1d"
    batch_size: int = 128
    test_batch_size: int = 1000
    augment: bool = True
    num_workers: int = 0
    subset_train: int | None = None
    subset_test: int | None = None
    num_train: int | None = None
    num_test: int | None = None


@dataclass(frozen=True)
class ModelConfig:
    """Which network. ``width`` multiplies channel/unit counts where the family allows."""

    name: str = "resnet1d"
    width: float = 1.0
    batchnorm: bool = True
    depth: int | None = None


@dataclass(frozen=True)
class TrainConfig:
    """Dense training: optimiser and LR schedule (also the reference schedule for retraining).

    ``milestones`` are epochs at which ``multistep`` multiplies the LR by ``gamma``.
    ``decay_bn_bias`` applies weight decay to BatchNorm and bias parameters too (Renda does).
    ``eval_every`` evaluates on the test set after every N-th epoch of every phase (dense and
    each retraining round) and always after a phase's last epoch; the other epochs log NaN
    test metrics. Training is the same whatever N is: only those metrics rows differ.
    """

    epochs: int = 30
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    decay_bn_bias: bool = True
    schedule: str = "multistep"
    milestones: tuple[int, ...] = (15, 23)
    gamma: float = 0.1
    warmup_epochs: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eval_every: int = 1


@dataclass(frozen=True)
class PruneConfig:
    """How weights are removed.

    By default conv and linear *weights* are prunable; biases and BatchNorm never are.
    ``sparsity`` is the final target fraction of prunable weights removed. ``mode`` is
    ``oneshot`` (one round) or ``iterative`` (each round removes ``rate`` of the weights
    that remain, Renda's 20%, until the target). ``sparsity = 0`` makes an unpruned
    *control* run: identical retraining, no weight removed; its ``rounds`` (default 1)
    repeat that retraining as often as the iterative run it controls prunes.
    ``harvest`` makes every round also prune the kept weights already shed (below the
    default threshold), so that shedding becomes sparsity; an iterative run then stops as
    soon as it reaches ``sparsity``, possibly in fewer rounds.
    """

    method: str = "gmp"
    sparsity: float = 0.5
    mode: str = "oneshot"
    rate: float = 0.2
    layer_types: tuple[str, ...] = ("conv", "linear")
    prune_first: bool = True
    prune_last: bool = True
    n: int = 2
    m: int = 4
    budget_epochs: int | None = None
    rounds: int | None = None
    harvest: bool = False


@dataclass(frozen=True)
class RetrainConfig:
    """How the surviving weights are retrained after each prune round.

    ``epochs`` None means the dense length T. ``rewind_epoch`` (WR) None means T - R;
    ``rewind_fraction`` (0..1 of T) overrides it when set. ``ft_lr`` None uses the final LR
    of the dense schedule. ``warmup_fraction`` is the LLR/ALLR/SLR/CLR warm-up share.

    The optimizer of retraining: ``optimizer``, ``lr``, ``weight_decay``, ``momentum``,
    ``nesterov``, ``decay_bn_bias`` and ``betas`` each default to None, meaning "as in
    ``train``". ``lr`` is the peak of the reference schedule retraining follows: the
    protocols keep their LR *shape* (FT constant, LRR/WR replay, LLR linear, CLR cosine, ...)
    on the dense schedule rescaled to peak ``lr``, and it is η_max unless ``max_lr`` is set.
    ``data_order`` > 0 shuffles the retraining batches differently with everything else
    equal (two controls that differ only there measure control-to-control noise).
    ``allr_norm`` chooses the parameters ALLR's norm ratio d is taken over: "prunable" (the
    prunable weights, where d = sqrt(s) after random pruning) or "all" (every weight and
    bias, BatchNorm included). ``scratch_epochs`` gives the protocols that train from
    scratch (scratch, reduced) that many epochs, the dense schedule stretched to fit (None:
    the dense length T); set it to T + R for an epoch budget equal to the pruned runs'.
    """

    protocol: str = "lrr"
    epochs: int | None = None
    rewind_epoch: int | None = None
    rewind_fraction: float | None = None
    ft_lr: float | None = None
    warmup_fraction: float = 0.1
    max_lr: float | None = None
    optimizer: str | None = None
    lr: float | None = None
    weight_decay: float | None = None
    momentum: float | None = None
    nesterov: bool | None = None
    decay_bn_bias: bool | None = None
    betas: tuple[float, float] | None = None
    data_order: int = 0
    allr_norm: str = "prunable"
    scratch_epochs: int | None = None


@dataclass(frozen=True)
class RecordConfig:
    """What the recorder writes into the run file.

    ``per_epoch`` snapshots per epoch (1 = at each epoch end); ``at_prune`` adds snapshots
    just before and just after every prune event. ``compression = "lzf"`` stores long pruned
    runs about 2.8x smaller for ~0.4 s of background CPU per ResNet-50 snapshot (measured);
    off by default because dense magnitudes do not compress.

    Recording that scales (all off by default): ``every_epochs = k`` records the epoch-end
    snapshot of every k-th epoch only (and always a phase's last epoch); ``every_steps = k``
    adds a snapshot every k optimizer steps of retraining (the dense phase is replayed from
    its cached epoch states); ``layers`` records only the layers whose names match one of
    these names or globs (``"layer4.*"``); ``mode = "stats"`` stores the per-layer
    statistics, channel counts and sampled weights but no magnitudes or bitsets (about 1%
    of the bytes; see docs/run-format.md). ``tensorboard = "DIR"`` logs the finished run's
    shed fraction, effective sparsity, C and C excess per layer and round to TensorBoard.

    ``checkpoint_every_s``: the resume checkpoint is written at the end of an epoch once this
    many seconds have passed since the last one (and at every prune event); 0 writes one
    after every epoch. A checkpoint of a small model costs tens of milliseconds (the writer
    must first commit the epoch's snapshot), about 4% of a 1-second epoch; a run killed
    between checkpoints resumes bit-exactly from the last one, repeating at most this much
    training.
    """

    enabled: bool = True
    per_epoch: int = 1
    at_prune: bool = True
    record_dense: bool = True
    sample_per_layer: int = 256
    compression: str | None = None
    mode: str = "full"
    every_epochs: int = 1
    every_steps: int = 0
    layers: tuple[str, ...] = ()
    tensorboard: str = ""
    checkpoint_every_s: float = 30.0


@dataclass(frozen=True)
class ExperimentConfig:
    """One instrumented prune experiment: dense training, prune rounds, retraining."""

    name: str = "experiment"
    seed: int = 0
    device: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    retrain: RetrainConfig = field(default_factory=RetrainConfig)
    record: RecordConfig = field(default_factory=RecordConfig)

    def replace(self, **overrides: Any) -> ExperimentConfig:
        """Returns a copy with dotted-key overrides applied (``{"train.lr": 0.05}``)."""
        return apply_overrides(self, overrides)


# --------------------------------------------------------------------------- conversion


def to_dict(cfg: Any) -> dict[str, Any]:
    """Fully resolved nested dict of a config (tuples become lists, JSON-safe)."""
    out: dict[str, Any] = {}
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        out[f.name] = to_dict(v) if is_dataclass(v) else (list(v) if isinstance(v, tuple) else v)
    return out


def _non_default(cfg: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    default = type(cfg)()
    for f in fields(cfg):
        v, d = getattr(cfg, f.name), getattr(default, f.name)
        if is_dataclass(v):
            sub = _non_default(v)
            if sub:
                out[f.name] = sub
        elif v != d:
            out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def config_hash(cfg: Any, *, keys: Iterable[str] | None = None) -> str:
    """12-hex-digit identity of a config: sha256 of its non-default fields.

    Args:
        cfg: Any config dataclass.
        keys: Restrict the hash to these top-level fields (e.g. the dense phase's).
    """
    nd = _non_default(cfg)
    if keys is not None:
        keys = set(keys)
        nd = {k: v for k, v in nd.items() if k in keys}
    blob = json.dumps(nd, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


#: Fields that decide the dense phase; runs sharing them share one cached dense training.
DENSE_KEYS = ("seed", "device", "data", "model", "train")


def dense_hash(cfg: ExperimentConfig) -> str:
    """Identity of the dense phase (data, model, training and seed)."""
    return config_hash(dataclasses.replace(cfg, name=ExperimentConfig.name), keys=DENSE_KEYS)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Converts ``value`` to the annotated type ``tp``; raises ConfigError naming ``key``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        is_none = value is None or (isinstance(value, str) and value.lower() in ("none", "null"))
        if is_none and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key)
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.strip("()[] ").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}={value!r} must be a list, e.g. {key}=[1,2]")
        item_t = args[0] if args else str
        return tuple(_coerce(v, item_t, key) for v in value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{key}={value!r} must be true or false")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{key}={value!r} must be a number")
        try:
            num = tp(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}={value!r} must be a {tp.__name__}") from None
        if not math.isfinite(num):
            raise ConfigError(f"{key}={value!r} must be a finite number")
        if tp is int and isinstance(value, float) and value != int(value):
            raise ConfigError(f"{key}={value!r} must be a whole number")
        return num
    if tp is str:
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"{key}={value!r} must be a string")
        return str(value)
    return value


def from_dict(data: Mapping[str, Any], cls: type = ExperimentConfig, prefix: str = "") -> Any:
    """Builds a config dataclass from a nested mapping; unknown keys raise ConfigError."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix or 'config'} must be a table of keys, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(
                f"unknown config key {dotted!r}; valid keys here: {', '.join(sorted(names))}"
            )
        tp = hints[key]
        if isinstance(tp, type) and is_dataclass(tp):
            kwargs[key] = from_dict(value, tp, prefix=f"{dotted}.")
        else:
            kwargs[key] = _coerce(value, tp, dotted)
    cfg = cls(**kwargs)
    if cls is ExperimentConfig:
        _check_sizes(cfg)
    return cfg


def _check_sizes(cfg: ExperimentConfig) -> None:
    """Value checks that need no registry (so no torch): batch and subset sizes, the
    evaluation cadence."""
    d = cfg.data
    for key in ("batch_size", "test_batch_size", "subset_train", "subset_test"):
        value = getattr(d, key)
        if value is not None and value < 1:
            raise ConfigError(f"data.{key}={value} must be >= 1")
    if d.num_workers < 0:
        raise ConfigError(f"data.num_workers={d.num_workers} must be >= 0")
    if cfg.train.eval_every < 1:
        raise ConfigError(
            f"train.eval_every={cfg.train.eval_every} must be >= 1 (1 = evaluate after every epoch)"
        )


def apply_overrides(cfg: ExperimentConfig, overrides: Mapping[str, Any]) -> ExperimentConfig:
    """Applies dotted-key overrides (``train.lr=0.05``) and returns a new config."""
    data = to_dict(cfg)
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node: Any = data
        for p in parts[:-1]:
            if not isinstance(node, dict) or p not in node or not isinstance(node[p], dict):
                raise ConfigError(f"unknown config section {p!r} in override {dotted!r}")
            node = node[p]
        if not isinstance(node, dict) or parts[-1] not in node:
            valid = ", ".join(sorted(node)) if isinstance(node, dict) else ""
            raise ConfigError(f"unknown config key {dotted!r}; valid keys here: {valid}")
        node[parts[-1]] = value
    return from_dict(data)


def parse_override(text: str) -> tuple[str, Any]:
    """Parses ``key=value`` from the CLI; the value is read as TOML when it parses."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value, e.g. train.lr=0.05")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if raw.strip()[:1] in ("[", "{", '"', "'"):
            raise ConfigError(
                f"override {text!r}: {raw.strip()!r} is not a valid value (unclosed bracket or "
                "quote?); e.g. train.milestones=[15,23]"
            ) from None
        value = raw
    return key.strip(), value


# --------------------------------------------------------------------------- loading


def preset_names() -> list[str]:
    """Names of the built-in presets (``shedding/presets/*.toml``)."""
    root = resources.files("shedding") / "presets"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def _read_mapping(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path} is not a text file (not UTF-8); pass a .toml or .yaml config"
        ) from None
    except OSError as e:
        raise ConfigError(f"{path} cannot be read ({e.strerror}); check the path") from None
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path} is not valid YAML: {e}") from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path} is not valid TOML: {e}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{path} holds a {type(data).__name__} at its top level; a config is a table of "
            "sections, e.g. 'train: {lr: 0.05}'"
        )
    return data


def load_config(
    source: str | Path | None = None, overrides: Iterable[str] | Mapping[str, Any] = ()
) -> ExperimentConfig:
    """Loads a config from a preset name or a TOML/YAML file and applies overrides.

    Args:
        source: A preset name (``mnist1d-demo``), a path to a .toml/.yaml file, or None
            for the defaults.
        overrides: ``["train.lr=0.05", ...]`` strings or a ``{"train.lr": 0.05}`` mapping.

    Example:
        >>> cfg = load_config("mnist1d-demo", ["train.lr=0.05"])
        >>> cfg.train.lr
        0.05
    """
    if source is None:
        cfg = ExperimentConfig()
    else:
        path = Path(source)
        if path.suffix in (".toml", ".yaml", ".yml") or path.exists():
            if not path.is_file():
                raise ConfigError(f"config file {str(path)!r} does not exist")
            data = _read_mapping(path)
        elif str(source) in preset_names():
            text = (resources.files("shedding") / "presets" / f"{source}.toml").read_text()
            data = tomllib.loads(text)
        else:
            raise ConfigError(
                f"{str(source)!r} is neither a config file nor a preset; presets: "
                f"{', '.join(preset_names())}"
            )
        data = dict(data)
        data.pop("sweep", None)
        cfg = from_dict(data)
    if isinstance(overrides, Mapping):
        ov = dict(overrides)
    else:
        ov = dict(parse_override(o) for o in overrides)
    return apply_overrides(cfg, ov) if ov else cfg


def dumps_toml(cfg: Any) -> str:
    """Renders a config as TOML (what ``shedding run`` prints and stores)."""
    lines: list[str] = []
    top = to_dict(cfg)
    for k, v in top.items():
        if not isinstance(v, dict):
            lines.append(f"{k} = {json.dumps(v)}")
    for k, v in top.items():
        if isinstance(v, dict):
            lines.append(f"\n[{k}]")
            for kk, vv in v.items():
                if vv is not None:
                    lines.append(f"{kk} = {json.dumps(vv)}")
    return "\n".join(lines) + "\n"
