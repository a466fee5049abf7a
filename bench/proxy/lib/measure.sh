# shellcheck shell=bash
# Sourced by run-modes.sh: one measured run, and the CPU accounting around it.
# Results go to $work/results as "ROUND TARGET METRIC VALUE" lines; failed
# runs to $work/errors.

HZ=$(getconf CLK_TCK)
QUIET_SPENT=0 # seconds waited for quiet so far, against QUIET_WAIT

# Busy ticks of the whole machine since boot: user+nice+system+irq+softirq+
# steal (guest time is already inside user).
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# Busy CPU of the machine over one idle second, in percent of one core.
background_load() {
  local a b
  a=$(busy_ticks)
  sleep 1
  b=$(busy_ticks)
  awk -v a="$a" -v b="$b" -v hz="$HZ" 'BEGIN { printf "%.0f", (b - a) * 100 / hz }'
}

# quiet: waits (one background_load probe at a time, at most 60 s per call
# and QUIET_WAIT seconds in all) until other work on the machine falls to
# QUIET_MAX percent of one core; leaves the last probe in QUIET_LOAD.
quiet() {
  local waited=0
  while true; do
    QUIET_LOAD=$(background_load)
    [ "$QUIET_LOAD" -le "$QUIET_MAX" ] && return 0
    [ "$waited" -lt 60 ] && [ "$QUIET_SPENT" -lt "$QUIET_WAIT" ] || return 0
    sleep 2
    waited=$((waited + 3))
    QUIET_SPENT=$((QUIET_SPENT + 3))
  done
}

# wait_for_quiet ROUND / after_round ROUND: the machine's background load
# before and after each round, for the report.
wait_for_quiet() {
  quiet
  record "$1" machine background "$QUIET_LOAD"
  echo "round $1/$ROUNDS: background load ${QUIET_LOAD}% of one core" >&2
}
after_round() {
  local load
  load=$(background_load)
  record "$1" machine background_after "$load"
  echo "round $1/$ROUNDS: background load ${load}% of one core after the round" >&2
}

# kv KEY TEXT: the value of KEY=VALUE in proxy_load's one-line output.
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

record() { echo "$1 $2 $3 $4" >>"$work/results"; }

# snapshot TARGET: CPU ticks since boot by owner (proxy_load cpu-snapshot):
# the whole machine, TARGET's process tree, kernel threads, the rest of
# this script's tree (load client, backends) and everything else.
snapshot() { "$LOAD" cpu-snapshot --ours $$ --proxy "${PID_OF[$1]:-0}"; }

# cpu_split BEFORE AFTER: prints the differences in seconds as
# "busy proxy kernel load others".
cpu_split() {
  awk -v a="$1" -v b="$2" -v hz="$HZ" 'BEGIN {
    n = split(a, x, /[ =]/)
    split(b, y, /[ =]/)
    for (i = 2; i <= n; i += 2) d[x[i - 1]] = (y[i] - x[i]) / hz
    printf "%.4f %.4f %.4f %.4f %.4f\n", d["busy"], d["proxy"], d["kernel"], d["ours"], d["others"]
  }'
}

# measure ROUND KIND TARGET: one run, repeated (up to RETRIES more times)
# while processes outside the benchmark took more than a trace of CPU
# during it, since they skew its throughput and latency, not only its CPU.
measure() {
  local round=$1 kind=$2 t=$3 out s0 s1 busy proxy kernel load others attempt
  local -a cmd
  case $kind in
    bulk) cmd=(bulk --to "${BULK_ADDR[$t]}" --bytes "$BYTES" --connections "$BULK_CONNECTIONS"
      --sni "$BULK_SNI") ;;
    rate) cmd=(rate --to "${REPLY_ADDR[$t]}" --connections "$RATE_CONNECTIONS"
      --concurrency "$RATE_CONCURRENCY" --sni "$REPLY_SNI" --response-bytes "$RESPONSE_BYTES") ;;
    latency) cmd=(latency --to "${REPLY_ADDR[$t]}" --count "$LATENCY_COUNT" --sni "$REPLY_SNI"
      --response-bytes "$RESPONSE_BYTES") ;;
  esac
  for attempt in $(seq 0 "$RETRIES"); do
    # Let the previous run's deferred work (closes, TIME_WAIT, kworkers)
    # finish outside this run's CPU window.
    sleep "$SETTLE"
    s0=$(snapshot "$t")
    # proxy_load has its own deadline; timeout(1) is the backstop.
    if ! out=$(timeout -k 5 "$((RUN_TIMEOUT + 10))" "$LOAD" "${cmd[@]}" --timeout "$RUN_TIMEOUT" \
      2>"$work/run.err"); then
      local why
      why=$(tail -n1 "$work/run.err")
      echo "round $round, $kind, ${LABEL[$t]}: ${why:-killed after ${RUN_TIMEOUT}s}" >>"$work/errors"
      printf 'round %d/%d %-8s %-20s FAILED: %s\n' "$round" "$ROUNDS" "$kind" "${LABEL[$t]}" \
        "${why:-timeout}" >&2
      return 0
    fi
    s1=$(snapshot "$t")
    read -r busy proxy kernel load others <<<"$(cpu_split "$s0" "$s1")"
    if awk -v o="$others" -v b="$busy" 'BEGIN { exit !(o <= 0.05 + 0.05 * b) }'; then break; fi
    if [ "$attempt" -lt "$RETRIES" ]; then
      printf 'round %d/%d %-8s %-20s other processes used %.2f of %.2f CPU-s: again\n' \
        "$round" "$ROUNDS" "$kind" "${LABEL[$t]}" "$others" "$busy" >&2
      quiet
    else
      awk -v o="$others" -v b="$busy" -v what="round $round, $kind, ${LABEL[$t]}" 'BEGIN {
        printf "%.3f\t%s: other processes used %.2f of %.2f CPU-s\n", o / b, what, o, b }' \
        >>"$work/contaminated"
    fi
  done
  if ! grep -q '=' <<<"$out"; then
    echo "round $round, $kind, ${LABEL[$t]}: no result in the output: $out" >>"$work/errors"
    return 0
  fi
  record_result "$round" "$kind" "$t" "$out" "$busy" "$proxy" "$kernel" "$load" "$others"
}

