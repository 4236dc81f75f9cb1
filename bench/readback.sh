#!/usr/bin/env bash
# End-to-end read-back benchmark: `cake-recon check` of a SHEET-row sheet against the project's
# mock-server holding CONVERSIONS conversions spread over September 2026, reading the whole month
# (every page over HTTP on loopback: the emulator renders the recorded v17 shape, ≈ 1.6 KB/row).
#   bench/readback.sh [CONVERSIONS] [SHEET]      defaults 1000000 and 1000
# Reports the conversions read per second and the client's peak memory (which follows the sheet
# and one page, not the window). The emulator shares the 2 cores, as in every e2e figure here.
set -euo pipefail
cd "$(dirname "$0")/.."
conversions=${1:-1000000}
sheet_rows=${2:-1000}
work=$(mktemp -d)
# The journal of sent updates in the scratch folder: no benchmark reads another's history.
export XDG_DATA_HOME="$work/data"
unset CAKE_RECON_JOURNAL
port=$((20000 + RANDOM % 20000))
mock_pid=
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
if [ -z "${CAKE_RECON_BIN:-}" ]; then cargo build --release --quiet; fi
bin=${CAKE_RECON_BIN:-$PWD/target/release/cake-recon}
export CAKE_API_KEY=bench-key
awk -v n="$sheet_rows" -v c="$conversions" 'BEGIN { print "conversion_id,payout,add_to_existing_payout";
  for (i = 0; i < n; i++) printf "%d,10.00,false\n", 1 + int(i * c / n) }' > "$work/s.csv"
"$bin" mock-server --listen "127.0.0.1:$port" --conversions "$conversions" --report-page-cap 10000 \
  --report-reach 1000000000 > "$work/mock.log" 2>&1 &
mock_pid=$!
for _ in $(seq 1 100); do grep -q listening "$work/mock.log" 2>/dev/null && break; sleep 0.05; done
/usr/bin/time -f '%e %M %U %S' -o "$work/time" "$bin" check "$work/s.csv" --base-url "http://127.0.0.1:$port" \
  --since 2026-09-01 --until 2026-09-30 --rate 0 --no-progress > "$work/out.txt" || true
read -r secs rss_kb user sys < "$work/time"
read_rows=$(sed -n 's/.*(\([0-9]*\) conversions read.*/\1/p' "$work/out.txt")
grep -q "already_correct $sheet_rows," "$work/out.txt" || { cat "$work/out.txt"; exit 1; }
awk -v n="$read_rows" -v s="$secs" -v k="$rss_kb" -v r="$sheet_rows" -v u="$user" -v y="$sys" 'BEGIN {
  printf "check: %d conversions read and matched against %d sheet rows in %.2f s = %.0f rows/s wall; client CPU %.2f s = %.0f rows/s of client CPU; client peak RSS %.1f MB\n", n, r, s, n / s, u + y, n / (u + y), k / 1024 }'
