#pragma once
// The tests' IoDriver: a poll(2) loop over the resolver's watched fds, the
// fake server's socket and the resolver's timer, run until a condition holds
// or a time limit passes.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "dns/resolver.hpp"

namespace sniproxy::dns::testing {

class FakeDnsServer;

class PollLoop final : public IoDriver {
 public:
  struct Interest {
    bool readable = false;
    bool writable = false;
  };
  using RealClock = std::chrono::steady_clock;

  void watch(int fd, bool readable, bool writable) override;
  void arm_timer(std::chrono::milliseconds delay) override;

  void set_resolver(Resolver* resolver) { resolver_ = resolver; }
  void add_server(FakeDnsServer* server) { servers_.push_back(server); }

  // Runs until done() or `limit` passes; returns done().
  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds limit = std::chrono::seconds(3));
  // Runs for `duration` regardless.
  void run_for(std::chrono::milliseconds duration);

  [[nodiscard]] const std::map<int, Interest>& watches() const { return watches_; }
  [[nodiscard]] bool timer_armed() const { return timer_deadline_.has_value(); }
  [[nodiscard]] int stop_watch_calls() const { return stop_watch_calls_; }

 private:
  void poll_once(RealClock::time_point end);

  Resolver* resolver_ = nullptr;
  std::vector<FakeDnsServer*> servers_;
  std::map<int, Interest> watches_;
  std::optional<RealClock::time_point> timer_deadline_;
  int stop_watch_calls_ = 0;
};

}  // namespace sniproxy::dns::testing
