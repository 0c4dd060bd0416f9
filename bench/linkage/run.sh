#!/usr/bin/env bash
# Record-linkage benchmark: `phongdich link` against Splink 5 (DuckDB) on the same synthetic data.
#
#   bench/linkage/run.sh [N_REGISTER N_RECORDS [DATA_DIR]]
#
# Defaults: 100000 50000, DATA_DIR=/tmp/phongdich-linkage/<N_REGISTER>x<N_RECORDS>.
# Environment: PHONGDICH (binary, default <repo>/target/release/phongdich — it is not built here),
#              SEED (default 2021), REUSE_DATA=1 to keep existing data files in DATA_DIR.
#
# Generates the register, the records and the truth with `phongdich linkage-data`, runs both
# tools one after the other under /usr/bin/time -v, scores both outputs with
# `phongdich link-score`, and prints: tool, wall seconds, peak RSS MiB, precision, recall, F1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
N_REGISTER="${1:-100000}"
N_RECORDS="${2:-50000}"
DATA_DIR="${3:-/tmp/phongdich-linkage/${N_REGISTER}x${N_RECORDS}}"
PHONGDICH="${PHONGDICH:-$REPO/target/release/phongdich}"
SEED="${SEED:-2021}"
VENV="$HERE/.venv"

[ -x "$PHONGDICH" ] || { echo "no phongdich binary at $PHONGDICH (cargo build --release first)" >&2; exit 1; }

# GNU time for wall clock and peak RSS.
if [ ! -x /usr/bin/time ]; then
    apt-get update -qq && apt-get install -y -qq time >/dev/null
fi

# Splink in its own virtualenv, pinned by requirements.txt.
if ! "$VENV/bin/python" -c 'import splink, sys; sys.exit(splink.__version__ != "5.0.0")' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r "$HERE/requirements.txt"
fi

mkdir -p "$DATA_DIR"
if [ "${REUSE_DATA:-0}" != 1 ] || [ ! -s "$DATA_DIR/truth.csv" ]; then
    echo "generating $N_REGISTER register persons × $N_RECORDS records (seed $SEED) in $DATA_DIR" >&2
    "$PHONGDICH" linkage-data --register "$N_REGISTER" --records "$N_RECORDS" --seed "$SEED" \
        --out-dir "$DATA_DIR" >/dev/null
fi
POP="$DATA_DIR/population.csv"
REC="$DATA_DIR/records.csv"
TRUTH="$DATA_DIR/truth.csv"

# run NAME COMMAND... — runs under /usr/bin/time -v; the tool's own output goes to NAME.log.
run() {
    local name="$1"
    shift
    echo "running $name ..." >&2
    sync
    if ! /usr/bin/time -v -o "$DATA_DIR/$name.time" "$@" >"$DATA_DIR/$name.log" 2>&1; then
        echo "$name failed; see $DATA_DIR/$name.log" >&2
        tail -20 "$DATA_DIR/$name.log" >&2
        exit 1
    fi
}

run phongdich "$PHONGDICH" link --population "$POP" --records "$REC" --out "$DATA_DIR/phongdich.csv"
run splink "$VENV/bin/python" "$HERE/splink_link.py" "$POP" "$REC" "$DATA_DIR/splink.csv"

for tool in phongdich splink; do
    "$PHONGDICH" link-score --truth "$TRUTH" --matches "$DATA_DIR/$tool.csv" >"$DATA_DIR/$tool.score.json"
done

python3 - "$DATA_DIR" "$N_REGISTER" "$N_RECORDS" <<'EOF' | tee "$DATA_DIR/results.md"
import json, re, sys
data_dir, n_reg, n_rec = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def wall_and_rss(path):
    text = open(path).read()
    clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    seconds = 0.0
    for part in clock.split(":"):
        seconds = seconds * 60 + float(part)
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return seconds, rss_kib / 1024

print(f"register {n_reg:,} × records {n_rec:,}  ({data_dir})\n")
print("| tool      | wall s | peak RSS MiB | precision | recall | F1     |")
print("|-----------|-------:|-------------:|----------:|-------:|-------:|")
for tool in ("phongdich", "splink"):
    wall, rss = wall_and_rss(f"{data_dir}/{tool}.time")
    s = json.load(open(f"{data_dir}/{tool}.score.json"))
    print(f"| {tool:9s} | {wall:6.1f} | {rss:12.0f} | {s['precision']:9.4f} | {s['recall']:6.4f} "
          f"| {s['f1']:6.4f} |")
EOF
