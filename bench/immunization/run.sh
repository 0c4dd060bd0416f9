#!/usr/bin/env bash
# Immunization registry benchmarks (issue 5, point 8).
#
#   bench/immunization/run.sh import [ROWS]        dose import rate vs the raw load of the same file
#   bench/immunization/run.sh coverage [PERSONS]   coverage report p50/p95 for a large province
#   bench/immunization/run.sh floor [ROWS]         raw load vs the leanest SQL-only dose pipeline
#
# Environment: PHONGDICH (binary, default <repo>/target/release/phongdich) and BENCH (default
# <repo>/target/release/examples/immunization_bench) — neither is built here:
#   cargo build --release -p cli --bin phongdich --example immunization_bench
# PHONGDICH_BENCH_PG (e.g. postgres://postgres@127.0.0.1:5432/postgres): also run on
# PostgreSQL, in a database created (and dropped first) by this script. DATA_DIR (default
# /tmp/phongdich-immunization), SEED (default 2021), REQUESTS (default 200).
#
# import: loads a demo register of 2×ROWS persons without vaccination histories
# (`phongdich demo --no-vaccination`), writes ROWS dose rows of those persons
# (`immunization_bench dose-csv`, the doses `phongdich demo` would give them), then in the same
# database times (1) the raw load of the file into a plain table — `sqlite3 .import --csv` or
# psql `COPY … FROM STDIN CSV` — and (2) `phongdich import doses` (validation, linkage,
# coverage counters), and prints rows/s and the ratio.
#
# floor: the same register and file as `import`, then in the same database times (1) the raw load
# and (2) the leanest pipeline points 3-4 of issue 5 allow, written as plain SQL with no
# validation and no review state: insert the rows into an indexed dose table (idempotency key and
# person), linking each to the person holding its citizen ID by a join; update the affected
# persons' coverage columns; apply one of the twenty counter families (at least one dose, per
# 2025 commune x birth month). Prints each step's seconds and raw / pipeline.
#
# coverage: loads PERSONS (default 2,000,000) demo persons of Hà Nội (01) with their vaccination
# histories (`phongdich demo`), then times `store::coverage_report` for the province, a commune
# and a pre-2025 district, as of today and as of 2022-03-01, REQUESTS times each.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PHONGDICH="${PHONGDICH:-$REPO/target/release/phongdich}"
BENCH="${BENCH:-$REPO/target/release/examples/immunization_bench}"
DATA_DIR="${DATA_DIR:-/tmp/phongdich-immunization}"
SEED="${SEED:-2021}"
REQUESTS="${REQUESTS:-200}"
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

# pg_db NAME — (re)creates database NAME on the server of $PG and prints its URL.
pg_db() {
    psql "$PG" -qc "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
    echo "${PG%/*}/$1"
}

# seconds COMMAND... — runs COMMAND (output to $DATA_DIR/last.log), prints its wall seconds.
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
summary = json.loads(text[text.index("{"):text.rindex("}") + 1])
print(f"| {backend} | {rows:,} | {raw:.2f} s ({rows/raw:,.0f} rows/s) | {imp:.2f} s ({rows/imp:,.0f} rows/s) "
      f"| {raw/imp:.1%} | inserted {summary['inserted']:,}, linked {summary['linked']:,}, "
      f"review {summary['review']:,}, unlinked {summary['unlinked']:,}, rejected {summary['rejected']:,} |")
PY
}

import_bench() {
    local rows="${1:-200000}" persons csv db url raw imp
    persons=$((rows * 2))
    csv="$DATA_DIR/doses-$rows.csv"
    "$BENCH" dose-csv --persons "$persons" --rows "$rows" --seed "$SEED" --out "$csv"
    echo "| backend | rows | raw load | phongdich import doses | ratio | outcome |"
    echo "|---|---:|---:|---:|---:|---|"
    db="$DATA_DIR/import-$rows.db"
    rm -f "$db" "$db"-*
    "$PHONGDICH" demo --no-vaccination --database "sqlite://$db" --persons "$persons" --seed "$SEED" >/dev/null
    raw=$(seconds sqlite3 "$db" ".import --csv $csv doses_raw")
    imp=$(seconds "$PHONGDICH" import doses "$csv" --database "sqlite://$db")
    report SQLite "$rows" "$raw" "$imp"
    if [ -n "$PG" ]; then
        url=$(pg_db pd_bench_import)
        "$PHONGDICH" demo --no-vaccination --database "$url" --persons "$persons" --seed "$SEED" >/dev/null
        psql "$url" -qc "CREATE TABLE doses_raw (record_id text, national_id text, full_name text, \
            dob text, sex text, commune_code text, phone text, vaccine text, dose_date text, \
            lot text, site_code text)"
        raw=$(seconds sh -c "psql '$url' -qc 'COPY doses_raw FROM STDIN (FORMAT csv, HEADER true)' < '$csv'")
        imp=$(seconds "$PHONGDICH" import doses "$csv" --database "$url")
        report PostgreSQL "$rows" "$raw" "$imp"
    fi
}

# step_seconds LOG — sums the "Run Time: real S" (sqlite3) or "Time: MS ms" (psql) lines of LOG.
step_seconds() {
    python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
steps = [float(x) for x in re.findall(r"Run Time: real ([0-9.]+)", text)]
steps += [float(x) / 1000 for x in re.findall(r"Time: ([0-9.]+) ms", text)]
print(" + ".join(f"{x:.2f}" for x in steps if x >= 0.005))
PY
}

