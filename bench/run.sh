#!/usr/bin/env bash
# Benchmarks for Aftercare, each figure beside a reference measured in the
# same run (see docs/BENCHMARKS.md). Usage:
#   bench/run.sh [PEOPLE] [SEED]        (default 100000 people, seed 117)
# People are spread over REGIONS (default 30) copies of the demo partnerships: 150 councils.
#   BIN=/path/to/aftercare bench/run.sh ...   (default target/release/aftercare)
# Needs: a release build (cargo build --release), sqlite3, wrk, and for the
# PostgreSQL half the server binaries (Debian postgresql); DuckDB from PyPI
# for the reconciliation reference (pip install duckdb). Installs what is
# missing when run as root on Debian. Ends by drawing
# bench/results/benchmarks.svg from every bench/results/*/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
SEED=${2:-117}
BIN=${BIN:-target/release/aftercare}
OUT=bench/results/$N
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/aftercare-bench.XXXXXX)

# Everything started here is stopped and deleted on the way out.
SERVER=
PGDIR=
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  if [ -n "$PGDIR" ]; then
    run_pg "$pgbin/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PGDIR"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  command -v sqlite3 >/dev/null || need+=(sqlite3)
  command -v wrk >/dev/null || need+=(wrk)
  command -v curl >/dev/null || need+=(curl)
  [ -n "$pgbin" ] || need+=(postgresql)
  command -v psql >/dev/null || need+=(postgresql-client)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  fi
fi
python3 -c 'import duckdb' 2>/dev/null || pip install -q duckdb >/dev/null 2>&1 || true
if [ ! -x "$BIN" ]; then
  if [ "$BIN" = target/release/aftercare ]; then cargo build --release -p aftercare
  else echo "BIN=$BIN is not an executable" >&2; exit 1; fi
