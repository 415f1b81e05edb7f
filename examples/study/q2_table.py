"""Per regime: control (unpruned) accuracy, GMP vs random accuracy, shed fractions (pruned
run vs its control on the same kept set), excess dead channels. Public API only.
Usage: python q2_table.py RUNS_DIR [RULE C]"""
import sys
from collections import defaultdict
import numpy as np
from shedding.analysis import summarize_runs

rule = sys.argv[2] if len(sys.argv) > 2 else "layer_relative"
c = float(sys.argv[3]) if len(sys.argv) > 3 else 0.01
summ, bad = summarize_runs(sys.argv[1], rule=rule, c=c)
REG = ("train.optimizer", "train.lr", "train.weight_decay", "model.batchnorm", "model.width", "retrain.protocol")
ctrl = defaultdict(list)
groups = defaultdict(list)
for s in summ:
    if s.status != "complete":
        continue
    reg = tuple(s.config.get(k) for k in REG)
    if s.role == "control":
        ctrl[reg].append(s.test_acc)
    elif s.role == "pruned":
        groups[(reg, s.config["prune.method"], s.config["prune.sparsity"])].append(s)
print(f"threshold rule {rule}, c={c}; mean over seeds (n), values per seed in brackets for acc\n")
print("| optimizer | lr | wd | BN | width | protocol | control acc | method | sparsity | n | test acc | shed frac (pruned) | shed frac (control, same kept set) | excess shed frac | excess dead ch | C | C_control | C_excess | max possible C (1-p)/p |")
print("|" + "---|" * 19)
for (reg, m, p), ss in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
    f = lambda a: np.nanmean([getattr(s, a) for s in ss])
    accs = "/".join(f"{s.test_acc:.3f}" for s in ss)
    ca = ctrl.get(reg, [])
    cas = "/".join(f"{a:.3f}" for a in ca) if ca else "-"
    print(f"| {reg[0]} | {reg[1]:g} | {reg[2]:g} | {reg[3]} | {reg[4]:g} | {reg[5]} | {cas} | {m} | {p:g} | {len(ss)} | {accs} | "
          f"{f('shed_fraction'):.4f} | {f('control_shed_fraction'):.4f} | {f('excess_shed_fraction'):+.4f} | {f('excess_dead_channels'):+.1f} | "
          f"{f('cascade_ratio'):.3f} | {f('control_ratio'):.3f} | {f('excess_cascade_ratio'):+.3f} | {(1-p)/p:.2f} |")
if bad:
    print("\nunreadable:", bad)
