#pragma once
// Starting a worker process: fork, then exec the binary on disk with the
// listening sockets passed as systemd passes them ($LISTEN_FDS, from
// descriptor 3 on, named in $LISTEN_FDNAMES) and $NOTIFY_SOCKET set to the
// master's receiver, so the worker runs the same start-up as a proxy that
// systemd started itself. $SNIPROXY_MASTER_PID tells it that it is a worker.
#include <sys/types.h>

#include <string>
#include <vector>

#include "app/master_sockets.hpp"
#include "common/result.hpp"

namespace sniproxy::app {

inline constexpr const char* kMasterPidVariable = "SNIPROXY_MASTER_PID";

struct WorkerLaunch {
  std::string binary;       // the path to execute
  std::string config_path;  // passed as --config
  std::vector<SocketToPass> sockets;
  std::string notify_address;  // "@name"
};

// The worker's pid. An exec that fails shows as the child exiting with 127
// (and a line on stderr), as a shell reports it.
Result<pid_t> launch_worker(const WorkerLaunch& launch);

}  // namespace sniproxy::app