floor_bench() {
    local rows="${1:-100000}" persons csv db url raw lean
    persons=$((rows * 2))
    csv="$DATA_DIR/doses-$rows.csv"
    "$BENCH" dose-csv --persons "$persons" --rows "$rows" --seed "$SEED" --out "$csv"
    # pipeline_sql PERSON_TYPE DATE_EXPR — the pipeline in the dialect of each backend.
    pipeline_sql() {
        cat <<SQL
BEGIN;
CREATE TABLE doses_lean (site TEXT NOT NULL, record_id TEXT NOT NULL, person_id $1,
    dose_date $2 NOT NULL, product TEXT NOT NULL, lot TEXT NOT NULL, PRIMARY KEY (site, record_id));
CREATE INDEX doses_lean_person ON doses_lean (person_id);
INSERT INTO doses_lean SELECT r.site_code, r.record_id, p.id, CAST(r.dose_date AS $2), r.vaccine, r.lot
    FROM doses_raw r LEFT JOIN persons p ON p.national_id = r.national_id;
UPDATE person_coverage AS c SET doses = t.n, first_dose = t.f, last_change = t.l
    FROM (SELECT person_id, count(*) AS n, min(dose_date) AS f, max(dose_date) AS l
          FROM doses_lean GROUP BY person_id) AS t
    WHERE c.person_id = t.person_id;
INSERT INTO coverage_counts (hierarchy, unit_code, level, birth_month, count)
    SELECT '2025', commune_code, 'at_least_one', substr(CAST(dob AS TEXT), 1, 7), count(*)
    FROM person_coverage WHERE first_dose IS NOT NULL GROUP BY 2, 4
    ON CONFLICT (hierarchy, unit_code, level, birth_month)
    DO UPDATE SET count = coverage_counts.count + excluded.count;
COMMIT;
SQL
    }
    pipeline_sql TEXT TEXT >"$DATA_DIR/floor-sqlite.sql"
    pipeline_sql UUID DATE >"$DATA_DIR/floor-pg.sql"
    echo "| backend | rows | raw load | lean SQL pipeline (steps) | raw / pipeline |"
    echo "|---|---:|---:|---:|---:|"
    db="$DATA_DIR/floor-$rows.db"
    rm -f "$db" "$db"-*
    "$PHONGDICH" demo --no-vaccination --database "sqlite://$db" --persons "$persons" --seed "$SEED" >/dev/null
    raw=$(seconds sqlite3 "$db" ".import --csv $csv doses_raw")
    # The staging table is the raw load's; the pipeline reads it as the importer would read the file.
    lean=$(seconds sqlite3 -cmd ".timer on" "$db" ".read $DATA_DIR/floor-sqlite.sql")
    echo "| SQLite | $rows | $raw s | $lean s ($(step_seconds "$DATA_DIR/last.log")) | $(python3 -c "print(f'{$raw / $lean:.1%}')") |"
    if [ -n "$PG" ]; then
        url=$(pg_db pd_bench_floor)
        "$PHONGDICH" demo --no-vaccination --database "$url" --persons "$persons" --seed "$SEED" >/dev/null
        psql "$url" -qc "CREATE TABLE doses_raw (record_id text, national_id text, full_name text, \
            dob text, sex text, commune_code text, phone text, vaccine text, dose_date text, \
            lot text, site_code text)"
        raw=$(seconds sh -c "psql '$url' -qc 'COPY doses_raw FROM STDIN (FORMAT csv, HEADER true)' < '$csv'")
        lean=$(seconds psql "$url" -v ON_ERROR_STOP=1 -q -c '\timing on' -f "$DATA_DIR/floor-pg.sql")
        echo "| PostgreSQL | $rows | $raw s | $lean s ($(step_seconds "$DATA_DIR/last.log")) | $(python3 -c "print(f'{$raw / $lean:.1%}')") |"
    fi
}

coverage_bench() {
    local persons="${1:-2000000}" db url units
    db="$DATA_DIR/coverage-$persons.db"
    if [ "${REUSE_DATA:-0}" != 1 ] || [ ! -s "$db" ]; then
        rm -f "$db" "$db"-*
        /usr/bin/time -f "sqlite load: %e s, %M KB" "$PHONGDICH" demo --database "sqlite://$db" \
            --province 01 --persons "$persons" --seed "$SEED" >"$DATA_DIR/coverage-sqlite.json"
    fi
    # The province, its most populous 2025 commune and its most populous pre-2025 district.
    units="01,$(sqlite3 "$db" "SELECT commune_code FROM person_coverage GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")"
    units="$units,$(sqlite3 "$db" "SELECT old_district_code FROM person_coverage WHERE old_district_code IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")"
    "$BENCH" coverage --database "sqlite://$db" --units "$units" --requests "$REQUESTS"
    if [ -n "$PG" ]; then
        url="${PG%/*}/pd_bench_coverage"
        if [ "${REUSE_DATA:-0}" != 1 ]; then
            url=$(pg_db pd_bench_coverage)
            /usr/bin/time -f "postgres load: %e s, %M KB" "$PHONGDICH" demo --database "$url" \
                --province 01 --persons "$persons" --seed "$SEED" >"$DATA_DIR/coverage-pg.json"
        fi
        "$BENCH" coverage --database "$url" --units "$units" --requests "$REQUESTS"
    fi
}

case "${1:-}" in
    import) import_bench "${2:-200000}" ;;
    coverage) coverage_bench "${2:-2000000}" ;;
    floor) floor_bench "${2:-100000}" ;;
    *) sed -n '2,6p' "$0" >&2; exit 2 ;;
esac
