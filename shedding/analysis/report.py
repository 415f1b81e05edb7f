"""One self-contained HTML report of a directory of runs (works offline).

plotly.js is embedded once, inline, in the file; every later figure reuses it. Sections:
bad files, per-run summary with verdicts, shed curves with the control as a dashed
reference, cascade ratios (raw, control, excess), random vs GMP, protocols side by side,
overlaps (with GMP and between runs), accuracy frontiers.
"""

from __future__ import annotations

import datetime as _dt
import html
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shedding.analysis.compare import (
    Comparison,
    RunSummary,
    compare_summaries,
    group_key,
    summarize_loaded,
)
from shedding.analysis.controls import excess_curve
from shedding.analysis.overlap import gmp_overlap, overlap_matrix
from shedding.analysis.runs import BAD_FILE_ERRORS, PathsOrDir, describe_error, load_runs
from shedding.analysis.shed import shed_curve
from shedding.analysis.thresholds import DEFAULT_C, DEFAULT_RULE, check_c, get_rule
from shedding.errors import ConfigError

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from tracking.reader import Run

SIDE_BY_SIDE = (
    ("prune.method", "Random vs GMP (by pruner)"),
    ("retrain.protocol", "Protocols side by side"),
)
_STYLE = """body{font-family:sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #ccc;padding:3px 6px}
th{background:#eee}.bad{color:#a00}.note{color:#555}"""


