#!/usr/bin/env bash
# Instructions per notification: the release `orkhub` binary on a fresh
# SQLite file under valgrind's callgrind, driven over HTTP by wrk (a
# separate process) with a unique body per request, as bench/external.sh
# drives it. Prints the hub's user-space instructions per accepted
# notification, the mean batch (notifications per ingest commit) and the
# functions that take the most, inclusive.
#
# Why next to external.sh: this project's machine runs half again slower in
# some phases than in others, and CPU time per notification moves with it
# (README "External load"). An instruction count does not: the same binary
# and load give the same count within about 1%, whatever the machine is
# doing, so two builds can be compared one after the other. It counts user
# space only (no kernel: TCP over loopback, file writes, wake-ups), and
# the hub runs some 50 times slower under callgrind: its batches are what
# that pace makes them (the mean batch is printed to compare), and work
# done per second rather than per request (the checkpointer's passes, the
# dispatcher's polls) weighs some 50 times more per notification than at
# full speed — a few thousand of the count.
#
# Usage: bench/instructions.sh            (SECS=20 measured, after 10 s)
# Knobs: SECS, WARMUP_SECS (10), CONNS (64), PORT (18081), TOP (25),
#        BIN (another orkhub binary) with NO_BUILD=1, OUT (a folder).
# Needs valgrind and wrk (Debian: apt-get install valgrind wrk).
set -euo pipefail

SECS=${SECS:-20}
WARMUP_SECS=${WARMUP_SECS:-10}
CONNS=${CONNS:-64}
PORT=${PORT:-18081}
TOP=${TOP:-25}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$(mktemp -d /tmp/orkhub-instructions.XXXXXX)}
BIN=${BIN:-"$ROOT/target/release/orkhub"}

for tool in wrk valgrind callgrind_annotate; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (Debian: apt-get install valgrind wrk)" >&2; exit 1; }
done
[ -n "${NO_BUILD:-}" ] || (cd "$ROOT" && cargo build --release -q -p orkhub)
mkdir -p "$OUT"

LUA="$ROOT/bench/unique.lua"
# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"

bench_config "sqlite://$OUT/orkhub.db" "$PORT" >"$OUT/config.toml"
export ORKHUB_CONFIG="$OUT/config.toml"
ORKHUB_BENCH_KEY=$("$BIN" key create --agent bench --scopes notifications:write 2>"$OUT/key.log")
export ORKHUB_BENCH_KEY

metric() {
  curl -s "http://127.0.0.1:$PORT/metrics" | awk -v k="$1" '$1 == k {v = $2} END {print v + 0}'
}

# Counting starts switched off: start-up and warm-up are not measured.
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out" \
  "$BIN" serve >"$OUT/stdout.log" 2>"$OUT/stderr.log" &
pid=$!
# A step that fails (set -e) must not leave the hub holding the port.
trap "kill -TERM $pid 2>/dev/null" EXIT
for _ in $(seq 600); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 0.1
done
wrk -t2 -c"$CONNS" -d"${WARMUP_SECS}s" -s "$LUA" "http://127.0.0.1:$PORT" >"$OUT/warmup.txt"
n0=$(metric orkhub_notifications_accepted_total); b0=$(metric orkhub_ingest_batches_total)
callgrind_control -i on "$pid" >/dev/null 2>&1
wrk -t2 -c"$CONNS" -d"${SECS}s" -s "$LUA" "http://127.0.0.1:$PORT" >"$OUT/wrk.txt"
callgrind_control -i off "$pid" >/dev/null 2>&1
n1=$(metric orkhub_notifications_accepted_total); b1=$(metric orkhub_ingest_batches_total)
kill -TERM "$pid"; wait "$pid" || true

n=$(( ${n1%.*} - ${n0%.*} ))
b=$(( ${b1%.*} - ${b0%.*} ))
total=$(callgrind_annotate "$OUT/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
awk -v t="$total" -v n="$n" -v b="$b" 'BEGIN {
  printf "sqlite   %d instructions/notification (user space)  accepted %d  %.1f per commit\n", t / n, n, (b > 0 ? n / b : 0)
}'
echo "         most instructions, inclusive, per notification:"
callgrind_annotate --inclusive=yes "$OUT/callgrind.out" 2>/dev/null \
  | grep -E '^ *[0-9,]+ \( *[0-9.]+%\)  ' \
  | sed -E 's#\( *[0-9.]+%\)##; s#/root/.cargo/registry/src/[^/]+/##; s#/rustc/[0-9a-f]+/library/##; s# \[[^]]*\]$##' \
  | grep -vE 'PROGRAM TOTALS|tokio::runtime|core/src/future|Future>::poll|__rust_begin_short_backtrace|std::sys' \
  | head -"$TOP" \
  | awk -v n="$n" '{v = $1; gsub(",", "", v); $1 = ""; printf "         %7d %s\n", v / n, substr($0, 2, 150)}'
echo "         full profile: $OUT/callgrind.out (callgrind_annotate, kcachegrind)"
