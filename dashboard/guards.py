"""Request guards: malformed input gets a short 4xx, never a 500 or a stalled server.

Installed by ``create_app`` on the Flask server behind Dash:

* a request body limit (``MAX_REQUEST_BYTES``, answered 413 by Flask itself);
* every ``/_dash-update-component`` body is checked before Dash sees it: JSON (not
  nested deeper than ``MAX_DEPTH``) holding an object with ``output``, ``outputs`` and
  a list of ``inputs``, each with ``id`` and ``property``, and naming at most
  ``MAX_RUNS`` runs (in a list value or a ``?runs=`` query); else 400 with the reason;
* an unknown file under ``_dash-component-suites/`` (traversal attempts included) is a
  404, and anything a callback raises on input that got past these checks is a 400
  (logged with its traceback, so a real bug stays visible to whoever runs the server).
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dash
import flask
from werkzeug.exceptions import HTTPException

MAX_REQUEST_BYTES = 1 << 20  # the largest callback body the pages send is a few kB
MAX_DEPTH = 64  # Dash's own bodies nest about 8 deep (figures are never sent back)
MAX_RUNS = 512  # run ids one callback may name (a study has a few hundred runs)

_log = logging.getLogger(__name__)


def _refuse(status: int, message: str) -> flask.Response:
    return flask.Response(message + "\n", status=status, mimetype="text/plain")


def _depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if d > MAX_DEPTH:
            break
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)
    return deepest


def _runs_named(value: Any) -> int:
    """How many run ids one input value names (a list of strings, or a ``?runs=`` query)."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return len(value)
    if isinstance(value, str) and "runs=" in value:
        query = parse_qs(urlsplit(value).query or value.lstrip("?"))
        return sum(len(v.split(",")) for v in query.get("runs", []))
    return 0


def callback_problem(body: bytes) -> str | None:
    """Why a ``/_dash-update-component`` body is malformed, or None when it is well formed.

    Example:
        >>> callback_problem(b"[1, 2]")
        'the body must be a JSON object, got a list'
    """
    try:
        doc = json.loads(body)
    except RecursionError:
        return f"the JSON body is nested deeper than {MAX_DEPTH} levels"
    except ValueError:
        return "the body is not JSON"
    if not isinstance(doc, dict):
        return f"the body must be a JSON object, got a {type(doc).__name__}"
    if _depth(doc) > MAX_DEPTH:
        return f"the JSON body is nested deeper than {MAX_DEPTH} levels"
    if not isinstance(doc.get("output"), str) or not isinstance(doc.get("outputs"), dict | list):
        return "the body needs 'output' (a string) and 'outputs'"
    for key in ("inputs", "state"):
        items = doc.get(key, [])
        if not isinstance(items, list):
            return f"'{key}' must be a list"
        for item in items:
            if isinstance(item, list):  # wildcard inputs come as lists of objects
                return "pattern-matching inputs are not used by this app"
            if not isinstance(item, dict) or "id" not in item or "property" not in item:
                return f"every item of '{key}' needs 'id' and 'property'"
            n = _runs_named(item.get("value"))
            if n > MAX_RUNS:
                return f"the request names {n} runs; at most {MAX_RUNS} per request"
    return None


def install(app: dash.Dash) -> None:
    """Adds the guards to ``app``'s Flask server (call once, from the app factory)."""
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    prefix = app.config.routes_pathname_prefix
    update, suites = f"{prefix}_dash-update-component", f"{prefix}_dash-component-suites/"

    @server.before_request
    def _check_callback() -> Any:
        req = flask.request
        if req.path != update or req.method != "POST":
            return None
        problem = callback_problem(req.get_data(cache=True))
        return None if problem is None else _refuse(400, f"bad callback request: {problem}")

    @server.errorhandler(Exception)
    def _no_500(e: Exception) -> Any:
        if isinstance(e, HTTPException):
            return e
        path = flask.request.path
        if path.startswith(suites) and isinstance(e, dash.exceptions.DependencyException):
            return _refuse(404, "not found")
        if path == update:
            _log.exception("callback failed on a request that passed the guards")
            return _refuse(400, f"bad callback request: {type(e).__name__}")
        raise e
