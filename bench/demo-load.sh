#!/usr/bin/env bash
# Measures `phongdich demo` (generate + insert a synthetic province) into SQLite and PostgreSQL,
# with a same-run baseline: the sqlite3 CLI copying the very same rows with one
# INSERT … SELECT (the floor for this machine's disk and SQLite build).
# Usage: bench/demo-load.sh [PERSONS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
persons=${1:-200000}
runs=${2:-3}
cargo build --release -q
bin=target/release/phongdich
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

echo "machine: $(nproc) cores, $(uname -r); date: $(date -u +%F)"
for i in $(seq 1 "$runs"); do
  rm -f "$dir"/demo.db*
  $bin demo --database "sqlite://$dir/demo.db" --province 12 --persons "$persons" --seed 1 \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print("sqlite run: %d persons, %.2f s, %.0f persons/s" % (r["persons"], r["generate_seconds"]+r["insert_seconds"], r["persons_per_second"]))'
  if command -v sqlite3 >/dev/null; then
    rm -f "$dir"/copy.db*
    $bin migrate --database "sqlite://$dir/copy.db" >/dev/null
    start=$(date +%s.%N)
    sqlite3 "$dir/copy.db" "PRAGMA cache_size=-65536; ATTACH '$dir/demo.db' AS d; BEGIN; INSERT INTO persons SELECT * FROM d.persons; INSERT INTO households SELECT * FROM d.households; COMMIT;"
    end=$(date +%s.%N)
    python3 -c "print(f'baseline (sqlite3 INSERT…SELECT of the same rows): {$end-$start:.2f} s')"
  fi
done
if [ -n "${PHONGDICH_BENCH_PG:-}" ]; then
  for i in $(seq 1 "$runs"); do
    psql "$PHONGDICH_BENCH_PG" -qc "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public;" >/dev/null
    $bin demo --database "$PHONGDICH_BENCH_PG" --province 12 --persons "$persons" --seed 1 \
      | python3 -c 'import json,sys; r=json.load(sys.stdin); print("postgres run: %d persons, %.2f s, %.0f persons/s" % (r["persons"], r["generate_seconds"]+r["insert_seconds"], r["persons_per_second"]))'
  done
fi
