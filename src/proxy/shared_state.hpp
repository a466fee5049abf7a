#pragma once
// State shared by the supervisor (main thread) and all workers.
#include <atomic>
#include <memory>

#include "proxy/connection_limits.hpp"
#include "proxy/runtime.hpp"

namespace sniproxy::bpf {
class Sockmap;
}

namespace sniproxy::proxy {

struct SharedState {
  // The config in force for new connections; swapped whole on reload.
  std::atomic<std::shared_ptr<const Runtime>> runtime;
  ConnectionLimits limits;
  std::atomic<bool> stopping{false};
  // Loaded before the workers start when a listener uses sockmap mode;
  // owned by the supervisor, thread-safe (bpf/sockmap.hpp).
  bpf::Sockmap* sockmap = nullptr;
  std::atomic<std::uint64_t> sockmap_fallbacks{0};
};

}  // namespace sniproxy::proxy
