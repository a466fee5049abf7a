#!/usr/bin/env bash
# What a backend pool costs: connections per second and p50 latency through
# a route to a pool of three servers against a route to a single backend,
# through one sniproxy, alternated run by run in the same rounds.
#
#   bench/proxy/run-pool.sh BUILD_DIR          e.g. build/release
#
# The single route and the pool route go to the same kind of backend
# (`proxy_load backend --mode reply`: a 64-byte answer to each hello); the
# pool balances round_robin over three of them with active tcp checks every
# 2 s, as an operator would run it. Each round runs rate (RATE_CONNECTIONS at
# RATE_CONCURRENCY) and latency (LATENCY_COUNT one at a time) for both
# routes, the order swapped every round. Reported: the medians, and the
# ratio pool/single per round with a distribution-free 95% interval of its
# median (order statistics), its quartiles and its extremes: 40 rounds
# bring that interval within a few percent on this VM, enough to tell a 5%
# cost.
#
# Env: ROUNDS=40 RATE_CONNECTIONS=5000 RATE_CONCURRENCY=32 LATENCY_COUNT=1000
#   WORKERS=2 BALANCE=round_robin SETTLE=0.3 MODE=copy (the forwarding mode)
#   SNIPROXY=BUILD_DIR/src/app/sniproxy PROXY_LOAD=BUILD_DIR/bench/proxy/proxy_load
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

BUILD=${1:?usage: $0 BUILD_DIR (e.g. build/release)}
HERE=$(cd "$(dirname "$0")" && pwd)
SNIPROXY=${SNIPROXY:-$BUILD/src/app/sniproxy}
LOAD=${PROXY_LOAD:-$BUILD/bench/proxy/proxy_load}
ROUNDS=${ROUNDS:-40}
RATE_CONNECTIONS=${RATE_CONNECTIONS:-5000}
RATE_CONCURRENCY=${RATE_CONCURRENCY:-32}
LATENCY_COUNT=${LATENCY_COUNT:-1000}
WORKERS=${WORKERS:-2}
BALANCE=${BALANCE:-round_robin}
SETTLE=${SETTLE:-0.3}
RESPONSE_BYTES=64
# shellcheck source=lib/procs.sh
. "$HERE/lib/procs.sh"
# shellcheck source=lib/bench_toml.sh
. "$HERE/lib/bench_toml.sh"

begin_bench

# (Not in a $(...) subshell: stop_all must know every process started.)
reply_backend() {  # reply_backend N THREADS: starts one; its port in BACKEND_PORT
  start_bg "$work/backend-$1.log" "$LOAD" backend --mode reply --reply-bytes "$RESPONSE_BYTES" \
    --threads "$2" --timeout 7200
  BACKEND_PORT=$(wait_port_line "$work/backend-$1.log" "$STARTED_PID") ||
    { cat "$work/backend-$1.log" >&2; exit 1; }
}
# As many backend threads behind each route: the pool's gain or loss is
# the proxy's, not the backends'.
reply_backend 0 3
single=$BACKEND_PORT
pool=()
for i in 1 2 3; do
  reply_backend "$i" 1
  pool+=("$BACKEND_PORT")
done

port=$("$LOAD" free-port)
{
  bench_toml_head "${MODE:-copy}" "$port"
  cat <<TOML
[[tables.bench]]
match = "single.bench.test"
backend = "127.0.0.1:$single"

[[tables.bench]]
match = "pool.bench.test"
pool = "three"

[pools.three]
balance = "$BALANCE"
servers = [
  { backend = "127.0.0.1:${pool[0]}" },
  { backend = "127.0.0.1:${pool[1]}" },
  { backend = "127.0.0.1:${pool[2]}" },
]

[pools.three.health]
check = "tcp"
interval = "2s"
TOML
} >"$work/proxy.toml"
start_bg "$work/proxy.log" "$SNIPROXY" --config "$work/proxy.toml"
for _ in $(seq 100); do
  "$LOAD" latency --to "127.0.0.1:$port" --count 1 --sni pool.bench.test --timeout 2 \
    >/dev/null 2>&1 && break
  sleep 0.1
done

: >"$work/results"
for round in $(seq "$ROUNDS"); do
  order=(single pool)
  [ $((round % 2)) = 0 ] && order=(pool single)
  for route in "${order[@]}"; do
    sleep "$SETTLE"
    out=$("$LOAD" rate --to "127.0.0.1:$port" --connections "$RATE_CONNECTIONS" \
      --concurrency "$RATE_CONCURRENCY" --sni "$route.bench.test" --response-bytes "$RESPONSE_BYTES")
    [ "$(kv failed "$out")" = 0 ] || { echo "round $round $route: $out" >&2; exit 1; }
    echo "$round $route cps $(kv cps "$out")" >>"$work/results"
    sleep "$SETTLE"
    out=$("$LOAD" latency --to "127.0.0.1:$port" --count "$LATENCY_COUNT" \
      --sni "$route.bench.test" --response-bytes "$RESPONSE_BYTES")
    echo "$round $route p50 $(kv p50_us "$out")" >>"$work/results"
  done
  printf 'round %d/%d: %s\n' "$round" "$ROUNDS" \
    "$(awk -v r="$round" '$1 == r { printf "%s %s %s  ", $2, $3, $4 }' "$work/results")" >&2
done

python3 - "$work/results" "$ROUNDS" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
by = {}
for r, route, metric, value in rows:
    by.setdefault((metric, route), {})[int(r)] = float(value)
import math
print(f"{'':10} {'single':>10} {'pool of 3':>10}   pool/single per round: median, "
      "95% interval of the median, interquartile range, [min, max]")
for metric, unit in (("cps", "conn/s"), ("p50", "us")):
    s, p = by[(metric, "single")], by[(metric, "pool")]
    ratios = sorted(p[r] / s[r] for r in s if r in p)
    n = len(ratios)
    # Distribution-free interval of the median: order statistics
    # n/2 -+ 1.96 sqrt(n)/2 (rounded outwards).
    half = 1.96 * math.sqrt(n) / 2
    lo = ratios[max(0, math.floor(n / 2 - half) - 1)]
    hi = ratios[min(n - 1, math.ceil(n / 2 + half) - 1)]
    q1, q3 = ratios[n // 4], ratios[(3 * n) // 4]
    print(f"{metric + ' ' + unit:10} {statistics.median(s.values()):10.1f} "
          f"{statistics.median(p.values()):10.1f}   {statistics.median(ratios):.3f}, "
          f"[{lo:.3f}, {hi:.3f}], IQR [{q1:.3f}, {q3:.3f}], [{ratios[0]:.3f}, {ratios[-1]:.3f}] "
          f"over {n} rounds")
PY
