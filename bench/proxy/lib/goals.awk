# The issue's goals, for each sniproxy mode that ran: bulk throughput at
# least 0.5x direct and CPU per GiB at most 1.5x direct (in the best mode),
# connection rate at least 0.75x direct, one-at-a-time p50 at most 1.5x
# direct. Needs stats.awk.

function check(t, m, op, limit,    v) {
  v = ratio(t, m, "direct")
  if (v == "") return "n/a"
  met[t] += (op == ">=") ? v >= limit : v <= limit
  return sprintf("%.3fx %s", v, ((op == ">=") ? v >= limit : v <= limit) ? "ok" : "MISSED")
}

END {
  print "goals (ratios to direct): bulk >= 0.5x, CPU/GiB <= 1.5x, conn/s >= 0.75x, p50 <= 1.5x"
  best = ""
  for (i = 1; i <= n; i++) {
    t = order[i]
    if (t !~ /^sniproxy-/ || status[t] != "ok") continue
    line = sprintf("%-20s bulk %-12s CPU/GiB %-12s conn/s %-12s p50 %s", label[t], \
      check(t, "mbps", ">=", 0.5), check(t, "bulk_cpu", "<=", 1.5), check(t, "cps", ">=", 0.75), \
      check(t, "p50", "<=", 1.5))
    print line
    b = ratio(t, "mbps", "direct")
    if (b != "" && (best == "" || b > best_bulk)) { best = t; best_bulk = b }
  }
  if (best != "")
    printf "best bulk mode: %s (%.2fx direct, %d of 4 goals met)\n", label[best], best_bulk, met[best]
}
