"""Findings of the first MNIST-1D study (``shedding study first``) and of the grid part of
``shedding study full`` (:mod:`shedding.studies.combined`), from their run files.

Questions Q1–Q5 of the study, one or more tables each, the SVG figures, and
``summaries.json`` (every run's summary). The runs of each sweep file are used by their
kind in the study's manifest (:mod:`shedding.studies.catalog`): ``main`` (the grid of
pruners × sparsities × protocols × seeds), ``reduced`` (scratch and reduced networks at
the main grid's sizes), ``iterative`` and ``regime`` (the regime search). Only the public
analysis API is used (:mod:`shedding.analysis`, :mod:`tracking`).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shedding.engine import identity
from shedding.studies.catalog import check_kinds, get, study_runs
from shedding.studies.tables import fmt, mean_half, require_runs, status_lines, table

#: The kinds of sweep files these findings use.
KINDS = ("main", "reduced", "iterative", "regime")

#: The regime of full.toml: the reference row of the regime tables.
REGIME_KEYS = (
    "train.optimizer",
    "train.lr",
    "train.weight_decay",
    "model.batchnorm",
    "model.width",
)
PROTOCOLS = ("ft", "wr", "lrr", "llr")
METHODS = ("gmp", "random", "random_layerwise", "random_matched")


@dataclass
class Row:
    """One run of the study with what the tables need (from its summary)."""

    part: str
    run_id: str
    role: str
    cfg: dict[str, Any]
    s: Any  # RunSummary
    gmp: Any = None  # GmpOverlap (pruned runs of full.toml)
    channels: Any = None  # ChannelShedding (pruned runs of full.toml)
    n_weights: int = 0

    def get(self, key: str) -> Any:
        return self.cfg.get(key)


def regime_label(cfg: dict[str, Any]) -> str:
    """Short text of a run's regime, e.g. ``SGD lr 0.1 wd 5e-03 BN w0.5``."""
    opt = "Adam+L2" if cfg.get("train.optimizer") == "adam" else "SGD"
    bn = "BN" if cfg.get("model.batchnorm", True) else "no BN"
    return (
        f"{opt} lr {cfg.get('train.lr'):g} wd {cfg.get('train.weight_decay'):.0e} {bn} "
        f"w{cfg.get('model.width'):g}"
    )


def collect(
    name: str,
    runs_dir: Path,
    *,
    rule: str,
    c: float,
    details: bool,
    kinds: Sequence[str] = KINDS,
) -> tuple[list[Row], list[str], list[tuple[str, str]]]:
    """Summaries of the study's runs (of sweep files of ``kinds``) found in ``runs_dir``;
    also the missing run ids and the unreadable files. ``details`` adds GMP overlaps and
    channel shedding for the pruned one-shot runs of the main grid."""
    from shedding.analysis import channel_shedding, gmp_overlap, load_runs, summarize_loaded

    runs = study_runs(name, kinds)
    part_of = {r.run_id: r.part for r in runs}
    paths = [identity.run_path(runs_dir, r.cfg) for r in runs]
    present = [p for p in paths if p.exists()]
    missing = [p.stem for p in paths if not p.exists()]
    rows: list[Row] = []
    if not present:
        return rows, missing, []
    # one open per file: the summaries, overlaps and channel counts share it (and its memos)
    with load_runs(present, require=False) as rs:
        summaries, bad = summarize_loaded(rs, rule=rule, c=c)
        open_by_path = {str(r.path): r for r in rs.runs}
        for s in summaries:
            if s.status != "complete":
                missing.append(f"{s.run_id} ({s.status})")
                continue
            run = open_by_path[s.path]
            row = Row(part_of.get(s.run_id, ""), s.run_id, s.role, s.config, s)
            row.n_weights = sum(i.n_weights for i in run.layers)
            if details and s.role == "pruned" and row.get("prune.mode") == "oneshot":
                row.gmp = gmp_overlap(run, rule=rule, c=c)
                row.channels = channel_shedding(run, rule=rule, c=c)
            rows.append(row)
    return rows, missing, bad


def _group(rows: Iterable[Row], *keys: str) -> dict[tuple[Any, ...], list[Row]]:
    out: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    for r in rows:
        out[tuple(r.get(k) for k in keys)].append(r)
    return out


def _vals(rows: Iterable[Row], attr: str | Callable[[Row], float]) -> list[float]:
    f = attr if callable(attr) else (lambda r: getattr(r.s, attr))
    return [float(f(r)) for r in rows]


