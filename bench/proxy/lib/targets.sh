# shellcheck shell=bash
# Sourced by run-modes.sh: the backends and the targets in front of them.
# Each target is registered with a label, a status ("ok", "n/a (why)" or
# "not installed") and, when ok, the address its bulk and its reply traffic
# go to. Proxies route on the SNI: BULK_SNI to the counting backend,
# REPLY_SNI to the answering one.

declare -A LABEL=() STATUS=() BULK_ADDR=() REPLY_ADDR=() PID_OF=() LOG_OF=()
TARGETS=() # every target, in table order
ACTIVE=()  # the ones that are measured
READY_TIMEOUT=${READY_TIMEOUT:-30}

# register ID LABEL STATUS [BULK_ADDR REPLY_ADDR]
register() {
  TARGETS+=("$1")
  LABEL[$1]=$2
  STATUS[$1]=$3
  if [ "$3" = ok ]; then
    ACTIVE+=("$1")
    BULK_ADDR[$1]=$4
    REPLY_ADDR[$1]=$5
  fi
  printf '%-20s %s\n' "$2" "$3" >&2
}

start_backends() {
  start_bg "$work/backend-count.log" "$LOAD" backend --mode count --threads 2 --timeout 7200
  COUNT_PORT=$(wait_port_line "$work/backend-count.log" "$STARTED_PID") ||
    { cat "$work/backend-count.log" >&2; exit 1; }
  start_bg "$work/backend-reply.log" "$LOAD" backend --mode reply \
    --reply-bytes "$RESPONSE_BYTES" --threads 2 --timeout 7200
  REPLY_PORT=$(wait_port_line "$work/backend-reply.log" "$STARTED_PID") ||
    { cat "$work/backend-reply.log" >&2; exit 1; }
}

add_direct() { register direct direct ok "127.0.0.1:$COUNT_PORT" "127.0.0.1:$REPLY_PORT"; }

# wait_ready PID ADDR LOG: succeeds once ADDR answers a hello and carries a
# small bulk transfer intact; otherwise leaves the reason in READY_REASON.
wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! kill -0 "$1" 2>/dev/null; then
      READY_REASON="exited: $(log_reason "$(cat "$3")")"
      return 1
    fi
    if "$LOAD" latency --to "$2" --count 1 --sni "$REPLY_SNI" --timeout 3 >/dev/null 2>&1; then
      if "$LOAD" bulk --to "$2" --bytes 1048576 --connections 2 --sni "$BULK_SNI" \
        --timeout 10 >/dev/null 2>"$work/probe.err"; then
        return 0
      fi
      READY_REASON="bulk probe failed: $(log_reason "$(cat "$work/probe.err")")"
      return 1
    fi
    sleep 0.2
  done
  READY_REASON="no answer within ${READY_TIMEOUT}s: $(log_reason "$(cat "$3")")"
  return 1
}

# start_proxy ID LABEL ADDR LOG CMD...: starts CMD and registers it as ok once
# it works, else as n/a and stops it.
start_proxy() {
  local id=$1 label=$2 addr=$3 log=$4
  shift 4
  start_bg "$log" "$@"
  local pid=$STARTED_PID
  if wait_ready "$pid" "$addr" "$log"; then
    PID_OF[$id]=$pid
    LOG_OF[$id]=$log
    register "$id" "$label" ok "$addr" "$addr"
  else
    stop_pid "$pid"
    register "$id" "$label" "n/a ($READY_REASON)"
  fi
}

# sniproxy_config MODE PORT [ACCESS_LOG]
sniproxy_config() {
  cat <<TOML
workers = $WORKERS
log_level = "warn"

[process]
allow_root = true
${4:+
[reactor]
backend = \"$4\"
}

[forwarding]
mode = "$1"

[access_log]
path = "${3:-off}"

[[listener]]
name = "bench"
address = "127.0.0.1:$2"
protocol = "tls"
table = "bench"

[[tables.bench]]
match = "$BULK_SNI"
backend = "127.0.0.1:$COUNT_PORT"

[[tables.bench]]
match = "$REPLY_SNI"
backend = "127.0.0.1:$REPLY_PORT"
TOML
}

# The modes to measure: MODES if set, else the usual ones plus any other
# the binary names when it rejects a bogus one (so a new mode shows up
# without editing this script).
sniproxy_modes() {
  if [ -n "${MODES:-}" ]; then
    echo "$MODES"
    return
  fi
  local known="copy splice sockmap auto" listed m
  sniproxy_config "?" 1 >"$work/modes.toml"
  listed=$("$SNIPROXY" --check --config "$work/modes.toml" 2>&1 |
    sed -n "s/.*for 'mode': expected one of //p" | tr ',' ' ' || true)
  for m in $listed; do
    case " $known " in *" $m "*) ;; *) known="$known $m" ;; esac
  done
  echo "$known"
}

