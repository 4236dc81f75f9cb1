#!/usr/bin/env bash
# End-to-end benchmark against the project's own mock-server on loopback.
#   bench/e2e.sh [ROWS] [CONCURRENCY]   throughput with --rate 0
#   RATE_RUN=1 bench/e2e.sh             also: --rate 50 against 150 ms latency (achieved/configured)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-100000}
conc=${2:-32}
work=$(mktemp -d)
# The journal of sent updates in the scratch folder: no benchmark reads another's history.
export XDG_DATA_HOME="$work/data"
unset CAKE_RECON_JOURNAL
port=$((20000 + RANDOM % 20000))
mock_pid=
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# CAKE_RECON_BIN measures another build (e.g. an older commit) with the same script.
if [ -z "${CAKE_RECON_BIN:-}" ]; then cargo build --release --quiet; fi
bin=${CAKE_RECON_BIN:-$PWD/target/release/cake-recon}
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

success='<?xml version="1.0" encoding="utf-8"?><update_conversion_response xmlns="http://cakemarketing.com/api/2/"><success>true</success><message>Conversion Updated</message></update_conversion_response>'
query="api_key=bench-key&offer_id=0&conversion_id=1&request_session_id=0&transaction_id=&payout=1&add_to_existing_payout=false&received=1&received_option=total_revenue&disposition_type=approved&disposition_id=0&update_revshare_payout=false&effective_date_option=today&custom_date=01%2F01%2F2001%2000%3A00%3A00&note_to_append="

# run_tool NAME URL: the real binary, durable checkpoint on, --rate 0.
run_tool() {
  rm -f "$work"/s.results.csv*
  /usr/bin/time -f '%e %M %U %S' -o "$work/time" "$bin" run "$work/s.csv" --base-url "$2" \
    --rate 0 --concurrency "$conc" --no-progress -q
  read -r secs rss_kb user sys < "$work/time"
  tool_rps=$(awk -v r="$rows" -v s="$secs" 'BEGIN { printf "%.0f", r / s }')
  awk -v n="$1" -v r="$rows" -v s="$secs" -v k="$rss_kb" -v u="$user" -v y="$sys" -v c="$conc" 'BEGIN {
    printf "%s: cake-recon --rate 0 --concurrency %d: %d rows in %.2f s = %.0f rows/s (incl. pre-pass and start-up); peak RSS %.1f MB; CPU %.1f us/row\n", n, c, r, s, r / s, k / 1024, (u + y) * 1e6 / r }'
}
# run_wrk NAME URL: wrk against the same server, same connection count.
run_wrk() {
  if ! command -v wrk > /dev/null; then echo "$1: wrk not installed (apt-get install wrk) - no ratio"; return; fi
  wrk_rps=$(wrk -t1 -c"$conc" -d5s "$2/api/2/track.asmx/UpdateConversion?$query" | awk '/Requests\/sec/ { print int($2) }')
  awk -v n="$1" -v w="$wrk_rps" -v t="$tool_rps" 'BEGIN { printf "%s: wrk %d req/s; cake-recon/wrk = %.0f%%\n", n, w, t / w * 100 }'
}

sheet "$work/s.csv" "$rows"
start_mock
run_tool mock-server "http://127.0.0.1:$port"
run_wrk mock-server "http://127.0.0.1:$port"
stop_mock

if command -v nginx > /dev/null; then
  nport=$((port + 1))
  mkdir -p "$work/nginx/logs"
  cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
error_log $work/nginx/logs/error.log;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  server { listen 127.0.0.1:$nport; location / { default_type text/xml; return 200 '$success'; } }
}
NGINX
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
  nginx_pid=$!
  sleep 0.5
  run_tool nginx "http://127.0.0.1:$nport"
  run_wrk nginx "http://127.0.0.1:$nport"
  kill "$nginx_pid"; wait "$nginx_pid" 2>/dev/null || true
else
  echo "nginx not installed (apt-get install nginx-light) - skipped"
fi

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
