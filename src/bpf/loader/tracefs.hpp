#pragma once
// tracefs is where tracepoint ids live; a fresh machine may not have it
// mounted, and BCC then fails with a bare "Failed to attach".
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace sniproxy::bpf {

struct TracefsStatus {
  std::string path;  // "/sys/kernel/tracing" or the debugfs one BCC prefers
  bool mounted_by_us = false;
};

// The mounted tracefs, mounting it at /sys/kernel/tracing when missing.
Result<TracefsStatus> ensure_tracefs();

// True when "category:event" exists under the tracefs at `tracefs_path`.
bool tracepoint_exists(const std::string& tracefs_path, std::string_view category_event);

}  // namespace sniproxy::bpf
