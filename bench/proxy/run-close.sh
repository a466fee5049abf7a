#!/usr/bin/env bash
# Short connections counted done only when the close comes back through the
# proxy: direct, then sniproxy per mode, in the same rounds. What a client
# that reads to the end of stream waits, so a proxy that carries the last
# byte at once but the FIN late shows here and not in run-modes.sh (whose
# client closes as soon as it has the answer).
#
#   bench/proxy/run-close.sh BUILD_DIR          e.g. build/release
#
# Each connection: connect, a fresh ClientHello, the `reply` backend's 64-byte
# answer, our half-close (SHUT_WR), the backend's close on our FIN, and our
# read of the end of stream (`proxy_load rate --wait-close 1`). Cases: one
# connection at a time and CONCURRENCY at once. After the rounds, one more
# one-at-a-time run per proxy under `perf stat` counts its system calls per
# connection (all, bpf, getsockopt, ioctl, poll, io_uring_enter, setsockopt)
# and the proxy's context switches per connection (cswitch).
#
# Env: ROUNDS=5 CONNECTIONS=2000 CONCURRENCY=32 MODES="splice sockmap"
#   WORKERS=1 SETTLE=0.3
#   END_AFTER_REPLY=1: the backend sends its FIN right behind the answer
#   (a server that closes after its response) instead of on ours
#   PERF_CONCURRENCY=1: connections in flight during the perf stat run
#   SNIPROXY=BUILD_DIR/src/app/sniproxy PROXY_LOAD=BUILD_DIR/bench/proxy/proxy_load
#   BASELINE=PATH: another sniproxy binary, measured in the same rounds as
#   "before-MODE" for BASELINE_MODES (default: MODES)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

BUILD=${1:?usage: $0 BUILD_DIR (e.g. build/release)}
HERE=$(cd "$(dirname "$0")" && pwd)
SNIPROXY=${SNIPROXY:-$BUILD/src/app/sniproxy}
LOAD=${PROXY_LOAD:-$BUILD/bench/proxy/proxy_load}
ROUNDS=${ROUNDS:-5}
CONNECTIONS=${CONNECTIONS:-2000}
CONCURRENCY=${CONCURRENCY:-32}
MODES=${MODES:-splice sockmap}
BASELINE=${BASELINE:-}
BASELINE_MODES=${BASELINE_MODES:-$MODES}
WORKERS=${WORKERS:-1}
END_AFTER_REPLY=${END_AFTER_REPLY:-0}
SETTLE=${SETTLE:-0.3}
PERF_CONCURRENCY=${PERF_CONCURRENCY:-1}

# shellcheck source=lib/procs.sh
. "$HERE/lib/procs.sh"
# shellcheck source=lib/bench_toml.sh
. "$HERE/lib/bench_toml.sh"

begin_bench

start_bg "$work/reply.log" "$LOAD" backend --mode reply --threads 2 --timeout 7200 \
  --end-after-reply "$END_AFTER_REPLY"
REPLY_PORT=$(wait_port_line "$work/reply.log" "$STARTED_PID") || {
  cat "$work/reply.log" >&2
  exit 1
}

declare -A ADDR=() PID_OF=()
TARGETS=(direct)
ADDR[direct]=127.0.0.1:$REPLY_PORT

# start_proxy NAME BINARY MODE: one sniproxy in front of the reply backend.
start_proxy() {
  local name=$1 binary=$2 mode=$3 port
  port=$("$LOAD" free-port)
  {
    bench_toml_head "$mode" "$port"
    cat <<TOML
[[tables.bench]]
match = "reply.bench.test"
backend = "127.0.0.1:$REPLY_PORT"
TOML
  } >"$work/$name.toml"
  start_bg "$work/$name.log" "$binary" --config "$work/$name.toml"
  PID_OF[$name]=$STARTED_PID
  for _ in $(seq 300); do # sockmap compiles its BPF first
    if "$LOAD" rate --to "127.0.0.1:$port" --connections 1 --concurrency 1 --wait-close 1 \
      --timeout 2 >/dev/null 2>&1; then
      TARGETS+=("$name")
      ADDR[$name]=127.0.0.1:$port
      return 0
    fi
    sleep 0.1
  done
  echo "$name: not measured (no answer): $(tail -1 "$work/$name.log")" >&2
}

