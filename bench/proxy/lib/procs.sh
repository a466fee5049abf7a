# shellcheck shell=bash
# Sourced by run-modes.sh: the processes the script starts. Each is
# remembered by its pid, and only those pids are ever signalled.

PIDS=()

# start_bg LOG CMD...: runs CMD in the background, stdout and stderr to LOG;
# its pid is left in STARTED_PID.
start_bg() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
}

# stop_pid PID: SIGTERM, up to 3 s to go (proxies drain), then SIGKILL.
stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 30); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
}

# wait_port_line LOG PID: prints P once LOG has a "port=P" line; fails if
# PID exits first or nothing appears within 5 s.
wait_port_line() {
  local port
  for _ in $(seq 50); do
    port=$(sed -n 's/^port=//p' "$1")
    if [ -n "$port" ]; then
      echo "$port"
      return 0
    fi
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# log_reason TEXT: the line of a proxy's output that best says why it
# failed (the first error-looking line, else the last line), without
# timestamps or file prefixes, shortened for a table cell.
log_reason() {
  local line
  line=$(grep -m1 -iE 'error|alert|emerg|fatal|invalid|unknown|not supported|failed' <<<"$1" ||
    grep -v '^[[:space:]]*$' <<<"$1" | tail -n1 || true)
  line=$(sed -E 's/^ts=[^ ]+ //; s/^[0-9]{4}\/[0-9]{2}\/[0-9]{2} [0-9:]+ //; s/^[^ ]*:[0-9]+:[0-9]+: //' <<<"$line")
  [ -n "$line" ] || line="no output"
  echo "${line:0:110}"
}

# begin_bench: once SNIPROXY and LOAD are set, fails unless both can run,
# and makes the scratch directory $work, removed at exit together with
# every process start_bg started.
begin_bench() {
  [ -x "$SNIPROXY" ] || { echo "not executable: $SNIPROXY (set SNIPROXY)" >&2; exit 2; }
  [ -x "$LOAD" ] || { echo "not executable: $LOAD (set PROXY_LOAD)" >&2; exit 2; }
  work=$(mktemp -d)
  trap 'stop_all; rm -rf "$work"' EXIT
  trap 'exit 130' INT TERM
}
