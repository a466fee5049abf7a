#pragma once
// Health shared by the workers: one MemberHealth per member key in the
// process. Workers read it without locks on every pick; the checker and
// connect results write it under a per-member mutex.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "upstream/health_state.hpp"
#include "upstream/member.hpp"

namespace sniproxy::upstream {

class MemberHealth {
 public:
  explicit MemberHealth(HealthSettings settings);
  explicit MemberHealth(HealthState initial);

  // Lock-free, for the workers' picks.
  [[nodiscard]] bool up() const { return up_.load(std::memory_order_acquire); }
  [[nodiscard]] bool eligible(TimePoint now) const;
  [[nodiscard]] std::optional<TimePoint> up_since() const;
  // What a pick needs of it, with the caller's count of open connections.
  [[nodiscard]] MemberStatus status(std::uint32_t active, TimePoint now) const {
    return MemberStatus{eligible(now), up_since(), active};
  }

  // From any thread. A transition is returned to exactly one caller, which
  // logs it.
  std::optional<HealthTransition> on_check(bool ok, TimePoint now);
  std::optional<HealthTransition> on_connect_result(bool ok, TimePoint now);
  void set_settings(HealthSettings settings);
  // A consistent copy, for /status and tests.
  [[nodiscard]] HealthState snapshot() const;

 private:
  // Copies state_ into the atomics; with mutex_ held.
  void publish();

  mutable std::mutex mutex_;
  HealthState state_;
  std::atomic<bool> up_{true};
  // Up, with no failure counted since: a successful connect changes nothing
  // and skips the mutex (the common case, on every connection).
  std::atomic<bool> clean_{true};
  // Nanoseconds since the clock's epoch; kNever for none.
  std::atomic<std::int64_t> retry_at_;
  std::atomic<std::int64_t> up_since_;
};

class HealthTable {
 public:
  // The health of `key`: the one tracked already, if any member list still
  // holds it (with `settings` applied), else a new one, up. Acquire the
  // members of a new config or DNS answer before releasing the old ones, so
  // members that stay keep their state.
  // `unchecked_until_checked`: a member not tracked yet starts down until
  // its first check passes (a reload's new servers), rather than up.
  std::shared_ptr<MemberHealth> acquire(const MemberKey& key, const HealthSettings& settings,
                                        bool unchecked_until_checked = false);
  // Every member some list still holds, in key order: for the checker and
  // /status.
  [[nodiscard]] std::vector<std::pair<MemberKey, std::shared_ptr<MemberHealth>>> live() const;
  // Forgets members no list holds any more; returns how many.
  std::size_t prune();

 private:
  mutable std::mutex mutex_;
  std::map<MemberKey, std::weak_ptr<MemberHealth>> entries_;
};

}  // namespace sniproxy::upstream
