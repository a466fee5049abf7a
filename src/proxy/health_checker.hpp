#pragma once
// Active health checks of pool members, on one thread of their own so that a
// slow or silent backend never costs a worker's reactor a moment. Results
// feed the shared MemberHealth the workers' balancers read.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/address.hpp"
#include "common/unique_fd.hpp"
#include "config/config.hpp"
#include "proxy/pool_members.hpp"
#include "upstream/health_table.hpp"
#include "upstream/member.hpp"

namespace sniproxy::proxy {

struct CheckTarget {
  upstream::MemberKey key;
  Endpoint endpoint;
  config::HealthCheckKind kind = config::HealthCheckKind::tcp;  // tcp or tls_hello
  std::string server_name;                                      // tls_hello: the SNI to send
  std::chrono::milliseconds interval{2'000};
  std::chrono::milliseconds timeout{1'000};
  std::shared_ptr<upstream::MemberHealth> health;
};

// The members to check of one config: every current member (its pool's
// published snapshot) of every pool whose check is not `none`.
std::vector<CheckTarget> check_targets(const std::map<std::string, PoolMembers>& pools);

// One thread per process that checks every target each `interval`, all
// checks in flight at once over one poll(2). `tcp` passes when the connect
// completes within `timeout`; `tls_hello` also sends a ClientHello for
// `server_name` and passes when a TLS record (handshake 0x16 or alert 0x15)
// comes back within it. Each result goes to target.health->on_check; a
// transition it returns goes to the sink (log_health_transition by default).
class HealthChecker {
 public:
  using TransitionSink = std::function<void(
      const upstream::MemberKey&, const upstream::HealthTransition&, std::string_view detail)>;

  HealthChecker();
  // Tests watch transitions through `sink`.
  explicit HealthChecker(TransitionSink sink);
  ~HealthChecker();  // stops and joins the thread
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  void start();  // starts the thread; no-op if started
  // Thread-safe; replaces the whole set (a reload). A target whose key stays
  // keeps its schedule; new ones are checked at once.
  void set_targets(std::vector<CheckTarget> targets);

 private:
  struct Slot;
  void run();
  void wake() const;

  TransitionSink sink_;
  UniqueFd wake_fd_;  // eventfd: set_targets and stop interrupt the poll
  std::mutex mutex_;
  std::optional<std::vector<CheckTarget>> pending_;  // under mutex_
  bool stopping_ = false;                            // under mutex_
  std::thread thread_;
  bool poll_failed_logged_ = false;  // the checker thread's own
};

}  // namespace sniproxy::proxy
