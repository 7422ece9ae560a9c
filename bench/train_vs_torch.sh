#!/bin/sh
# Training throughput of gaitfed against the PyTorch reference modules,
# measured in the same run on the same machine (the project rule:
# no timing asserts in tests; benchmarks print ratios).
#
# For each model: full training steps (forward in train mode with dropout
# 0.1, MSE, backward, clip_grad_norm 0.5, AdamW lr 1e-4 wd 1e-5), batch 64,
# length 180, d_in 10 -> d_out 14, random data, warm-up steps not timed.
# PyTorch (Debian's /usr/bin/python3, torch 1.13) with torch.set_num_threads
# 1 and 2, gaitfed with --threads 1 and 2; the best of each is compared. Runs
# alternate between the two so background load hits both alike; REPS rounds.
#
#   bench/train_vs_torch.sh                 # transformer lstm gru
#   MODELS="transformer" STEPS=10 REPS=2 bench/train_vs_torch.sh
#
# Prints per run `<impl> <model> threads=<t> seq_per_s=<x>`, then per model
# `best_torch_<model>=..`, `best_gaitfed_<model>=..` and `ratio_<model>=..`
# (gaitfed / PyTorch). Targets (issue 4): transformer >= 2.5, lstm >= 2.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GF=${GF_BIN:-$ROOT/bin/gaitfed}
PY=${GF_PYTHON:-/usr/bin/python3}
MODELS=${MODELS:-"transformer lstm gru"}
STEPS=${STEPS:-10}
REPS=${REPS:-1}
THREADS=${THREADS:-"1 2"}
[ -x "$GF" ] || { echo "train_vs_torch: $GF not built (make)" >&2; exit 1; }
"$PY" -c 'import torch' 2>/dev/null || { echo "train_vs_torch: $PY has no torch (apt-get install python3-torch)" >&2; exit 1; }

echo "machine: $(nproc) cores, $(uptime | sed 's/.*load average/load average/')"
seqs() { sed -n 's/^train_seq_per_s=//p' | tail -n 1; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (b + 0 > a + 0) ? b : a }'; }

for m in $MODELS; do
    bt=0; bg=0
    r=0
    while [ "$r" -lt "$REPS" ]; do
        for t in $THREADS; do
            s=$("$PY" "$ROOT/bench/torch_train.py" --model "$m" --threads "$t" --steps "$STEPS" | seqs)
            echo "torch $m threads=$t seq_per_s=$s"
            bt=$(best "$bt" "$s")
            out=$("$GF" bench train --model "$m" --threads "$t" --steps "$STEPS")
            s=$(printf '%s\n' "$out" | seqs)
            echo "gaitfed $m threads=$t seq_per_s=$s ($(printf '%s\n' "$out" | grep -o 'peak_fraction=[0-9.]*'))"
            bg=$(best "$bg" "$s")
        done
        r=$((r + 1))
    done
    echo "best_torch_$m=$bt"
    echo "best_gaitfed_$m=$bg"
    echo "ratio_$m=$(awk -v g="$bg" -v t="$bt" 'BEGIN { printf "%.2f", g / t }')"
done
echo "load after: $(uptime | sed 's/.*load average/load average/')"
