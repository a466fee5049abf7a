#pragma once
// The master process ([process] master = true): it keeps the privileges
// start-up needs and the listening sockets, handles no traffic, and runs the
// proxy in worker processes it starts from the binary on disk. Each worker
// does today's whole start-up (BPF, privilege drop, threads) on the sockets
// it is passed and tells the master it is ready as it would tell systemd.
//
// A worker generation replaces another without refusing anyone: the new
// one accepts from the same sockets, and only once it is ready is the old
// one told to drain (SIGTERM). SIGUSR2 (an upgrade), a SIGHUP whose config
// the running worker cannot take in place (listeners, workers, ...) or
// after the binary was replaced, and a worker that died start one; a
// generation that fails to become ready leaves the old one serving. Other
// SIGHUPs and SIGUSR1 go to the worker, SIGTERM/SIGINT drain every worker
// and end the master.
#include <string>

namespace sniproxy::app {

// Returns the process exit code.
int run_master(const std::string& config_path);

}  // namespace sniproxy::app
