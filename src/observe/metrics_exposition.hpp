#pragma once
// GET /metrics: the counters in the Prometheus text exposition format
// (version 0.0.4). Pure: the caller gathers what lives outside Metrics.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "observe/metrics.hpp"

namespace sniproxy::observe {

struct ListenerLabels {
  std::string name;
  std::string mode;  // the forwarding mode configured for it
};

// One pool member as /metrics shows it.
struct PoolServerSample {
  std::string pool;
  std::string server;  // its address, "10.0.0.1:443"
  bool up = true;
};

struct ExpositionContext {
  std::string version;
  std::string reactor_backend;    // the workers' event loop: "io_uring", "epoll"
  double start_time_seconds = 0;  // Unix time the process started
  double config_loaded_seconds = 0;
  std::vector<ListenerLabels> listeners;  // index-aligned with Metrics::listener()
  std::uint64_t dns_cache_hits = 0;       // summed over the workers
  std::uint64_t dns_cache_misses = 0;
  std::uint64_t dns_queries = 0;
  std::uint64_t dns_failures = 0;
  // Packets by verdict of the XDP filter; empty when [xdp] is off.
  std::vector<std::pair<std::string, std::uint64_t>> xdp_packets;
  std::vector<PoolServerSample> pool_servers;  // every member of every pool
  bool retrans = false;                        // [retrans] is on: its families are exported
  bool sockmap = false;                        // sockmap mode is loaded: its families are exported
  bool quic = false;                           // a quic listener exists: its families are exported
};

std::string render_prometheus(const Metrics& m, const ExpositionContext& ctx);

// A label value with \, " and newline escaped as the format requires.
std::string escape_label_value(std::string_view value);

}  // namespace sniproxy::observe
