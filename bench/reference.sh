#!/usr/bin/env bash
# Loading the full ONS postcode directory (about 2.7 million rows, over a
# gigabyte in ONSPD's layout of 54 columns) with `aftercare reference load`,
# on SQLite and PostgreSQL, beside the same file read into a plain table by
# `sqlite3 .import` and `psql \copy` in the same run, with each load's peak
# resident memory. Usage:
#   bench/reference.sh [ROWS]            (default 2700000)
#   BIN=/path/to/aftercare bench/reference.sh ...   (default target/release/aftercare)
# The directory is synthetic (the real one is published by the ONS under the
# Open Government Licence, not fetched here): every row a distinct postcode
# in one of 300 districts, with its county, ICB and the other columns filled.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-2700000}
BIN=${BIN:-target/release/aftercare}
OUT=bench/results/reference
mkdir -p "$OUT"
: > "$OUT/summary.txt"
WORK=$(mktemp -d /tmp/aftercare-bench-ref.XXXXXX)
PGDIR=
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  if [ -n "$PGDIR" ]; then
    run_pg "$pgbin/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PGDIR"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
if [ ! -x "$BIN" ]; then
  if [ "$BIN" = target/release/aftercare ]; then cargo build --release -p aftercare
  else echo "BIN=$BIN is not an executable" >&2; exit 1; fi
fi
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
report() { echo "$1" | tee -a "$OUT/summary.txt"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# Runs a command, printing its wall time in seconds and peak resident memory in MiB.
timed() {
  local t0 t1
  t0=$(now)
  /usr/bin/time -f '%M' -o "$WORK/rss" "$@" >/dev/null
  t1=$(now)
  echo "$(secs "$t0" "$t1") $(( $(cat "$WORK/rss") / 1024 ))"
}

python3 - "$ROWS" "$WORK/onspd.csv" <<'PY'
import sys
rows, out = int(sys.argv[1]), sys.argv[2]
header = ("pcd,pcd2,pcds,dointr,doterm,oscty,ced,oslaua,osward,parish,usertype,oseast1m,osnrth1m,"
          "osgrdind,oshlthau,nhser,ctry,rgn,streg,pcon,eer,teclec,ttwa,pct,itl,statsward,oa01,casward,"
          "npark,lsoa01,msoa01,ur01ind,oac01,oa11,lsoa11,msoa11,wz11,sicbl,bua24,ru11ind,oac11,lat,long,"
          "lep1,lep2,pfa,imd,calncv,icb,oa21,lsoa21,msoa21,ruc21ind,globalid")
area_letters = "ABCDEFGHKLMNOPRSTUWY"
inward_letters = "ABDEFGHJLNPQRSTUWXYZ"
with open(out, "w", buffering=1 << 20) as f:
    f.write(header + "\n")
    for i in range(rows):
        # Digits of i in mixed bases: every row a distinct, well-formed postcode.
        n, a1 = divmod(i, 20)
        n, a2 = divmod(n, 20)
        n, num = divmod(n, 100)
        n, d = divmod(n, 10)
        n, l1 = divmod(n, 20)
        l2 = n % 20
        outward = f"{area_letters[a1]}{area_letters[a2]}{num}"
        inward = f"{d}{inward_letters[l1]}{inward_letters[l2]}"
        pcds = f"{outward} {inward}"
        pcd = f"{outward:<4}{inward}"
        district_no = (i // 9000) % 300
        two_tier = district_no % 3 == 0
        county = f"E10{district_no % 25:06d}" if two_tier else "E99999999"
        district = f"E07{district_no:06d}" if two_tier else f"E06{district_no:06d}"
        icb = f"E54{district_no % 42:06d}"
        f.write(f"{pcd},{pcd},{pcds},198001,,{county},E58000001,{district},E05{i % 9000:06d},E04000001,0,"
                f"{500000 + i % 10000},{100000 + i % 10000},1,E18000001,E40000005,E92000001,E12000008,0,"
                f"E14000001,E15000008,E15000008,E30000001,E16000001,E06000001,E36000001,E00000001,E05000001,"
                f"E99999999,E01000001,E02000001,A1,1A1,E00000001,E01000001,E02000001,E33000001,E38000001,"
                f"E63000001,A1,1a1,51.{i % 100000:05d},0.{i % 100000:05d},E37000001,,E23000001,{i % 32844},"
                f"E56000001,{icb},E00000001,E01000001,E02000001,UN1,{i}\n")
PY
report "synthetic ONSPD: $ROWS rows, $(du -m "$WORK/onspd.csv" | cut -f1) MB, $(head -n 1 "$WORK/onspd.csv" | tr ',' '\n' | wc -l) columns"
cols=$(head -n 1 "$WORK/onspd.csv" | sed 's/,/" TEXT, "/g; s/^/"/; s/$/" TEXT/')

# ---------------------------------------------------------------- SQLite
read -r ours rss <<< "$(AFTERCARE_LOG=error timed "$BIN" --database "sqlite://$WORK/ref.db" reference load "$WORK/onspd.csv")"
t0=$(now)
sqlite3 "$WORK/raw.db" -cmd ".mode csv" ".import $WORK/onspd.csv raw"
t1=$(now)
raw=$(secs "$t0" "$t1")
report "reference load (sqlite): $ours s, peak $rss MiB; sqlite3 .import: $raw s; raw/aftercare = $(ratio "$raw" "$ours")"
read -r again _ <<< "$(AFTERCARE_LOG=error timed "$BIN" --database "sqlite://$WORK/ref.db" reference load "$WORK/onspd.csv")"
report "the same file again (sqlite): $again s (loaded already: read and hashed, nothing written)"

# ---------------------------------------------------------------- PostgreSQL
if [ -n "$pgbin" ] && command -v psql >/dev/null; then
  PGDIR=$(mktemp -d /tmp/aftercare-bench-pg.XXXXXX)
  PGPORT=$(free_port)
  if [ "$(id -u)" = 0 ]; then chown postgres "$PGDIR"; chmod o+r "$WORK/onspd.csv"; chmod o+x "$WORK"; fi
  run_pg "$pgbin/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
  run_pg "$pgbin/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
    -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1" start >/dev/null
  PG="postgres://postgres@127.0.0.1:$PGPORT/postgres"
  psql -X -q -v ON_ERROR_STOP=1 "$PG" -c "CREATE DATABASE raw" >/dev/null
  read -r ours rss <<< "$(AFTERCARE_LOG=error timed "$BIN" --database "$PG" reference load "$WORK/onspd.csv")"
  t0=$(now)
  psql -X -q -v ON_ERROR_STOP=1 "postgres://postgres@127.0.0.1:$PGPORT/raw" -c "CREATE TABLE raw ($cols)" \
    -c "\\copy raw FROM '$WORK/onspd.csv' WITH (FORMAT csv, HEADER true)" >/dev/null
  t1=$(now)
  raw=$(secs "$t0" "$t1")
  report "reference load (postgres $("$pgbin/postgres" --version | awk '{print $3}')): $ours s, peak $rss MiB; psql \\copy: $raw s; raw/aftercare = $(ratio "$raw" "$ours")"
fi
report "target: the full directory in well under a minute on both backends"
