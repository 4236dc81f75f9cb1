#!/usr/bin/env bash
# Benchmark: resume over a checkpoint of N rows (default 1,000,000) where every row but the last
# is finished. Measures how long the resumed run takes to reach (and send) the one unsent row.
# Needs python3 (with its sqlite3 module) to build the checkpoint quickly.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# CAKE_RECON_BIN measures another build (e.g. an older commit) with the same script.
if [ -z "${CAKE_RECON_BIN:-}" ]; then cargo build --release --quiet; fi
bin=${CAKE_RECON_BIN:-$PWD/target/release/cake-recon}
awk -v n="$rows" 'BEGIN { print "conversion_id,payout,received,received_option,disposition_type";
  for (i = 1; i <= n; i++) printf "%d,%d.%02d,%d.50,total_revenue,approved\n", i, i % 50, i % 100, i % 70 }' > "$work/s.csv"
python3 - "$work" "$rows" <<'PY'
import hashlib, sqlite3, sys
work, n = sys.argv[1], int(sys.argv[2])
data = open(f"{work}/s.csv", "rb").read()
db = sqlite3.connect(f"{work}/s.results.csv.sandbox.ckpt")
db.executescript("""
PRAGMA journal_mode=WAL;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE rows (row INTEGER PRIMARY KEY, kind TEXT NOT NULL, intent_at TEXT, status TEXT,
  attempts INTEGER NOT NULL DEFAULT 0, http_status INTEGER, message TEXT, finished_at TEXT);
CREATE INDEX rows_status ON rows(status);
CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, pid INTEGER NOT NULL, host TEXT NOT NULL, ended TEXT);
""")
meta = {"format_version": "1", "input_path": "s.csv", "input_size": str(len(data)),
        "input_sha256": hashlib.sha256(data).hexdigest(), "rows": str(n), "created_at": "bench",
        "setting.base_url": "sandbox", "setting.api_version": "2", "setting.method": "get",
        "setting.map": "", "setting.set": "", "setting.encoding": "auto", "setting.delimiter": "auto",
        "setting.decimal": "point", "setting.date_order": "mdy"}
db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
db.executemany("INSERT INTO rows VALUES (?, 'idempotent', NULL, 'updated', 1, 200, 'Conversion Updated', 'bench')",
               ((r,) for r in range(2, n + 1)))  # rows 2..n done; row n+1 (the last) unsent
db.commit()
PY
cd "$work"
start=$(date +%s.%N)
"$bin" run s.csv --sandbox --rate 0 --no-progress -v 2> log.txt > summary.txt
end=$(date +%s.%N)
grep -q "updated $rows," summary.txt || { cat summary.txt log.txt; exit 1; }
awk -v s="$start" -v e="$end" -v n="$rows" 'BEGIN { printf "resume over %d finished rows: the one unsent row sent and the run finished in %.2f s\n", n - 1, e - s }'
