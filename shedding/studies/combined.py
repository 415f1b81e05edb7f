"""Findings of a study with both kinds of parts: the prune grid (:mod:`shedding.studies.first`:
kinds ``main``, ``reduced``, ``iterative``, ``regime``) and retraining-regime cases
(:mod:`shedding.studies.regimes`: kind ``cases``). One ``findings.md`` holds the grid's
tables, then the regime findings; ``summaries.json`` the grid's runs and
``regimes/summaries.json`` the cases'."""

from __future__ import annotations

from pathlib import Path

from shedding.studies import first, regimes
from shedding.studies.catalog import check_kinds


def write_findings(
    name: str,
    runs_dir: str | Path,
    out: str | Path,
    *,
    rule: str | None = None,
    c: float | None = None,
    wall_seconds: float | None = None,
) -> Path:
    """Writes ``findings.md`` (grid tables, then the regime findings) and what goes with it."""
    check_kinds(name, (*first.KINDS, *regimes.KINDS))
    out = Path(out)
    kw = dict(rule=rule, c=c, wall_seconds=wall_seconds)
    path = first.write_findings(name, runs_dir, out, kinds=first.KINDS, **kw)  # type: ignore[arg-type]
    cases = regimes.write_regime_findings(
        name,
        runs_dir,
        out / "regimes",
        kinds=regimes.KINDS,
        **kw,  # type: ignore[arg-type]
    )
    text = cases.read_text()
    # the regime findings become a section of the study's findings: one heading level down
    lowered = "\n".join("#" + line if line.startswith("#") else line for line in text.splitlines())
    lowered = lowered.replace(f"## Study `{name}`: findings", "## Retraining regimes", 1)
    path.write_text(path.read_text() + "\n" + lowered + "\n")
    cases.unlink()
    return path
