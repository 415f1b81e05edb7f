"""The Dash app: ``create_app`` (factory, for tests and WSGI servers) and ``serve``.

Callbacks are registered inside the factory (a module-level ``@dash.callback`` binds to
whichever app is created first): the route here, each page's by the ``register`` function
of its view module, beside its layout. Each is a one-line wrapper over a plain function
of ``dashboard.views``, which tests call directly. All state lives in the app's own
:class:`~dashboard.store.RunStore` (``app.server.extensions["cascade_shedding"]``).

Live updates: one ``dcc.Interval`` ticks every ``refresh_ms``; each page's poll callback
only ``stat``s the files. A changed file is re-read on the store's updates thread (fresh
handle, statistics and summaries warmed, then swapped in) and only then is the page's
version bumped, so figures redraw once, from memory, and no callback waits on a re-read.
While such a quick background job runs, the page's own 250 ms tick is on, so its result
shows up at once; PreventUpdate everywhere else keeps idle pages silent.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dash
import flask
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import data, guards, ids
from dashboard.catalog import RunCatalog
from dashboard.jobs import EXIT_WAIT_S
from dashboard.store import RunStore
from dashboard.style import INDEX_STRING
from dashboard.views import compare, overlap, run, runs
from dashboard.views.common import attrs, nav

EXTENSION = "cascade_shedding"
#: plotly.js 4.1.1 with only the traces this app draws (scatter, bar, heatmap), MIT licence
#: beside it, rebuilt by static/build-plotly.sh. Evaluating plotly.js is the largest task of
#: a first visit: the full bundle (4.8 MB) took 2+ s on the 2-core machine, the published
#: "cartesian" partial bundle 1.1 s, this one 0.4 s. Delete the file to serve the full one.
PLOTLY_BUNDLE = Path(__file__).parent / "static" / "plotly-shedding.min.js"
_PLOTLY_PATH = "_dash-component-suites/plotly/package_data/plotly.min.js"
#: regenerator-runtime 0.13.11 (MIT, licence beside it), served in place of Dash's
#: @babel/polyfill 7.12 (core-js 2 for pre-2017 browsers plus this runtime, which
#: dash-renderer and dcc call as a global). The polyfill cost ~130 ms of evaluation and
#: ~60 ms of wrapped calls per first visit on the 2-core machine; every browser Dash 4
#: supports has the rest natively. Delete the file to serve the polyfill again.
REGENERATOR = Path(__file__).parent / "static" / "regenerator-runtime.js"
_POLYFILL_PREFIX = "_dash-component-suites/dash/deps/polyfill@"


def render_page(store: RunStore, pathname: str | None, search: str | None) -> Any:
    """The page for a URL: ``/`` runs, ``/run/<id>`` one run, ``/compare?runs=a,b``."""
    path = (pathname or "/").rstrip("/") or "/"
    if path == "/":
        return runs.layout()
    if path.startswith("/run/"):
        return run.layout(store, path[len("/run/") :], search)
    if path == "/compare":
        return compare.layout(store, search)
    return html.Div(
        [
            nav(""),
            html.Main(
                [html.H1("Not found"), dcc.Link("all runs", href="/")],
                className="page",
                **attrs(data_title="Not found"),
            ),
        ]
    )


def page_key(pathname: str | None, search: str | None) -> str:
    """The key of a page (path and query) that the route compares with what is shown."""
    path = (pathname or "/").rstrip("/") or "/"
    return path + (search or "")


def route(
    store: RunStore, pathname: str | None, search: str | None, rendered: str | None
) -> tuple[Any, str]:
    """(page, its key) for the URL; PreventUpdate when that page is already shown (the
    first one is rendered into the initial layout, see ``initial_layout``)."""
    key = page_key(pathname, search)
    if key == rendered:
        raise PreventUpdate
    return render_page(store, pathname, search), key


def initial_layout(
    store: RunStore, referrer: str | None, host: str | None, refresh_ms: int = 2000
) -> html.Div:
    """The app shell, with the page of the browser's URL already rendered in it.

    The renderer fetches the layout from the page it loaded, so the request's Referer
    names that page: rendering it here saves the route callback's round trip (and the
    chunk loads and figure callbacks waiting behind it) on a first visit. Without a
    usable Referer (stripped by a proxy or a referrer policy) the shell is empty and the
    route callback renders the page, as it does for every later navigation.
    """
    page, key = None, None
    ref = urlsplit(referrer or "")
    if ref.path and ref.netloc == host:
        search = f"?{ref.query}" if ref.query else ""
        page, key = render_page(store, ref.path, search), page_key(ref.path, search)
    return html.Div(
        [
            dcc.Location(id=ids.URL, refresh=False),
            dcc.Interval(id=ids.TICK, interval=max(200, int(refresh_ms))),
            dcc.Store(id=ids.PAGE_KEY, data=key),
            html.Div(page, id=ids.PAGE),
        ]
    )


def create_app(
    runs_dir: str | Path, *, refresh_ms: int = 2000, secret: bytes | None = None
) -> dash.Dash:
    """A Dash app serving the run files under ``runs_dir`` (read-only).

    Args:
        runs_dir: directory searched (recursively) for ``*.h5`` run files; nothing outside
            it is ever read.
        refresh_ms: live refresh period of the open page.
        secret: key of the opaque run ids (default: none, so an id depends only on the
            file's path under ``runs_dir`` and links stay valid across restarts).

    Example:
        >>> app = create_app("data/runs")          # doctest: +SKIP
        >>> app.server  # a Flask app for any WSGI server    # doctest: +SKIP
    """
    store = RunStore(RunCatalog(runs_dir, secret=secret), warm=data.warm)
    app = dash.Dash(
        __name__,
        title="cascade-shedding",
        update_title=None,  # type: ignore[arg-type]  # Dash documents None: no title change
        suppress_callback_exceptions=True,  # pages are rendered on demand
        include_assets_files=False,
        serve_locally=True,  # works offline: JS bundles from the installed packages
        enable_mcp=False,
        index_string=INDEX_STRING,
    )
    app.server.extensions[EXTENSION] = store
    guards.install(app)
    _serve_lighter_scripts(app)
    _preload_plotly(app)

    def _layout() -> html.Div:  # Dash calls it per /_dash-layout request
        if not flask.has_request_context():
            return initial_layout(store, None, None, refresh_ms)
        return initial_layout(store, flask.request.referrer, flask.request.host, refresh_ms)

    app.layout = _layout
    _register(app, store)
    return app


def _serve_lighter_scripts(app: dash.Dash) -> None:
    """Answers the requests for plotly.js and for Dash's polyfill (its URL carries a
    version fingerprint, hence the prefix) with the lighter files of ``static/``."""
    prefix = app.config.routes_pathname_prefix
    plotly_path, polyfill = f"{prefix}{_PLOTLY_PATH}", f"{prefix}{_POLYFILL_PREFIX}"

    @app.server.before_request
    def _lighter() -> Any:
        path = flask.request.path
        if path == plotly_path and PLOTLY_BUNDLE.is_file():
            file = PLOTLY_BUNDLE
        elif path.startswith(polyfill) and path.endswith(".js") and REGENERATOR.is_file():
            file = REGENERATOR
        else:
            return None
        return flask.send_file(file, mimetype="text/javascript", max_age=86400)


def _preload_plotly(app: dash.Dash) -> None:
    """Starts loading plotly.js with the page instead of after the first graph mounts.

    dcc.Graph requests plotly.js only once a page with a graph has been rendered, and
    evaluating it is the largest single task of a first visit (0.6-0.8 s of main thread
    on a 2-core machine). dcc.Graph waits on ``Promise.resolve(window.Plotly || load())``,
    so a promise put in ``window.Plotly`` by the page head makes it wait for this early
    load instead of starting its own; the bundle then replaces the promise with Plotly.
    """
    url = json.dumps(f"{app.config.requests_pathname_prefix}{_PLOTLY_PATH}")
    # only pages that draw graphs: on the runs page (a table) the 0.6 s evaluation would
    # delay the table; a run opened from it loads plotly.js as dcc.Graph does by itself
    script = (
        "<script>if(/\\/(run\\/[^/]+|compare)\\/?$/.test(location.pathname)){"
        "window.Plotly=window.Plotly||new Promise(function(ok,fail){"
        "var s=document.createElement('script');s.src=" + url + ";s.async=true;"
        "s.onload=function(){ok()};s.onerror=fail;document.head.appendChild(s)})}</script>"
    )
    app.index_string = app.index_string.replace("</head>", script + "</head>", 1)


#: The view modules: each registers its page's callbacks next to its layout.
VIEWS = (runs, run, compare, overlap)


def _register(app: dash.Dash, store: RunStore) -> None:
    """The route callback, then every view's own callbacks."""

    @app.callback(
        Output(ids.PAGE, "children"),
        Output(ids.PAGE_KEY, "data"),
        Input(ids.URL, "pathname"),
        State(ids.URL, "search"),
        State(ids.PAGE_KEY, "data"),
    )
    def _route(pathname: str | None, search: str | None, rendered: str | None) -> Any:
        return route(store, pathname, search, rendered)

    for view in VIEWS:
        view.register(app, store)


def serve(
    runs_dir: str | Path, *, host: str = "127.0.0.1", port: int = 8050, refresh_ms: int = 2000
) -> None:
    """Serves the dashboard until interrupted (debug off; Flask's threaded server).

    Example:
        >>> serve("data/runs", port=8050)   # doctest: +SKIP
    """
    root = Path(runs_dir)
    if not root.is_dir():
        from shedding.errors import ConfigError

        raise ConfigError(
            f"runs directory {str(root)!r} does not exist; "
            "pass the folder holding the .h5 run files"
        )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per poll request
    app = create_app(root, refresh_ms=refresh_ms)
    store = app.server.extensions[EXTENSION]
    try:
        app.run(host=host, port=port, debug=False)
    finally:
        if store.jobs.pending() or store.updates.pending():
            print(
                "waiting for a background computation to end "
                f"(at most {EXIT_WAIT_S:.0f} s; Ctrl-C again to quit at once)",
                flush=True,
            )
        try:
            store.close()
        except KeyboardInterrupt:
            os._exit(130)  # the app only reads: nothing is lost by not waiting
