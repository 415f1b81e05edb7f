"""The study command: runs a (tiny) study's sweep files, then writes its findings tables."""

from __future__ import annotations

import json

import pytest
from tiny import TINY

from shedding import study
from shedding.analysis import summarize_run
from shedding.cli import main
from shedding.config import parse_override
from shedding.engine import identity
from shedding.studies import first
from shedding.studies.catalog import Part, Study
from shedding.studies.tables import fmt
from shedding.sweep import expand, read_sweep
from tracking import open_run

SET = dict(parse_override(o) for o in TINY)


def _sweep(path, fixed: dict, grid: dict) -> str:
    lines = ['base = "mnist1d-demo"', "[set]"]
    lines += [f'"{k}" = {json.dumps(v)}' for k, v in {**SET, **fixed}.items()]
    lines += ["[grid]"] + [f'"{k}" = {json.dumps(v)}' for k, v in grid.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def tiny_study(tmp_path, monkeypatch):
    parts = (
        _sweep(
            tmp_path / "tiny.toml",
            {"prune.sparsity": 0.8},
            {"prune.method": ["gmp", "random"], "retrain.protocol": ["lrr", "ft"], "seed": [0, 1]},
        ),
        _sweep(
            tmp_path / "tiny-iterative.toml",
            {"prune.mode": "iterative", "prune.rate": 0.5, "prune.sparsity": 0.75},
            {"seed": [0]},
        ),
        _sweep(
            tmp_path / "tiny-scratch-reduced.toml",
            {"prune.sparsity": 0.8},
            {"retrain.protocol": ["scratch", "reduced"], "seed": [0]},
        ),
    )
    kinds = ("main", "iterative", "reduced")
    entry = Study("tiny", tuple(map(Part, parts, kinds)), "shedding.studies.first:write_findings")
    monkeypatch.setitem(study.STUDIES, "tiny", entry)
    return parts


def _acc(path) -> float:
    with open_run(path) as r:
        return summarize_run(r).test_acc


def _row(text: str, first_cells: list[str]) -> list[str]:
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[: len(first_cells)] == first_cells:
            return cells
    raise AssertionError(f"no table row starting {first_cells}")


@pytest.mark.slow
def test_tiny_study_runs_every_part_and_its_tables_match_the_run_files(
    tiny_study, data_root, tmp_path
):
    rdir, out = tmp_path / "runs", tmp_path / "tables"
    configs = study.study_configs("tiny")
    # 8 pruned + 4 controls; the iterative run + its own 2-round control; 2 Q4 runs
    assert len(configs) == 12 + 2 + 2
    (it_ctl,) = [c for _, c in configs if identity.is_control(c) and c.prune.rounds == 2]
    assert it_ctl.seed == 0 and it_ctl.retrain.protocol == "lrr"
    code = study.run_study(
        "tiny", data_root=data_root, runs_dir=rdir, out=out, jobs=2, progress=False
    )
    assert code == 0
    text = (out / "findings.md").read_text()
    assert "Missing" not in text and "Unreadable" not in text
    assert len(json.loads((out / "summaries.json").read_text())) == 16
    for fig in ("fig-accuracy.svg", "fig-protocols.svg", "fig-cascade-vs-control.svg"):
        assert (out / fig).read_text().startswith("<svg") and f"]({fig})" in text

    main_cfgs = expand(read_sweep(tiny_study[0]))

    def path(method: str, protocol: str, seed: int):
        (cfg,) = [
            c
            for c in main_cfgs
            if (c.prune.method, c.prune.sparsity, c.retrain.protocol, c.seed)
            == (method, 0.8, protocol, seed)
        ]
        return identity.run_path(rdir, cfg)

    # Q2: the GMP/LRR cell is the mean ± t half-width of the two seeds' final accuracies
    gmp = [_acc(path("gmp", "lrr", s)) for s in (0, 1)]
    rnd = [_acc(path("random", "lrr", s)) for s in (0, 1)]
    lrr_table = text.split("after LRR")[1]
    cells = _row(lrr_table, ["80%"])
    assert cells[1] == fmt(gmp) and cells[2] == fmt(rnd)
    assert cells[5] == fmt([g - r for g, r in zip(gmp, rnd, strict=True)], 1, 100, sign=True)
    # Q3: the iterative row exists; Q4: the reduced network's accuracy is its run's
    assert _row(text, ["iterative (50%/round) 75%"])[3] != "–"
    (red_cfg,) = [c for p, c in configs if c.retrain.protocol == "reduced"]
    q4 = _row(text.split("**Q4")[1], ["80%"])
    assert q4[5] == fmt([_acc(identity.run_path(rdir, red_cfg))])
    # Q5: GMP's own mask is GMP's set on the dense weights; a random mask is not
    j_gmp = float(_row(text.split("**Q5")[1], ["gmp", "80%"])[4].split(" ")[0])
    j_rnd = float(_row(text.split("**Q5")[1], ["random", "80%"])[4].split(" ")[0])
    assert j_gmp > 0.95 and j_rnd < 0.3

    # --tables-only recomputes the same tables from the files, running nothing
    stamps = {p: p.stat().st_mtime_ns for p in rdir.glob("*.h5")}
    assert main(["study", "tiny", "--tables-only", "--runs-dir", str(rdir), "--out", str(out)]) == 0
    again = (out / "findings.md").read_text()
    assert again.split("**Q1")[1] == text.split("**Q1")[1]
    assert {p: p.stat().st_mtime_ns for p in rdir.glob("*.h5")} == stamps


def test_unknown_study_and_empty_runs_dir_fail_clearly(tmp_path, capsys):
    assert main(["study", "nope"]) == 2
    assert "unknown study 'nope'; valid: quick, full, first, regimes" in capsys.readouterr().err
    assert main(["study", "full", "--tables-only", "--runs-dir", str(tmp_path)]) == 2
    assert "no finished run of study 'full'" in capsys.readouterr().err


def test_builtin_studies_expand_and_every_part_has_a_role():
    for name, entry in study.STUDIES.items():
        parts = entry.sweeps
        if study.findings_writer(name) is first.write_findings:
            assert study.part_kind(name, parts[0]) == "main"
            assert all(study.part_kind(name, p) for p in parts)
    full = study.study_configs("full")
    # main grid 108 + 12 controls; Q4 12; iterative 6 + 6 four-round controls (one per
    # protocol and seed); regime cases 72 + 36 controls (3 of them the main grid's LRR
    # controls) and the ablation 12 + 12
    assert len(full) == 120 + 12 + 12 + 105 + 24 == 273
    assert len({identity.run_id(c) for _, c in full}) == 273
    assert sum(c.prune.rounds == 4 for _, c in full) == 6
    # the quick study: 2 regimes x 2 pruners x 3 seeds, a control and its twin per regime
    # and seed; every one of its runs is also a run of the regime study and the full one
    quick = {identity.run_id(c) for _, c in study.study_configs("quick")}
    assert len(quick) == 12 + 12
    assert quick <= {identity.run_id(c) for _, c in study.study_configs("regimes")}
    assert quick <= {identity.run_id(c) for _, c in full}


def _regime_sweep(path, fixed: dict, cases: dict, grid: dict) -> str:
    lines = ['base = "mnist1d-demo"', "noise_controls = true", "[set]"]
    lines += [f'"{k}" = {json.dumps(v)}' for k, v in {**SET, **fixed}.items()]
    for case, overrides in cases.items():
        lines += [f"[cases.{case}]"] + [f'"{k}" = {json.dumps(v)}' for k, v in overrides.items()]
    lines += ["[grid]"] + [f'"{k}" = {json.dumps(v)}' for k, v in grid.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.slow
def test_demo_prints_the_run_table_and_a_sentence_per_regime(
    data_root, tmp_path, monkeypatch, capsys
):
    quick = _regime_sweep(
        tmp_path / "quick.toml",
        {"prune.sparsity": 0.1, "retrain.protocol": "clr"},
        {"mild": {}, "strong": {"retrain.weight_decay": 0.05, "retrain.lr": 0.4}},
        {"prune.method": ["gmp"], "seed": [0, 1]},
    )
    entry = Study(
        "quick", (Part(quick, "cases"),), "shedding.studies.regimes:write_regime_findings"
    )
    monkeypatch.setitem(study.STUDIES, "quick", entry)
    rdir = tmp_path / "runs"
    args = ["demo", "--data-root", str(data_root), "--runs-dir", str(rdir), "--jobs", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "(control)" in out and "C excess" in out  # the per-run table
    assert len(list(rdir.glob("*.h5"))) == 4 + 2 * 2 * 2  # pruned, controls, twin controls
    sentences = [ln for ln in out.splitlines() if ln.startswith(("mild (", "strong ("))]
    assert len(sentences) == 2 and all("C_excess =" in ln for ln in sentences)
    assert "weight decay 0.05" in sentences[1]
    tables = data_root / "study" / "quick" / "findings.md"
    assert f"findings tables (mean ± 95% interval over seeds): {tables}" in out
    assert "shedding dashboard" in out  # what to do next
    text = tables.read_text()
    assert "| strong | clr | gmp | 2 |" in text and "Control-to-control noise" in text


@pytest.mark.slow
def test_a_study_of_a_grid_and_regime_cases_writes_both_findings(data_root, tmp_path, monkeypatch):
    grid = _sweep(
        tmp_path / "grid.toml",
        {"prune.sparsity": 0.5, "retrain.protocol": "lrr"},
        {"prune.method": ["gmp", "random"], "seed": [0]},
    )
    cases = _regime_sweep(
        tmp_path / "cases.toml",
        {"prune.sparsity": 0.1, "retrain.protocol": "clr"},
        {"mild": {}, "strong": {"retrain.weight_decay": 0.05, "retrain.lr": 0.4}},
        {"prune.method": ["gmp"], "seed": [0]},
    )
    parts = (Part(grid, "main"), Part(cases, "cases"))
    entry = Study("both", parts, "shedding.studies.combined:write_findings")
    monkeypatch.setitem(study.STUDIES, "both", entry)
    rdir, out = tmp_path / "runs", tmp_path / "out"
    # grid: 2 pruned + 1 control; cases: 2 pruned, 2 controls and their 2 twins
    assert len(study.study_configs("both")) == 3 + 6
    code = study.run_study(
        "both", data_root=data_root, runs_dir=rdir, out=out, jobs=2, progress=False
    )
    assert code == 0
    text = (out / "findings.md").read_text()
    assert text.startswith("# Study `both`: tables") and "**Q1, main grid" in text
    grid_part, regime_part = text.split("\n## Retraining regimes\n")
    assert "| strong | clr | gmp | 1 |" in regime_part and "Control-to-control noise" in regime_part
    assert "strong" not in grid_part and not regime_part.lstrip().startswith("# ")
    assert len(json.loads((out / "summaries.json").read_text())) == 3
    assert len(json.loads((out / "regimes" / "summaries.json").read_text())) == 6
    assert not (out / "regimes" / "findings.md").exists()


def test_the_manifest_names_parts_kinds_and_writers_and_bad_entries_fail_clearly(tmp_path):
    from shedding.errors import ConfigError
    from shedding.studies import catalog, regimes

    assert study.STUDIES["full"].sweeps[:3] == ("full", "full-scratch-reduced", "full-iterative")
    assert study.part_kind("full", "full-regimes") == "cases"
    assert study.findings_writer("regimes") is regimes.write_regime_findings
    with pytest.raises(ConfigError, match="not a part of study 'full'"):
        study.part_kind("full", "regimes")
    text = '[a]\nfindings = "m:f"\nparts = [{ sweep = "x.toml", kind = "main" }]\n'
    assert catalog.read_manifest(text)["a"].parts == (Part("x.toml", "main"),)
    for bad in (
        '[a]\nparts = [{ sweep = "x" }]\nfindings = "m:f"',
        '[a]\nparts = []\nfindings = "m"',
    ):
        with pytest.raises(ConfigError, match="study 'a'"):
            catalog.read_manifest(bad)


def test_a_study_whose_kinds_or_writer_do_not_fit_fails_clearly(tmp_path, monkeypatch):
    from shedding.errors import ConfigError

    part = _sweep(tmp_path / "one.toml", {}, {"seed": [0]})
    wrong = Study("wrong", (Part(part, "cases"),), "shedding.studies.first:write_findings")
    monkeypatch.setitem(study.STUDIES, "wrong", wrong)
    with pytest.raises(ConfigError, match="kinds its findings do not use"):
        first.write_findings("wrong", tmp_path, tmp_path / "out")
    missing = Study("missing", (Part(part, "main"),), "shedding.studies.nope:write")
    monkeypatch.setitem(study.STUDIES, "missing", missing)
    assert main(["study", "missing", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert not (tmp_path / "runs").exists()  # it fails before running anything
