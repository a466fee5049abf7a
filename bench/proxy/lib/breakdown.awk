# Where the CPU of each target went: the medians of the parts that
# measure.sh records (proxy process tree, kernel threads such as kworkers and
# ksoftirqd, load client and backends, interrupt work charged to no task),
# for bulk in CPU-seconds per GiB and for rate in CPU-microseconds per
# connection; and each proxy's system calls per connection (perf, when it
# is installed). Needs stats.awk.

function c(t, m, fmt,    v) { v = med(t, m); return v == "" ? "-" : sprintf(fmt, v) }

END {
  print "where the CPU went (whole machine minus other processes; medians). kthr: kernel threads (kworkers,"
  print "ksoftirqd); cli+back: load client and backends; rest: busy time /proc/stat charged to no task"
  print "(interrupts on idle CPUs), +- the sampling error between /proc/stat ticks and per-task times"
  printf "%-20s | %-37s | %-37s | %s\n", "", "bulk, CPU-s/GiB", "rate, CPU-us/conn", "syscalls"
  printf "%-20s | %6s %6s %6s %9s %5s | %6s %6s %6s %9s %5s | %8s\n", "target", "total", "proxy", \
    "kthr", "cli+back", "rest", "total", "proxy", "kthr", "cli+back", "rest", "per conn"
  for (i = 1; i <= n; i++) {
    t = order[i]
    if (status[t] != "ok") continue
    printf "%-20s | %6s %6s %6s %9s %5s | %6s %6s %6s %9s %5s | %8s\n", label[t], \
      c(t, "bulk_cpu", "%.2f"), c(t, "bulk_proxy", "%.2f"), c(t, "bulk_kernel", "%.2f"), \
      c(t, "bulk_load", "%.2f"), c(t, "bulk_rest", "%.2f"), \
      c(t, "rate_cpu", "%.0f"), c(t, "rate_proxy", "%.0f"), c(t, "rate_kernel", "%.0f"), \
      c(t, "rate_load", "%.0f"), c(t, "rate_rest", "%.0f"), c(t, "rate_syscalls", "%.1f")
  }
}