# add_sniproxy MODE [BINARY TAG [REACTOR]]: sniproxy in MODE; with BINARY,
# that build of it, labelled "sniproxy-TAG MODE" (BASELINE in run-modes.sh);
# with REACTOR, on that [reactor] backend (io_uring, epoll).
add_sniproxy() {
  local mode=$1 binary=${2:-$SNIPROXY} tag=${3:+-$3} reactor=${4:-} port out
  local id="sniproxy$tag-$mode" name="sniproxy$tag $mode"
  port=$("$LOAD" free-port)
  # Started with an access log, so the readiness probes show which mode the
  # connections really used (a mode may fall back to another per
  # connection); switched off by a reload before measuring, since HAProxy
  # and nginx log nothing either.
  sniproxy_config "$mode" "$port" "$work/$id.access" "$reactor" >"$work/$id.toml"
  if ! out=$("$binary" --check --config "$work/$id.toml" 2>&1); then
    register "$id" "$name" "n/a ($(log_reason "$out"))"
    return
  fi
  start_proxy "$id" "$name" "127.0.0.1:$port" "$work/$id.log" \
    "$binary" --config "$work/$id.toml"
  [ "${STATUS[$id]}" = ok ] || return 0
  local seen
  sleep 0.3 # the access log line is written as a connection ends
  seen=$(sed -n 's/.* mode=\([^ ]*\).*/\1/p' "$work/$id.access" | sort -u | paste -sd, -)
  echo "$name: modes in the access log of the readiness probes: ${seen:-none}" \
    >>"$work/notes"
  case ",$seen," in
    *",$mode,"* | *",$mode/"*) ;;
    *) echo "  (configured $mode, but no probe connection used it)" >>"$work/notes" ;;
  esac
  sniproxy_config "$mode" "$port" off "$reactor" >"$work/$id.toml"
  access_log_off "$id" "127.0.0.1:$port"
}

# access_log_off ID ADDR: reloads sniproxy (its config now says path = "off")
# and waits until a probe connection no longer adds an access log line.
access_log_off() {
  local before after
  kill -HUP "${PID_OF[$1]}"
  for _ in $(seq 25); do
    sleep 0.2
    before=$(wc -l <"$work/$1.access")
    "$LOAD" latency --to "$2" --count 1 --sni "$REPLY_SNI" --timeout 3 >/dev/null 2>&1 || true
    sleep 0.1
    after=$(wc -l <"$work/$1.access")
    [ "$before" = "$after" ] && return 0
  done
  echo "${LABEL[$1]}: the access log stayed on (reload not applied), costing it a write per connection" \
    >>"$work/notes"
}

# HAProxy in TCP mode routing on req.ssl_sni, two threads like sniproxy's
# two workers, no logging (sniproxy's access log is off too).
add_haproxy() {
  if ! command -v haproxy >/dev/null; then
    register haproxy haproxy "not installed"
    return
  fi
  local port version out cfg=$work/haproxy.cfg
  version=$(haproxy -v 2>/dev/null | sed -n '1s/^HA-*Proxy version \([^ -]*\).*/\1/p')
  port=$("$LOAD" free-port)
  cat >"$cfg" <<CFG
global
  nbthread $WORKERS
  # Bounded so it fits the usual 20000-fd limit (HAProxy wants 2 fds a connection).
  maxconn 8000

defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s

frontend bench
  bind 127.0.0.1:$port
  tcp-request inspect-delay 5s
  tcp-request content accept if { req_ssl_hello_type 1 }
  use_backend bulk if { req.ssl_sni -i $BULK_SNI }
  use_backend reply if { req.ssl_sni -i $REPLY_SNI }

backend bulk
  server count 127.0.0.1:$COUNT_PORT

backend reply
  server reply 127.0.0.1:$REPLY_PORT
CFG
  if ! out=$(haproxy -c -f "$cfg" 2>&1); then
    register haproxy "haproxy $version" "n/a ($(log_reason "$out"))"
    return
  fi
  start_proxy haproxy "haproxy $version" "127.0.0.1:$port" "$work/haproxy.log" \
    haproxy -db -f "$cfg"
}

