#!/usr/bin/env bash
# Messages back and forth on persistent connections, the direct path against
# sniproxy in each mode, in the same rounds: what a proxy adds to every
# round trip once the connection exists (issue "every mode at its floor").
#
#   bench/proxy/run-pingpong.sh BUILD_DIR          e.g. build/release
#
# One echo backend (`proxy_load backend --mode echo`); in front of it one
# sniproxy per mode (access log off), HAProxy and nginx when installed (as
# run-modes.sh starts them), and `relay`: proxy_load's floor of a userspace
# hop, one thread in epoll_wait() that sends on what it receives
# (load/relay.hpp). What a proxy's round trip costs beyond the relay's is its
# own; what the relay costs beyond direct, any userspace hop pays. Cases:
# 64 B and 4 KiB messages, over 1 and 32 connections (one message in flight
# per connection, TCP_NODELAY).
# Each round runs every case against every target, the target order rotated
# from round to round. Reported per case and target: the medians over the
# rounds of p50, p99 and messages/s, and p50 and messages/s as ratios to
# direct in the same round (their medians).
#
# Env: ROUNDS=5 MESSAGES=2000 (per connection with 1 connection; a sixteenth
#   of it each with 32) MODES="copy splice sockmap auto auto_sockmap"
#   (auto_sockmap: mode auto with [forwarding] auto_sockmap = true)
#   WARMUP=20 round trips per connection before the measured ones (more than
#   the 8 after which auto_sockmap moves a connection to the sockmap)
#   WORKERS=2 SETTLE=0.3
#   SNIPROXY=BUILD_DIR/src/app/sniproxy PROXY_LOAD=BUILD_DIR/bench/proxy/proxy_load
#   BASELINE=PATH: another sniproxy binary (an earlier commit's build),
#   measured in the same rounds as "before-MODE" for BASELINE_MODES
#   (default "copy"), for before/after comparisons
#   COMPETITORS=1: also HAProxy and nginx (0 leaves them out)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

BUILD=${1:?usage: $0 BUILD_DIR (e.g. build/release)}
HERE=$(cd "$(dirname "$0")" && pwd)
SNIPROXY=${SNIPROXY:-$BUILD/src/app/sniproxy}
LOAD=${PROXY_LOAD:-$BUILD/bench/proxy/proxy_load}
ROUNDS=${ROUNDS:-5}
MESSAGES=${MESSAGES:-2000}
MODES=${MODES:-copy splice sockmap auto auto_sockmap}
WARMUP=${WARMUP:-20}
WORKERS=${WORKERS:-2}
SETTLE=${SETTLE:-0.3}
# shellcheck source=lib/procs.sh
. "$HERE/lib/procs.sh"
# shellcheck source=lib/bench_toml.sh
. "$HERE/lib/bench_toml.sh"
# shellcheck source=lib/targets.sh
. "$HERE/lib/targets.sh"

begin_bench

start_bg "$work/echo.log" "$LOAD" backend --mode echo --threads 2 --timeout 7200
ECHO_PORT=$(wait_port_line "$work/echo.log" "$STARTED_PID") || { cat "$work/echo.log" >&2; exit 1; }

declare -A ADDR=()
MEASURED=(direct)
ADDR[direct]=127.0.0.1:$ECHO_PORT

start_bg "$work/relay.log" "$LOAD" relay --to "127.0.0.1:$ECHO_PORT" --timeout 7200
RELAY_PORT=$(wait_port_line "$work/relay.log" "$STARTED_PID") || { cat "$work/relay.log" >&2; exit 1; }
MEASURED+=(relay)
ADDR[relay]=127.0.0.1:$RELAY_PORT
SPECS=()
for mode in $MODES; do SPECS+=("$mode $mode $SNIPROXY"); done
if [ -n "${BASELINE:-}" ]; then
  for mode in ${BASELINE_MODES:-copy}; do SPECS+=("before-$mode $mode $BASELINE"); done
