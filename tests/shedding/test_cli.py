"""The CLI: every command documented with an example; user errors are one line, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shedding.cli import EXAMPLES, build_parser, main


def _subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_every_command_has_an_example_in_its_help(capsys):
    commands = _subcommands()
    assert set(commands) == set(EXAMPLES)
    for cmd in commands:
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        out = capsys.readouterr().out
        assert "example:" in out and EXAMPLES[cmd].split()[1] in out, cmd


def test_top_level_help_lists_examples():
    out = subprocess.run(
        [sys.executable, "-m", "shedding", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "examples:" in out.stdout and "shedding run" in out.stdout


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["config", "--set", "train.lrr=1"], "unknown config key 'train.lrr'"),
        (["config", "no-such-preset"], "neither a config file nor a preset"),
        (
            ["run", "mnist1d-demo", "--set", "prune.method=magic", "--quiet"],
            "unknown pruner 'magic'",
        ),
        (["run", "mnist1d-demo", "--set", "prune.sparsity=1.5", "--quiet"], "sparsity"),
        (
            ["run", "mnist1d-demo", "--set", "retrain.protocol=nope", "--quiet"],
            "unknown protocol 'nope'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, needle, tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "shedding",
            *argv,
            *(["--data-root", str(tmp_path)] if argv[0] == "run" else []),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