def _pct(p: float) -> str:
    return f"{100 * p:g}%"


def q1_tables(main: list[Row], regimes: list[Row]) -> str:
    """Cascade ratio, raw and in excess of the control, on the main grid and per regime."""
    out = []
    pruned = [r for r in main if r.role == "pruned"]
    by = _group(pruned, "prune.method", "prune.sparsity", "retrain.protocol")
    sparsities = sorted({r.get("prune.sparsity") for r in pruned})
    for attr, title in (
        ("cascade_ratio", "raw cascade ratio C"),
        ("control_ratio", "the control's C on the same kept set"),
        ("excess_cascade_ratio", "C_excess = C − C_control"),
    ):
        head = ["pruner", "sparsity", *[p.upper() for p in PROTOCOLS], "max C = (1−p)/p"]
        body = [
            [
                m,
                _pct(p),
                *[fmt(_vals(by.get((m, p, pr), []), attr), 3) for pr in PROTOCOLS],
                f"{(1 - p) / p:.2f}",
            ]
            for m in METHODS
            for p in sparsities
            if any((m, p, pr) in by for pr in PROTOCOLS)
        ]
        out.append(
            f"**Q1, main grid: {title}** (mean ± 95% t half-width over seeds)\n\n"
            + table(head, body)
        )
    out.append(q1_regime_table(main + regimes))
    return "\n\n".join(out)


def q1_regime_table(rows: list[Row], title: str = "Q1, regime search (LRR, one-shot)") -> str:
    """LRR, GMP and random at 10/80%, per regime: shedding against the control."""
    pruned = [
        r
        for r in rows
        if r.role == "pruned"
        and r.get("retrain.protocol") == "lrr"
        and r.get("prune.method") in ("gmp", "random")
        and r.get("prune.sparsity") in (0.1, 0.8)
        and r.get("prune.mode") == "oneshot"
    ]
    by = _group(pruned, *REGIME_KEYS, "prune.method", "prune.sparsity")
    head = [
        "regime",
        "pruner",
        "sparsity",
        "n",
        "shed frac (pruned)",
        "shed frac (control)",
        "excess shed (points)",
        "C",
        "C_control",
        "C_excess",
        "excess dead channels",
    ]
    body = []
    for key in sorted(by, key=lambda k: tuple(str(x) for x in k)):
        rs = by[key]
        body.append(
            [
                regime_label(rs[0].cfg),
                key[-2],
                _pct(key[-1]),
                len(rs),
                fmt(_vals(rs, "shed_fraction"), 2, 100) + "%",
                fmt(_vals(rs, "control_shed_fraction"), 2, 100) + "%",
                fmt(_vals(rs, "excess_shed_fraction"), 2, 100, sign=True),
                fmt(_vals(rs, "cascade_ratio"), 3),
                fmt(_vals(rs, "control_ratio"), 3),
                fmt(_vals(rs, "excess_cascade_ratio"), 3, sign=True),
                fmt(_vals(rs, "excess_dead_channels"), 1, sign=True),
            ]
        )
    return f"**{title}**\n\n" + table(head, body)


def q2_tables(main: list[Row], regimes: list[Row]) -> str:
    """Accuracy per pruner and sparsity (LRR), and the GMP−random gap against shedding."""
    out = []
    ctrl = [r for r in main if r.role == "control" and r.get("retrain.protocol") == "lrr"]
    pruned = [r for r in main if r.role == "pruned" and r.get("prune.mode") == "oneshot"]
    by = _group(pruned, "retrain.protocol", "prune.sparsity", "prune.method")
    sparsities = sorted({r.get("prune.sparsity") for r in pruned})
    for proto in ("lrr", "ft"):
        head = [
            "sparsity",
            *METHODS,
            "GMP − random (points)",
            "control shed frac (same kept set, random)",
        ]
        body = []
        for p in sparsities:
            g = _vals(by.get((proto, p, "gmp"), []), "test_acc")
            rnd = by.get((proto, p, "random"), [])
            gap = _paired_gap(by.get((proto, p, "gmp"), []), rnd)
            body.append(
                [
                    _pct(p),
                    *[fmt(_vals(by.get((proto, p, m), []), "test_acc"), 3) for m in METHODS],
                    fmt(gap, 1, 100, sign=True) if g else "–",
                    fmt(_vals(rnd, "control_shed_fraction"), 2, 100) + "%",
                ]
            )
        out.append(
            f"**Q2, main grid: test accuracy after {proto.upper()}** (unpruned control "
            f"{fmt(_vals(ctrl, 'test_acc'), 3) if proto == 'lrr' else '(see LRR)'})\n\n"
            + table(head, body)
        )
    out.append(q2_regime_table(main + regimes))
    return "\n\n".join(out)


