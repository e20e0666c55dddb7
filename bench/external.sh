#!/usr/bin/env bash
# External-load ingest benchmark: the release `orkhub` binary on a fresh
# SQLite file and on a fresh PostgreSQL database, driven over HTTP by wrk (a
# separate process) with a unique body per request. Prints, per engine:
# notifications/s, p50/p99, the hub's RSS idle and at its peak, and the
# hub's CPU per accepted notification (from /proc, the hub process only:
# not wrk's, not PostgreSQL's) and, on PostgreSQL, the server's own CPU
# per notification (every postgres process: it shares the same cores).
# `alertmanager` runs the tool issue 24 compares with, Prometheus
# Alertmanager (Debian's prometheus-alertmanager, 0.25), on the same
# machine and load: one new alert per request to /api/v2/alerts, held in
# memory (its one receiver has no integration), nothing written to disk.
#
# Usage: bench/external.sh [sqlite|postgres|both|alertmanager|all]
#        (default both: SQLite then PostgreSQL; all: the three)
# Knobs: SECS (20), CONNS (64), THREADS (2), WARMUP_SECS (3),
#        PG_URL (postgres://postgres@127.0.0.1:5432, a server to create a
#        throwaway database on), PORT (18080),
#        PROFILE=1 also records `perf record -g` of the hub during the run
#        (perf.data and a report in the output folder),
#        OUT (a folder for logs; default a new one under /tmp),
#        BIN (another orkhub binary to measure) with NO_BUILD=1.
# Needs wrk (Debian: apt-get install wrk), psql for PostgreSQL,
# prometheus-alertmanager for alertmanager, and a release build
# (`cargo build --release -p orkhub`; the script runs it).
set -euo pipefail

ENGINES=${1:-both}
SECS=${SECS:-20}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
WARMUP_SECS=${WARMUP_SECS:-3}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
PORT=${PORT:-18080}
PROFILE=${PROFILE:-0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$(mktemp -d /tmp/orkhub-external.XXXXXX)}
BIN=${BIN:-"$ROOT/target/release/orkhub"}
HZ=$(getconf CLK_TCK)

command -v wrk >/dev/null || { echo "wrk is not installed (Debian: apt-get install wrk)" >&2; exit 1; }
[ -n "${NO_BUILD:-}" ] || (cd "$ROOT" && cargo build --release -q -p orkhub)
mkdir -p "$OUT"

# The machine's speed now (SHA-256 on one core), as the in-process benchmark prints it.
speed() {
  local t0 t1
  t0=$(date +%s%N)
  head -c 200000000 /dev/zero | sha256sum >/dev/null
  t1=$(date +%s%N)
  echo $((200 * 1000000000 / (t1 - t0)))
}

# One request per call with a body no other request has (thread, counter).
LUA="$ROOT/bench/unique.lua"
# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"

rss_kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# "pid ticks" for every PostgreSQL server process (backends, WAL writer,
# checkpointer): the database's own CPU, which shares the two cores.
pg_ticks() {
  local p
  for p in $(pgrep -x postgres); do
    awk -v p="$p" '{print p, $14 + $15}' "/proc/$p/stat" 2>/dev/null
  done
}
# µs of PostgreSQL CPU per notification between two pg_ticks snapshots
# (files $1, $2; a backend started in between counts from zero).
pg_cpu_us() {
  awk -v hz="$HZ" -v n="$3" 'NR == FNR {t0[$1] = $2; next} {s += $2 - t0[$1]} END {printf "%.1f", s * 1000000 / hz / n}' "$1" "$2"
}
# Accepted so far: the hub's notifications, or Alertmanager's alerts
# received through its v2 API (firing).
accepted() {
  curl -s "http://127.0.0.1:$PORT/metrics" | awk '
    $1 == "orkhub_notifications_accepted_total" {n = $2}
    $1 == "alertmanager_alerts_received_total{status=\"firing\",version=\"v2\"}" {n = $2}
    END {print n + 0}'
}
# Ingest transactions committed (0 from a build without the counter).
batches() {
  curl -s "http://127.0.0.1:$PORT/metrics" | awk '$1 == "orkhub_ingest_batches_total" {b = $2} END {print b + 0}'
}

