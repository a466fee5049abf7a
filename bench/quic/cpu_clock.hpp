#pragma once
// CPU time for the QUIC benchmark: the whole machine's busy time
// (/proc/stat, softirq and kernel threads included) and one process's own
// (all its threads, /proc/PID/stat), in seconds.
#include <sys/types.h>

namespace sniproxy::quic_bench {

double machine_busy_seconds();
// utime + stime of `pid`; 0 when it cannot be read.
double process_cpu_seconds(pid_t pid);

}  // namespace sniproxy::quic_bench