class _Html:
    """Accumulates sections; the first figure carries plotly.js inline."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self._js_done = False

    def h(self, level: int, text: str) -> None:
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def p(self, text: str, cls: str = "") -> None:
        attr = f' class="{cls}"' if cls else ""
        self.parts.append(f"<p{attr}>{html.escape(text)}</p>")

    def fig(self, fig: go.Figure) -> None:
        self.parts.append(fig.to_html(full_html=False, include_plotlyjs=not self._js_done))
        self._js_done = True

    def table(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        cols = list(rows[0])
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in cols) + "</tr>"
            for r in rows
        )
        self.parts.append(f"<table><tr>{head}</tr>{body}</table>")


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "-" if v != v else f"{v:.4g}"
    return "-" if v is None else str(v)


def _summary_rows(summaries: list[RunSummary]) -> list[dict[str, Any]]:
    return [
        {
            "run": s.run_id,
            "role": s.role,
            "method": s.config.get("prune.method", s.method),
            "protocol": s.config.get("retrain.protocol", ""),
            "seed": s.config.get("seed", ""),
            "test acc": s.test_acc,
            "sparsity": s.sparsity,
            "eff. sparsity": s.effective_sparsity,
            "C raw": s.cascade_ratio,
            "control": s.control_id if s.control_found else "none found",
            "C control": s.control_ratio,
            "C excess": s.excess_cascade_ratio,
            "excess dead ch": s.excess_dead_channels,
            "dead ch γ / shed": f"{s.dead_by_gamma} / {s.dead_by_shed}",
            "‖w‖ end/prune": s.rounds[-1].kept_norm_ratio if s.rounds else float("nan"),
            "max η/‖w‖²": s.rounds[-1].effective_step_peak if s.rounds else float("nan"),
            "file": s.path,
        }
        for s in summaries
    ]


def _by_present(summaries: list[RunSummary], key: str) -> bool:
    return any(key in s.config for s in summaries)


def _group_section(doc: _Html, cmp: Comparison, title: str) -> None:
    from shedding.analysis import figures

    doc.h(2, title)
    if not cmp.groups:
        doc.p("no pruned run to compare", "note")
        return
    for gi, key in enumerate(cmp.groups):
        doc.p(f"{' / '.join(key)}: {cmp.attributions[gi].verdict}")
    doc.fig(
        figures.group_bars_figure(
            cmp,
            ["cascade_ratio", "control_ratio", "excess_cascade_ratio"],
            title=f"{title}: cascade ratios (mean, 95% bootstrap CI over seeds)",
        )
    )
    doc.fig(
        figures.group_bars_figure(
            cmp, ["test_acc", "effective_sparsity"], title=f"{title}: accuracy and sparsity"
        )
    )


def write_report(
    paths_or_dir: PathsOrDir,
    out_html: str | os.PathLike[str],
    *,
    rule: str = DEFAULT_RULE,
    c: float = DEFAULT_C,
    by: tuple[str, ...] = ("prune.method", "retrain.protocol"),
) -> Path:
    """Write the HTML report of every run found; returns the path written.

    Example:
        >>> out = write_report(run_dir, tmp_path / "report.html")
        >>> "plotly" in out.read_text()
        True
    """
    from shedding.analysis import figures  # plotly is imported only when a report is made

    get_rule(rule)
    check_c(c)
    out = Path(out_html)
    if out.is_dir():
        raise ConfigError(f"-o {out} is a directory; fix: name a file, e.g. -o {out}/report.html")
    if not out.parent.is_dir():
        raise ConfigError(f"-o {out}: the folder {out.parent} does not exist; create it first")
    doc = _Html()
    with load_runs(paths_or_dir) as rs:
        summaries, bad = summarize_loaded(rs, rule=rule, c=c)
        by_id = {r.run_id: r for r in rs.runs}
        pruned = [s for s in summaries if s.role == "pruned"]
        doc.h(1, "cascade-shedding report")
        doc.p(
            f"{len(summaries)} run(s), {len(bad)} bad file(s); threshold rule {rule}, c = {c:g}; "
            f"generated {_dt.datetime.now(_dt.UTC).isoformat(timespec='seconds')}",
            "note",
        )
        doc.p(
            "Shed: kept weights with |w| < tau. C = (shed at end - shed at prune) / pruned. "
            "C excess subtracts the control (same retraining, no pruning) counted on the "
            "same kept set; a cascade is attributable to pruning only when the 95% interval "
            "of C excess over seeds lies above 1.",
            "note",
        )
        bad_at = len(doc.parts)  # filled in last: sections below may find more bad files
        doc.h(2, "Runs")
        doc.table(_summary_rows(summaries))
        present = [k for k in by if _by_present(summaries, k)]
        cmp = compare_summaries(summaries, bad, by=present, rule=rule, c=c)
        _curves_section(doc, cmp, pruned, by_id, rule, c, bad)
        doc.h(2, "Cascade ratios")
        doc.fig(figures.cascade_ratio_figure(summaries))
        for key, title in SIDE_BY_SIDE:
            if _by_present(summaries, key):
                by_key = compare_summaries(summaries, bad, by=[key], rule=rule, c=c)
                _group_section(doc, by_key, title)
        _overlap_section(doc, pruned, by_id, rule, c, bad)
        _mechanism_section(doc, [by_id[s.run_id] for s in pruned if s.run_id in by_id])
        doc.h(2, "Accuracy frontier")
        doc.fig(figures.frontier_figure(cmp))
    if bad:
        section = _Html()
        section.h(2, "Bad files (skipped)")
        section.table([{"file": p, "reason": why} for p, why in bad])
        doc.parts[bad_at:bad_at] = section.parts
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>cascade-shedding report'
        f"</title><style>{_STYLE}</style></head><body>{''.join(doc.parts)}</body></html>"
    )
    out.write_text(page, encoding="utf-8")
    return out


def _mechanism_section(doc: _Html, runs: list[Run]) -> None:
    from shedding.analysis import figures
    from shedding.analysis.mechanism import mechanism

    doc.h(2, "Mechanism: kept-weight norm and effective step")
    doc.p(
        "A layer followed by BatchNorm is scale-invariant: one SGD step turns its weights' "
        "direction by about eta / |w|^2 (the effective step). Weight decay shrinks |w| and so "
        "raises the effective step; a large LR restart raises it again.",
        "note",
    )
    if not runs:
        doc.p("no pruned run", "note")
        return
    doc.fig(figures.mechanism_figure([mechanism(r) for r in runs]))


def _curves_section(
    doc: _Html,
    cmp: Comparison,
    pruned: list[RunSummary],
    by_id: dict[str, Run],
    rule: str,
    c: float,
    bad: list[tuple[str, str]],
) -> None:
    from shedding.analysis import figures

    doc.h(2, "Shed curves (dashed: the control counted on the run's kept set)")
    for key in cmp.groups:
        curves = []
        for s in pruned:
            if group_key(s, cmp.by) != key:
                continue
            run = by_id[s.run_id]
            try:
                ctrl = by_id.get(s.control_id) if s.control_found else None
                ex = excess_curve(run, ctrl, rule=rule, c=c) if ctrl is not None else None
                curves.append((s.run_id, shed_curve(run, rule=rule, c=c), ex))
            except BAD_FILE_ERRORS as e:
                bad.append((s.path, describe_error(e)))
        if curves:
            doc.fig(figures.shed_curves_figure(curves, title=" / ".join(key) or "all runs"))


def _overlap_section(
    doc: _Html,
    pruned: list[RunSummary],
    by_id: dict[str, Run],
    rule: str,
    c: float,
    bad: list[tuple[str, str]],
) -> None:
    from shedding.analysis import figures

    doc.h(2, "Overlaps")
    overlaps = []
    nets: dict[tuple, list[Run]] = {}
    for s in pruned:
        run = by_id[s.run_id]
        try:
            overlaps.append(gmp_overlap(run, rule=rule, c=c))
        except BAD_FILE_ERRORS as e:
            bad.append((s.path, describe_error(e)))
            continue
        nets.setdefault(tuple((i.name, tuple(i.shape)) for i in run.layers), []).append(run)
    if overlaps:
        doc.fig(figures.gmp_overlap_figure(overlaps))
    for i, runs in enumerate(nets.values()):
        if len(runs) >= 2:
            m = overlap_matrix(runs, rule=rule, c=c)
            doc.fig(figures.overlap_figure(m, title=f"Final effective kept sets, network {i + 1}"))