run_engine() {
  local engine=$1 url dbname="" pid
  # The engine before this one left its writes in the page cache (the
  # SQLite run some 500 MB); written back during this run, they slowed
  # PostgreSQL's WAL fsyncs (p99 7-8 -> 11 ms right after SQLite). Each
  # engine starts on a clean cache, as if it ran alone.
  sync
  # What bench/unique.lua sends: a notification, or an alert (below).
  export BENCH_TARGET=hub
  local dir="$OUT/$engine"
  mkdir -p "$dir"
  case $engine in
    sqlite) url="sqlite://$OUT/sqlite/orkhub.db" ;;
    postgres)
      dbname="orkhub_external_$$"
      PGOPTIONS="-c client_min_messages=warning" psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $dbname" -c "CREATE DATABASE $dbname" >/dev/null
      url="$PG_URL/$dbname"
      ;;
    alertmanager) export BENCH_TARGET=alertmanager ;;
    *) echo "unknown engine $engine (sqlite, postgres, both, alertmanager or all)" >&2; exit 2 ;;
  esac
  if [ "$engine" = alertmanager ]; then
    command -v prometheus-alertmanager >/dev/null || { echo "prometheus-alertmanager is not installed (Debian: apt-get install prometheus-alertmanager)" >&2; exit 1; }
    # One receiver with no integration: alerts are grouped and held, as a
    # router holds what it has not yet sent; no clustering (one instance).
    printf 'route:\n  receiver: hold\n  group_wait: 1h\n  group_interval: 1h\n  repeat_interval: 24h\nreceivers:\n  - name: hold\n' >"$dir/alertmanager.yml"
    prometheus-alertmanager --config.file="$dir/alertmanager.yml" --storage.path="$dir/data" \
      --web.listen-address="127.0.0.1:$PORT" --cluster.listen-address= --log.level=warn \
      >"$dir/stdout.log" 2>"$dir/stderr.log" &
    pid=$!
  else
    bench_config "$url" "$PORT" >"$dir/config.toml"
    export ORKHUB_CONFIG="$dir/config.toml"
    ORKHUB_BENCH_KEY=$("$BIN" key create --agent bench --scopes notifications:write 2>"$dir/key.log")
    export ORKHUB_BENCH_KEY
    "$BIN" serve >"$dir/stdout.log" 2>"$dir/stderr.log" &
    pid=$!
  fi
  # A step that fails (set -e) must not leave the process holding the port.
  trap "kill -TERM $pid 2>/dev/null" EXIT
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/metrics" >/dev/null && break
    sleep 0.1
  done
  sleep 2
  local idle_rss
  idle_rss=$(rss_kb "$pid" VmRSS)
  local mbps
  mbps=$(speed)
  # Warm up (SQLite's and PostgreSQL's caches, the statement caches), then measure.
  wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP_SECS}s" -s "$LUA" "http://127.0.0.1:$PORT" >"$dir/warmup.txt"
  local n0 b0 c0 n1 b1 c1 peak=0 r perf_pid=""
  n0=$(accepted); b0=$(batches); c0=$(cpu_ticks "$pid"); pg_ticks >"$dir/pg0"
  if [ "$PROFILE" = 1 ]; then
    perf record -q -g -F 499 -p "$pid" -o "$dir/perf.data" -- sleep "$SECS" 2>"$dir/perf-record.log" &
    perf_pid=$!
  fi
  wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency -s "$LUA" "http://127.0.0.1:$PORT" >"$dir/wrk.txt" &
  local wrk_pid=$!
  while kill -0 "$wrk_pid" 2>/dev/null; do
    r=$(rss_kb "$pid" VmRSS); [ "$r" -gt "$peak" ] && peak=$r
    sleep 0.5
  done
  wait "$wrk_pid"
  n1=$(accepted); b1=$(batches); c1=$(cpu_ticks "$pid"); pg_ticks >"$dir/pg1"
  [ -n "$perf_pid" ] && wait "$perf_pid"
  local hwm
  hwm=$(rss_kb "$pid" VmHWM)
  kill -TERM "$pid"; wait "$pid" || true
  trap - EXIT
  [ -n "$dbname" ] && psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $dbname" >/dev/null
  local n=$((${n1%.*} - ${n0%.*}))
  local rate p50 p99 non2xx
  rate=$(awk '/^Requests\/sec/ {print $2}' "$dir/wrk.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$dir/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$dir/wrk.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$dir/wrk.txt"); non2xx=${non2xx:-0}
  local cpu_us
  cpu_us=$(awk -v c="$((c1 - c0))" -v hz="$HZ" -v n="$n" 'BEGIN {printf "%.1f", c * 1000000 / hz / n}')
  # Notifications per commit (the hub's batches); Alertmanager commits nothing.
  local per_batch="" server="" who=hub
  [ "$engine" = alertmanager ] && who=alertmanager
  [ "$who" = hub ] && per_batch="  $(awk -v n="$n" -v b="$(( ${b1%.*} - ${b0%.*} ))" 'BEGIN {if (b > 0) printf "%.1f", n / b; else print "?"}') per commit"
  [ -n "$dbname" ] && server="  server CPU $(pg_cpu_us "$dir/pg0" "$dir/pg1" "$n") µs"
  printf '%-12s %9.0f notifications/s  accepted %d in %ss (%s non-2xx)  p50 %s  p99 %s  %s CPU %.1f µs/notification%s%s  RSS idle %d MB, peak %d MB (HWM %d MB)  machine %s MB/s\n' \
    "$engine" "$rate" "$n" "$SECS" "$non2xx" "$p50" "$p99" \
    "$who" "$cpu_us" "$server" "$per_batch" \
    $((idle_rss / 1024)) $((peak / 1024)) $((hwm / 1024)) "$mbps"
  if [ "$PROFILE" = 1 ]; then
    perf report -i "$dir/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | head -150 >"$dir/perf-report.txt" || true
    echo "         profile: $dir/perf.data, top symbols in $dir/perf-report.txt; by kind of work:"
    "$ROOT/bench/profile-summary.sh" "$dir/perf.data" "$cpu_us" | sed "s/^/         /"
  fi
}

echo "output in $OUT; $CONNS connections, $THREADS wrk threads, ${SECS}s after ${WARMUP_SECS}s warm-up"
case $ENGINES in
  both) run_engine sqlite; run_engine postgres ;;
  all) run_engine sqlite; run_engine postgres; run_engine alertmanager ;;
  *) run_engine "$ENGINES" ;;
esac