def q2_regime_table(rows: list[Row]) -> str:
    """Across regimes at 80% sparsity (LRR): does stronger shedding shrink the GMP−random
    gap?"""
    lrr = [
        r for r in rows if r.get("retrain.protocol") == "lrr" and r.get("prune.mode") == "oneshot"
    ]
    by_reg = _group(
        [r for r in lrr if r.role == "pruned" and r.get("prune.sparsity") == 0.8],
        *REGIME_KEYS,
        "prune.method",
    )
    ctrl_reg = _group([r for r in lrr if r.role == "control"], *REGIME_KEYS)
    head = [
        "regime",
        "control acc",
        "control shed frac (own kept set)",
        "GMP 80%",
        "random 80%",
        "GMP − random (points)",
    ]
    body = []
    for reg in sorted({k[:-1] for k in by_reg}, key=lambda k: tuple(str(x) for x in k)):
        g, rnd = by_reg.get((*reg, "gmp"), []), by_reg.get((*reg, "random"), [])
        cs = ctrl_reg.get(reg, [])
        body.append(
            [
                regime_label((g or rnd)[0].cfg),
                fmt(_vals(cs, "test_acc"), 3),
                fmt(_vals(cs, "shed_fraction"), 2, 100) + "%",
                fmt(_vals(g, "test_acc"), 3),
                fmt(_vals(rnd, "test_acc"), 3),
                fmt(_paired_gap(g, rnd), 1, 100, sign=True),
            ]
        )
    return "**Q2, per regime at 80% sparsity (LRR)**\n\n" + table(head, body)


def _paired_gap(a: list[Row], b: list[Row]) -> list[float]:
    """Per-seed differences of test accuracy a − b (seeds present in both)."""
    sa = {r.get("seed"): r.s.test_acc for r in a}
    sb = {r.get("seed"): r.s.test_acc for r in b}
    return [sa[k] - sb[k] for k in sorted(set(sa) & set(sb))]


def q3_tables(main: list[Row], iterative: list[Row]) -> str:
    """GMP accuracy per retraining protocol, one-shot per sparsity and iterative."""
    from shedding.analysis import group_test

    gmp = [r for r in main if r.role == "pruned" and r.get("prune.method") == "gmp"]
    by = _group(gmp, "prune.sparsity", "retrain.protocol")
    it = _group([r for r in iterative if r.role == "pruned"], "prune.sparsity", "retrain.protocol")
    head = [
        "pruning",
        *[p.upper() for p in PROTOCOLS],
        "LRR − FT (points)",
        "Welch p (LRR vs FT)",
        "LRR − WR (points)",
    ]
    body = []
    for label, groups, keys in (
        ("one-shot", by, sorted({k[0] for k in by})),
        ("iterative (50%/round)", it, sorted({k[0] for k in it})),
    ):
        for p in keys:
            lrr, ft = groups.get((p, "lrr"), []), groups.get((p, "ft"), [])
            wr = groups.get((p, "wr"), [])
            t = group_test(_vals(lrr, "test_acc"), _vals(ft, "test_acc"))
            body.append(
                [
                    f"{label} {_pct(p)}",
                    *[fmt(_vals(groups.get((p, pr), []), "test_acc"), 3) for pr in PROTOCOLS],
                    fmt(_paired_gap(lrr, ft), 1, 100, sign=True),
                    "–" if math.isnan(t.welch_p) else f"{t.welch_p:.2g}",
                    fmt(_paired_gap(lrr, wr), 1, 100, sign=True),
                ]
            )
    return "**Q3: GMP test accuracy per retraining protocol**\n\n" + table(head, body)


