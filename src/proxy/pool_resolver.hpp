#pragma once
// Resolves the pools' DNS-named servers, once per process and off the
// workers' reactors: one thread with its own c-ares resolver (from [dns])
// over one poll(2) loop. Each name is asked again as its answer's TTL runs
// out (at least 1 s apart); a changed answer publishes the pools' new
// member lists (PublishedMembers) and logs event=pool_members_changed. A
// failed lookup keeps the last good addresses and is retried with a
// back-off from 1 s doubling to 30 s, logged once per failure streak
// (event=pool_dns_failed, then event=pool_dns_recovered).
//
// A thread of its own rather than the health checker's: the checker's loop
// schedules probes per member and the resolver's per name, with c-ares'
// sockets and timer besides; kept apart, each loop stays small, and a
// checker test needs no DNS. They meet only through the published members
// (the `changed` callback refreshes the checker's targets).
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "config/config.hpp"
#include "dns/resolver.hpp"
#include "proxy/runtime.hpp"
#include "upstream/health_table.hpp"
#include "upstream/member.hpp"

namespace sniproxy::proxy {

// Lookups of one name after failures: 1 s, doubling, at most 30 s.
std::chrono::milliseconds next_dns_backoff(std::chrono::milliseconds last);
// When to ask again for an answer that holds until `expires`: then, but
// never sooner than 1 s from `now` (a TTL of 0 must not spin).
std::chrono::steady_clock::time_point next_lookup(std::chrono::steady_clock::time_point expires,
                                                  std::chrono::steady_clock::time_point now);

class PoolResolver final : private dns::IoDriver {
 public:
  // Called on the resolving thread after it published new member lists.
  using MembersChanged = std::function<void()>;

  static Result<std::unique_ptr<PoolResolver>> create(const config::Dns& dns,
                                                      upstream::HealthTable& health,
                                                      MembersChanged changed);
  ~PoolResolver() override;  // stops and joins the thread
  PoolResolver(const PoolResolver&) = delete;
  PoolResolver& operator=(const PoolResolver&) = delete;

  // Starts the thread on `runtime`'s pools and waits until each name has
  // answered or failed once, for at most `limit`. Members of these first
  // answers start up, as IP members do at start-up; later ones (a new
  // answer, a reload's new server) in pools with active checks wait for
  // their first check.
  void start(std::shared_ptr<const Runtime> runtime, std::chrono::milliseconds limit);
  // Follows a reload's pools from now on: names that stay keep their
  // answers and schedule, new names are asked at once, and every pool's
  // members are brought up to the answers known.
  void follow(std::shared_ptr<const Runtime> runtime);
  // The last good answer of every name, for a reload's Runtime.
  [[nodiscard]] upstream::ResolvedHosts answers() const;

 private:
  // One name's lookups, on the resolving thread.
  struct Name {
    std::optional<dns::Addresses> good;  // the last good answer, sorted
    std::chrono::steady_clock::time_point due{};
    bool in_flight = false;
    bool settled = false;  // answered or failed once
    bool failing = false;  // in a failure streak (logged once)
    std::chrono::milliseconds backoff{0};
  };
  PoolResolver(upstream::HealthTable& health, MembersChanged changed);

  void watch(int fd, bool readable, bool writable) override;
  void arm_timer(std::chrono::milliseconds delay) override;
  void wake() const;

  void run();
  void apply(std::shared_ptr<const Runtime> runtime);
  void look_up(const std::string& name);
  void on_answer(const std::string& name, const Result<dns::Addresses>& answer,
                 std::chrono::steady_clock::time_point expires);
  // Publishes every pool (of those using `name`, or all) whose members
  // differ from the answers known; true if one did.
  bool republish(const std::string* name);
  void log_for_servers(
      const std::string& name,
      const std::function<void(std::string_view pool, std::string_view server)>& line) const;
  void mark_settled();

  upstream::HealthTable& health_;
  MembersChanged changed_;
  UniqueFd wake_fd_;

  // Shared with other threads, under mutex_.
  mutable std::mutex mutex_;
  std::condition_variable settled_cv_;
  std::optional<std::shared_ptr<const Runtime>> pending_;
  bool stopping_ = false;
  bool first_round_settled_ = false;
  bool starting_ = true;  // members of the first answers start up
  upstream::ResolvedHosts answers_;

  // The resolving thread's own.
  std::shared_ptr<const Runtime> runtime_;
  std::map<std::string, Name> names_;
  std::map<int, short> watched_;  // fd -> poll events, as c-ares asks
  std::optional<std::chrono::steady_clock::time_point> timer_;
  bool poll_failed_logged_ = false;
  std::unique_ptr<dns::Resolver> resolver_;  // after watched_: its destructor unwatches
  std::thread thread_;
};

}  // namespace sniproxy::proxy
