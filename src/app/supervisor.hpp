#pragma once
// The main thread: starts one worker per core, then waits for signals —
// SIGHUP reloads, SIGTERM/SIGINT drain and stop.
#include <string>

namespace sniproxy::app {

// Returns the process exit code.
int run_proxy(const std::string& config_path);

}  // namespace sniproxy::app