def q4_table(main: list[Row], q4: list[Row]) -> str:
    """Crowley: pruned-and-retrained vs scratch (same mask) vs reduced (matched width)."""
    gmp = _group(
        [r for r in main if r.role == "pruned" and r.get("prune.method") == "gmp"],
        "prune.sparsity",
        "retrain.protocol",
    )
    other = _group(q4, "prune.sparsity", "retrain.protocol")
    head = [
        "sparsity",
        "kept weights (pruned)",
        "GMP + LRR",
        "GMP + FT",
        "scratch (same mask, T epochs)",
        "reduced (dense, matched size, T epochs)",
        "reduced weights",
        "LRR − reduced (points)",
    ]
    body = []
    for p in sorted({k[0] for k in other}):
        lrr = gmp.get((p, "lrr"), [])
        red = other.get((p, "reduced"), [])
        kept = [r.n_weights * (1 - p) for r in lrr]
        body.append(
            [
                _pct(p),
                f"{np.mean(kept):,.0f}" if kept else "–",
                fmt(_vals(lrr, "test_acc"), 3),
                fmt(_vals(gmp.get((p, "ft"), []), "test_acc"), 3),
                fmt(_vals(other.get((p, "scratch"), []), "test_acc"), 3),
                fmt(_vals(red, "test_acc"), 3),
                f"{np.mean([r.n_weights for r in red]):,.0f}" if red else "–",
                fmt(_paired_gap(lrr, red), 1, 100, sign=True),
            ]
        )
    return "**Q4: equal parameter count, three ways (GMP masks; test accuracy)**\n\n" + table(
        head, body
    )


def q5_table(main: list[Row]) -> str:
    """Overlap of the final effective kept sets with GMP's, and the share of whole channels."""
    pruned = [r for r in main if r.role == "pruned" and r.gmp is not None]
    by = _group(pruned, "prune.method", "prune.sparsity")
    head = [
        "pruner",
        "sparsity",
        "n",
        "effective sparsity",
        "J(mask, GMP on dense)",
        "J(mask − shed, GMP on dense)",
        "J(mask − shed, GMP on final)",
        "shed weights in dead channels",
        "dead channels",
    ]
    body = []
    for m in METHODS:
        for p in sorted({k[1] for k in by if k[0] == m}):
            rs = by[(m, p)]
            body.append(
                [
                    m,
                    _pct(p),
                    len(rs),
                    fmt(_vals(rs, lambda r: r.gmp.effective_sparsity), 3),
                    fmt(_vals(rs, lambda r: r.gmp.jaccard_mask_dense), 3),
                    fmt(_vals(rs, lambda r: r.gmp.jaccard_dense), 3),
                    fmt(_vals(rs, lambda r: r.gmp.jaccard_final), 3),
                    fmt(_vals(rs, lambda r: r.channels.share_in_dead_channels), 2, 100) + "%",
                    fmt(_vals(rs, lambda r: r.channels.dead_channels), 1),
                ]
            )
    return (
        "**Q5: which weights are kept** (all four protocols pooled; J = Jaccard with GMP "
        "at the same size; dead channel: ≥ 90% of its kept weights shed)\n\n" + table(head, body)
    )


def figures(main: list[Row], regimes: list[Row]) -> dict[str, str]:
    """The study's figures as SVG text, by file name."""
    from shedding.figures import diagonal_figure, interval_figure, to_svg

    def point(rs: list[Row], attr: str) -> tuple[float, float]:
        v = [x for x in _vals(rs, attr) if math.isfinite(x)]
        if not v:
            return float("nan"), float("nan")
        mean, half, _ = mean_half(v)
        return mean, half

    out = {}
    pruned = [r for r in main if r.role == "pruned" and r.get("prune.mode") == "oneshot"]
    sparsities = sorted({r.get("prune.sparsity") for r in pruned})
    by = _group(pruned, "retrain.protocol", "prune.method", "prune.sparsity")
    ctrl = [r for r in main if r.role == "control" and r.get("retrain.protocol") == "lrr"]
    acc: dict[str, list[tuple[float, float]]] = {
        m: [point(by.get(("lrr", m, p), []), "test_acc") for p in sparsities]
        for m in METHODS
        if any(("lrr", m, p) in by for p in sparsities)
    }
    if ctrl:
        acc["unpruned control"] = [point(ctrl, "test_acc")] * len(sparsities)
    out["fig-accuracy.svg"] = interval_figure(
        "Test accuracy after LRR (mean, 95% t interval over seeds)",
        [_pct(p) for p in sparsities],
        acc,
        xlabel="sparsity",
        ylabel="test accuracy",
    )
    out["fig-protocols.svg"] = interval_figure(
        "GMP, one-shot: test accuracy per retraining protocol",
        [_pct(p) for p in sparsities],
        {
            pr.upper(): [point(by.get((pr, "gmp", p), []), "test_acc") for p in sparsities]
            for pr in PROTOCOLS
        },
        xlabel="sparsity",
        ylabel="test accuracy",
    )
    every = [r for r in main + regimes if r.role == "pruned" and r.get("prune.mode") == "oneshot"]
    out["fig-cascade-vs-control.svg"] = diagonal_figure(
        "Cascade ratio C of each run vs its unpruned control's",
        {
            m: [(r.s.control_ratio, r.s.cascade_ratio) for r in every if r.get("prune.method") == m]
            for m in METHODS
            if any(r.get("prune.method") == m for r in every)
        },
        xlabel="C of the control, on the run's kept set",
        ylabel="C of the pruned run",
    )
    return {name: to_svg(fig) for name, fig in out.items()}


