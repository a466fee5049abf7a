# The results table against one baseline (-v base=ID). With -v full=1 the
# absolute figures and the ratios; with full=0 only the ratios. Needs stats.awk.

function cell(t, m, fmt) { v = med(t, m); return v == "" ? "err" : sprintf(fmt, v) }
function rcell(t, m) { v = ratio(t, m, base); return v == "" ? "-" : sprintf("%.2fx", v) }

END {
  if (!(base in status) || status[base] != "ok") {
    printf "%s: no figures (%s is %s)\n", title, base, (base in status) ? status[base] : "not measured"
    exit
  }
  print title ":"
  if (full) {
    printf "%-20s %9s %6s %9s %6s %8s %6s %11s %6s %8s %6s %8s %6s\n", "target", "MB/s", "x", \
      "CPU-s/GiB", "x", "conn/s", "x", "CPU-us/conn", "x", "p50 us", "x", "p99 us", "x"
  } else {
    printf "%-20s %6s %9s %6s %11s %6s %6s\n", "target", "MB/s", "CPU-s/GiB", "conn/s", \
      "CPU-us/conn", "p50", "p99"
  }
  for (i = 1; i <= n; i++) {
    t = order[i]
    if (status[t] != "ok") { printf "%-20s %s\n", label[t], status[t]; continue }
    if (full) {
      printf "%-20s %9s %6s %9s %6s %8s %6s %11s %6s %8s %6s %8s %6s\n", label[t], \
        cell(t, "mbps", "%.1f"), rcell(t, "mbps"), cell(t, "bulk_cpu", "%.3f"), rcell(t, "bulk_cpu"), \
        cell(t, "cps", "%.0f"), rcell(t, "cps"), cell(t, "rate_cpu", "%.1f"), rcell(t, "rate_cpu"), \
        cell(t, "p50", "%.1f"), rcell(t, "p50"), cell(t, "p99", "%.1f"), rcell(t, "p99")
    } else {
      printf "%-20s %6s %9s %6s %11s %6s %6s\n", label[t], rcell(t, "mbps"), rcell(t, "bulk_cpu"), \
        rcell(t, "cps"), rcell(t, "rate_cpu"), rcell(t, "p50"), rcell(t, "p99")
    }
  }
}
