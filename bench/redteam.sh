#!/bin/bash
# The red-team matrix of issue 13 with real processes on 127.0.0.1: four
# hospitals (video-clinic runs tests/evil/evil_node with one attack; min_sites
# 3, so the others can go on without it), an evaluator, a coordinator; tiny
# LSTM, ROUNDS rounds. For each scenario it
# prints how the run ended, the largest parameter change and L2 change of any
# stored global model version against the previous one (bench/model_drift.py),
# attempts, audit rows naming the attacker, and the database size. The honest
# rows (attack "none") are the baseline measured in the same run.
#
#   bench/redteam.sh                       # every scenario
#   SCENARIOS="plain:scale:1000" bench/redteam.sh
#
# CLIP sets update_clip (default 1). A scenario is MODE:ATTACK with MODE plain | secure | global (secure with
# pooled statistics). Each run is cut after LIMIT seconds: "paused" if the
# coordinator paused the federation (it waits for an operator), else "cut".
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
G=${GF_BIN:-$ROOT/bin/gaitfed}
E=${GF_EVIL:-$ROOT/build/tests/evil_node}
PY=${GF_PYTHON:-/usr/bin/python3}
ROUNDS=${ROUNDS:-2}
CLIP=${CLIP:-1}
LIMIT=${LIMIT:-120}
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
SCENARIOS=${SCENARIOS:-"secure:none plain:none secure:forge_unmask:1 secure:words:7.99 secure:samples:100000000 \
plain:scale:1000 plain:samples:100000000 plain:set:3e38 plain:set:nan global:none global:stats_x2:1e6"}
[ -x "$G" ] && [ -x "$E" ] || { echo "redteam: build first (make bin/gaitfed build/tests/evil_node)" >&2; exit 1; }
DATA=$WORK/data
"$G" synth --out "$DATA" --seed 5 > "$WORK/synth.log" 2>&1 || { echo "redteam: synth failed ($WORK/synth.log)" >&2; exit 1; }

run() { # run DIR MODE ATTACK
    local D=$1 MODE=$2 ATT=$3 SEC=true NORM=own
    [ "$MODE" = plain ] && SEC=false
    [ "$MODE" = global ] && NORM=global
    mkdir -p "$D" && cd "$D" || return 1
    "$G" pki init --dir ca --consortium redteam > /dev/null
    for w in coord:coordinator bench:evaluator imu-clinic:hospital optical-lab:hospital senior-centre:hospital video-clinic:hospital; do
        "$G" pki issue --dir ca --name "${w%%:*}" --role "${w##*:}" > /dev/null
    done
    local PORT
    PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat > coordinator.json <<J
{"name": "coord", "listen": "127.0.0.1:$PORT", "key": "ca/kits/coord/key.pem", "cert": "ca/kits/coord/cert.pem",
 "ca": "ca/ca.pem", "crl": "ca/crl.pem", "db": "coordinator.db", "secure_aggregation": $SEC, "strategy": "fedavg",
 "rounds": $ROUNDS, "min_sites": 3, "update_clip": $CLIP, "local_epochs": 1, "batch": 32, "lr": 0.001, "seed": 7, "cross_site_eval": false,
 "normalization": "$NORM", "model": {"arch": "lstm", "d_model": 16, "layers": 1, "dropout": 0},
 "timeouts_s": {"train": 20, "shares": 10, "masked": 10, "evaluate": 120}}
J
    for h in imu-clinic optical-lab senior-centre video-clinic; do cat > $h.json <<J
{"name": "$h", "role": "hospital", "coordinator_url": "https://localhost:$PORT", "key": "ca/kits/$h/key.pem",
 "cert": "ca/kits/$h/cert.pem", "ca": "ca/ca.pem", "site_db": "$DATA/sites/$h.db", "state_dir": "state-$h",
 "normalization": "$NORM", "threads": 1, "poll_ms": 100, "backoff_max_ms": 400}
J
    done
    cat > bench.json <<J
{"name": "bench", "role": "evaluator", "coordinator_url": "https://localhost:$PORT", "key": "ca/kits/bench/key.pem",
 "cert": "ca/kits/bench/cert.pem", "ca": "ca/ca.pem", "poll_ms": 100, "backoff_max_ms": 400,
 "cohorts": [{"name": "healthy-test", "db": "$DATA/cohorts/healthy-test.db"}]}
J
    "$G" coordinator --config coordinator.json > coord.log 2>&1 & local C=$!
    "$G" node --config imu-clinic.json > imu-clinic.log 2>&1 & local N1=$!
    "$G" node --config optical-lab.json > optical-lab.log 2>&1 & local N2=$!
    "$G" node --config senior-centre.json > senior-centre.log 2>&1 & local N3=$!
    "$E" --attack "$ATT" --config video-clinic.json > video-clinic.log 2>&1 & local N4=$!
    "$G" node --config bench.json > bench.log 2>&1 & local N5=$!
    local t=0 how=finished
    while kill -0 $C 2> /dev/null; do
        sleep 1; t=$((t + 1))
        if [ $t -ge "$LIMIT" ]; then how=cut; break; fi
    done
    [ $how = finished ] && { wait $C; [ $? -eq 0 ] || how="exit $?"; }
    [ $how = cut ] && [ "$(sqlite3 coordinator.db "SELECT count(*) FROM audit WHERE event = 'federation_paused'" 2> /dev/null)" != 0 ] && how=paused
    kill $C $N1 $N2 $N3 $N4 $N5 2> /dev/null; wait 2> /dev/null
    local drift attempts named size
    drift=$("$PY" "$ROOT/bench/model_drift.py" coordinator.db | awk '
        {for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
         if (v["max_abs"] + 0 > m || v["max_abs"] == "nan") m = v["max_abs"]; if (v["l2"] + 0 > l || v["l2"] == "nan") l = v["l2"]
         if (v["finite"] == 0) nf = 1; if ("x_std_max" in v) sd = v["x_std_max"]; n++}
        END {printf "versions=%d max_abs=%s l2=%s%s%s", n, m == "" ? "-" : m, l == "" ? "-" : l,
             nf ? " NONFINITE" : "", sd == "" ? "" : " pooled_sd_max=" sd}')
    attempts=$(sqlite3 coordinator.db "SELECT coalesce(sum(attempt), 0) FROM rounds" 2> /dev/null)
    named=$(sqlite3 coordinator.db "SELECT count(*) FROM audit WHERE detail LIKE '%video-clinic%' AND event NOT IN ('site_joined', 'round_opened', 'round_reopened', 'round_closed', 'evaluation', 'model_stored')" 2> /dev/null)
    size=$(du -cb coordinator.db* 2> /dev/null | tail -1 | cut -f1)
    printf '%-28s %-8s %s attempts=%s audit_rows_naming_attacker=%s db_bytes=%s (%ss)\n' \
        "$MODE:$ATT" "$how" "$drift" "$attempts" "$named" "$size" "$t"
}

echo "redteam: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), rounds=$ROUNDS, update_clip=$CLIP, work=$WORK"
for s in $SCENARIOS; do
    mode=${s%%:*}
    run "$WORK/$(echo "$s" | tr ':.' '__')" "$mode" "${s#*:}"
done
