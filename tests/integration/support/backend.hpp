#pragma once
// A TCP server on 127.0.0.1 standing in for the proxy's upstream: one accept
// thread, one thread per accepted connection running a handler.
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/address.hpp"
#include "common/unique_fd.hpp"
#include "socket_io.hpp"

namespace sniproxy::integration {

struct BackendConnection {
  UniqueFd fd;
  Endpoint peer;  // as the backend sees it: the proxy's upstream socket
  int index = 0;  // 0 for the first connection accepted, and so on
  const std::atomic<bool>* stopping = nullptr;
  // A deadline that also ends when the Backend is destroyed.
  [[nodiscard]] Deadline within(milliseconds ms) const { return Deadline::in(ms, stopping); }
};

using BackendHandler = std::function<void(BackendConnection&)>;

class Backend {
 public:
  // `at`: where to listen (another loopback address, a fixed port).
  explicit Backend(BackendHandler handler, int backlog = 128, const Endpoint& at = loopback(0));
  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] Endpoint endpoint() const { return Endpoint{ip_, port_}; }
  [[nodiscard]] std::string address() const { return endpoint().to_string(); }
  [[nodiscard]] int accepted() const { return accepted_.load(); }
  // The listening socket, for options a test sets on it (TCP_FASTOPEN).
  [[nodiscard]] int listen_fd() const { return listener_.get(); }
  // Waits until at least n connections were accepted.
  bool wait_accepted(int n, Deadline deadline) const;

 private:
  void accept_loop();

  BackendHandler handler_;
  UniqueFd listener_;
  IpAddress ip_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::mutex threads_mutex_;
  std::vector<std::thread> handlers_;
  std::thread acceptor_;
};

}  // namespace sniproxy::integration