def by_kind(name: str, rows: Iterable[Row]) -> dict[str, list[Row]]:
    """The rows of study ``name`` by the kind of their sweep file."""
    study = get(name)
    kinds: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        kinds[study.kind(r.part)].append(r)
    return kinds


def write_findings(
    name: str,
    runs_dir: str | Path,
    out: str | Path,
    *,
    rule: str | None = None,
    c: float | None = None,
    wall_seconds: float | None = None,
    kinds: Sequence[str] | None = None,
) -> Path:
    """Writes ``findings.md``, the figures and ``summaries.json`` for study ``name`` into
    ``out``. ``kinds``: only the sweep files of these kinds (a writer of a study with
    other kinds too calls it so); by default every sweep file, all of kinds in KINDS."""
    from shedding.analysis import DEFAULT_C, DEFAULT_RULE

    rule = rule or DEFAULT_RULE
    c = DEFAULT_C if c is None else c
    runs_dir, out = Path(runs_dir), Path(out)
    if kinds is None:
        check_kinds(name, KINDS)
    kinds = KINDS if kinds is None else tuple(kinds)
    rows, missing, bad = collect(name, runs_dir, rule=rule, c=c, details=True, kinds=kinds)
    require_runs(rows, name, runs_dir)
    of_kind = by_kind(name, rows)
    main, regimes = of_kind["main"], of_kind["regime"]
    sections = [
        f"# Study `{name}`: tables\n\n"
        f"Generated by `shedding study {name}` from {len(rows)} complete runs in `{runs_dir}`"
        f" (sweep files: {', '.join(p.sweep for p in get(name).parts if p.kind in kinds)})."
        f" Threshold: {rule}, c = {c:g}. "
        "Values are mean ± half-width of the 95% Student-t interval over seeds (n per cell "
        "is the number of seeds; no ± with one seed). Accuracy: final test accuracy on "
        "MNIST-1D's 1000 test examples (0.001 = one example).",
    ]
    sections += status_lines(wall_seconds, missing, bad)
    out.mkdir(parents=True, exist_ok=True)
    figs = figures(main, regimes)
    for fname, text in figs.items():
        (out / fname).write_text(text)
    sections.append(" ".join(f"![{f[4:-4]}]({f})" for f in figs))
    sections += [q1_tables(main, regimes), q2_tables(main, regimes)]
    sections.append(q3_tables(main, of_kind["iterative"]))
    if of_kind["reduced"]:
        sections.append(q4_table(main, of_kind["reduced"]))
    sections.append(q5_table(main))
    if regimes and (rule, c) != ("absolute", 1e-3):
        rows_abs, _, _ = collect(
            name, runs_dir, rule="absolute", c=1e-3, details=False, kinds=kinds
        )
        study = get(name)
        sections.append(
            q1_regime_table(
                [r for r in rows_abs if study.kind(r.part) in ("main", "regime")],
                "Q1 again under the absolute threshold |w| < 1e-3",
            )
        )
    path = out / "findings.md"
    path.write_text("\n\n".join(sections) + "\n")
    write_summaries(rows, out / "summaries.json")
    return path


def write_summaries(rows: Iterable[Row], path: Path) -> None:
    """Every run's summary, with its sweep file, GMP overlap and channel shedding, as JSON."""
    path.write_text(
        json.dumps(
            [
                {
                    "part": r.part,
                    **r.s.to_dict(),
                    "gmp_overlap": r.gmp.to_dict() if r.gmp else None,
                    "channel_shedding": r.channels.to_dict() if r.channels else None,
                }
                for r in rows
            ],
            indent=1,
        )
    )
