"""Measure cascade weight shedding in run files (numpy, scipy, h5py, plotly; never torch).

Definitions are those of ``docs/definitions.md``; the threshold rule and value are parameters
everywhere (default: ``layer_relative``, c = 0.01, see :mod:`.thresholds`). Results are
small frozen dataclasses and numpy arrays with ``to_table()`` / ``to_dict()``.

Example (``run`` is an open :class:`tracking.reader.Run`, ``control`` its control run):
    >>> from shedding.analysis import shed_curve, cascade_summary, excess_summary
    >>> curve = shed_curve(run)                 # global shed fraction per snapshot
    >>> rounds = cascade_summary(run)           # one RoundSummary per prune round
    >>> excess = excess_summary(run, control)   # the same against the control
"""

from shedding.analysis.cascade import (
    ChannelShedding,
    DeadCut,
    LayerRound,
    RoundSummary,
    cascade_summary,
    channel_shedding,
    dead_causes,
    dead_channels,
)
from shedding.analysis.cli_format import analyze_text, compare_text
from shedding.analysis.compare import (
    Comparison,
    RunSummary,
    compare,
    compare_summaries,
    flatten_config,
    summarize_file,
    summarize_loaded,
    summarize_run,
    summarize_runs,
)
from shedding.analysis.controls import (
    Attribution,
    ExcessCurve,
    ExcessRound,
    attribution,
    excess_curve,
    excess_summary,
)
from shedding.analysis.drift import MaskDrift, mask_drift
from shedding.analysis.mechanism import Mechanism, mechanism
from shedding.analysis.overlap import (
    GmpOverlap,
    OverlapMatrix,
    gmp_overlap,
    gmp_sets,
    overlap_matrix,
    run_overlap,
)
from shedding.analysis.report import write_report
from shedding.analysis.runs import RunSet, find_control, load_runs
from shedding.analysis.shed import ShedCurve, shed_curve
from shedding.analysis.stats import GroupTest, MeanCI, bootstrap_ci, group_test, mean_ci
from shedding.analysis.thresholds import (
    DEFAULT_C,
    DEFAULT_RULE,
    THRESHOLD_RULES,
    ThresholdRule,
    layer_thresholds,
)

__all__ = [
    "DEFAULT_C",
    "DEFAULT_RULE",
    "THRESHOLD_RULES",
    "Attribution",
    "ChannelShedding",
    "Comparison",
    "DeadCut",
    "ExcessCurve",
    "ExcessRound",
    "GmpOverlap",
    "GroupTest",
    "LayerRound",
    "MaskDrift",
    "MeanCI",
    "Mechanism",
    "OverlapMatrix",
    "RoundSummary",
    "RunSet",
    "RunSummary",
    "ShedCurve",
    "ThresholdRule",
    "analyze_text",
    "attribution",
    "bootstrap_ci",
    "cascade_summary",
    "channel_shedding",
    "compare",
    "compare_summaries",
    "compare_text",
    "dead_causes",
    "dead_channels",
    "excess_curve",
    "excess_summary",
    "find_control",
    "flatten_config",
    "gmp_overlap",
    "gmp_sets",
    "group_test",
    "layer_thresholds",
    "load_runs",
    "mask_drift",
    "mean_ci",
    "mechanism",
    "overlap_matrix",
    "run_overlap",
    "shed_curve",
    "summarize_file",
    "summarize_loaded",
    "summarize_run",
    "summarize_runs",
    "write_report",
]