# nginx stream + ssl_preread, in the foreground with its own prefix, pid
# file and error log, as many worker processes as sniproxy has workers.
add_nginx() {
  if ! command -v nginx >/dev/null; then
    register nginx nginx "not installed"
    return
  fi
  local port version build load="" modules out dir=$work/nginx
  build=$(nginx -V 2>&1)
  version=$(sed -n 's|^nginx version: nginx/||p' <<<"$build")
  # Distributions build the stream module as a loadable module.
  if grep -q -- '--with-stream=dynamic' <<<"$build"; then
    modules=$(sed -n 's/.*--modules-path=\([^ ]*\).*/\1/p' <<<"$build")
    modules=${modules:-/usr/lib/nginx/modules}
    if [ ! -f "$modules/ngx_stream_module.so" ]; then
      register nginx "nginx $version" "n/a (no $modules/ngx_stream_module.so; Debian: libnginx-mod-stream)"
      return
    fi
    load="load_module $modules/ngx_stream_module.so;"
  elif ! grep -q -- '--with-stream' <<<"$build"; then
    register nginx "nginx $version" "n/a (built without the stream module)"
    return
  fi
  mkdir -p "$dir"
  port=$("$LOAD" free-port)
  cat >"$dir/nginx.conf" <<CONF
$load
daemon off;
worker_processes $WORKERS;
pid $dir/nginx.pid;
error_log stderr warn;
events { worker_connections 20000; }
stream {
  map \$ssl_preread_server_name \$up {
    $BULK_SNI 127.0.0.1:$COUNT_PORT;
    $REPLY_SNI 127.0.0.1:$REPLY_PORT;
  }
  server {
    listen 127.0.0.1:$port;
    ssl_preread on;
    # Forward a client's half-close like sniproxy and HAProxy do, instead
    # of ending the session (the bulk client half-closes, then waits for
    # the backend's count).
    proxy_half_close on;
    proxy_pass \$up;
  }
}
CONF
  local args=(-p "$dir" -c "$dir/nginx.conf" -e stderr)
  if ! out=$(nginx -t "${args[@]}" 2>&1); then
    register nginx "nginx $version" "n/a ($(log_reason "$out"))"
    return
  fi
  start_proxy nginx "nginx $version" "127.0.0.1:$port" "$work/nginx.log" nginx "${args[@]}"
}

# After the rounds: a proxy that died mid-way explains its failed runs, and
# whatever a proxy logged (warnings, fallbacks) is worth a look.
check_proxies() {
  local id lines
  for id in "${!PID_OF[@]}"; do
    if ! kill -0 "${PID_OF[$id]}" 2>/dev/null; then
      echo "${LABEL[$id]} exited during the benchmark: $(log_reason "$(cat "${LOG_OF[$id]}")")" \
        >>"$work/errors"
    fi
    lines=$(grep -c . "${LOG_OF[$id]}" || true)
    [ "$lines" -gt 0 ] || continue
    echo "${LABEL[$id]} logged $lines line(s), first: $(head -n1 "${LOG_OF[$id]}" | cut -c1-150)" \
      >>"$work/notes"
  done
}

# The floor: `proxy_load relay` (load/relay.hpp), the least an event-driven
# proxy does per connection (accept, connect, relay, carry the FINs, close;
# no hello read, no route), on WORKERS threads like the proxies. It cannot
# route, so one relay forwards to each backend; both run under one shell so
# that the target's process tree, whose CPU is the "proxy" column, is both.
add_relay() {
  local log=$work/relay.log port_bulk port_reply
  start_bg "$log" bash -c '
    trap "kill \$(jobs -p) 2>/dev/null" TERM EXIT
    "$1" relay --to "127.0.0.1:$2" --threads "$4" --timeout 7200 >"$5.bulk" 2>&1 &
    "$1" relay --to "127.0.0.1:$3" --threads "$4" --timeout 7200 >"$5.reply" 2>&1 &
    wait' relay "$LOAD" "$COUNT_PORT" "$REPLY_PORT" "$WORKERS" "$log"
  local pid=$STARTED_PID
  if port_bulk=$(wait_port_line "$log.bulk" "$pid") &&
    port_reply=$(wait_port_line "$log.reply" "$pid"); then
    PID_OF[relay]=$pid
    LOG_OF[relay]=$log
    register relay "relay (floor)" ok "127.0.0.1:$port_bulk" "127.0.0.1:$port_reply"
  else
    stop_pid "$pid"
    register relay "relay (floor)" "n/a (did not start: $(cat "$log.bulk" "$log.reply" 2>/dev/null | head -n1))"
  fi
}