for mode in $MODES; do start_proxy "$mode" "$SNIPROXY" "$mode"; done
if [ -n "$BASELINE" ]; then
  for mode in $BASELINE_MODES; do start_proxy "before-$mode" "$BASELINE" "$mode"; done
fi

: >"$work/results"
for round in $(seq "$ROUNDS"); do
  shift_by=$(((round - 1) % ${#TARGETS[@]}))
  order=("${TARGETS[@]:$shift_by}" "${TARGETS[@]:0:$shift_by}")
  for concurrency in 1 "$CONCURRENCY"; do
    for t in "${order[@]}"; do
      sleep "$SETTLE"
      out=$("$LOAD" rate --to "${ADDR[$t]}" --connections "$CONNECTIONS" \
        --concurrency "$concurrency" --wait-close 1) || true
      echo "$round $t $concurrency $(kv cps "$out")" >>"$work/results"
    done
  done
  echo "round $round/$ROUNDS done" >&2
done

# System calls per connection, one at a time, outside the measured rounds.
: >"$work/syscalls"
if command -v perf >/dev/null; then
  for t in "${TARGETS[@]}"; do
    [ "$t" = direct ] && continue
    perf stat -x, -o "$work/perf.out" -p "${PID_OF[$t]}" -e raw_syscalls:sys_enter \
      -e syscalls:sys_enter_bpf -e syscalls:sys_enter_getsockopt -e syscalls:sys_enter_ioctl \
      -e syscalls:sys_enter_poll -e syscalls:sys_enter_io_uring_enter \
      -e syscalls:sys_enter_setsockopt -e context-switches 2>/dev/null &
    perf_pid=$!
    sleep 0.5 # attached before the first connection
    "$LOAD" rate --to "${ADDR[$t]}" --connections "$CONNECTIONS" \
      --concurrency "$PERF_CONCURRENCY" --wait-close 1 >/dev/null || true
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    awk -F, -v t="$t" -v n="$CONNECTIONS" '$3 ~ /sys_enter|context-switches/ {
      name = $3; sub(/.*sys_enter_?/, "", name); if (name == "") name = "all"
      if (name == "context-switches") name = "cswitch"
      printf "%s %s %.1f\n", t, name, $1 / n }' "$work/perf.out" >>"$work/syscalls"
  done
fi

python3 - "$work/results" "$work/syscalls" "$CONCURRENCY" "$PERF_CONCURRENCY" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if len(line.split()) == 4]
data, targets = {}, []
for r, t, conc, cps in rows:
    data.setdefault(conc, {}).setdefault(t, {})[int(r)] = float(cps)
    if t not in targets:
        targets.append(t)
print("connections/s until the close comes back (median of rounds; x: ratio to direct "
      "and to splice in the same round)")
print(f"{'target':16} {'conc':>5} {'conn/s':>9} {'x direct':>9} {'x splice':>9}")
for conc in ("1", sys.argv[3]):
    by_target = data.get(conc, {})
    for t in targets:
        runs = by_target.get(t, {})
        if not runs:
            continue
        def ratio(base):
            other = by_target.get(base, {})
            vals = [runs[r] / other[r] for r in runs if r in other and other[r] > 0]
            return f"{statistics.median(vals):8.2f}x" if vals else f"{'':9}"
        print(f"{t:16} {conc:>5} {statistics.median(runs.values()):9.0f} "
              f"{ratio('direct')} {ratio('splice')}")
calls = [line.split() for line in open(sys.argv[2])]
if calls:
    names = []
    for _, name, _ in calls:
        if name not in names:
            names.append(name)
    print(f"\nsystem calls and context switches per connection, {sys.argv[4]} in flight (perf stat)")
    print(f"{'target':16} " + " ".join(f"{n:>14}" for n in names))
    per = {}
    for t, name, value in calls:
        per.setdefault(t, {})[name] = value
    for t, values in per.items():
        print(f"{t:16} " + " ".join(f"{values.get(n, '-'):>14}" for n in names))
PY
