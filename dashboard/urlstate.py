"""The view state of a page in its query string, so a link reopens the same view.

Run page: ``/run/<id>?rule=absolute&threshold=0.001&layer=conv1&tab=layer``. Compare page:
``/compare?runs=a,b&rule=…&threshold=…&group=runs&snapshot=4``. The server reads the
query when it renders the page (every value is checked: anything unknown falls back to
the default); the browser writes it back with ``history.replaceState`` as the controls
change (a clientside callback: no request, no history entry per slider step).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import parse_qs

import dash
import numpy as np
from dash import Input, Output

from dashboard.data import default_value_index, rule_grid, rule_names
from shedding.analysis.thresholds import DEFAULT_RULE


def query(search: str | None) -> dict[str, str]:
    """The first value of each parameter of ``?a=1&b=2`` (at most 200 characters each)."""
    parsed = parse_qs((search or "").lstrip("?"), max_num_fields=32)
    return {k: v[0][:200] for k, v in parsed.items() if v}


@dataclass(frozen=True)
class Threshold:
    """A threshold rule and the slider position of its c value."""

    rule: str = DEFAULT_RULE
    index: int | None = None  # None: the rule's default position


def threshold(q: dict[str, str]) -> Threshold:
    """The rule and c of ``?rule=…&threshold=…``: the nearest stored grid value of a
    known rule, the defaults otherwise."""
    rule = q.get("rule", DEFAULT_RULE)
    if rule not in rule_names():
        return Threshold()
    grid = rule_grid(None, rule)
    try:
        c = float(q["threshold"])
    except (KeyError, ValueError):
        return Threshold(rule, default_value_index(rule, grid))
    if not np.isfinite(c) or c <= 0:
        return Threshold(rule, default_value_index(rule, grid))
    return Threshold(rule, int(np.argmin(np.abs(np.log(grid) - np.log(c)))))


def choice(q: dict[str, str], key: str, allowed: list[str], default: str) -> str:
    """``q[key]`` when it is one of ``allowed``, else ``default``."""
    value = q.get(key, default)
    return value if value in allowed else default


def integer(q: dict[str, str], key: str) -> int | None:
    """``q[key]`` as a non-negative integer, or None."""
    value = q.get(key, "")
    return int(value) if value.isdigit() else None


def writer_js(names: list[str], defaults: dict[str, str] | None = None) -> str:
    """A clientside callback that writes its inputs into the query string under
    ``names`` (the threshold as its c value, from the stored grids; lists comma-joined;
    empty values and those equal to ``defaults[name]`` dropped) with
    ``history.replaceState``, and updates nothing."""
    grids = {r: [float(f"{g:.6g}") for g in rule_grid(None, r)] for r in rule_names()}
    return (
        "function(){var names=" + json.dumps(names) + ",grids=" + json.dumps(grids) + ","
        "defaults=" + json.dumps(defaults or {}) + ";"
        "var q=new URLSearchParams(window.location.search),rule=null;"
        "for(var i=0;i<names.length;i++){var v=arguments[i];"
        "if(names[i]==='rule')rule=v;"
        "if(names[i]==='threshold'&&rule&&grids[rule]&&typeof v==='number')"
        "v=grids[rule][Math.max(0,Math.min(v,grids[rule].length-1))];"
        "if(v===null||v===undefined||v===''||(Array.isArray(v)&&!v.length)||"
        "defaults[names[i]]===v)q.delete(names[i]);"
        "else q.set(names[i],Array.isArray(v)?v.join(','):String(v));}"
        "var s=q.toString().replace(/%2C/g,','),url=window.location.pathname+(s?'?'+s:'');"
        "if(url!==window.location.pathname+window.location.search)"
        "window.history.replaceState(window.history.state,'',url);"
        "return window.dash_clientside.no_update;}"
    )


def query_writer(app: dash.Dash, sink: str, defaults: dict[str, str], **params: str) -> None:
    """Registers the clientside callback that keeps a page's query string in step with its
    controls: parameter name -> component id (its ``value``); values equal to
    ``defaults[name]`` are left out of the link (see :func:`writer_js`)."""
    app.clientside_callback(
        writer_js(list(params), defaults),
        Output(sink, "data"),
        *[Input(cid, "value") for cid in params.values()],
        prevent_initial_call=True,
    )
