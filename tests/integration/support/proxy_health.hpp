#pragma once
// What the abuse tests check about the proxy process itself, read from
// /proc: CPU time (no spinning while nothing should happen), resident
// memory (no unbounded growth) and open descriptors.
#include <sys/types.h>

#include <cstdint>

#include "proxy_process.hpp"
#include "socket_io.hpp"

namespace sniproxy::integration {

// utime + stime of the whole process, in milliseconds.
std::uint64_t cpu_time_ms(pid_t pid);
// VmRSS in KiB (0 when unreadable).
std::uint64_t resident_kib(pid_t pid);
// Entries in /proc/PID/fd.
int open_fds(pid_t pid);

// The proxy's CPU time over `period` as a share of the wall time (1.0 = one
// core busy the whole time).
double cpu_share_over(pid_t pid, milliseconds period);

// Raises this process's RLIMIT_NOFILE soft limit to at least `wanted`
// (raising the hard limit too, which root may). Returns the soft limit now
// in force.
std::uint64_t raise_own_fd_limit(std::uint64_t wanted);

// Extra resident memory to allow in a memory bound when the proxy runs
// under AddressSanitizer (the test binary is built the same way): ASan keeps
// freed heap in a quarantine of up to 256 MiB and adds shadow memory, so
// growth there says nothing about leaks (LeakSanitizer covers those at exit).
std::uint64_t sanitizer_slack_kib();

// The three checks every abuse test ends with, as gtest expectations:
// alive, not spinning (CPU share over `quiet` below `max_cpu_share` while
// nothing is asked of it) and, after SIGTERM, a clean exit.
void expect_alive_and_quiet(ProxyProcess& proxy, milliseconds quiet = milliseconds(1000),
                            double max_cpu_share = 0.2);
void expect_clean_exit_on_sigterm(ProxyProcess& proxy);

}  // namespace sniproxy::integration