fi

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
ratio() { python3 -c "r = 0 if float($2) == 0 else $1 / $2; print('n/a' if float($2) == 0 else f'{r:.2f}' if r >= 0.01 else f'{r:.4f}')"; }
report() { echo "$1" | tee -a "$OUT/summary.txt"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
lines() { echo $(($(wc -l < "$1") - 1)); }
BENCH_START=$(now)
: > "$OUT/summary.txt"
report "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r); people: $N; seed: $SEED; $(date -u +%Y-%m-%dT%H:%MZ)"

t0=$(now); $BIN generate --people "$N" --seed "$SEED" --regions "${REGIONS:-30}" --out-dir "$WORK" >/dev/null; t1=$(now)
rows=$(lines "$WORK/register.csv")
report "generate: $(secs $t0 $t1) s for $rows detention rows"

# ---------------------------------------------------------------- SQLite
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
report "reviews due (sqlite): $(secs $t0 $t1) s, $(lines "$WORK/due.csv") rows"
t0=$(now); AFTERCARE_LOG=error $BIN --database "$DB" export register > "$WORK/export.csv"; t1=$(now)
report "monthly export (sqlite): $(secs $t0 $t1) s, $(lines "$WORK/export.csv") rows"

# Reconciliation, against DuckDB doing the same join on the exported register.
t0=$(now); $BIN --database "$DB" reconcile --charges "$WORK/charges.csv" --payments "$WORK/payments.csv" --as-of 2026-11-25 > "$WORK/findings.csv"; t1=$(now)
rec=$(secs $t0 $t1)
pay=$(lines "$WORK/payments.csv")
duck=
if python3 -c 'import duckdb' 2>/dev/null; then
  duck=$(python3 bench/reconcile_duckdb.py "$WORK/export.csv" "$WORK/charges.csv" "$WORK/payments.csv")
  report "reconcile: $rec s over $pay payment lines; DuckDB same join: $duck s; aftercare/duckdb = $(ratio $rec $duck) (target <= 2)"
else
  report "reconcile: $rec s over $pay payment lines; DuckDB not available"
fi

# ---------------------------------------------------------------- PostgreSQL
# A throwaway server (as scripts/test starts one), default settings apart from
# where it listens; the same files as the SQLite half.
if [ -n "$pgbin" ] && command -v psql >/dev/null; then
  PGDIR=$(mktemp -d /tmp/aftercare-bench-pg.XXXXXX)
  PGPORT=$(free_port)
  if [ "$(id -u)" = 0 ]; then chown postgres "$PGDIR"; fi
  run_pg "$pgbin/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
  run_pg "$pgbin/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
    -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1" start >/dev/null
  PG="postgres://postgres@127.0.0.1:$PGPORT/postgres"
  psql_() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
  # sqlx logs PostgreSQL's "already exists, skipping" notices at INFO.
  pg_bin() { AFTERCARE_LOG=error $BIN --database "$PG" "$@"; }
  report "postgres: $("$pgbin/postgres" --version | awk '{print $3}') on port $PGPORT (default settings)"

  # Import, against COPY of the same file into a plain table of TEXT columns
  # named as the CSV header (in its own database, created in the timing as
  # sqlite3 .import creates its table).
  psql_ "$PG" -c "CREATE DATABASE bench_raw" >/dev/null
  cols=$(head -n 1 "$WORK/register.csv" | sed 's/^\xEF\xBB\xBF//' | tr -d '\r' | sed 's/,/" TEXT, "/g; s/^/"/; s/$/" TEXT/')
  t0=$(now); pg_bin import register "$WORK/register.csv" >/dev/null; t1=$(now)
  imp=$(secs $t0 $t1)
  t0=$(now)
  psql_ "postgres://postgres@127.0.0.1:$PGPORT/bench_raw" -c "CREATE TABLE raw ($cols)" \
    -c "\\copy raw FROM '$WORK/register.csv' WITH (FORMAT csv, HEADER true)" >/dev/null
  t1=$(now)
  raw=$(secs $t0 $t1)
  copied=$(psql_ -At "postgres://postgres@127.0.0.1:$PGPORT/bench_raw" -c "SELECT count(*) FROM raw")
  report "import (postgres): $imp s; psql \\copy ($copied rows): $raw s; raw/aftercare = $(ratio $raw $imp) (target >= 0.33)"

  t0=$(now); pg_bin recompute >/dev/null; t1=$(now)
  report "recompute every entitlement (postgres): $(secs $t0 $t1) s (target < 10 s)"
  t0=$(now); pg_bin reviews due --as-of 2026-11-25 > "$WORK/due-pg.csv"; t1=$(now)
  report "reviews due (postgres): $(secs $t0 $t1) s, $(lines "$WORK/due-pg.csv") rows"
  t0=$(now); pg_bin export register > "$WORK/export-pg.csv"; t1=$(now)
  same=$(cmp -s "$WORK/export.csv" "$WORK/export-pg.csv" && echo "identical to" || echo "differs from")
  report "monthly export (postgres): $(secs $t0 $t1) s, $(lines "$WORK/export-pg.csv") rows ($same the SQLite export)"
  t0=$(now); pg_bin reconcile --charges "$WORK/charges.csv" --payments "$WORK/payments.csv" --as-of 2026-11-25 > "$WORK/findings-pg.csv"; t1=$(now)
  rec=$(secs $t0 $t1)
  if [ -n "$duck" ]; then
    report "reconcile (postgres): $rec s over $pay payment lines; DuckDB same join: $duck s; aftercare/duckdb = $(ratio $rec $duck) (target <= 2)"
  else
    report "reconcile (postgres): $rec s over $pay payment lines; DuckDB not available"
  fi
else
  PG=
  report "postgres: server binaries or psql not available; PostgreSQL half skipped"
fi

# ---------------------------------------------------------------- web/API
# Under 64 connections, against the same server's /healthz, as a user of the
# council with the most people (so the worklist and person page read a real
# caseload), on the SQLite database.
if command -v wrk >/dev/null; then
  PORT=$(free_port)
  COUNCIL=$(sqlite3 "$WORK/bench.db" "SELECT council_code FROM people WHERE council_code IS NOT NULL GROUP BY 1 ORDER BY COUNT(*) DESC LIMIT 1")
  # `orgs add` adds or updates: add the council only if the register lacks it,
  # so an existing organisation keeps its name.
  if [ "$(sqlite3 "$WORK/bench.db" "SELECT COUNT(*) FROM organisations WHERE code = '$COUNCIL'")" = 0 ]; then
    $BIN --database "$DB" orgs add --code "$COUNCIL" --name "Bench council" --kind council >/dev/null
  fi
  echo "bench password of length" | $BIN --database "$DB" users add --username loadtest --name "Load test" --org "$COUNCIL" --roles mha_administrator >/dev/null
  caseload=$(sqlite3 "$WORK/bench.db" "SELECT COUNT(*) FROM person_orgs WHERE org_code = '$COUNCIL'")
  responsible=$(sqlite3 "$WORK/bench.db" "SELECT COUNT(*) FROM people WHERE council_code = '$COUNCIL'")
  # A person in the middle of the council's caseload.
  PID=$(sqlite3 "$WORK/bench.db" "SELECT person_id FROM person_orgs WHERE org_code = '$COUNCIL' ORDER BY person_id LIMIT 1 OFFSET $((caseload / 2))")
  report "bench user: council $COUNCIL (mha_administrator); caseload $caseload people ($responsible with the council responsible); person page: person $PID"

  # The same user on PostgreSQL (the same file gave the same ids there).
  if [ -n "$PG" ]; then
    pg_bin orgs add --code "$COUNCIL" --name "Bench council" --kind council >/dev/null
    echo "bench password of length" | pg_bin users add --username loadtest --name "Load test" --org "$COUNCIL" --roles mha_administrator >/dev/null
  fi
  # web_half LABEL DATABASE: a server on DATABASE under wrk; LABEL is empty for
  # SQLite (the summary's first lines) and " (postgres)" for PostgreSQL.
  web_half() {
    local label=$1 database=$2
    AFTERCARE_LOG=error $BIN --database "$database" serve --listen "127.0.0.1:$PORT" > "$WORK/serve.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do
      curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
      kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
      sleep 0.2
    done
    TOKEN=$(curl -sf -X POST -H 'content-type: application/json' -d '{"username":"loadtest","password":"bench password of length"}' "http://127.0.0.1:$PORT/api/v1/session" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
    local suffix=${label:+-postgres}
    read -r h_rps h50 h99 hbad hto < <(run_wrk /healthz "healthz$suffix")
    after=$(rss VmRSS)
    rss_runs="healthz $after"
    report "healthz$label: $h_rps req/s, p50 $h50, p99 $h99; non-2xx $hbad, timeouts $hto; server VmRSS after: $after MiB"
    for route in "/api/v1/people?q=smith search" "/api/v1/people/$PID person" "/worklists worklist"; do
      set -- $route
      code=$(status "$1" || true)
      read -r rps p50 p99 bad to < <(run_wrk "$1" "$2$suffix")
      after=$(rss VmRSS)
      rss_runs="$rss_runs, $2 $after"
      report "$2$label: $rps req/s ($(ratio $rps $h_rps) of healthz), p50 $p50, p99 $p99; HTTP $code alone; non-2xx $bad, timeouts $to; server VmRSS after: $after MiB"
    done
    hwm=$(rss VmHWM)
    report "server resident memory$label: $hwm MiB peak ($(( (hwm * 1048576 + 500000) / 1000000 )) MB; target < 300 MB); VmRSS after each wrk run (MiB): $rss_runs"
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
  }
  status() { curl -s -o /dev/null -w '%{http_code}' --max-time 120 -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$1"; }
  rss() { echo $(( $(awk "/$1/{print \$2}" "/proc/$SERVER/status") / 1024 )); }
  run_wrk() {
    wrk -t2 -c64 -d10s --latency -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$1" > "$OUT/wrk-$2.txt"
    awk '/Requests\/sec/{r=$2} /^ +50%/{p50=$2} /^ +99%/{p99=$2} /Non-2xx/{bad=$NF} /Socket errors/{t=$NF}
         END{print r, p50, p99, bad+0, t+0}' "$OUT/wrk-$2.txt"
  }
  web_half "" "$DB"
  if [ -n "$PG" ]; then web_half " (postgres)" "$PG"; fi
else
  report "web/API: wrk not available; skipped"
fi

report "whole run: $(secs $BENCH_START $(now)) s"
python3 bench/plot.py && echo "plot in bench/results/benchmarks.svg"
echo "results in $OUT"
