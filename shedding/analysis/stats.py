"""Statistics over seeds: bootstrap confidence intervals and two-group tests (scipy)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from shedding.analysis.serialize import jsonable

BOOTSTRAP_SEED = 0  # fixed: the same values always give the same interval
N_BOOTSTRAP = 10_000
LEVEL = 0.95


def finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The finite entries of ``values`` as float64 (NaN = missing, e.g. no control).

    Example:
        >>> finite([1.0, float("nan"), 2.0]).tolist()
        [1.0, 2.0]
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    return v[np.isfinite(v)]


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    level: float = LEVEL,
    n_boot: int = N_BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of the finite ``values``.

    NaN bounds with no finite value; a single value gives the degenerate (v, v), which
    callers must not read as evidence (see ``n``).

    Example:
        >>> lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0])
        >>> 1.0 <= lo <= 2.5 <= hi <= 4.0
        True
    """
    from scipy import stats  # slow to import (~1 s): only when an interval is asked for

    v = finite(values)
    if len(v) == 0:
        return float("nan"), float("nan")
    if len(v) == 1:  # scipy needs two values to resample; one gives the degenerate (v, v)
        return float(v[0]), float(v[0])
    res = stats.bootstrap(
        (v,),
        np.mean,
        n_resamples=n_boot,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


@dataclass(frozen=True)
class MeanCI:
    """Mean of the finite values and its bootstrap interval; n = number of finite values."""

    n: int
    mean: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN as None)."""
        return {k: jsonable(v) for k, v in asdict(self).items()}


#: Below this many values the percentile bootstrap undercovers badly (with 2 seeds its
#: "95%" interval is just [min, max]), so mean_ci uses Student's t interval instead.
T_INTERVAL_BELOW = 10


def t_interval(
    values: Sequence[float] | np.ndarray, *, level: float = LEVEL
) -> tuple[float, float]:
    """Student-t interval of the mean: mean ± t_{(1+level)/2, n-1} · s / √n.

    NaN bounds with fewer than 2 finite values (no spread to estimate).

    Example:
        >>> lo, hi = t_interval([1.0, 2.0])
        >>> round(lo, 2), round(hi, 2)
        (-4.85, 7.85)
    """
    from scipy import stats

    v = finite(values)
    if len(v) < 2:
        return float("nan"), float("nan")
    # the standard t's quantiles, scaled here: scipy's scale must be > 0, and identical
    # values (no spread) give the degenerate (mean, mean)
    q_lo, q_hi = stats.t.interval(level, len(v) - 1)
    s, root_n = v.std(ddof=1), np.sqrt(len(v))
    return float(v.mean() + q_lo * s / root_n), float(v.mean() + q_hi * s / root_n)


def mean_ci(values: Sequence[float] | np.ndarray) -> MeanCI:
    """Mean and 95% interval of the finite values: Student's t below
    ``T_INTERVAL_BELOW`` values (seeds are few), the percentile bootstrap above.

    Example:
        >>> mean_ci([2.0, 2.0]).mean
        2.0
    """
    v = finite(values)
    lo, hi = t_interval(v) if len(v) < T_INTERVAL_BELOW else bootstrap_ci(v)
    return MeanCI(len(v), float(v.mean()) if len(v) else float("nan"), lo, hi)


@dataclass(frozen=True)
class GroupTest:
    """Two-sided tests of ``a`` vs ``b``: Welch's t-test (unequal variances) and the
    Mann-Whitney U test (no normality assumption; with 3 vs 3 seeds its smallest
    possible p is 0.1). NaN when a group has fewer than 2 finite values."""

    n_a: int
    n_b: int
    welch_t: float
    welch_p: float
    mannwhitney_u: float
    mannwhitney_p: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN as None)."""
        return {k: jsonable(v) for k, v in asdict(self).items()}


def group_test(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> GroupTest:
    """Welch t-test and Mann-Whitney U test between two groups of per-seed values.

    Example:
        >>> t = group_test([1.0, 1.1, 0.9, 1.0], [2.0, 2.1, 1.9, 2.0])
        >>> t.welch_p < 0.01
        True
    """
    from scipy import stats as sps  # slow to import (~1 s): only when a test is asked for

    x, y = finite(a), finite(b)
    nan = float("nan")
    if len(x) < 2 or len(y) < 2:
        return GroupTest(len(x), len(y), nan, nan, nan, nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # identical values: t is NaN, fine
        t = sps.ttest_ind(x, y, equal_var=False)
        u = sps.mannwhitneyu(x, y, alternative="two-sided")
    return GroupTest(
        len(x), len(y), float(t.statistic), float(t.pvalue), float(u.statistic), float(u.pvalue)
    )
