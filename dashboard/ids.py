"""Every Dash component id of the app, in one place.

Callbacks and layouts refer to these constants, never to string literals, so a renamed
component cannot silently break a callback. Ids are plain strings (no pattern-matching
ids are needed: every page has a fixed set of components).
"""

# --------------------------------------------------------------------------- shell
URL = "url"
PAGE = "page"
PAGE_KEY = "page-key"  # dcc.Store: path?query of the page rendered in PAGE
TICK = "live-tick"  # dcc.Interval driving live refresh
NAV = "nav"

# --------------------------------------------------------------------------- runs page
RUNS_TABLE = "runs-table"
RUNS_BAD = "runs-bad"
RUNS_VERSION = "runs-version"  # dcc.Store: fingerprint of the directory listing
RUNS_COMPARE_LINK = "runs-compare-link"
RUNS_FAST = "runs-fast"  # dcc.Interval: 250 ms ticks while a quick background job runs

# --------------------------------------------------------------------------- run page
RUN_ID = "run-id"  # dcc.Store: the opaque id of the run shown
RUN_FAST = "run-fast"
RUN_VERSION = "run-version"  # dcc.Store: (snapshots, status); changes only when new data
RUN_HEADER = "run-header"
RUN_SUMMARY = "run-summary"
RUN_METRICS = "run-metrics"
RUN_RULE = "run-rule"
RUN_VALUE = "run-value"
RUN_VALUE_LABEL = "run-value-label"
RUN_SHED_LAYER = "run-shed-layer"
RUN_SHED = "run-shed"
RUN_LAYER = "run-layer"
RUN_TABS = "run-tabs"
RUN_HIST = "run-hist"
RUN_FLOW = "run-flow"
RUN_CHANNELS = "run-channels"
RUN_TRAJ = "run-traj"
RUN_URL_SINK = "run-url-sink"  # dcc.Store: output of the query-string writer (never set)

# --------------------------------------------------------------------------- compare page
CMP_RUNS = "cmp-runs"
CMP_VERSION = "cmp-version"
CMP_FAST = "cmp-fast"
CMP_RULE = "cmp-rule"
CMP_VALUE = "cmp-value"
CMP_VALUE_LABEL = "cmp-value-label"
CMP_GROUP = "cmp-group"
CMP_SHED = "cmp-shed"
CMP_ACC = "cmp-acc"
CMP_SNAPSHOT = "cmp-snapshot"
CMP_OVERLAP = "cmp-overlap"
CMP_OVERLAP_JOB = "cmp-overlap-job"  # dcc.Store: key of a pending overlap computation
CMP_NOTE = "cmp-note"
CMP_VERDICT = "cmp-verdict"
CMP_URL_SINK = "cmp-url-sink"
