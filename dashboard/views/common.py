"""Pieces shared by the pages: navigation, threshold controls, error guard, formatting."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import dash
import numpy as np
from dash import Input, Output, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.data import default_value_index, display_name, rule_grid, rule_names, run_info
from shedding.analysis.thresholds import DEFAULT_RULE, get_rule
from shedding.figures import empty_figure

log = logging.getLogger("dashboard")
F = TypeVar("F", bound=Callable[..., Any])

RULE_LABELS = {
    "layer_relative": "layer-relative: c × layer RMS at prune",
    "absolute": "absolute: τ = c",
    "gmp_relative": "GMP-relative: c × GMP threshold",
}


class NothingToShow(Exception):
    """Raised by a panel with nothing to draw yet; its message is shown as a plain hint."""


def error_text(e: BaseException) -> str:
    """The one line a panel shows instead of its content when it fails."""
    return f"cannot show this: {' '.join(str(e).split())[:300]}"


def guarded(fallback: Callable[[str], Any]) -> Callable[[F], F]:
    """Turns any exception of a callback function into ``fallback(message)``.

    A damaged file, a run deleted while shown or a bug in one panel must not take the
    page (let alone the app) down: the panel shows the reason and the rest keeps working.
    """

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except PreventUpdate:
                raise
            except NothingToShow as e:
                return fallback(str(e))
            except Exception as e:
                log.warning("%s failed: %s", fn.__name__, e, exc_info=log.isEnabledFor(10))
                return fallback(error_text(e))

        return inner  # type: ignore[return-value]

    return wrap


guard_figure = guarded(lambda msg: empty_figure(msg))
guard_div = guarded(lambda msg: html.Div(msg, className="error"))


FAST_MS = 250  # tick while a quick background job (re-read, overlap) is running


def fast_tick(tick_id: str, store: Any = None) -> dcc.Interval:
    """A page's fast tick, enabled only while a quick background job is running, so its
    result is drawn ~0.25 s after it lands instead of at the next slow tick. With
    ``store``, it starts enabled when the page's render left a job pending."""
    pending = store is not None and store.updates.pending()
    return dcc.Interval(id=tick_id, interval=FAST_MS, disabled=not pending)


def publish(store: Any, version: Any, previous: Any, fast_disabled: Any) -> tuple[Any, bool]:
    """(new version or no_update, fast tick disabled?) for a page's poll callback;
    PreventUpdate when neither changed, so nothing downstream runs."""
    disabled = not store.updates.pending()
    if version == previous and disabled == bool(fast_disabled):
        raise PreventUpdate
    return (no_update if version == previous else version), disabled


def nav(active: str) -> html.Nav:
    """The top bar: app name and page links."""
    links = [("/", "Runs"), ("/compare", "Compare")]
    return html.Nav(
        [html.Span("cascade-shedding", className="brand")]
        + [
            dcc.Link(label, href=href, className="navlink active" if label == active else "navlink")
            for href, label in links
        ],
        className="nav",
    )


def threshold_controls(
    rule_id: str,
    value_id: str,
    label_id: str,
    *,
    rule: str = DEFAULT_RULE,
    index: int | None = None,
) -> html.Div:
    """Rule dropdown and a slider over the rule's stored grid of c values, set to
    ``rule`` and slider position ``index`` (default: the rule's default c)."""
    grid = rule_grid(None, rule)
    max_, marks, value = slider_props(rule, grid)
    if index is not None:
        value = min(max(index, 0), max_)
    return html.Div(
        [
            html.Label("threshold rule", className="ctl-label"),
            dcc.Dropdown(
                id=rule_id,
                options=[{"label": RULE_LABELS.get(r, r), "value": r} for r in rule_names()],
                value=rule,
                clearable=False,
                className="ctl-rule",
            ),
            html.Label(id=label_id, className="ctl-label", children=value_label(rule, value)),
            html.Div(
                dcc.Slider(
                    id=value_id,
                    min=0,
                    max=max_,
                    step=1,
                    marks=marks,
                    value=value,
                    allow_direct_input=False,
                    updatemode="mouseup",
                ),
                className="ctl-slider",
            ),
        ],
        className="controls",
    )


def slider_props(rule: str, grid: np.ndarray) -> tuple[int, dict[int, str], int]:
    """(max, marks, default value) of the c slider for ``rule``'s grid."""
    every = max(1, len(grid) // 8)
    marks = {i: f"{g:.0e}" for i, g in enumerate(grid) if i % every == 0 or i == len(grid) - 1}
    return len(grid) - 1, marks, default_value_index(rule, grid)


def slider(rule: str) -> tuple[int, dict[int, str], int]:
    """Slider range, marks and default position for ``rule``."""
    get_rule(rule)
    return slider_props(rule, rule_grid(None, rule))


def threshold_callbacks(app: dash.Dash, rule_id: str, value_id: str, label_id: str) -> None:
    """Registers the callbacks of a page's threshold controls: rule -> slider range;
    (rule, slider) -> the "c = ..." label."""

    @app.callback(
        Output(value_id, "max"),
        Output(value_id, "marks"),
        Output(value_id, "value"),
        Input(rule_id, "value"),
        prevent_initial_call=True,
    )
    def _slider(rule: str) -> Any:
        return slider(rule)

    @app.callback(Output(label_id, "children"), Input(rule_id, "value"), Input(value_id, "value"))
    def _label(rule: str, index: Any) -> str:
        return value_label(rule, index)


def grid_value(rule: str, index: Any) -> float:
    """The c at slider position ``index`` of ``rule`` (clipped into the grid)."""
    grid = rule_grid(None, rule)
    i = int(index) if isinstance(index, int | float) else default_value_index(rule, grid)
    return float(grid[min(max(i, 0), len(grid) - 1)])


def value_label(rule: str, index: Any = None) -> str:
    """ "c = 0.01" text for the slider's current value."""
    c = grid_value(rule, index)
    what = {"absolute": "τ", "layer_relative": "c", "gmp_relative": "c"}.get(rule, "c")
    return f"{what} = {c:.3g}  (stored grid values; others: `shedding analyze --threshold`)"


def rule_text(rule: str, c: float) -> str:
    """Short description of a threshold, for figure titles."""
    if rule == "absolute":
        return f"|w| < {c:.3g}"
    if rule == "gmp_relative":
        return f"|w| < {c:.3g} × GMP threshold"
    return f"|w| < {c:.3g} × layer RMS at prune"


def fmt(value: float | None, spec: str = ".3f") -> str:
    """Number for display; em dash for missing."""
    if value is None or not np.isfinite(value):
        return "—"
    text = format(value, spec)
    if text.startswith("-") and not any(ch in "123456789" for ch in text):
        return text[1:]  # no "-0.000"
    return text


def run_name(store: Any, rid: str) -> str:
    """The readable name of the run behind an opaque id (memoised with the run); its
    file name when it cannot be read."""
    rf = store.catalog.get(rid)
    if rf is None:
        return rid
    try:
        with store.open(rid) as run:
            return run.memo("info", lambda: run_info(run, display_name(rf))).name
    except Exception:
        return display_name(rf)


def attrs(**values: str) -> dict[str, Any]:
    """HTML attributes whose names are not Python names (``data-*``, ``aria-*``) for a
    Dash html component: ``html.Main(..., **attrs(data_title="Runs"))``."""
    return {k.replace("_", "-"): v for k, v in values.items()}
