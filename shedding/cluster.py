"""Sweeps on a cluster: a sweep file's ``[executor]`` table as submitit parameters.

::

    [executor]
    partition = "gpu"
    time = "12:00:00"          # minutes (int) or "[D-]HH:MM:SS"
    gpus_per_node = 1
    cpus_per_task = 8
    mem_gb = 32
    account = "my-lab"
    qos = "normal"
    array_parallelism = 16     # runs of the job array that may run at once
    sbatch = ["--constraint=a100", "--mail-type=END"]   # extra #SBATCH lines
    setup = ["module load cuda/12.4"]                    # shell lines before the run
    wait = true                # false: submit the array and return

The runs of one sweep go out as one job array (``executor.batch()``), each task one run.
Re-running the sweep skips the runs whose file says "complete" and resumes the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from shedding.errors import ConfigError

# our key -> (submitit AutoExecutor parameter, accepted types)
EXECUTOR_KEYS: dict[str, tuple[str, tuple[type, ...]]] = {
    "partition": ("slurm_partition", (str,)),
    "time": ("timeout_min", (int, str)),
    "gpus_per_node": ("gpus_per_node", (int,)),
    "cpus_per_task": ("cpus_per_task", (int,)),
    "mem_gb": ("mem_gb", (int, float)),
    "account": ("slurm_account", (str,)),
    "qos": ("slurm_qos", (str,)),
    "array_parallelism": ("slurm_array_parallelism", (int,)),
    "sbatch": ("slurm_additional_parameters", (list,)),
    "setup": ("slurm_setup", (list,)),
    "name": ("name", (str,)),
}
OWN_KEYS = {"wait": bool, "folder": str}
_TIME = re.compile(r"^(?:(\d+)-)?(\d+):(\d{2})(?::(\d{2}))?$")
_SBATCH = re.compile(r"^--([A-Za-z][\w-]*)(?:=(.+))?$")


def time_minutes(value: int | str) -> int:
    """Slurm time limit in whole minutes (seconds round up).

    Example:
        >>> time_minutes("1-02:30:10"), time_minutes(90), time_minutes("0:05")
        (1591, 90, 5)
    """
    if isinstance(value, int):
        if value <= 0:
            raise ConfigError(f"[executor] time = {value} must be a positive number of minutes")
        return value
    m = _TIME.match(value.strip())
    if m is None:
        raise ConfigError(
            f"[executor] time = {value!r} is not minutes or [D-]HH:MM[:SS]; fix: e.g. '12:00:00'"
        )
    days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    return days * 1440 + hours * 60 + minutes + (1 if seconds else 0)


def sbatch_options(lines: list[Any]) -> dict[str, Any]:
    """Extra ``#SBATCH`` lines as submitit's ``slurm_additional_parameters``.

    Example:
        >>> sbatch_options(["--constraint=a100", "--exclusive", "#SBATCH --mail-type=END"])
        {'constraint': 'a100', 'exclusive': True, 'mail-type': 'END'}
    """
    out: dict[str, Any] = {}
    for line in lines:
        text = str(line).strip().removeprefix("#SBATCH").strip()
        m = _SBATCH.match(text)
        if not isinstance(line, str) or m is None:
            raise ConfigError(
                f"[executor] sbatch entry {line!r} is not an sbatch option; fix: write it "
                "as '--name=value' or '--flag'"
            )
        out[m.group(1)] = m.group(2) if m.group(2) is not None else True
    return out


def executor_parameters(table: Mapping[str, Any]) -> dict[str, Any]:
    """submitit ``update_parameters`` keywords from a sweep file's ``[executor]`` table.

    Example:
        >>> executor_parameters({"partition": "gpu", "time": "2:00:00", "gpus_per_node": 1})
        {'slurm_partition': 'gpu', 'timeout_min': 120, 'gpus_per_node': 1}
    """
    valid = sorted([*EXECUTOR_KEYS, *OWN_KEYS])
    unknown = sorted(set(table) - set(valid))
    if unknown:
        raise ConfigError(f"unknown [executor] keys {unknown}; valid: {valid}")
    params: dict[str, Any] = {}
    for key, value in table.items():
        if key in OWN_KEYS:
            if not isinstance(value, OWN_KEYS[key]):
                raise ConfigError(
                    f"[executor] {key} = {value!r} must be a {OWN_KEYS[key].__name__}"
                )
            continue
        name, types = EXECUTOR_KEYS[key]
        if isinstance(value, bool) or not isinstance(value, types):
            kinds = " or ".join(t.__name__ for t in types)
            raise ConfigError(f"[executor] {key} = {value!r} must be {kinds}")
        params[name] = _converted(key, value)
    return params


def _converted(key: str, value: Any) -> Any:
    """A type-checked [executor] value as submitit takes it."""
    if key == "time":
        return time_minutes(value)
    if key == "sbatch":
        return sbatch_options(value)
    if key == "setup":
        return [str(v) for v in value]
    if isinstance(value, int | float) and value <= 0:
        raise ConfigError(f"[executor] {key} = {value!r} must be positive")
    return value


def make_executor(cluster: str, folder: Path, table: Mapping[str, Any]) -> Any:
    """A submitit AutoExecutor for ``cluster`` ("slurm" or "local") with the table's
    parameters (the ``slurm_*`` ones are ignored by the local executor)."""
    try:
        import submitit
    except ImportError:
        raise ConfigError(
            "--executor slurm needs submitit; fix: pip install 'cascade-shedding[slurm]'"
        ) from None
    params = executor_parameters(table)
    params.setdefault("timeout_min", 120)
    params.setdefault("name", "shedding-sweep")
    try:
        ex = submitit.AutoExecutor(folder=folder, cluster=cluster)
    except RuntimeError as e:  # no srun: not on a Slurm cluster
        raise ConfigError(
            f"--executor {cluster}: {e}; fix: run the sweep on the cluster's login node, "
            "or use --executor submitit-local"
        ) from None
    ex.update_parameters(**params)
    return ex


def submit_array(
    fn: Callable[..., Any],
    args: Sequence[tuple[Any, ...]],
    *,
    cluster: str,
    runs_dir: Path,
    table: Mapping[str, Any],
) -> list[Any]:
    """Submit ``fn(*a)`` for every ``a`` in ``args`` as one job array; returns the jobs.

    submitit's files (pickled calls, logs, sbatch scripts) go to ``table["folder"]``,
    default ``<runs_dir>/.submitit`` (on a cluster it must be on the shared file system).
    """
    if not args:
        return []
    folder = Path(table.get("folder", runs_dir / ".submitit"))
    ex = make_executor(cluster, folder, table)
    with ex.batch():
        jobs = [ex.submit(fn, *a) for a in args]
    return jobs
