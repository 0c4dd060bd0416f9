#!/usr/bin/env bash
# Case surveillance benchmarks (issue 7, point 8).
#
#   bench/surveillance/run.sh ingest [ROWS]     positive-test ingest rate vs the raw load of the file
#   bench/surveillance/run.sh alerts [CASES]    a commune's alert queue with CASES open cases in the province
#
# Environment: PHONGDICH (binary, default <repo>/target/release/phongdich) and BENCH (default
# <repo>/target/release/examples/surveillance_bench) — neither is built here:
#   cargo build --release -p cli --bin phongdich --example surveillance_bench
# PHONGDICH_BENCH_PG (e.g. postgres://postgres@127.0.0.1:5432/postgres): also run on
# PostgreSQL, in a database created (and dropped first) by this script. DATA_DIR (default
# /tmp/phongdich-surveillance), SEED (default 2021), REQUESTS (default 200), PROVINCE (default 01).
#
# ingest: loads a demo register of ROWS persons (default 500,000: a national peak day) without
# vaccination histories, writes one positive test row per person sampled the same day
# (`surveillance_bench test-csv`), then in the same database times (1) the raw load of the file
# into a plain table — `sqlite3 .import --csv` or psql `COPY … FROM STDIN CSV` — and (2)
# `phongdich import tests` (validation, linkage by citizen ID, a lab-test row, a case opened per
# person with its risk group, daily counters, audit), and prints rows/s and the ratio.
#
# alerts: the same with CASES rows (default 100,000), then times the alert queue of the
# province's most populous commune and of a pre-2025 district 48 h after the import (every case
# without a check-in overdue, the worst case). REUSE=1 reuses the databases a previous `alerts`
# run of the same size prepared (the data are the same for the same SEED) and only times.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PHONGDICH="${PHONGDICH:-$REPO/target/release/phongdich}"
BENCH="${BENCH:-$REPO/target/release/examples/surveillance_bench}"
DATA_DIR="${DATA_DIR:-/tmp/phongdich-surveillance}"
SEED="${SEED:-2021}"
REQUESTS="${REQUESTS:-200}"
PROVINCE="${PROVINCE:-01}"
PG="${PHONGDICH_BENCH_PG:-}"
for b in "$PHONGDICH" "$BENCH"; do
    [ -x "$b" ] || { echo "no binary at $b (see the header of this script)" >&2; exit 1; }
done
command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null; }
if [ -n "$PG" ]; then
    command -v psql >/dev/null || { apt-get update -qq && apt-get install -y -qq postgresql-client >/dev/null; }
fi
mkdir -p "$DATA_DIR"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(uname -r); $(date -u +%F)" >&2

pg_db() {
    psql "$PG" -qc "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
    echo "${PG%/*}/$1"
}

seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >"$DATA_DIR/last.log" 2>&1 || { cat "$DATA_DIR/last.log" >&2; exit 1; }
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.2f}')"
}

report() { # BACKEND ROWS RAW_S IMPORT_S
    python3 - "$@" "$DATA_DIR/last.log" <<'PY'
import json, sys
backend, rows, raw, imp, log = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
text = open(log).read()
s = json.loads(text[text.rindex("{"):text.rindex("}") + 1])
print(f"| {backend} | {rows:,} | {raw:.2f} s ({rows/raw:,.0f} rows/s) | {imp:.2f} s ({rows/imp:,.0f} rows/s) "
      f"| {raw/imp:.1%} | inserted {s['inserted']:,}, linked {s['linked']:,}, cases created {s['cases_created']:,}, "
      f"review {s['review']:,}, unlinked {s['unlinked']:,}, rejected {s['rejected']:,} |")
PY
}

# load BACKEND ROWS — prints the database URL with ROWS persons and ROWS positive tests imported
# (timing the raw load and the import when TIME=1).
prepare() { # BACKEND ROWS
    local backend="$1" rows="$2" url
    if [ "$backend" = sqlite ]; then
        local db="$DATA_DIR/surv-$rows.db"
        rm -f "$db" "$db"-*
        url="sqlite://$db"
    else
        url="$(pg_db "pd_surv_$rows")"
    fi
    "$PHONGDICH" demo --no-vaccination --database "$url" --province "$PROVINCE" --persons "$rows" --seed "$SEED" >/dev/null
    echo "$url"
}

ingest_bench() {
    local rows="${1:-500000}" csv url raw imp
    csv="$DATA_DIR/tests-$rows-seed$SEED.csv"
    "$BENCH" test-csv --province "$PROVINCE" --persons "$rows" --rows "$rows" --seed "$SEED" --out "$csv"
    echo "| backend | rows | raw load | phongdich import tests | ratio | outcome |"
    echo "|---|---:|---:|---:|---:|---|"
    for backend in sqlite ${PG:+postgres}; do
        url="$(prepare "$backend" "$rows")"
        if [ "$backend" = sqlite ]; then
            raw=$(seconds sqlite3 "${url#sqlite://}" ".import --csv $csv raw_tests")
        else
            psql "$url" -qc "CREATE TABLE raw_tests (record_id text, national_id text, full_name text, dob text, sex text, commune_code text, phone text, sample_date text, test_type text, result text, lab_code text)"
            raw=$(seconds psql "$url" -qc "\\copy raw_tests FROM '$csv' CSV HEADER")
        fi
        imp=$(seconds "$PHONGDICH" import tests "$csv" --database "$url")
        report "$backend" "$rows" "$raw" "$imp"
    done
}

alerts_bench() {
    local rows="${1:-100000}" csv url commune district
    csv="$DATA_DIR/tests-$rows-seed$SEED.csv"
    [ "${REUSE:-0}" = 1 ] && [ -f "$csv" ] ||
        "$BENCH" test-csv --province "$PROVINCE" --persons "$rows" --rows "$rows" --seed "$SEED" --out "$csv"
    for backend in sqlite ${PG:+postgres}; do
        local saved="$DATA_DIR/alerts-$backend-$rows-seed$SEED.url"
        if [ "${REUSE:-0}" = 1 ] && [ -f "$saved" ]; then
            url="$(cat "$saved")"
            echo "reusing $url (REUSE set)" >&2
        else
            url="$(prepare "$backend" "$rows")"
            "$PHONGDICH" import tests "$csv" --database "$url" >/dev/null
            echo "$url" >"$saved"
        fi
        commune=$(python3 - "$csv" <<'PY'
import csv, sys, collections
c = collections.Counter(r["commune_code"] for r in csv.DictReader(open(sys.argv[1])))
print(c.most_common(1)[0][0])
PY
)
        "$BENCH" alert-queue --database "$url" --units "$commune" --requests "$REQUESTS"
    done
}

case "${1:-}" in
    ingest) ingest_bench "${2:-500000}" ;;
    alerts) alerts_bench "${2:-100000}" ;;
    *) echo "usage: $0 ingest [ROWS] | alerts [CASES]" >&2; exit 2 ;;
esac
