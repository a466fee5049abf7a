#!/usr/bin/env bash
# Every forwarding mode of sniproxy, and HAProxy and nginx when installed,
# against the direct path (client to backend, no proxy), in one table.
#
#   bench/proxy/run-modes.sh BUILD_DIR          e.g. build/release
#   QUICK=1 bench/proxy/run-modes.sh BUILD_DIR  smaller figures, under a minute
#
# Targets: direct, the relay floor, sniproxy in each mode (MODES), haproxy (req.ssl_sni), nginx
# (stream + ssl_preread). All run at once on their own 127.0.0.1 ports in
# front of the same two backends (`proxy_load backend`: one counts bulk
# bytes, one answers each hello with 64 bytes). A mode the binary rejects
# (`--check` fails, or it exits or never answers) is shown as n/a with the
# reason from its log; a proxy not on PATH as "not installed".
#
# Measurements, each ROUNDS times; in every round each target runs once per
# measurement, in an order rotated from round to round, so direct is measured
# in the same round as everything it is compared with:
#   bulk     BYTES over BULK_CONNECTIONS connections: MB/s, CPU-seconds per GiB
#   rate     RATE_CONNECTIONS, RATE_CONCURRENCY in flight, each a real
#            ClientHello and a 64-byte answer: connections/s, CPU per connection
#   latency  LATENCY_COUNT connections one at a time, connect to first
#            answer byte: p50, p99
# CPU is the whole machine's, from /proc/stat (user+nice+system+irq+softirq+
# steal) around each run: the kernel modes move work into kworkers and
# softirq, which a per-process figure would miss. It includes the load
# client and the backends, the same for every target. On a shared machine,
# what processes outside the benchmark used in the window (from
# /proc/PID/stat) is subtracted, and a run during which they used more than
# a trace is repeated (RETRIES), since they skew throughput and latency too.
# A second table splits the CPU: proxy, kernel threads, client and backends,
# and gives each proxy's system calls per connection (perf stat, one extra
# rate run per proxy after the rounds, so perf's own cost stays out of them).
#
# Env (defaults are the issue's figures; QUICK=1 lowers the unset ones):
#   BYTES=1073741824 BULK_CONNECTIONS=4 RATE_CONNECTIONS=10000
#   RATE_CONCURRENCY=32 LATENCY_COUNT=2000 ROUNDS=5 WORKERS=2
#   MODES="copy splice sockmap auto" (plus any other mode the binary lists)
#   SNIPROXY=BUILD_DIR/src/app/sniproxy PROXY_LOAD=BUILD_DIR/bench/proxy/proxy_load
#   RELAY=1: also measure `proxy_load relay`, the floor of an event-driven
#   proxy (lib/targets.sh, add_relay); 0 leaves it out
#   EPOLL_MODES="copy splice sockmap auto": the modes also measured on the
#   epoll backend, as "sniproxy-epoll MODE" ([reactor] backend = "epoll";
#   the plain rows run on auto, i.e. io_uring where it works); "" for none
#   BASELINE=PATH: another sniproxy binary (e.g. an earlier commit's build),
#   measured in the same rounds as "sniproxy-before MODE" for BASELINE_MODES
#   (default "copy splice auto"), for before/after comparisons
#   RUN_TIMEOUT=300 (seconds, per run) SETTLE=0.3 (seconds idle between runs)
#   RETRIES=3: extra attempts for a run disturbed by other processes
#   QUIET_MAX=15 QUIET_WAIT=300: before each round and each retry, wait for
#   other work to fall below QUIET_MAX percent of one core, for at most 60 s
#   at a time and QUIET_WAIT seconds in all (QUICK=1: RETRIES=0, no waiting)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

BUILD=${1:?usage: $0 BUILD_DIR (e.g. build/release)}
HERE=$(cd "$(dirname "$0")" && pwd)
SNIPROXY=${SNIPROXY:-$BUILD/src/app/sniproxy}
LOAD=${PROXY_LOAD:-$BUILD/bench/proxy/proxy_load}
if [ "${QUICK:-0}" = 1 ]; then
  : "${BYTES:=268435456}" "${RATE_CONNECTIONS:=2000}" "${LATENCY_COUNT:=300}" "${ROUNDS:=2}"
  : "${QUIET_WAIT:=0}" "${RETRIES:=0}"
fi
BYTES=${BYTES:-1073741824}
BULK_CONNECTIONS=${BULK_CONNECTIONS:-4}
RATE_CONNECTIONS=${RATE_CONNECTIONS:-10000}
RATE_CONCURRENCY=${RATE_CONCURRENCY:-32}
LATENCY_COUNT=${LATENCY_COUNT:-2000}
ROUNDS=${ROUNDS:-5}
WORKERS=${WORKERS:-2}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
SETTLE=${SETTLE:-0.3}
QUIET_WAIT=${QUIET_WAIT:-300}
QUIET_MAX=${QUIET_MAX:-15}
RETRIES=${RETRIES:-3}
RESPONSE_BYTES=64
BULK_SNI=bulk.bench.test
REPLY_SNI=reply.bench.test
# shellcheck source=lib/procs.sh
. "$HERE/lib/procs.sh"
# shellcheck source=lib/targets.sh
. "$HERE/lib/targets.sh"
# shellcheck source=lib/measure.sh
. "$HERE/lib/measure.sh"

begin_bench

# The load tool must send what openssl sends, or the comparison says nothing
# about real clients: check it against a captured hello before measuring.
fixture=$HERE/../../tests/fixtures/hello/any_version_sni.bin
if [ -f "$fixture" ]; then
  if ! "$LOAD" hello --sni api.example.net --alpn http/1.1 --secrets-from "$fixture" |
    cmp -s - "$fixture"; then
    echo "proxy_load's ClientHello differs from openssl's ($fixture)" >&2
    exit 1
  fi
fi

start_backends
add_direct
[ "${RELAY:-1}" = 1 ] && add_relay
for mode in $(sniproxy_modes); do add_sniproxy "$mode"; done
# The same modes on the epoll backend, to show what io_uring buys.
for mode in ${EPOLL_MODES-$(sniproxy_modes)}; do add_sniproxy "$mode" "$SNIPROXY" epoll epoll; done
if [ -n "${BASELINE:-}" ]; then
  [ -x "$BASELINE" ] || { echo "not executable: BASELINE=$BASELINE" >&2; exit 2; }
  for mode in ${BASELINE_MODES:-copy splice auto}; do add_sniproxy "$mode" "$BASELINE" before; done
fi
add_haproxy
add_nginx

echo "measuring: $ROUNDS rounds of bulk, rate and latency over: ${ACTIVE[*]}" >&2
for round in $(seq "$ROUNDS"); do
  wait_for_quiet "$round"
  # Rotate the order so that no target always runs first, straight after
  # the previous kind of measurement.
  shift_by=$(((round - 1) % ${#ACTIVE[@]}))
  order=("${ACTIVE[@]:$shift_by}" "${ACTIVE[@]:0:$shift_by}")
  for kind in bulk rate latency; do
    for t in "${order[@]}"; do measure "$round" "$kind" "$t"; done
  done
  after_round "$round"
done
# System calls per connection, from one extra rate run per proxy under perf.
for t in "${ACTIVE[@]}"; do count_syscalls "$t"; done
check_proxies

# shellcheck source=lib/report.sh
. "$HERE/lib/report.sh"
print_report
