"""Findings of the shedding-regime study (``shedding study regimes``), from its run files.

The study's runs are defined as data (``regimes*.toml`` beside this module); this module
only reads the finished run files through the public analysis API and writes
``findings.md`` (tables with 95% Student-t intervals over seeds, and one generated
sentence per question, negative results stated as such) and ``summaries.json``.

Per pruned run it measures, against its control A (same retraining, nothing pruned) and
its twin control B (the same, other batch order): raw C, C_control, C_excess = C −
C_control (both counted on the pruned run's kept set), and the **control-to-control
noise** C_excess(A) − C_excess(B) = (Δshed_B − Δshed_A) / pruned: how far C_excess moves
when only the data order of the control changes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shedding.analysis import (
    channel_shedding,
    excess_summary,
    load_runs,
    summarize_loaded,
)
from shedding.analysis.stats import t_interval
from shedding.engine import identity
from shedding.studies.catalog import check_kinds, get, study_runs
from shedding.studies.tables import fmt, require_runs, status_lines, table

#: The reference regime the others are compared with, when a study has it.
MILD = "mild"
#: Protocols that train from scratch (no control; the equal-budget question).
FROM_SCRATCH = ("scratch", "reduced")
#: The kinds of sweep files these findings use: runs compared by their ``[cases]`` name.
KINDS = ("cases",)


@dataclass
class Row:
    """One finished run of the study and what the tables need."""

    part: str
    case: str
    cfg: dict[str, Any]
    s: Any  # RunSummary against control A
    noise: float = math.nan  # C_excess(A) - C_excess(B)
    share_dead: float = math.nan  # shed weights inside channels >= 90% shed / all shed
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        return self.cfg.get(key)


def _cases(name: str, kinds: Sequence[str] = KINDS) -> dict[str, tuple[str, str]]:
    """run id -> (sweep file, case) of every run of study ``name`` (of sweep files of
    ``kinds``)."""
    return {r.run_id: (r.part, r.case) for r in study_runs(name, kinds)}


def collect(
    name: str, runs_dir: Path, *, rule: str, c: float, kinds: Sequence[str] = KINDS
) -> tuple[list[Row], list[str], list[tuple[str, str]]]:
    """Rows of the finished runs of study ``name`` (of sweep files of ``kinds``), the
    missing run ids, the bad files."""
    where = _cases(name, kinds)
    paths = [runs_dir / f"{rid}.h5" for rid in where]
    present = [p for p in paths if p.exists()]
    missing = [p.stem for p in paths if not p.exists()]
    if not present:
        return [], missing, []
    rows: list[Row] = []
    with load_runs(present, require=False) as rs:
        summaries, bad = summarize_loaded(rs, rule=rule, c=c)
        by_id = {r.run_id: r for r in rs.runs}
        for s in summaries:
            if s.status != "complete":
                missing.append(f"{s.run_id} ({s.status})")
                continue
            part, case = where[s.run_id]
            row = Row(part, case, s.config, s)
            run = by_id[s.run_id]
            if s.role == "pruned" and s.n_rounds == 1:
                row.share_dead = channel_shedding(run, rule=rule, c=c).share_in_dead_channels
                twin = by_id.get(_twin_id(run.config))
                if twin is not None and s.control_found:
                    x = excess_summary(run, twin, rule=rule, c=c)
                    row.noise = s.excess_cascade_ratio - x[-1].excess_cascade_ratio
            rows.append(row)
    return rows, missing, bad


def _twin_id(config: dict[str, Any]) -> str:
    """Run id of the twin control (retrain.data_order = 1) of a run's control."""
    from shedding.config import from_dict

    ctrl = identity.control_config(from_dict(config))
    return identity.run_id(ctrl.replace(**{"retrain.data_order": 1})) if ctrl else ""


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Axes:
    """What the one-shot pruned runs of a study vary: the rows and columns of its tables."""

    cases: tuple[str, ...]
    protocols: tuple[str, ...]
    sparsities: tuple[float, ...]
    headline: float  # the sparsity of the main table (5% when the study has it)


