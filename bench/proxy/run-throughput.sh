#!/usr/bin/env bash
# Throughput of one bulk transfer into a sink: direct vs through sniproxy.
#
#   bench/proxy/run-throughput.sh BUILD/src/app/sniproxy [BUILD/bench/proxy/proxy_load]
#
# Env: BYTES (default 64 MiB), ROUNDS (5), MODE (forwarding mode, "copy"),
# WORKERS (1). Alternates direct and proxied runs, prints MB/s for each and
# the ratio of the medians (proxied/direct). Everything stays on 127.0.0.1.
# For every mode, HAProxy, nginx, connection rate, latency and CPU, see
# run-modes.sh.
set -euo pipefail

SNIPROXY=${1:?usage: $0 SNIPROXY_BINARY [PROXY_THROUGHPUT_BINARY]}
TOOL=${2:-${PROXY_LOAD:-$(dirname "$SNIPROXY")/../../bench/proxy/proxy_load}}
BYTES=${BYTES:-67108864}
ROUNDS=${ROUNDS:-5}
MODE=${MODE:-copy}
WORKERS=${WORKERS:-1}
[ -x "$SNIPROXY" ] || { echo "not executable: $SNIPROXY" >&2; exit 2; }
[ -x "$TOOL" ] || { echo "not executable: $TOOL (pass it as the second argument)" >&2; exit 2; }

work=$(mktemp -d)
sink_pid=""
proxy_pid=""
cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null || true
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The counting backend: confirms every byte of each transfer.
"$TOOL" backend --mode count --threads 1 > "$work/sink.out" &
sink_pid=$!
sink_port=""
for _ in $(seq 50); do
  sink_port=$(sed -n 's/^port=//p' "$work/sink.out")
  [ -n "$sink_port" ] && break
  sleep 0.1
done
[ -n "$sink_port" ] || { echo "sink did not start" >&2; exit 1; }

listen_port=$("$TOOL" free-port)
cat > "$work/proxy.toml" <<TOML
workers = $WORKERS

[process]
allow_root = true

[forwarding]
mode = "$MODE"

[access_log]
path = "off"

[[listener]]
name = "bench"
address = "127.0.0.1:$listen_port"
protocol = "tls"
table = "bench"

[[tables.bench]]
match = "bench.test"
backend = "127.0.0.1:$sink_port"
TOML

"$SNIPROXY" --config "$work/proxy.toml" 2> "$work/proxy.log" &
proxy_pid=$!
ready=no
for _ in $(seq 100); do
  if "$TOOL" bulk --to "127.0.0.1:$listen_port" --bytes 0 --connections 1 --sni bench.test \
    --timeout 5 > /dev/null 2>&1; then
    ready=yes
    break
  fi
  kill -0 "$proxy_pid" 2>/dev/null || break
  sleep 0.1
done
if [ "$ready" != yes ]; then
  echo "sniproxy did not come up; its log:" >&2
  cat "$work/proxy.log" >&2
  exit 1
fi

mbps() { sed -n 's/.*MBps=//p'; }
direct=()
proxied=()
echo "bytes per transfer: $BYTES, mode: $MODE, workers: $WORKERS"
for i in $(seq "$ROUNDS"); do
  d=$("$TOOL" bulk --to "127.0.0.1:$sink_port" --bytes "$BYTES" --connections 1 --sni bench.test | mbps)
  p=$("$TOOL" bulk --to "127.0.0.1:$listen_port" --bytes "$BYTES" --connections 1 --sni bench.test | mbps)
  direct+=("$d")
  proxied+=("$p")
  printf 'round %d: direct %8.1f MB/s   proxied %8.1f MB/s\n' "$i" "$d" "$p"
done

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
md=$(median "${direct[@]}")
mp=$(median "${proxied[@]}")
awk -v d="$md" -v p="$mp" 'BEGIN {
  printf "median: direct %.1f MB/s, proxied %.1f MB/s, ratio proxied/direct %.3f\n", d, p, p / d
}'
