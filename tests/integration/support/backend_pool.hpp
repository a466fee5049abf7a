#pragma once
// A backend for many short connections: a fixed pool of threads, each
// accepting from the shared listening socket and running the handler for
// one connection at a time. Unlike Backend (a thread per connection, kept
// until the end), thousands of connections cost no more threads than the
// pool, which the churn test needs.
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "backend.hpp"

namespace sniproxy::integration {

class BackendPool {
 public:
  BackendPool(BackendHandler handler, int threads, int backlog);
  ~BackendPool();
  BackendPool(const BackendPool&) = delete;
  BackendPool& operator=(const BackendPool&) = delete;

  [[nodiscard]] std::string address() const { return loopback(port_).to_string(); }
  [[nodiscard]] int accepted() const { return accepted_.load(); }

 private:
  void serve();

  BackendHandler handler_;
  UniqueFd listener_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::vector<std::thread> threads_;
};

}  // namespace sniproxy::integration
