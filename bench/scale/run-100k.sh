#!/usr/bin/env bash
# Holds 100,000 proxied connections in each forwarding mode and reports the
# proxy's resident memory per idle connection and the latency of a new
# connection while they are held.
#
#   bench/scale/run-100k.sh BUILD    (e.g. build/release; as root)
#
# Env: CONNECTIONS (100000), MODES ("copy splice auto sockmap"), WORKERS (2),
# SOURCES (client source addresses 127.0.0.S, "2-9"), NAMES (routes, each
# to its own backend port, 8), LATENCY_COUNT (200), BATCH (1000).
#
# Ports: a connection needs a distinct (source, source port, destination)
# on both hops. The clients bind 127.0.0.2..9 before connecting, and the
# proxy's upstream connections go to NAMES backend ports, so each hop has
# 8 x ~28,000 ephemeral ports -- room for 200,000.
# Descriptors: the proxy holds two per connection (client and backend); it
# is started under prlimit with 4 x CONNECTIONS (fs.nr_open permitting),
# and raises its soft limit to that itself.
#
# Memory per idle connection = (VmRSS holding N - VmRSS idle) / N, where
# idle is after 200 warm-up connections. The kernel's socket memory is not
# in the proxy's RSS; the Slab delta is printed beside it for all four
# sockets of each proxied connection together (client, the proxy's two,
# backend). Everything stays on 127.0.0.0/8.
set -euo pipefail

BUILD=${1:?usage: $0 BUILD_DIR}
SNIPROXY=$BUILD/src/app/sniproxy
SCALE=$BUILD/bench/scale/scale_load
LOAD=$BUILD/bench/proxy/proxy_load
CONNECTIONS=${CONNECTIONS:-100000}
MODES=${MODES:-copy splice auto sockmap}
WORKERS=${WORKERS:-2}
SOURCES=${SOURCES:-2-9}
NAMES=${NAMES:-8}
LATENCY_COUNT=${LATENCY_COUNT:-200}
BATCH=${BATCH:-1000}
for f in "$SNIPROXY" "$SCALE" "$LOAD"; do
  [ -x "$f" ] || { echo "not executable: $f (build with -Dbenchmarks=true)" >&2; exit 2; }
done

nr_open=$(cat /proc/sys/fs/nr_open)
file_max=$(cat /proc/sys/fs/file-max)
hard=$(ulimit -Hn)
fds=$((4 * CONNECTIONS + 10000))
[ "$fds" -le "$nr_open" ] || fds=$nr_open
# Raising a hard limit needs CAP_SYS_RESOURCE; without it every process
# here is capped by this shell's hard limit.
if [ "$hard" != unlimited ] && [ "$fds" -gt "$hard" ] &&
  ! prlimit --nofile="$fds:$fds" true 2> /dev/null; then
  fds=$hard
fi
if [ "$fds" -lt $((2 * CONNECTIONS + 1000)) ]; then
  echo "the proxy needs $((2 * CONNECTIONS + 1000)) descriptors but may have only $fds" \
    "(hard RLIMIT_NOFILE $hard and no CAP_SYS_RESOURCE to raise it: run as real root, or" \
    "lower CONNECTIONS below $(((fds - 1000) / 2)))" >&2
  exit 2
fi
if [ $((3 * CONNECTIONS * 2 + 20000)) -gt "$file_max" ]; then
  echo "fs.file-max=$file_max is too low for $CONNECTIONS connections (needs ~$((6 * CONNECTIONS)))" >&2
  exit 2
fi
echo "connections=$CONNECTIONS workers=$WORKERS fs.nr_open=$nr_open fs.file-max=$file_max" \
  "hard_nofile=$hard proxy_nofile=$fds" >&2

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
slab_kib() { awk '/^Slab:/ {print $2}' /proc/meminfo; }
# wait_line FILE PATTERN SECONDS PID: the first line of FILE matching PATTERN.
wait_line() {
  for _ in $(seq $(($3 * 10))); do
    if grep -q "$2" "$1" 2>/dev/null; then grep -m1 "$2" "$1"; return 0; fi
    kill -0 "$4" 2>/dev/null || break
    sleep 0.1
  done
  echo "no '$2' in $1 within $3 s:" >&2
  tail -5 "$1" >&2
  return 1
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<< "$2"; }

printf '%-7s %8s %7s %10s %10s %10s %12s %14s %14s %5s\n' mode held open_s rss_idle_k \
  rss_held_k B_per_conn slab_B_per_conn idle_p50/p99us held_p50/p99us lost