def axes(rows: Iterable[Row]) -> Axes:
    """The :class:`Axes` of the one-shot pruned runs that retrain (not from scratch)."""
    one = [
        r
        for r in _pruned(rows)
        if r.get("prune.mode") == "oneshot" and r.get("retrain.protocol") not in FROM_SCRATCH
    ]
    sparsities = tuple(sorted({float(r.get("prune.sparsity")) for r in one}))
    headline = 0.05 if 0.05 in sparsities else (sparsities[0] if sparsities else math.nan)
    return Axes(
        cases=tuple(dict.fromkeys(r.case for r in one)),
        protocols=tuple(dict.fromkeys(r.get("retrain.protocol") for r in one)),
        sparsities=sparsities,
        headline=headline,
    )


def _sel(rows: Iterable[Row], case: str | None = None, **want: Any) -> list[Row]:
    """Rows of ``case`` (any when None) whose config has every ``want`` value; keys
    spell "." as "__" (``prune__method="gmp"``)."""
    keys = {k.replace("__", "."): v for k, v in want.items()}
    return [
        r
        for r in rows
        if (case is None or r.case == case) and all(r.get(k) == v for k, v in keys.items())
    ]


def _v(rows: Iterable[Row], f: Callable[[Row], float]) -> list[float]:
    return [float(f(r)) for r in rows]


