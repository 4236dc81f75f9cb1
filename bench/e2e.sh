#!/usr/bin/env bash
# End-to-end benchmark against the project's own mock-server on loopback.
#   bench/e2e.sh [ROWS] [CONCURRENCY]   throughput with --rate 0
#   RATE_RUN=1 bench/e2e.sh             also: --rate 50 against 150 ms latency (achieved/configured)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-100000}
conc=${2:-32}
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
mock_pid=
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cargo build --release --quiet
bin=$PWD/target/release/cake-recon
export CAKE_API_KEY=bench-key

sheet() { # sheet FILE N
  awk -v n="$2" 'BEGIN { print "conversion_id,payout,received,received_option,disposition_type";
    for (i = 1; i <= n; i++) printf "%d,%d.%02d,%d.50,total_revenue,approved\n", i, i % 50, i % 100, i % 70 }' > "$1"
}
start_mock() { # start_mock ARGS...
  "$bin" mock-server --listen "127.0.0.1:$port" --conversions "$rows" "$@" > "$work/mock.log" 2>&1 &
  mock_pid=$!
  for _ in $(seq 1 100); do grep -q listening "$work/mock.log" 2>/dev/null && return; sleep 0.05; done
  echo "mock-server did not start" >&2; exit 1
}
stop_mock() { kill "$mock_pid"; wait "$mock_pid" 2>/dev/null || true; mock_pid=; }

sheet "$work/s.csv" "$rows"
start_mock
/usr/bin/time -f '%e %M %U %S' -o "$work/time" "$bin" run "$work/s.csv" --base-url "http://127.0.0.1:$port" \
  --rate 0 --concurrency "$conc" --no-progress -q
read -r secs rss_kb user sys < "$work/time"
stop_mock
awk -v r="$rows" -v s="$secs" -v k="$rss_kb" -v u="$user" -v y="$sys" -v c="$conc" 'BEGIN {
  printf "rate 0, concurrency %d: %d rows in %.2f s = %.0f rows/s; peak RSS %.1f MB; CPU %.1f us/row\n", c, r, s, r / s, k / 1024, (u + y) * 1e6 / r }'

if [ "${RATE_RUN:-0}" = 1 ]; then
  rows=1000
  sheet "$work/r.csv" "$rows"
  start_mock --latency-ms 150
  t0=$(date +%s.%N)
  "$bin" run "$work/r.csv" --base-url "http://127.0.0.1:$port" --rate 50 --concurrency 16 --no-progress -q
  t1=$(date +%s.%N)
  stats=$(curl -s "http://127.0.0.1:$port/admin/stats" 2>/dev/null || true)
  stop_mock
  field() { printf '%s' "$stats" | grep -o "\"$1\": [0-9]*" | grep -o '[0-9]*$' || echo 0; }
  max=$(field max_in_any_second); first=$(field first_arrival_us); last=$(field last_arrival_us); n=$(field requests)
  awk -v r="$rows" -v a="$t0" -v b="$t1" -v m="$max" -v f="$first" -v l="$last" -v n="$n" 'BEGIN {
    t = b - a; at = (n - 1) / ((l - f) / 1e6);
    printf "rate 50, latency 150 ms, concurrency 16: %d rows in %.2f s wall (incl. start-up); at the server %d requests, %.2f/s between first and last arrival = %.1f%% of 50/s; max in any 1 s window: %s\n", r, t, n, at, at / 50 * 100, m }'
fi
