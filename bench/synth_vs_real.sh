#!/bin/bash
# Does a real-data model recognise the synthetic world? For each seed:
# `gaitfed synth`, the input statistics against the real pool's, the
# slow-cadence flexor moment, and the published Gait2Hip-60 Transformers
# (model/pretrained, trained on the real 60 subjects) evaluated on the
# synthetic healthy cohort and the ONFH cohort (subject-level RMSE / R²,
# overall and per cadence). With TRAIN=1 it also trains gaitfed's own
# Transformer on each seed's healthy file (20 % of the subjects held out,
# --folds 0, EPOCHS epochs) and evaluates it on its test subjects and on the
# ONFH patients: the drop a healthy-trained model shows on patients.
#
#   bench/synth_vs_real.sh                      # seeds 1 2 3 4
#   SEEDS="4" TRAIN=1 EPOCHS=60 bench/synth_vs_real.sh
#
# The published models are only a check: nothing here feeds their scores back
# into the simulator (docs/SYNTHETIC.md, "Calibration").
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
G=${GF_BIN:-$ROOT/bin/gaitfed}
PY=${GF_PYTHON:-/usr/bin/python3}
SEEDS=${SEEDS:-"1 2 3 4"}
TRAIN=${TRAIN:-0}
EPOCHS=${EPOCHS:-60}
THREADS=${THREADS:-2}
WORK=${WORK:-$(mktemp -d)}
P=$ROOT/model/pretrained
[ -x "$G" ] || { echo "synth_vs_real: build first (make bin/gaitfed)" >&2; exit 1; }
mkdir -p "$WORK"
ev() { # ev NAME MODEL DATA
    "$G" eval --model "$2" --data "$3" --norm model --threads "$THREADS" > "$WORK/eval.json" 2> "$WORK/eval.err" ||
        { echo "synth_vs_real: eval $2 on $3 failed: $(tail -1 "$WORK/eval.err")" >&2; return 1; }
    "$PY" "$ROOT/bench/synth_vs_real.py" eval "$1" "$WORK/eval.json"
}
for s in $SEEDS; do
    D=$WORK/seed$s
    rm -rf "$D"
    "$G" synth --out "$D" --seed "$s" > "$WORK/synth$s.log" 2>&1 ||
        { echo "synth_vs_real: synth --seed $s failed ($WORK/synth$s.log)" >&2; exit 1; }
    echo "== seed $s ($(head -1 "$WORK/synth$s.log"))"
    "$PY" "$ROOT/tests/py/check_input_stats.py" "$ROOT/tests/data/gait2hip-published/real_input_stats.json" \
        "$D/Gait2Hip_MF60.npz" || echo "inputs: outside the real pool's statistics (above)"
    "$PY" "$ROOT/bench/synth_vs_real.py" slowflex "$D" || exit 1
    echo "published models (subject-level; overall | per cadence R² / RMSE):"
    ev "Transformer MF60, healthy (60)" "$P/Transformer_MF60.safetensors" "$D/Gait2Hip_MF60.npz" || exit 1
    ev "Transformer MF60, ONFH" "$P/Transformer_MF60.safetensors" "$D/ONFH_MF9.npz" || exit 1
    ev "Transformer JM60, healthy (60)" "$P/Transformer_JM60.safetensors" "$D/Gait2Hip_JM60.npz" || exit 1
    ev "Transformer JM60, ONFH" "$P/Transformer_JM60.safetensors" "$D/ONFH_JM9.npz" || exit 1
    if [ "$TRAIN" = 1 ]; then
        echo "gaitfed Transformer trained on the synthetic healthy pool ($EPOCHS epochs, --folds 0):"
        for t in MF60:MF9 JM60:JM9; do
            M=$D/central_${t%%:*}.safetensors
            "$G" train --data "$D/Gait2Hip_${t%%:*}.npz" --model transformer --folds 0 --epochs "$EPOCHS" \
                --seed "$s" --threads "$THREADS" --out "$M" > "$WORK/train.log" 2>&1 ||
                { echo "synth_vs_real: train failed ($WORK/train.log)" >&2; exit 1; }
            "$PY" -c 'import json,sys; m=json.load(open(sys.argv[1]))["test"]["subject_mean"]; print("%-34s R² %6.3f RMSE %6.3f" % (sys.argv[2], m["r2"], m["rmse"]))' \
                "${M%.safetensors}.metrics.json" "central ${t%%:*}, healthy test" || exit 1
            ev "central ${t%%:*}, ONFH" "$M" "$D/ONFH_${t##*:}.npz" || exit 1
        done
    fi
done
