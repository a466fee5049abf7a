#pragma once
// `cpu-snapshot --ours PID [--proxy PID]`: one line of CPU ticks (USER_HZ)
// consumed since boot, for run-modes.sh to difference around each run:
//
//   busy    the whole machine: /proc/stat user+nice+system+irq+softirq+steal
//   proxy   the process tree rooted at --proxy (all threads, io-wq included)
//   kernel  kernel threads (kworkers, ksoftirqd, ...): where the kernel
//           forwarding modes move work
//   ours    the rest of the tree rooted at --ours (the script: load client,
//           backends, other proxies, helpers)
//   others  every other process: work that is not the benchmark's, which a
//           shared machine adds to the whole-machine figure
//
// A process's share is utime+stime+cutime+cstime, summed over the tree, so a
// child that exits between two snapshots still counts once it is reaped
// (its time moves into its parent's cutime). Ticks the kernel charges to no
// readable task (interrupts while idle) are in busy only.
#include "args.hpp"

namespace proxy_load {

int run_cpu_snapshot(const Args& args);

}  // namespace proxy_load