def _ci(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high) of the 95% t interval of the finite values (NaN bounds below 2)."""
    v = [x for x in values if math.isfinite(x)]
    if not v:
        return math.nan, math.nan, math.nan
    lo, hi = t_interval(v) if len(v) > 1 else (math.nan, math.nan)
    return sum(v) / len(v), lo, hi


def _beyond_noise(excess: Sequence[float], noise: Sequence[float]) -> bool:
    """C_excess beyond the noise: its 95% interval excludes 0 and its mean is larger in
    size than every control-to-control difference seen in the cell."""
    mean, lo, hi = _ci(excess)
    worst = max((abs(x) for x in noise if math.isfinite(x)), default=math.inf)
    return math.isfinite(lo) and (lo > 0 or hi < 0) and abs(mean) > worst


def _pruned(rows: Iterable[Row]) -> list[Row]:
    return [r for r in rows if r.s.role == "pruned"]


def _cells(
    rows: Iterable[Row], ax: Axes, sparsities: Sequence[float]
) -> Iterable[tuple[str, str, str, float, list[Row]]]:
    """``(case, protocol, pruner, sparsity, runs)`` of every non-empty one-shot cell."""
    pruned = [r for r in _pruned(rows) if r.get("prune.mode") == "oneshot"]
    for case in ax.cases:
        for prot in ax.protocols:
            for method in ("gmp", "random"):
                for sp in sparsities:
                    cell = _sel(
                        pruned,
                        case=case,
                        retrain__protocol=prot,
                        prune__method=method,
                        prune__sparsity=sp,
                    )
                    if cell:
                        yield case, prot, method, sp, cell


# --------------------------------------------------------------------------- the tables


def regime_table(rows: list[Row], ax: Axes, sparsity: float, title: str) -> str:
    """One row per regime × protocol × pruner at ``sparsity``."""
    head = [
        "regime",
        "protocol",
        "pruner",
        "n",
        "shed frac",
        "control shed frac",
        "C",
        "C_control",
        "C_excess",
        "noise |ΔC_excess|",
        "dead ch γ / shed",
        "test acc",
    ]
    body = []
    for case, prot, method, _, cell in _cells(rows, ax, [sparsity]):
        noise = [abs(r.noise) for r in cell]
        body.append(
            [
                case,
                prot,
                method,
                len(cell),
                fmt(_v(cell, lambda r: r.s.shed_fraction), 1, 100) + "%",
                fmt(_v(cell, lambda r: r.s.control_shed_fraction), 1, 100) + "%",
                fmt(_v(cell, lambda r: r.s.cascade_ratio), 2),
                fmt(_v(cell, lambda r: r.s.control_ratio), 2),
                fmt(_v(cell, lambda r: r.s.excess_cascade_ratio), 2, sign=True),
                fmt(noise, 2),
                fmt(_v(cell, lambda r: r.s.dead_by_gamma), 0)
                + " / "
                + fmt(_v(cell, lambda r: r.s.dead_by_shed), 0),
                fmt(_v(cell, lambda r: r.s.test_acc), 3),
            ]
        )
    return f"### {title}\n\n" + table(head, body)


def q1(rows: list[Row], ax: Axes) -> str:
    """Is there pruning-caused shedding anywhere (C_excess beyond the noise)?"""
    more: list[str] = []
    less: list[str] = []
    raw: list[str] = []
    attributable: list[str] = []
    cells = 0
    for case, prot, method, sp, cell in _cells(rows, ax, ax.sparsities):
        if len(cell) < 2:
            continue
        cells += 1
        ex = _v(cell, lambda r: r.s.excess_cascade_ratio)
        name = f"{case} · {prot} · {method} {100 * sp:g}%"
        if _ci(_v(cell, lambda r: r.s.cascade_ratio))[0] > 1:
            raw.append(name)
        mean, lo, _ = _ci(ex)
        if lo > 1:
            attributable.append(f"{name} ({mean:+.2f})")
        if _beyond_noise(ex, [r.noise for r in cell]):
            (more if mean > 0 else less).append(f"{name} ({mean:+.2f})")
    lines = [
        f"**Q1. Is there pruning-caused shedding?** Of {cells} cells (regime × protocol × "
        f"pruner × sparsity, ≥ 2 seeds), {len(raw)} show a raw cascade (mean C > 1) and "
        f"{len(attributable)} a cascade attributable to pruning (95% interval of C_excess "
        f"above 1). {len(more) + len(less)} have a C_excess whose interval excludes 0 and whose "
        "mean is larger than every control-to-control difference of the cell: "
        f"{len(more)} where pruning adds shedding, {len(less)} where the pruned run sheds less "
        "than its control.",
    ]
    if more:
        lines.append("Pruning adds shedding in: " + "; ".join(more) + ".")
    if less:
        lines.append("The pruned run sheds less than its control in: " + "; ".join(less) + ".")
    if attributable:
        lines.append("Attributable to pruning: " + "; ".join(attributable) + ".")
    else:
        lines.append(
            "No cascade is attributable to pruning: wherever retraining sheds a lot, the "
            "unpruned control sheds about as much, so the shedding is caused by the retraining "
            "regime."
        )
    return "\n".join(lines)


def _paired_gap(a: list[Row], b: list[Row]) -> list[float]:
    """test_acc(a) − test_acc(b) paired by seed."""
    bs = {r.get("seed"): r.s.test_acc for r in b}
    return [r.s.test_acc - bs[r.get("seed")] for r in a if r.get("seed") in bs]


def q2(rows: list[Row], ax: Axes) -> str:
    """In a regime that sheds, does shedding rescue random pruning?"""
    head = [
        "regime",
        "protocol",
        *[f"GMP − random at {100 * s:g}% (points)" for s in ax.sparsities],
    ]
    body, compare = [], []
    for case in ax.cases:
        for prot in ax.protocols:
            cells = []
            for sp in ax.sparsities:
                base = {"retrain__protocol": prot, "prune__sparsity": sp}
                g = _sel(_pruned(rows), case=case, prune__method="gmp", **base)
                r = _sel(_pruned(rows), case=case, prune__method="random", **base)
                gap = _paired_gap(g, r)
                cells.append(fmt(gap, 2, 100, sign=True))
                if case != MILD:
                    mild = _paired_gap(
                        _sel(_pruned(rows), case=MILD, prune__method="gmp", **base),
                        _sel(_pruned(rows), case=MILD, prune__method="random", **base),
                    )
                    if gap and mild:
                        compare.append(_ci(gap)[0] - _ci(mild)[0])
            if any(c != "–" for c in cells):
                body.append([case, prot, *cells])
    closer = sum(1 for d in compare if d < 0)
    text = (
        f"**Q2. Does shedding rescue random pruning?** In {closer} of {len(compare)} "
        "(shedding regime × protocol × sparsity) cells the GMP − random accuracy gap is "
        "smaller than in the mild regime."
    )
    return text + "\n\n" + table(head, body)


def q3(rows: list[Row], ax: Axes) -> str:
    """Do the rewinding protocols shed more than FT, and does that track accuracy?"""
    head = ["regime", "pruner", *[f"{p.upper()}: C / acc" for p in ax.protocols]]
    body = []
    for case in ax.cases:
        for method in ("gmp", "random"):
            cells = []
            for prot in ax.protocols:
                cell = _sel(
                    _pruned(rows),
                    case=case,
                    prune__method=method,
                    prune__sparsity=ax.headline,
                    retrain__protocol=prot,
                )
                cells.append(
                    fmt(_v(cell, lambda r: r.s.cascade_ratio), 2)
                    + " / "
                    + fmt(_v(cell, lambda r: r.s.test_acc), 3)
                )
            if any(c != "– / –" for c in cells):
                body.append([case, method, *cells])
    return (
        f"**Q3. Protocols at {100 * ax.headline:g}% sparsity: cascade ratio and accuracy.** "
        "WR is not in this part (it rewinds the weights, which the FT/LRR/CLR regimes here "
        "do not); LRR and CLR restart the LR, FT keeps the final one.\n\n" + table(head, body)
    )


def q4(rows: list[Row], ax: Axes) -> str:
    """Is the shedding concentrated in whole channels?"""
    head = [
        "regime",
        "protocol",
        "shed weights in channels ≥ 90% shed",
        "dead channels: γ collapse",
        "dead: weights shed",
        "of channels",
    ]
    body = []
    for case in ax.cases:
        for prot in ax.protocols:
            cell = _sel(
                _pruned(rows),
                case=case,
                retrain__protocol=prot,
                prune__sparsity=ax.headline,
                prune__method="gmp",
            )
            if not cell:
                continue
            body.append(
                [
                    case,
                    prot,
                    fmt(_v(cell, lambda r: r.share_dead), 1, 100) + "%",
                    fmt(_v(cell, lambda r: r.s.dead_by_gamma), 1),
                    fmt(_v(cell, lambda r: r.s.dead_by_shed), 1),
                    str(cell[0].s.n_channels),
                ]
            )
    return (
        f"**Q4. Whole channels (GMP {100 * ax.headline:g}%).** A channel collapses through "
        "BatchNorm when |γ| < 1e-3, or sheds when ≥ 90% of its kept weights are shed; the "
        "BN-exempt rows are the causal ablation (no weight decay on γ, β and biases during "
        "retraining).\n\n" + table(head, body)
    )


def q5(rows: list[Row]) -> str:
    """Scratch and reduced at an equal epoch budget (25 epochs) against pruned networks."""
    head = ["regime", "sparsity", "LRR (15 + 10)", "CLR (15 + 10)", "scratch (25)", "reduced (25)"]
    body = []
    scratch = [r for r in rows if r.get("retrain.protocol") in FROM_SCRATCH]
    if not scratch:
        return ""
    for case in dict.fromkeys(r.case for r in scratch):
        for sp in sorted({float(r.get("prune.sparsity")) for r in scratch}):
            accs = []
            for prot in ("lrr", "clr", "scratch", "reduced"):
                cell = _sel(
                    rows, case=case, retrain__protocol=prot, prune__sparsity=sp, prune__method="gmp"
                )
                accs.append(fmt(_v(cell, lambda r: r.s.test_acc), 3))
            body.append([case, f"{100 * sp:g}%", *accs])
    return (
        "**Q5. Equal epoch budget (Crowley).** Test accuracy; scratch retrains the GMP mask "
        "from a fresh initialisation and reduced trains a dense network of the same prunable "
        "weight count, both for 25 epochs (the dense schedule stretched).\n\n" + table(head, body)
    )


def q6(rows: list[Row]) -> str:
    """Harvesting shed weights in iterative GMP: fewer rounds at equal accuracy?"""
    head = ["regime", "harvest", "n", "rounds", "retraining epochs", "sparsity", "test acc"]
    body = []
    iterative = [r for r in _pruned(rows) if r.get("prune.mode") == "iterative"]
    if not iterative:
        return ""
    for case in dict.fromkeys(r.case for r in iterative):
        for harvest in (False, True):
            cell = [
                r for r in iterative if r.case == case and bool(r.get("prune.harvest")) == harvest
            ]
            if not cell:
                continue
            epochs = [r.s.n_rounds * r.get("retrain.epochs") for r in cell]
            body.append(
                [
                    case,
                    "yes" if harvest else "no",
                    len(cell),
                    fmt(_v(cell, lambda r: r.s.n_rounds), 1),
                    fmt(epochs, 1),
                    fmt(_v(cell, lambda r: r.s.sparsity), 3),
                    fmt(_v(cell, lambda r: r.s.test_acc), 3),
                ]
            )
    return (
        "**Q6. Harvesting the shed weights** (iterative GMP to 50%, 20% per round, 5 CLR "
        "epochs per round): each round also prunes the kept weights already shed, and the "
        "run stops once it reaches 50%.\n\n" + table(head, body)
    )


def noise_line(rows: list[Row]) -> str:
    """The control-to-control noise, over the study and per regime."""
    pruned = [r for r in _pruned(rows) if math.isfinite(r.noise)]
    if not pruned:
        return "No twin controls found: the control-to-control noise is unmeasured."

    def spread(cell: list[Row]) -> str:
        noise = sorted(abs(r.noise) for r in cell)
        q = noise[int(0.95 * (len(noise) - 1))]
        return f"median {noise[len(noise) // 2]:.3f}, 95th percentile {q:.3f}, max {noise[-1]:.3f}"

    per = [
        f"{case}: {spread([r for r in pruned if r.case == case])}"
        for case in dict.fromkeys(r.case for r in pruned)
    ]
    return (
        f"**Control-to-control noise.** |C_excess(A) − C_excess(B)| over {len(pruned)} pruned "
        f"runs (A and B: two controls that differ only in batch order): {spread(pruned)}. Per "
        "regime: " + "; ".join(per) + "."
    )


def write_regime_findings(
    name: str,
    runs_dir: str | Path,
    out: str | Path,
    *,
    rule: str | None = None,
    c: float | None = None,
    wall_seconds: float | None = None,
    kinds: Sequence[str] | None = None,
) -> Path:
    """Writes ``findings.md`` and ``summaries.json`` of the regime study into ``out``.
    ``kinds``: only the sweep files of these kinds (default: every one, all "cases")."""
    from shedding.analysis import DEFAULT_C, DEFAULT_RULE

    rule, c = rule or DEFAULT_RULE, DEFAULT_C if c is None else c
    runs_dir, out = Path(runs_dir), Path(out)
    if kinds is None:
        check_kinds(name, KINDS)
    kinds = KINDS if kinds is None else tuple(kinds)
    rows, missing, bad = collect(name, runs_dir, rule=rule, c=c, kinds=kinds)
    require_runs(rows, name, runs_dir)
    sections = [
        f"# Study `{name}`: findings\n\nGenerated by `shedding study {name}` from {len(rows)} "
        f"complete runs in `{runs_dir}` (sweep files: "
        f"{', '.join(p.sweep for p in get(name).parts if p.kind in kinds)}). Shed: "
        f"{rule}, c = {c:g}. Values are mean ± half-width of the 95% Student-t interval over "
        "seeds (no ± with one seed). Accuracy: final test accuracy on 1000 MNIST-1D test "
        "examples (0.001 = one example).",
    ]
    sections += status_lines(wall_seconds, missing, bad)
    ax = axes(rows)
    head = f"Regimes at {100 * ax.headline:g}% sparsity ({rule}, c = {c:g})"
    sections += [noise_line(rows), q1(rows, ax), regime_table(rows, ax, ax.headline, head)]
    for sp in ax.sparsities:
        if sp != ax.headline:
            sections.append(regime_table(rows, ax, sp, f"Regimes at {100 * sp:g}% sparsity"))
    sections += [q2(rows, ax), q3(rows, ax), q4(rows, ax), q5(rows), q6(rows)]
    if (rule, c) != ("absolute", 1e-3):
        abs_rows, _, _ = collect(name, runs_dir, rule="absolute", c=1e-3, kinds=kinds)
        sections += [
            "## The same under the absolute threshold |w| < 1e-3",
            noise_line(abs_rows),
            q1(abs_rows, ax),
            regime_table(
                abs_rows, ax, ax.headline, f"Regimes at {100 * ax.headline:g}% (absolute 1e-3)"
            ),
        ]
    sections = [x for x in sections if x]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "findings.md"
    path.write_text("\n\n".join(sections) + "\n")
    (out / "summaries.json").write_text(
        json.dumps(
            [
                {"part": r.part, "case": r.case, "noise": _finite(r.noise), **r.s.to_dict()}
                for r in rows
            ],
            indent=1,
        )
    )
    return path


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _describe(case: str, cfg: dict[str, Any]) -> str:
    """A regime in words, from a run's config."""
    opt = (cfg.get("retrain.optimizer") or cfg.get("train.optimizer") or "sgd").upper()
    opt = {"ADAM": "Adam + L2", "ADAMW": "AdamW"}.get(opt, opt)
    lr = cfg.get("retrain.lr") or cfg.get("train.lr")
    wd = cfg.get("retrain.weight_decay")
    wd = cfg.get("train.weight_decay") if wd is None else wd
    return f"{case} ({opt}, peak LR {lr:g}, weight decay {wd:g})"


