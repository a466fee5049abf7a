#include "cpu_snapshot.hpp"

#include <dirent.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unordered_map>

#include "fail.hpp"

namespace proxy_load {

namespace {

struct Task {
  long parent = 0;
  unsigned long long ticks = 0;  // utime + stime + cutime + cstime
};

enum class Owner { proxy, kernel, ours, others };

constexpr long kKthreadd = 2;  // parent of every kernel thread

// Fields of /proc/PID/stat after the parenthesised command name (which may
// itself contain spaces and parentheses, hence the last ')').
bool read_task(const std::string& pid, Task& task) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;  // exited since the listing
  const auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(line.substr(close + 2));
  std::string state;
  long parent = 0;
  fields >> state >> parent;
  std::string skip;
  for (int i = 5; i <= 13; ++i) fields >> skip;  // pgrp .. cmajflt
  unsigned long long utime = 0, stime = 0;
  long long cutime = 0, cstime = 0;
  fields >> utime >> stime >> cutime >> cstime;
  if (!fields) return false;
  task.parent = parent;
  task.ticks = utime + stime + static_cast<unsigned long long>(cutime + cstime);
  return true;
}

std::unordered_map<long, Task> read_tasks() {
  std::unordered_map<long, Task> tasks;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) die_errno("opendir /proc");
  while (const dirent* entry = ::readdir(proc)) {
    const std::string name = entry->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    Task task;
    if (read_task(name, task)) tasks[std::stol(name)] = task;
  }
  ::closedir(proc);
  return tasks;
}

unsigned long long machine_busy() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                     steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  if (!in || cpu != "cpu") die("cannot read /proc/stat");
  // guest time is already inside user, so it is not added again.
  return user + nice + system + irq + softirq + steal;
}

Owner owner_of(long pid, const std::unordered_map<long, Task>& tasks, long ours, long proxy) {
  if (pid == kKthreadd) return Owner::kernel;
  for (int depth = 0; depth < 4096 && pid > 1; ++depth) {
    if (pid == proxy) return Owner::proxy;
    if (pid == ours) return Owner::ours;
    const auto it = tasks.find(pid);
    if (it == tasks.end()) break;
    if (it->second.parent == kKthreadd) return Owner::kernel;
    pid = it->second.parent;
  }
  return Owner::others;
}

}  // namespace

int run_cpu_snapshot(const Args& args) {
  const auto ours = static_cast<long>(args.number("ours", 0));
  const auto proxy = static_cast<long>(args.number("proxy", 0));
  args.reject_unused();
  if (ours <= 1) die("cpu-snapshot needs --ours PID (the benchmark script)");
  const unsigned long long busy = machine_busy();
  const auto tasks = read_tasks();
  unsigned long long sums[4] = {};
  for (const auto& [pid, task] : tasks)
    sums[static_cast<int>(owner_of(pid, tasks, ours, proxy))] += task.ticks;
  std::printf("busy=%llu proxy=%llu kernel=%llu ours=%llu others=%llu\n", busy,
              sums[static_cast<int>(Owner::proxy)], sums[static_cast<int>(Owner::kernel)],
              sums[static_cast<int>(Owner::ours)], sums[static_cast<int>(Owner::others)]);
  return 0;
}

}  // namespace proxy_load
