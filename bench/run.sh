#!/usr/bin/env bash
# Benchmarks for Aftercare, each figure beside a reference measured in the
# same run (see docs/BENCHMARKS.md). Usage:
#   bench/run.sh [PEOPLE] [SEED]        (default 100000 people, seed 117)
# Needs: a release build (cargo build --release), sqlite3, wrk, and for the
# PostgreSQL half the server binaries (Debian postgresql); DuckDB from PyPI
# for the reconciliation reference (pip install duckdb). Installs what is
# missing when run as root on Debian.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
SEED=${2:-117}
BIN=target/release/aftercare
OUT=bench/results/$N
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/aftercare-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  command -v sqlite3 >/dev/null || need+=(sqlite3)
  command -v wrk >/dev/null || need+=(wrk)
  [ ${#need[@]} -eq 0 ] || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; }
fi
python3 -c 'import duckdb' 2>/dev/null || pip install -q duckdb >/dev/null 2>&1 || true
[ -x "$BIN" ] || cargo build --release -p aftercare

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
report() { echo "$1" | tee -a "$OUT/summary.txt"; }
: > "$OUT/summary.txt"
report "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r); people: $N; seed: $SEED; $(date -u +%Y-%m-%dT%H:%MZ)"

t0=$(now); $BIN generate --people "$N" --seed "$SEED" --out-dir "$WORK" >/dev/null; t1=$(now)
rows=$(($(wc -l < "$WORK/register.csv") - 1))
report "generate: $(secs $t0 $t1) s for $rows detention rows"

# Import into SQLite, against sqlite3's own .import of the same file.
DB="sqlite://$WORK/bench.db"
t0=$(now); $BIN --database "$DB" import register "$WORK/register.csv" >/dev/null; t1=$(now)
imp=$(secs $t0 $t1)
t0=$(now); sqlite3 "$WORK/raw.db" ".mode csv" ".import $WORK/register.csv raw" >/dev/null; t1=$(now)
raw=$(secs $t0 $t1)
report "import (sqlite): $imp s; sqlite3 .import: $raw s; raw/aftercare = $(ratio $raw $imp) (target >= 0.33)"

t0=$(now); $BIN --database "$DB" recompute >/dev/null; t1=$(now)
report "recompute every entitlement (sqlite): $(secs $t0 $t1) s (target < 10 s)"
t0=$(now); $BIN --database "$DB" reviews due --as-of 2026-11-25 > "$WORK/due.csv"; t1=$(now)
report "reviews due (sqlite): $(secs $t0 $t1) s, $(($(wc -l < "$WORK/due.csv") - 1)) rows"
t0=$(now); AFTERCARE_LOG=error $BIN --database "$DB" export register > "$WORK/export.csv"; t1=$(now)
report "monthly export (sqlite): $(secs $t0 $t1) s, $(($(wc -l < "$WORK/export.csv") - 1)) rows"

# Reconciliation, against DuckDB doing the same join on the exported register.
t0=$(now); $BIN --database "$DB" reconcile --charges "$WORK/charges.csv" --payments "$WORK/payments.csv" --as-of 2026-11-25 > "$WORK/findings.csv"; t1=$(now)
rec=$(secs $t0 $t1)
pay=$(($(wc -l < "$WORK/payments.csv") - 1))
if python3 -c 'import duckdb' 2>/dev/null; then
  duck=$(python3 bench/reconcile_duckdb.py "$WORK/export.csv" "$WORK/charges.csv" "$WORK/payments.csv")
  report "reconcile: $rec s over $pay payment lines; DuckDB same join: $duck s; aftercare/duckdb = $(ratio $rec $duck) (target <= 2)"
else
  report "reconcile: $rec s over $pay payment lines; DuckDB not available"
fi

# The web/API under 64 connections, against the same server's /healthz.
if command -v wrk >/dev/null; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  AFTERCARE_PASSWORD="bench password of length" $BIN --database "$DB" orgs add --code RXY --name "Bench trust" --kind nhs_trust >/dev/null
  echo "bench password of length" | $BIN --database "$DB" users add --username bench --name Bench --org RXY --roles mha_administrator >/dev/null
  AFTERCARE_LOG=error $BIN --database "$DB" serve --listen "127.0.0.1:$PORT" > "$WORK/serve.log" 2>&1 &
  SERVER=$!
  sleep 2
  TOKEN=$(curl -s -X POST -H 'content-type: application/json' -d '{"username":"bench","password":"bench password of length"}' "http://127.0.0.1:$PORT/api/v1/session" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  PID=$(curl -s -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/people?q=smith" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
  run_wrk() { wrk -t2 -c64 -d10s --latency -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$1" > "$OUT/wrk-$2.txt"; awk '/Requests\/sec/{r=$2} /^ +50%/{p50=$2} /^ +99%/{p99=$2} END{print r, p50, p99}' "$OUT/wrk-$2.txt"; }
  read -r h_rps h50 h99 < <(run_wrk /healthz healthz)
  report "healthz: $h_rps req/s, p50 $h50, p99 $h99"
  for route in "/api/v1/people?q=smith search" "/api/v1/people/$PID person" "/worklists worklist"; do
    set -- $route
    read -r rps p50 p99 < <(run_wrk "$1" "$2")
    report "$2: $rps req/s ($(ratio $rps $h_rps) of healthz), p50 $p50, p99 $p99"
  done
  report "server resident memory: $(( $(awk '/VmHWM/{print $2}' /proc/$SERVER/status) / 1024 )) MiB peak (target < 300)"
  kill $SERVER
fi
echo "results in $OUT"