def regime_sentence(case: str, cell: list[Row]) -> str:
    """What the control shows for one regime, in one sentence with its figures."""
    c_raw = _ci(_v(cell, lambda r: r.s.cascade_ratio))[0]
    c_ctl = _ci(_v(cell, lambda r: r.s.control_ratio))[0]
    mean, lo, hi = _ci(_v(cell, lambda r: r.s.excess_cascade_ratio))
    shed = _ci(_v(cell, lambda r: r.s.shed_fraction))[0]
    ctl_shed = _ci(_v(cell, lambda r: r.s.control_shed_fraction))[0]
    noise = max((abs(r.noise) for r in cell if math.isfinite(r.noise)), default=math.nan)
    head = (
        f"{_describe(case, cell[0].cfg)}: retraining shed {100 * shed:.1f}% of the kept "
        f"weights, C = {c_raw:.2f}; the unpruned control shed {100 * ctl_shed:.1f}% "
        f"(C_control = {c_ctl:.2f}), so C_excess = {mean:+.2f} [{lo:+.2f}, {hi:+.2f}] over "
        f"{len(cell)} runs (control-to-control noise up to {noise:.2f})"
    )
    if _beyond_noise(_v(cell, lambda r: r.s.excess_cascade_ratio), [r.noise for r in cell]):
        return head + ": part of this shedding is caused by pruning."
    if c_raw > 1:
        return head + (
            ": a raw cascade, and the control sheds as much, so it is caused by the "
            "retraining regime, not by pruning."
        )
    return head + ": little shedding, and none that pruning caused."


