#!/bin/bash
# Regenerates every table in FINDINGS.md from the run files in data/study-runs (or $1).
set -u
cd "$(dirname "$0")/../.."
R=${1:-data/study-runs}; T=examples/study/tables; mkdir -p $T
S=".venv/bin/shedding"
KEYS=train.optimizer,train.lr,train.weight_decay,model.batchnorm,model.width,retrain.protocol,prune.method,prune.sparsity
$S compare $R --by $KEYS > $T/compare_layer_relative.txt 2>&1
$S compare $R --by $KEYS --threshold-rule absolute --threshold 1e-3 > $T/compare_absolute_1e-3.txt 2>&1
$S compare $R --by $KEYS --json > $T/compare_layer_relative.json 2>/dev/null  # 2.4 MB, not committed
.venv/bin/python examples/study/q5_overlap.py $R > $T/q5_overlap.md 2>&1
