#!/usr/bin/env bash
# Benchmark: continuing a job of N rows (default 1,000,000).
#   1. (not timed) a sandbox run applies a sheet of N-1 rows;
#   2. the same sheet with one row appended (an edited sheet): every recorded outcome follows its
#      row by identity, the one new row is sent, the results file is rebuilt;
#   3. the same command once more: nothing changed, nothing sent.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
work=$(mktemp -d)
# The journal of sent updates in the scratch folder: no benchmark reads another's history.
export XDG_DATA_HOME="$work/data"
unset CAKE_RECON_JOURNAL
trap 'rm -rf "$work"' EXIT
# CAKE_RECON_BIN measures another build (e.g. an older commit) with the same script.
if [ -z "${CAKE_RECON_BIN:-}" ]; then cargo build --release --quiet; fi
bin=${CAKE_RECON_BIN:-$PWD/target/release/cake-recon}
awk -v n="$rows" 'BEGIN { print "conversion_id,payout,received,received_option,disposition_type";
  for (i = 1; i <= n; i++) printf "%d,%d.%02d,%d.50,total_revenue,approved\n", i, i % 50, i % 100, i % 70 }' > "$work/full.csv"
head -n "$rows" "$work/full.csv" > "$work/s.csv"   # header + N-1 rows
cd "$work"
"$bin" run s.csv --sandbox --rate 0 --concurrency 32 --no-progress -q
cp full.csv s.csv
timed() {
  local start end
  start=$(date +%s.%N)
  "$bin" run s.csv --sandbox --rate 0 --no-progress > summary.txt 2> log.txt
  end=$(date +%s.%N)
  grep -q "updated $rows," summary.txt || { cat summary.txt log.txt; exit 1; }
  awk -v s="$start" -v e="$end" -v what="$1" 'BEGIN { printf "%s: %.2f s\n", what, e - s }'
}
timed "edited sheet (one row appended to $((rows - 1)) applied): outcomes carried over, 1 row sent"
grep -q "1 rows were changed\|found their row" summary.txt
timed "the same command again: nothing sent"
