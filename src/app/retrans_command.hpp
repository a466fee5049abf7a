#pragma once
// `sniproxy retrans [--interval SEC] [--json]`: a live view of TCP
// retransmits on the whole host with the process that owns each socket.
#include <optional>

namespace sniproxy::app {

struct RetransOptions {
  std::optional<double> interval_s;  // a table every interval instead of one line per event
  bool json = false;
};

// Runs until SIGINT or SIGTERM; returns the exit status (0 on a clean stop,
// 1 when the tracer cannot start: missing privileges, kernel, headers).
int run_retrans_command(const RetransOptions& options);

}  // namespace sniproxy::app
