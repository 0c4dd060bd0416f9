#!/usr/bin/env bash
# Epidemic level and Rt speed (issue 8, point 5): "assessment of all 10,040 pre-2025 communes plus
# aggregation under 1 s; Rt for 10,040 units × 730 days under 2 s."
#
#   bench/levels/run.sh            both modes
#   bench/levels/run.sh assess     the weekly level of every pre-2025 commune, district, province
#   bench/levels/run.sh rt         Rt (7-day windows) for UNITS series of DAYS days
#
# Builds nothing. Expects BENCH (default <repo>/target/release/examples/level_bench):
#   cargo build --release -p cli --example level_bench
# Environment: SEED (default 2021), REPEAT (default 5 for assess, 1 for rt: one sequential plus
# one parallel pass at full size took minutes on the 2-core CI machine), UNITS (default 10040),
# DAYS (default 730), THREADS (default: all cores). What is generated and timed, and the
# baselines: the doc comment of crates/cli/examples/level_bench.rs. Prints the machine line on
# stderr, then a Markdown table row per mode (and the raw JSON line on stderr).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BENCH="${BENCH:-$REPO/target/release/examples/level_bench}"
SEED="${SEED:-2021}"
UNITS="${UNITS:-10040}"
DAYS="${DAYS:-730}"
THREADS="${THREADS:-$(nproc)}"
[ -x "$BENCH" ] || { echo "no binary at $BENCH (see the header of this script)" >&2; exit 1; }
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(uname -r); $(date -u +%F)" >&2

assess_row() {
    local out
    out="$("$BENCH" assess --seed "$SEED" --repeat "${REPEAT:-5}")"
    echo "$out" >&2
    python3 - "$out" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
c, d, p = s["communes"], s["districts"], s["provinces"]
lv = lambda t: "/".join(str(t["levels"][k]) for k in "1234")
t, a, g, b = s["total"], s["assess_communes"], s["aggregate_districts_provinces"], s["baseline"]
met = "**met**" if t["median_ms"] < 1000 else "**not met**"
print("| mode | units | levels 1/2/3/4 (communes; districts; provinces) | crisis | timed (min / median ms) "
      "| baseline (min / median ms) | ratio | target |")
print("|---|---|---|---:|---|---|---:|---|")
print(f"| assess ({s['ruleset']}, repeats: {s['repeat']}) | {c['units']:,} communes + {d['units']:,} districts "
      f"+ {p['units']} provinces | {lv(c)}; {lv(d)}; {lv(p)} | {c['crisis']:,} + {d['crisis']} + {p['crisis']} "
      f"| communes {a['min_ms']:.1f} / {a['median_ms']:.1f}; aggregates {g['min_ms']:.1f} / {g['median_ms']:.1f}; "
      f"**total {t['min_ms']:.1f} / {t['median_ms']:.1f}** | {b['min_ms']:.2f} / {b['median_ms']:.2f} "
      f"| {s['ratio_total_to_baseline']:,.0f}× | < 1,000 ms: {met} |")
PY
}

rt_row() {
    local out
    out="$("$BENCH" rt --units "$UNITS" --days "$DAYS" --seed "$SEED" --repeat "${REPEAT:-1}" --threads "$THREADS")"
    echo "$out" >&2
    python3 - "$out" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
q, p, b, r = s["sequential"], s["parallel"], s["baseline"], s["posterior_only_reference"]
met = lambda ms: "**met**" if ms < 2000 else "**not met**"
print("| mode | series × days | windows | sequential (min / median ms) | "
      "parallel (min / median ms) | baseline: 7-day rolling sum (min / median ms) | ratio seq / par "
      "| reference: posteriors without quantiles (min / median ms) | target < 2,000 ms seq / par |")
print("|---|---|---:|---|---|---|---:|---|---|")
print(f"| rt (7-day windows, repeats: {s['repeat']}) | {s['units']:,} × {s['days']} | {s['windows']:,} "
      f"| {q['min_ms']:,.0f} / {q['median_ms']:,.0f} | {p['min_ms']:,.0f} / {p['median_ms']:,.0f} ({s['threads']} threads) "
      f"| {b['min_ms']:.1f} / {b['median_ms']:.1f} | {s['ratio_sequential_to_baseline']:,.0f}× / "
      f"{s['ratio_parallel_to_baseline']:,.0f}× | {r['min_ms']:.1f} / {r['median_ms']:.1f} "
      f"| {met(q['median_ms'])} / {met(p['median_ms'])} |")
PY
}

case "${1:-all}" in
    assess) assess_row ;;
    rt) rt_row ;;
    all) assess_row; rt_row ;;
    *) echo "usage: $0 [assess|rt]" >&2; exit 2 ;;
esac
