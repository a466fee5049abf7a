#pragma once
// A fake DNS server (tests/support) answering on a thread of its own, for
// tests whose proxy (another process) resolves names through it.
#include <poll.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "common/address.hpp"
#include "fake_dns_server.hpp"

namespace sniproxy::integration {

using dns::testing::FakeDnsServer;

// The fake DNS server answered on a thread of its own (the proxy is
// another process); the test changes its answers under the lock.
class DnsServerThread {
 public:
  DnsServerThread() {
    thread_ = std::thread([this] {
      while (!stopping_) {
        pollfd p{server_.fd(), POLLIN, 0};
        if (::poll(&p, 1, 20) > 0) {
          std::lock_guard lock(mutex_);
          server_.serve_pending();
        }
      }
    });
  }
  ~DnsServerThread() {
    stopping_ = true;
    thread_.join();
  }
  DnsServerThread(const DnsServerThread&) = delete;
  DnsServerThread& operator=(const DnsServerThread&) = delete;

  [[nodiscard]] Endpoint endpoint() const { return server_.endpoint(); }
  template <typename Change>
  void change(Change&& what) {
    std::lock_guard lock(mutex_);
    what(server_);
  }

 private:
  FakeDnsServer server_;
  std::mutex mutex_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace sniproxy::integration
