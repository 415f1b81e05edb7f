"""``shedding inspect``: what a run file holds, in a screenful of text (no torch)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def inspect_text(path: str | Path) -> str:
    """Format, status, layers, snapshots, metrics, events and a config summary of a run file.

    Example:
        >>> print(inspect_text("data/runs/mnist1d-demo-1a2b3c4d5e6f.h5"))  # doctest: +SKIP
    """
    from tracking import open_run

    with open_run(path) as run:
        cfg = run.config
        idx = run.index
        lines = [
            f"{Path(path).name}",
            f"  format     {run.format_version} ({run.record_mode})   status {run.status}   "
            f"run_id {run.run_id}",
            f"  control    {run.control or '(none: this run has no unpruned control)'}",
        ]
        env = run.environment
        lines.append(
            f"  made with  torch {env.get('torch', '?')} on {env.get('device', '?')} "
            f"({env.get('host', '?')}), toolkit {env.get('toolkit', '?')}"
        )
        # files of one's own loop may hold any config: a non-dict entry is taken as a name
        p, r, m, d = (
            v if isinstance(v, dict) else {"name": v}
            for v in (cfg.get(k, {}) for k in ("prune", "retrain", "model", "data"))
        )
        lines.append(
            f"  config     {d.get('name')} / {m.get('name')} (width "
            f"{m.get('width')}) / {p.get('method')} {p.get('mode')} to sparsity "
            f"{p.get('sparsity')} / {r.get('protocol')} / seed {cfg.get('seed')}"
        )
        n = len(run)
        lines.append(
            f"  snapshots  {n}"
            + (
                f"  (epochs {idx.epoch[0]:g}..{idx.epoch[-1]:g}, "
                f"rounds {sorted(set(idx.round.tolist()))})"
                if n
                else ""
            )
        )
        total = sum(li.n_weights for li in run.layers)
        lines.append(f"  layers     {len(run.layers)} prunable, {total:,} weights")
        for li in run.layers:
            kept = ""
            if n:
                st = run.stats(li.name)
                kept = f"  kept {int(st.n_kept[-1]):>9,}"
            bn = f"  bn {li.bn}" if li.bn else ""
            lines.append(f"    {li.name:<28} {li.shape!s:<20}{kept}{bn}")
        met = run.metrics
        if len(met.get("test_acc", [])):
            acc = np.asarray(met["test_acc"])
            lines.append(
                f"  metrics    {len(acc)} epochs, final test acc {acc[-1]:.4f}, "
                f"best {acc.max():.4f}"
            )
        for ev in run.events:
            brief = {
                k: ev[k]
                for k in ("round", "method", "amount", "sparsity", "protocol", "start_lr")
                if k in ev
            }
            lines.append(f"  event      {json.dumps(brief)}")
    return "\n".join(lines)
