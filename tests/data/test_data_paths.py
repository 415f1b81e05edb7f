"""Data root resolution: override, environment, source checkout, installed fallback."""

from __future__ import annotations

from pathlib import Path

import shedding
from shedding import paths


def test_override_beats_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.DATA_ROOT_ENV, str(tmp_path / "env"))
    assert paths.data_root(tmp_path / "cli") == (tmp_path / "cli").resolve()
    assert paths.data_root() == (tmp_path / "env").resolve()


def test_checkout_uses_repo_data(monkeypatch):
    monkeypatch.delenv(paths.DATA_ROOT_ENV, raising=False)
    repo = Path(shedding.__file__).resolve().parent.parent
    assert (repo / "pyproject.toml").is_file()  # the tests run from a checkout
    assert paths.repo_root() == repo
    assert paths.data_root() == repo / "data"


def test_installed_package_uses_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.DATA_ROOT_ENV, raising=False)
    monkeypatch.setattr(paths, "repo_root", lambda: None)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.data_root() == (tmp_path / ".cache" / "cascade-shedding").resolve()


def test_subfolders(tmp_path):
    assert paths.datasets_dir(tmp_path) == tmp_path / "datasets"
    assert paths.runs_dir(str(tmp_path)) == tmp_path / "runs"
