"""Measure shedding in a directory of run files with the Python API (no torch needed).

.venv/bin/python examples/analyze_runs.py data/runs
"""

from __future__ import annotations

import sys

from shedding.analysis import cascade_summary, excess_summary, find_control, shed_curve
from tracking import open_run


def main(runs_dir: str) -> None:
    from pathlib import Path

    for path in sorted(Path(runs_dir).glob("*.h5")):
        with open_run(path) as run:
            curve = shed_curve(run, rule="layer_relative", c=0.01)  # per snapshot
            print(
                f"{path.name}: {len(run)} snapshots, final shed fraction "
                f"{curve.shed_fraction[-1, 0]:.4f}, effective sparsity "
                f"{curve.effective_sparsity[-1, 0]:.4f}"
            )
            for r in cascade_summary(run):
                print(f"  round {r.round}: pruned {r.pruned}, cascade ratio {r.cascade_ratio:.3f}")
            if not run.control:
                print("  (a control run itself, or a protocol with no unpruned control)")
                continue
            control, opened = find_control(run)
            if control is None:
                print("  no control run found: the ratio above is not causal evidence")
                continue
            try:
                for x in excess_summary(run, control):
                    print(
                        f"  round {x.round}: excess cascade ratio {x.excess_cascade_ratio:.3f} "
                        f"(control sheds {x.control_ratio:.3f} per pruned weight)"
                    )
            finally:
                if opened:
                    control.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/runs")
