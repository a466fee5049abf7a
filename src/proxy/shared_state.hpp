#pragma once
// State shared by the supervisor (main thread) and all workers.
#include <atomic>
#include <memory>

#include "proxy/connection_limits.hpp"
#include "proxy/runtime.hpp"

namespace sniproxy::proxy {

struct SharedState {
  // The config in force for new connections; swapped whole on reload.
  std::atomic<std::shared_ptr<const Runtime>> runtime;
  ConnectionLimits limits;
  std::atomic<bool> stopping{false};
};

}  // namespace sniproxy::proxy
