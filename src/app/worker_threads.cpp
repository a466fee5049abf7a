#include "app/worker_threads.hpp"

#include <algorithm>
#include <thread>

namespace sniproxy::app {

unsigned worker_threads(const config::Config& config) {
  if (config.workers != 0) return config.workers;
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace sniproxy::app
