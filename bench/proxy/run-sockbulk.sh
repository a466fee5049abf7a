#!/usr/bin/env bash
# Bulk only, sockmap against splice: how much of a bulk transfer sockmap
# mode keeps on the kernel path at its queue cap, and what that costs.
#
#   bench/proxy/run-sockbulk.sh BUILD_DIR          e.g. build/release
#
# Each round runs BYTES over BULK_CONNECTIONS connections through every
# target once, in an order rotated per round (targets: sniproxy splice,
# sniproxy sockmap, and "before sockmap" with BASELINE=PATH to another
# sniproxy binary). Per run: MB/s (proxy_load), whole-machine CPU-seconds
# per GiB (less what processes outside the benchmark used, as
# run-modes.sh), and for sockmap the share of the
# bytes the kernel moved (sniproxy_sockmap_bytes_total from /metrics). The
# summary gives medians and sockmap's ratios to splice over the rounds.
#
# Env: BYTES=1073741824 BULK_CONNECTIONS=4 ROUNDS=5 WORKERS=2
#   QUEUE_CAP (sockmap_queue_cap; unset: the default) BASELINE=PATH
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

BUILD=${1:?usage: $0 BUILD_DIR (e.g. build/release)}
HERE=$(cd "$(dirname "$0")" && pwd)
SNIPROXY=${SNIPROXY:-$BUILD/src/app/sniproxy}
LOAD=${PROXY_LOAD:-$BUILD/bench/proxy/proxy_load}
BYTES=${BYTES:-1073741824}
BULK_CONNECTIONS=${BULK_CONNECTIONS:-4}
ROUNDS=${ROUNDS:-5}
WORKERS=${WORKERS:-2}
BULK_SNI=bulk.bench.test
# shellcheck source=lib/procs.sh
. "$HERE/lib/procs.sh"
# shellcheck source=lib/bench_toml.sh
. "$HERE/lib/bench_toml.sh"
work=$(mktemp -d)
trap 'stop_all; rm -rf "$work"' EXIT

start_bg "$work/backend.log" "$LOAD" backend --mode count --threads 2 --timeout 7200
COUNT_PORT=$(wait_port_line "$work/backend.log" "$STARTED_PID")

declare -A ADDR=() ADMIN=() PID_OF=()
TARGETS=()
# add TAG BINARY MODE: one sniproxy with an admin endpoint for /metrics.
add() {
  local tag=$1 binary=$2 mode=$3 port admin
  port=$("$LOAD" free-port)
  admin=$("$LOAD" free-port)
  {
    bench_toml_head "$mode" "$port" "${QUEUE_CAP:+sockmap_queue_cap = $QUEUE_CAP}"
    cat <<TOML
[[tables.bench]]
match = "$BULK_SNI"
backend = "127.0.0.1:$COUNT_PORT"

[admin]
listen = "127.0.0.1:$admin"
TOML
  } >"$work/$tag.toml"
  start_bg "$work/$tag.log" "$binary" --config "$work/$tag.toml"
  PID_OF[$tag]=$STARTED_PID
  for _ in $(seq 100); do
    "$LOAD" bulk --to "127.0.0.1:$port" --bytes 1048576 --connections 1 --sni "$BULK_SNI" \
      --timeout 3 >/dev/null 2>&1 && break
    sleep 0.2
  done
  ADDR[$tag]="127.0.0.1:$port"
  ADMIN[$tag]="127.0.0.1:$admin"
  TARGETS+=("$tag")
}
add splice "$SNIPROXY" splice
add sockmap "$SNIPROXY" sockmap
[ -n "${BASELINE:-}" ] && add before-sockmap "$BASELINE" sockmap

# busy_ticks TAG: the machine's busy jiffies less those of processes outside
# the benchmark (proxy_load cpu-snapshot, as run-modes.sh): other work on a
# shared machine must not count as the proxy's.
busy_ticks() {
  "$LOAD" cpu-snapshot --ours $$ --proxy "${PID_OF[$1]}" |
    awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } print v["busy"] - v["others"] }'
}
# sockmap_bytes TAG PATH: the counter of bytes on PATH (kernel, userspace).
sockmap_bytes() {
  curl -s "http://${ADMIN[$1]}/metrics" |
    awk -v p="path=\"$2\"" '/^sniproxy_sockmap_bytes_total/ && index($0, p) { print $2 }'
}
HZ=$(getconf CLK_TCK)
gib=$(awk -v n="$BYTES" 'BEGIN { print n / 1073741824 }')
: >"$work/results"
for round in $(seq "$ROUNDS"); do
  shift_by=$(((round - 1) % ${#TARGETS[@]}))
  order=("${TARGETS[@]:$shift_by}" "${TARGETS[@]:0:$shift_by}")
  for t in "${order[@]}"; do
    sleep 0.3
    k0=$(sockmap_bytes "$t" kernel)
    u0=$(sockmap_bytes "$t" userspace)
    c0=$(busy_ticks "$t")
    out=$("$LOAD" bulk --to "${ADDR[$t]}" --bytes "$BYTES" --connections "$BULK_CONNECTIONS" \
      --sni "$BULK_SNI" --timeout 300)
    c1=$(busy_ticks "$t")
    sleep 0.2 # the counters are added as the connections end
    k1=$(sockmap_bytes "$t" kernel)
    u1=$(sockmap_bytes "$t" userspace)
    mbps=$(sed -n 's/.*\bMBps=\([^ ]*\).*/\1/p' <<<"$out")
    awk -v r="$round" -v t="$t" -v m="$mbps" -v c0="$c0" -v c1="$c1" -v hz="$HZ" -v g="$gib" \
      -v k="$((${k1:-0} - ${k0:-0}))" -v u="$((${u1:-0} - ${u0:-0}))" 'BEGIN {
      share = (k + u) > 0 ? 100 * k / (k + u) : -1
      printf "%s %s %.1f %.3f %.1f\n", r, t, m, (c1 - c0) / hz / g, share }' |
      tee -a "$work/results" >&2
  done
done

echo "target     MB/s(med)  CPU-s/GiB(med)  kernel%(med)   MB/s vs splice  CPU vs splice"
awk '
  function median(list, n,   i, j, tmp, a) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { tmp = a[i]; a[i] = a[j]; a[j] = tmp }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { mb[$2] = mb[$2] " " $3; cpu[$2] = cpu[$2] " " $4; sh[$2] = sh[$2] " " $5
    if ($2 == "splice") { smb[$1] = $3; scpu[$1] = $4 } else { rows[$2] = rows[$2] " " $1 SUBSEP $3 SUBSEP $4 } }
  END {
    for (t in mb) {
      rm = ""; rc = ""
      n = split(rows[t], rr, " ")
      for (i = 1; i <= n; i++) { split(rr[i], f, SUBSEP); rm = rm " " f[2] / smb[f[1]]; rc = rc " " f[3] / scpu[f[1]] }
      printf "%-14s %9.1f %12.3f %12.1f   %8s %14s\n", t, median(mb[t]), median(cpu[t]), median(sh[t]),
        n ? sprintf("%.2fx", median(rm)) : "-", n ? sprintf("%.2fx", median(rc)) : "-"
    }
  }' "$work/results"
