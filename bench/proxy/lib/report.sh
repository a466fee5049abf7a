# shellcheck shell=bash
# Sourced by run-modes.sh: the report. Figures are medians over the rounds;
# a ratio is the median of the per-round ratios (each target against the
# baseline measured in the same round), which cancels drift between rounds
# better than a ratio of medians.

# table AWK_FILE [awk -v assignments...]
table() {
  local program=$1
  shift
  awk -F'\t' "$@" -f "$HERE/lib/stats.awk" -f "$HERE/lib/$program" "$work/targets" "$work/results"
}

print_report() {
  local t
  for t in "${TARGETS[@]}"; do printf '%s\t%s\t%s\n' "$t" "${LABEL[$t]}" "${STATUS[$t]}"; done \
    >"$work/targets"
  touch "$work/results" "$work/errors" "$work/notes" "$work/contaminated"
  echo
  echo "sniproxy forwarding modes against direct, HAProxy and nginx (bench/proxy/run-modes.sh)"
  echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo |
    head -n1)), kernel $(uname -r)"
  echo "proxies: $("$SNIPROXY" --version 2>&1 | head -n1) with workers = $WORKERS;" \
    "haproxy nbthread $WORKERS; nginx worker_processes $WORKERS; no access logs"
  echo "bulk: $BYTES bytes over $BULK_CONNECTIONS connections;" \
    "rate: $RATE_CONNECTIONS connections, $RATE_CONCURRENCY in flight," \
    "each a ClientHello and a $RESPONSE_BYTES-byte answer;"
  echo "latency: $LATENCY_COUNT connections one at a time, connect + ClientHello + first answer byte"
  echo "CPU: whole machine from /proc/stat (user+nice+system+irq+softirq+steal: kworkers and" \
    "softirq count), load client and backends included,"
  echo "     minus what other processes used meanwhile; runs they disturbed repeated up to" \
    "$RETRIES time(s) (RETRIES)"
  echo "$ROUNDS rounds, targets alternated (order rotated each round); medians over rounds;" \
    "x = median of per-round ratios to the baseline measured in the same round"
  awk -v max="$QUIET_MAX" -f "$HERE/lib/background.awk" "$work/results"
  echo
  table table.awk -v base=direct -v title="against direct" -v full=1
  echo
  table table.awk -v base=sniproxy-splice -v full=0 \
    -v title="against sniproxy splice (what the other modes buy over splice)"
  echo
  table goals.awk
  echo
  table breakdown.awk
  if [ -s "$work/notes" ]; then
    echo
    cat "$work/notes"
  fi
  if [ -s "$work/contaminated" ]; then
    echo
    echo "$(wc -l <"$work/contaminated") run(s) still disturbed by other processes after" \
      "$RETRIES retries (kept, their CPU subtracted); the worst:"
    sort -rn "$work/contaminated" | head -n5 | cut -f2 | sed 's/^/  /'
  fi
  if [ -s "$work/errors" ]; then
    echo
    echo "failed runs (not in the medians):"
    sed 's/^/  /' "$work/errors"
  fi
}
