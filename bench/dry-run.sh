#!/usr/bin/env bash
# Benchmark: a dry run over a generated sheet of N rows (default 1,000,000).
# Prints rows/s and peak RSS. Usage: bench/dry-run.sh [ROWS]
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
bin=${CAKE_RECON_BIN:-target/release/cake-recon}
awk -v n="$rows" 'BEGIN {
  print "Conversion ID,Transaction ID,Offer ID,Payout,Received,Received Option,Disposition Type,Note To Append";
  for (i = 1; i <= n; i++) {
    printf "%d,TX-%08d,%d,\"$%d,%03d.%02d\",%d.%02d,Total Revenue,Approved,%s\n", i, i, 100 + i % 50, i % 7, i % 1000, i % 100, i % 90, i % 100, (i % 10 == 0 ? "bonus" : "")
  }
}' > "$work/sheet.csv"
size=$(stat -c %s "$work/sheet.csv")
# Peak RSS from the kernel's own accounting (getrusage via GNU time when present, else /proc).
start=$(date +%s.%N)
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f '%M' -o "$work/rss" "$bin" run "$work/sheet.csv" --dry-run --output "$work/out.csv" > "$work/report.txt"
  rss_kb=$(cat "$work/rss")
else
  python3 - "$bin" "$work" <<'PY' > "$work/rss"
import resource, subprocess, sys
b, w = sys.argv[1], sys.argv[2]
subprocess.run([b, "run", f"{w}/sheet.csv", "--dry-run", "--output", f"{w}/out.csv"], stdout=open(f"{w}/report.txt", "w"), check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
  rss_kb=$(cat "$work/rss")
fi
end=$(date +%s.%N)
lines=$(($(wc -l < "$work/out.csv") - 1))
[ "$lines" -eq "$rows" ] || { echo "expected $rows result lines, got $lines" >&2; exit 1; }
awk -v r="$rows" -v s="$start" -v e="$end" -v k="$rss_kb" -v b="$size" 'BEGIN {
  t = e - s;
  printf "dry run: %d rows (%.1f MB) in %.2f s = %.0f rows/s; peak RSS %.1f MB (%.1f bytes/row incl. binary)\n", r, b / 1e6, t, r / t, k / 1024, k * 1024 / r
}'
