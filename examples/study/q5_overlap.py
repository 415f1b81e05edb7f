"""Q5: overlap of (random-)pruned-then-shed kept sets with GMP's, and the share of shed
weights that sit in whole dead channels. Uses only the public analysis API + reader.
Usage: python q5_overlap.py RUNS_DIR [filter key=value ...]"""
import sys
import numpy as np
from shedding.analysis import gmp_overlap, gmp_sets, load_runs, DEFAULT_RULE, DEFAULT_C
from shedding.analysis.drift import sets_at
from shedding.analysis import _stream
from shedding.analysis.compare import flatten_config
from tracking import open_run
from shedding.analysis.runs import expand_paths

rows = []
for p in expand_paths(sys.argv[1]):
    with open_run(p) as run:
        cfg = flatten_config(run.config)
        if run.status != "complete":
            continue
        sp = cfg.get("prune.sparsity")
        if not sp:
            continue
        final = len(run) - 1
        eff = sets_at(run, final, rule=DEFAULT_RULE, c=DEFAULT_C)
        masks = [_stream.packed_mask(run, i.name, final) for i in run.layers]
        shed_tot = shed_dead = 0
        for info, m, e in zip(run.layers, masks, eff):
            n = info.n_weights
            mu = np.unpackbits(m)[:n].astype(bool).reshape(info.shape[0], -1)
            eu = np.unpackbits(e)[:n].astype(bool).reshape(info.shape[0], -1)
            shed = mu & ~eu
            kept_c = mu.sum(1); shed_c = shed.sum(1)
            dead = (kept_c > 0) & (shed_c >= 0.9 * np.maximum(kept_c, 1))
            shed_tot += int(shed.sum()); shed_dead += int(shed[dead].sum())
        ov = gmp_overlap(run)
        # reference: the pruner's mask alone (no shedding) vs GMP on dense weights, same k
        kmask = sum(_stream.popcount(m) for m in masks)
        g = gmp_sets(run, ov.snapshot_dense, kmask)
        inter = sum(_stream.popcount(a & b) for a, b in zip(masks, g))
        union = sum(_stream.popcount(a | b) for a, b in zip(masks, g))
        rows.append(dict(
            lr=cfg.get("train.lr"), wd=cfg.get("train.weight_decay"), opt=cfg.get("train.optimizer"), bn=cfg.get("model.batchnorm"),
            width=cfg.get("model.width"), method=cfg["prune.method"], sparsity=sp,
            protocol=cfg["retrain.protocol"], seed=cfg["seed"], eff_sp=ov.effective_sparsity,
            j_mask_dense=inter / union, j_eff_dense=ov.jaccard_dense, j_eff_final=ov.jaccard_final,
            shed=shed_tot, frac_shed_in_dead_ch=(shed_dead / shed_tot if shed_tot else float("nan"))))
rows.sort(key=lambda r: tuple(str(r[k]) for k in ("opt", "lr", "wd", "bn", "width", "protocol", "method", "sparsity", "seed")))
keys = list(rows[0])
print("| " + " | ".join(keys) + " |")
print("|" + "---|" * len(keys))
for r in rows:
    print("| " + " | ".join((f"{v:g}" if k in ("lr", "wd", "width", "sparsity") else f"{v:.3f}") if isinstance(v, float) else str(v) for k, v in r.items()) + " |")