for mode in $MODES; do
  ports=()
  listen=""
  for _ in $(seq "$NAMES"); do
    p=$("$LOAD" free-port)
    ports+=("$p")
    listen+="127.0.0.1:$p,"
  done
  "$SCALE" backend --listen "$listen" --max-fds $((CONNECTIONS + 1024)) --seconds 1800 > "$work/backend.out" 2>&1 &
  backend_pid=$!
  pids+=("$backend_pid")
  wait_line "$work/backend.out" '^listening' 10 "$backend_pid" > /dev/null

  port=$("$LOAD" free-port)
  {
    echo "workers = $WORKERS"
    echo 'log_level = "warn"'
    printf '[process]\nallow_root = true\n'
    printf '[timeouts]\nhello = "30s"\nidle = "1h"\n'
    printf '[limits]\nmax_connections = %d\n' $((2 * CONNECTIONS + 1000))
    printf '[access_log]\npath = "off"\n'
    printf '[forwarding]\nmode = "%s"\n' "$mode"
    printf '[[listener]]\nname = "scale"\naddress = "127.0.0.1:%s"\nprotocol = "tls"\ntable = "scale"\n' "$port"
    for k in $(seq 0 $((NAMES - 1))); do
      printf '[[tables.scale]]\nmatch = "h%d.scale.test"\nbackend = "127.0.0.1:%s"\n' "$k" "${ports[$k]}"
    done
  } > "$work/proxy.toml"
  prlimit --nofile="$fds:$fds" "$SNIPROXY" --config "$work/proxy.toml" 2> "$work/proxy-$mode.log" &
  proxy_pid=$!
  pids+=("$proxy_pid")
  for _ in $(seq 100); do
    "$LOAD" latency --to "127.0.0.1:$port" --count 1 --response-bytes 1 --sni h0.scale.test \
      --timeout 5 > /dev/null 2>&1 && break
    kill -0 "$proxy_pid" 2>/dev/null || { cat "$work/proxy-$mode.log" >&2; exit 1; }
    sleep 0.1
  done

  idle=$("$LOAD" latency --to "127.0.0.1:$port" --count "$LATENCY_COUNT" --response-bytes 1 \
    --sni h1.scale.test --timeout 120)
  sleep 1
  rss_idle=$(rss_kib "$proxy_pid")
  slab_idle=$(slab_kib)

  "$SCALE" hold --to "127.0.0.1:$port" --connections "$CONNECTIONS" --sources "$SOURCES" \
    --names "$NAMES" --batch "$BATCH" --seconds 1800 > "$work/hold.out" 2>&1 &
  hold_pid=$!
  pids+=("$hold_pid")
  held_line=$(wait_line "$work/hold.out" '^held=' 900 "$hold_pid")
  sleep 3  # let the proxy's last batch settle
  rss_held=$(rss_kib "$proxy_pid")
  slab_held=$(slab_kib)
  busy=$("$LOAD" latency --to "127.0.0.1:$port" --count "$LATENCY_COUNT" --response-bytes 1 \
    --sni h2.scale.test --timeout 300)
  held=$(field held "$held_line")
  kill "$hold_pid"
  lost_line=$(wait_line "$work/hold.out" '^lost=' 60 "$hold_pid" || echo "lost=?")
  wait "$hold_pid" 2>/dev/null || true

  per_conn=$(((rss_held - rss_idle) * 1024 / held))
  slab_per_conn=$(((slab_held - slab_idle) * 1024 / held))
  printf '%-7s %8s %7s %10s %10s %10s %12s %14s %14s %5s\n' "$mode" "$held" \
    "$(field open_s "$held_line")" "$rss_idle" "$rss_held" "$per_conn" "$slab_per_conn" \
    "$(field p50_us "$idle")/$(field p99_us "$idle")" \
    "$(field p50_us "$busy")/$(field p99_us "$busy")" "$(field lost "$lost_line")"

  kill "$proxy_pid"
  wait "$proxy_pid" 2>/dev/null || true
  kill "$backend_pid"
  wait "$backend_pid" 2>/dev/null || true
  if grep -q 'level=error' "$work/proxy-$mode.log"; then
    echo "proxy errors ($mode):" >&2
    grep 'level=error' "$work/proxy-$mode.log" | head -5 >&2
  fi
  pids=()
done