fi
for spec in "${SPECS[@]}"; do
  read -r label mode binary <<<"$spec"
  port=$("$LOAD" free-port)
  extra=""
  if [ "$mode" = auto_sockmap ]; then
    mode=auto
    extra="auto_sockmap = true"
  fi
  {
    bench_toml_head "$mode" "$port" "$extra"
    cat <<TOML
[[tables.bench]]
match = "echo.bench.test"
backend = "127.0.0.1:$ECHO_PORT"
TOML
  } >"$work/$label.toml"
  start_bg "$work/$label.log" "$binary" --config "$work/$label.toml"
  ok=0
  for _ in $(seq 300); do # sockmap compiles its BPF first
    if "$LOAD" pingpong --to "127.0.0.1:$port" --messages 1 --timeout 2 >/dev/null 2>&1; then
      ok=1
      break
    fi
    sleep 0.1
  done
  if [ "$ok" = 1 ]; then
    MEASURED+=("$label")
    ADDR[$label]=127.0.0.1:$port
  else
    echo "sniproxy $label: not measured (no answer): $(tail -1 "$work/$label.log")" >&2
  fi
done

# HAProxy and nginx as run-modes.sh starts them (lib/targets.sh), both names
# routed to the echo backend, ready once a message comes back.
if [ "${COMPETITORS:-1}" = 1 ]; then
  BULK_SNI=echo.bench.test REPLY_SNI=unused.bench.test
  COUNT_PORT=$ECHO_PORT REPLY_PORT=$ECHO_PORT
  wait_ready() { # PID ADDR LOG, as in lib/targets.sh
    local _
    for _ in $(seq 100); do
      kill -0 "$1" 2>/dev/null || { READY_REASON="exited: $(tail -1 "$3")"; return 1; }
      "$LOAD" pingpong --to "$2" --messages 1 --timeout 2 >/dev/null 2>&1 && return 0
      sleep 0.1
    done
    READY_REASON="no answer: $(tail -1 "$3")"
    return 1
  }
  add_haproxy
  add_nginx
  for id in haproxy nginx; do
    [ "${STATUS[$id]:-}" = ok ] || continue
    MEASURED+=("$id")
    ADDR[$id]=${BULK_ADDR[$id]}
  done
fi

: >"$work/results"
CASES=("1 64" "1 4096" "32 64" "32 4096")
for round in $(seq "$ROUNDS"); do
  shift_by=$(((round - 1) % ${#MEASURED[@]}))
  order=("${MEASURED[@]:$shift_by}" "${MEASURED[@]:0:$shift_by}")
  for case in "${CASES[@]}"; do
    read -r conns size <<<"$case"
    messages=$MESSAGES
    [ "$conns" -gt 1 ] && messages=$((MESSAGES / 16))
    for t in "${order[@]}"; do
      sleep "$SETTLE"
      out=$("$LOAD" pingpong --to "${ADDR[$t]}" --connections "$conns" --size "$size" \
        --messages "$messages" --warmup "$WARMUP")
      echo "$round $t $conns $size $(kv p50_us "$out") $(kv p99_us "$out") $(kv messages_per_s "$out")" \
        >>"$work/results"
    done
  done
  echo "round $round/$ROUNDS done" >&2
done

python3 - "$work/results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
data = {}
for r, t, conns, size, p50, p99, mps in rows:
    data.setdefault((conns, size), {}).setdefault(t, {})[int(r)] = (float(p50), float(p99), float(mps))
targets = []
for r in rows:
    if r[1] not in targets:
        targets.append(r[1])
for (conns, size), by_target in data.items():
    print(f"\n{conns} connection(s), {size} B messages")
    print(f"{'target':10} {'p50 us':>8} {'p99 us':>8} {'msgs/s':>10} {'p50 x':>7} {'msgs/s x':>9}")
    direct = by_target.get("direct", {})
    for t in targets:
        runs = by_target.get(t, {})
        if not runs:
            continue
        med = lambda i: statistics.median(v[i] for v in runs.values())
        rp50 = [runs[r][0] / direct[r][0] for r in runs if r in direct]
        rmps = [runs[r][2] / direct[r][2] for r in runs if r in direct]
        print(f"{t:10} {med(0):8.1f} {med(1):8.1f} {med(2):10.0f} "
              f"{statistics.median(rp50):6.2f}x {statistics.median(rmps):8.2f}x")
PY