# record_result ROUND KIND TARGET OUTPUT BUSY PROXY KERNEL LOAD OTHERS
# The CPU figure is the whole machine's minus what other processes used;
# its parts: the proxy's process tree, kernel threads, the load client and
# backends, and the rest (interrupt work the kernel charged to no task).
record_result() {
  local round=$1 kind=$2 t=$3 out=$4 a b per
  case $kind in
    bulk) per=$(awk -v n="$BYTES" 'BEGIN { print n / 1073741824 }') ;;
    rate) per=$(awk -v n="$RATE_CONNECTIONS" 'BEGIN { print n / 1e6 }') ;;
    latency)
      a=$(kv p50_us "$out")
      b=$(kv p99_us "$out")
      record "$round" "$t" p50 "$a"
      record "$round" "$t" p99 "$b"
      printf 'round %d/%d latency  %-20s p50 %7.1f us  p99 %7.1f us\n' "$round" "$ROUNDS" \
        "${LABEL[$t]}" "$a" "$b" >&2
      return 0
      ;;
  esac
  awk -v r="$round" -v t="$t" -v k="$kind" -v per="$per" -v busy="$5" -v proxy="$6" \
    -v kernel="$7" -v load="$8" -v others="$9" 'BEGIN {
    cpu = busy - others
    printf "%s %s %s_cpu %.4f\n", r, t, k, cpu / per
    printf "%s %s %s_proxy %.4f\n", r, t, k, proxy / per
    printf "%s %s %s_kernel %.4f\n", r, t, k, kernel / per
    printf "%s %s %s_load %.4f\n", r, t, k, load / per
    printf "%s %s %s_rest %.4f\n", r, t, k, (cpu - proxy - kernel - load) / per
  }' >>"$work/results"
  if [ "$kind" = bulk ]; then
    a=$(kv MBps "$out")
    record "$round" "$t" mbps "$a"
    printf 'round %d/%d bulk     %-20s %9.1f MB/s  %8.3f CPU-s/GiB\n' "$round" "$ROUNDS" \
      "${LABEL[$t]}" "$a" "$(awk -v c="$5" -v o="$9" -v p="$per" 'BEGIN { print (c - o) / p }')" >&2
  else
    a=$(kv cps "$out")
    record "$round" "$t" cps "$a"
    printf 'round %d/%d rate     %-20s %9.1f conn/s %6.1f CPU-us/conn\n' "$round" "$ROUNDS" \
      "${LABEL[$t]}" "$a" "$(awk -v c="$5" -v o="$9" -v p="$per" 'BEGIN { print (c - o) / p }')" >&2
  fi
}

# count_syscalls TARGET: one more rate run, outside the measured rounds (perf
# costs CPU of its own), with `perf stat` counting the target's system calls
# (its process and its children: nginx's workers); recorded as syscalls per
# connection. Nothing without perf, or for direct.
count_syscalls() {
  local t=$1 pid pids perf_pid count
  command -v perf >/dev/null || return 0
  pid=${PID_OF[$t]:-}
  [ -n "$pid" ] || return 0
  pids=$({ echo "$pid"; pgrep -P "$pid" || true; } | paste -sd, -)
  perf stat -e raw_syscalls:sys_enter -x, -p "$pids" -o "$work/perf.out" 2>/dev/null &
  perf_pid=$!
  sleep 0.5 # attached before the first connection
  timeout -k 5 "$((RUN_TIMEOUT + 10))" "$LOAD" rate --to "${REPLY_ADDR[$t]}" \
    --connections "$RATE_CONNECTIONS" --concurrency "$RATE_CONCURRENCY" --sni "$REPLY_SNI" \
    --response-bytes "$RESPONSE_BYTES" --timeout "$RUN_TIMEOUT" >/dev/null 2>&1 || true
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" 2>/dev/null || true
  count=$(awk -F, '$3 == "raw_syscalls:sys_enter" { print $1 }' "$work/perf.out")
  case $count in '' | *[!0-9]*) return 0 ;; esac
  record 1 "$t" rate_syscalls "$(awk -v c="$count" -v n="$RATE_CONNECTIONS" 'BEGIN { print c / n }')"
}