def demo_summary(name: str, runs_dir: str | Path) -> str:
    """The demo's closing table (one row per regime × pruner) and one sentence per regime."""
    from shedding.analysis import DEFAULT_C, DEFAULT_RULE

    rows, _, _ = collect(name, Path(runs_dir), rule=DEFAULT_RULE, c=DEFAULT_C)
    pruned = _pruned(rows)
    cases = list(dict.fromkeys(r.case for r in pruned))
    head = ["regime", "pruner", "n", "acc", "shed", "ctrl shed", "C", "C_control", "C_excess"]
    lines = []
    for case in cases:
        for method in ("gmp", "random"):
            cell = _sel(pruned, case=case, prune__method=method)
            if cell:
                lines.append(
                    [
                        case,
                        method,
                        str(len(cell)),
                        fmt(_v(cell, lambda r: r.s.test_acc), 3),
                        fmt(_v(cell, lambda r: r.s.shed_fraction), 1, 100) + "%",
                        fmt(_v(cell, lambda r: r.s.control_shed_fraction), 1, 100) + "%",
                        fmt(_v(cell, lambda r: r.s.cascade_ratio), 2),
                        fmt(_v(cell, lambda r: r.s.control_ratio), 2),
                        fmt(_v(cell, lambda r: r.s.excess_cascade_ratio), 2, sign=True),
                    ]
                )
    if not lines:
        return f"no finished pruned run of study {name!r} in {runs_dir}"
    widths = [max([len(h), *(len(r[i]) for r in lines)]) for i, h in enumerate(head)]
    text = [
        "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)),
        *("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in lines),
        "(mean ± half-width of the 95% interval over seeds; C: kept weights shed during "
        "retraining per weight pruned; C_control: the same for the unpruned control, on the "
        "pruned run's kept set; C_excess = C − C_control)",
        "",
    ]
    text += [regime_sentence(case, _sel(pruned, case=case)) for case in cases]
    return "\n".join(text)
