#pragma once
// Preconnect (`preconnect = N` on a route or pool): each worker keeps up to
// N connected sockets ready per backend address, so that a routed client's
// hello goes out at once instead of after the backend's handshake (Envoy's
// preconnect). A spare unused for `[timeouts] preconnect_idle` is closed
// before a backend's own idle timeout would close it, and replaced only
// while its backend is in use, so a backend that stopped being routed to
// loses its spares. A spare the backend closed anyway is found out when it
// is taken (a non-blocking peek) and the next is tried.
#include <sys/socket.h>

#include <chrono>
#include <compare>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <optional>

#include "common/address.hpp"
#include "common/unique_fd.hpp"
#include "observe/metrics.hpp"
#include "reactor/reactor.hpp"
#include "reactor/timer_queue.hpp"

namespace sniproxy::proxy {

class SpareConnections {
 public:
  struct Settings {
    std::uint32_t wanted = 0;  // spares to keep for this backend
    std::chrono::milliseconds idle{10'000};
    std::chrono::milliseconds connect_timeout{5'000};
  };

  SpareConnections(reactor::Reactor& reactor, reactor::TimerQueue& timers,
                   observe::Metrics& metrics);
  ~SpareConnections();
  SpareConnections(const SpareConnections&) = delete;
  SpareConnections& operator=(const SpareConnections&) = delete;

  // A connected socket to `backend` (bound to `source` if set), or an empty
  // fd when none is ready. Either way the backend's spares are topped up to
  // `settings.wanted` in the background.
  UniqueFd take(const Endpoint& backend, const std::optional<IpAddress>& source,
                const Settings& settings);
  // Closes every spare and makes no more (the worker drains).
  void close_all();

  [[nodiscard]] std::size_t ready() const;
  // Backend addresses with spares, connects or a failure streak remembered.
  [[nodiscard]] std::size_t tracked() const;

 private:
  struct Key {
    Endpoint backend;
    std::optional<IpAddress> source;
    // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 sees a 0 in the defaulted <=>
    friend auto operator<=>(const Key&, const Key&) = default;
  };
  struct Spare {
    UniqueFd fd;
    reactor::Clock::time_point expires;
  };
  struct Connect;
  struct Backend {
    std::deque<Spare> ready;  // oldest first
    std::uint32_t connecting = 0;
    Settings settings;
    reactor::Clock::time_point last_taken{};
    std::uint32_t failures = 0;  // connects failed in a row
    reactor::Clock::time_point retry_after{};
    reactor::TimerQueue::Id expiry_timer = 0;
  };

  void top_up(const Key& key, Backend& backend);
  void start_connect(const Key& key, Backend& backend);
  void connected(Connect& connect, int res);
  void expire(const Key& key);
  void schedule_expiry(const Key& key, Backend& backend);

  reactor::Reactor& reactor_;
  reactor::TimerQueue& timers_;
  observe::Metrics& metrics_;
  std::map<Key, Backend> backends_;
  std::list<Connect> connects_;  // in flight; stable addresses for the reactor
  bool closed_ = false;
};

}  // namespace sniproxy::proxy
