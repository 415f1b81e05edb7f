"""Which studies exist and what their runs are: the manifest ``studies.toml`` beside this
module, read into :class:`Study` entries, and the runs each study's sweep files expand to.

The manifest is data: a study is its sweep files in run order, each with the kind of runs
it holds in the findings, and the ``module:function`` that writes its findings. Nothing
here knows a particular study; the findings modules (:mod:`shedding.studies.first`,
:mod:`shedding.studies.regimes`) build on this module, never the other way round.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from shedding.config import ExperimentConfig
from shedding.engine import identity
from shedding.errors import ConfigError
from shedding.sweep import expand_cases, read_sweep


@dataclass(frozen=True)
class Part:
    """One sweep file of a study and the kind of runs it holds in the findings."""

    sweep: str  # a built-in sweep name (``shedding/studies/<sweep>.toml``) or a path
    kind: str


@dataclass(frozen=True)
class Study:
    """A study: its sweep files in run order and what writes its findings."""

    name: str
    parts: tuple[Part, ...]
    findings: str  # "module:function"

    @property
    def sweeps(self) -> tuple[str, ...]:
        """The sweep files, in the order they run."""
        return tuple(p.sweep for p in self.parts)

    def kind(self, sweep: str) -> str:
        """The kind of the runs of ``sweep`` in the findings."""
        for p in self.parts:
            if p.sweep == sweep:
                return p.kind
        raise ConfigError(f"sweep file {sweep!r} is not a part of study {self.name!r}")


class StudyRun(NamedTuple):
    """One run of a study: the sweep file and ``[cases]`` name it comes from, and its config."""

    part: str
    case: str
    run_id: str
    cfg: ExperimentConfig


class FindingsWriter(Protocol):
    """What a manifest's ``findings`` names: writes ``findings.md`` (and what goes with it)
    for study ``name`` from the run files in ``runs_dir`` into ``out``; returns its path."""

    def __call__(
        self,
        name: str,
        runs_dir: str | Path,
        out: str | Path,
        *,
        rule: str | None = None,
        c: float | None = None,
        wall_seconds: float | None = None,
    ) -> Path: ...


def study_from_dict(name: str, entry: dict[str, Any]) -> Study:
    """A :class:`Study` from its manifest table (``findings`` and ``parts``)."""
    try:
        parts = tuple(Part(str(p["sweep"]), str(p["kind"])) for p in entry["parts"])
        findings = str(entry["findings"])
    except (KeyError, TypeError) as e:
        raise ConfigError(
            f"study {name!r}: a manifest entry needs findings = 'module:function' and "
            f"parts = [{{ sweep = ..., kind = ... }}, ...] ({type(e).__name__}: {e})"
        ) from None
    if not parts or ":" not in findings:
        raise ConfigError(f"study {name!r}: no parts, or findings {findings!r} not module:function")
    return Study(name, parts, findings)


def read_manifest(text: str) -> dict[str, Study]:
    """The studies of a manifest's TOML text, by name, in the manifest's order."""
    return {name: study_from_dict(name, entry) for name, entry in tomllib.loads(text).items()}


#: The built-in studies, by name.
STUDIES: dict[str, Study] = read_manifest(
    (resources.files("shedding") / "studies" / "studies.toml").read_text()
)


def get(name: str) -> Study:
    """The study ``name``; ConfigError naming the valid ones if there is none."""
    if name not in STUDIES:
        raise ConfigError(f"unknown study {name!r}; valid: {', '.join(STUDIES)}")
    return STUDIES[name]


def part_kind(name: str, part: str) -> str:
    """The kind of the runs of sweep file ``part`` in study ``name``'s findings."""
    return get(name).kind(part)


def check_kinds(name: str, kinds: Sequence[str]) -> None:
    """Raises ConfigError when a sweep file of study ``name`` has a kind not in ``kinds``
    (the kinds its findings use)."""
    unknown = {p.sweep: p.kind for p in get(name).parts if p.kind not in kinds}
    if unknown:
        raise ConfigError(
            f"study {name!r}: sweep files of kinds its findings do not use: {unknown}; "
            f"valid kinds: {', '.join(kinds)}"
        )


def study_runs(name: str, kinds: Sequence[str] | None = None) -> list[StudyRun]:
    """Every run of study ``name``, controls included, each once (under the first sweep
    file and case that has it), in run order; only those of sweep files of ``kinds`` when
    given (a findings writer covering part of a study)."""
    seen: set[str] = set()
    out = []
    for part in get(name).parts:
        if kinds is not None and part.kind not in kinds:
            continue
        for case, cfg in expand_cases(read_sweep(part.sweep)):
            rid = identity.run_id(cfg)
            if rid not in seen:
                seen.add(rid)
                out.append(StudyRun(part.sweep, case, rid, cfg))
    return out


def study_configs(name: str) -> list[tuple[str, ExperimentConfig]]:
    """``(sweep file, config)`` of every run of study ``name``, controls included, each run
    once (under the first sweep file that has it)."""
    return [(r.part, r.cfg) for r in study_runs(name)]
