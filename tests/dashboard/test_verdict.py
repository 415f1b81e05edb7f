"""The verdict's words follow shedding.analysis' attribution over the runs given."""

from __future__ import annotations

from dashboard.views.verdict import RunFigures, verdict_block, verdict_line

NAN = float("nan")


def _run(excess: float, *, shed: float = 0.3, control: float = 0.05) -> RunFigures:
    return RunFigures(shed, control, excess + 0.5, 0.5, excess)


def test_seeds_whose_interval_lies_above_one_are_attributable():
    text, word, a = verdict_line([_run(3.0), _run(3.2), _run(3.1)])
    assert word == "attributable to pruning" and a.attributable
    assert text.startswith("Retraining shed 30.0% of the kept weights (control: 5.0%); ")
    assert "C = 3.60, C_control = 0.50, C_excess = 3.10 [95% CI " in text and "3 seeds]" in text


def test_one_seed_or_a_wide_interval_is_not_attributable():
    assert verdict_line([_run(3.0)])[1] == "not attributable to pruning"
    assert "[1 seed: no interval]" in verdict_line([_run(3.0)])[0]
    assert verdict_line([_run(0.2), _run(2.5)])[1] == "not attributable to pruning"


def test_runs_without_a_control_say_so():
    text, word, a = verdict_line([RunFigures(0.3, NAN, 2.0, NAN, NAN)])
    assert word == "no control" and a.n_with_control == 0
    assert "(control: —)" in text and "C_excess = —" in text and "CI" not in text
    assert "no control run" in repr(verdict_block([RunFigures(0.3, NAN, 2.0, NAN, NAN)]))


def test_small_and_negative_figures_read_without_minus_zero():
    text, _, _ = verdict_line([_run(-0.0001, shed=0.004, control=0.0)])
    assert "-0.00" not in text and "C_excess = 0.00" in text and "shed 0.4%" in text
