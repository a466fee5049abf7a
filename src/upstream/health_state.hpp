#pragma once
// One member's health as a state machine, fed by active checks and by the
// results of real connects (passive). Single-threaded and pure: time comes
// in with each event. MemberHealth (health_table.hpp) shares it between
// threads.
#include <cstdint>
#include <optional>
#include <string_view>

#include "config/config.hpp"
#include "upstream/time.hpp"

namespace sniproxy::upstream {

struct HealthSettings {
  // Checks run (tcp, tls_hello). Without them (check = "none") only failed
  // connects take a member down, and it is tried again after `interval`.
  bool active_checks = true;
  std::uint32_t rise = 2;  // passed checks in a row: down -> up
  std::uint32_t fall = 3;  // failed checks, or failed connects, in a row: up -> down
  Millis interval{2'000};

  static HealthSettings from(const config::HealthCheck& check);
};

enum class HealthCause : std::uint8_t { checks_failed, connects_failed, checks_passed, connected };

// "checks failed", "connects failed", "checks passed", "connected": for logs.
std::string_view to_string(HealthCause cause);

// A change of state, reported once by the event that made it.
struct HealthTransition {
  bool up = false;  // the state entered
  HealthCause cause = HealthCause::checks_failed;
  std::uint32_t in_a_row = 0;  // the events in a row that made it
};

class HealthState {
 public:
  explicit HealthState(HealthSettings settings) : settings_(settings) {}
  // A member a reload added, with active checks: down until its first check
  // passes (one is enough), so it gets no traffic unchecked.
  static HealthState awaiting_first_check(HealthSettings settings);

  // The result of one active check.
  std::optional<HealthTransition> on_check(bool ok, TimePoint now);
  // The result of one connect to the member by a connection (passive).
  // While down with active checks, only checks bring it back.
  std::optional<HealthTransition> on_connect_result(bool ok, TimePoint now);
  // A reload: the state and counts stay; new thresholds apply from the
  // next event.
  void set_settings(HealthSettings settings) { settings_ = settings; }

  [[nodiscard]] bool up() const { return up_; }
  // May take connections at `now`: up, or down without active checks and
  // `interval` past its last failure.
  [[nodiscard]] bool eligible(TimePoint now) const;
  // When a down member without active checks may be tried again; nullopt
  // when up, or when only checks can bring it back.
  [[nodiscard]] std::optional<TimePoint> retry_at() const;
  // When it last came back up; nullopt if it has not been down. Slow start
  // ramps from here.
  [[nodiscard]] std::optional<TimePoint> up_since() const { return up_since_; }
  [[nodiscard]] const HealthSettings& settings() const { return settings_; }

 private:
  HealthTransition go_down(HealthCause cause, std::uint32_t in_a_row, TimePoint now);
  HealthTransition go_up(HealthCause cause, std::uint32_t in_a_row, TimePoint now);

  HealthSettings settings_;
  // A member starts up: traffic flows from the start, as before pools, and
  // a dead one is found by `fall` checks or connects.
  bool up_ = true;
  bool awaiting_first_check_ = false;
  std::uint32_t failed_checks_ = 0;    // while up
  std::uint32_t failed_connects_ = 0;  // while up
  std::uint32_t passed_checks_ = 0;    // while down
  std::optional<TimePoint> up_since_;
  TimePoint last_failure_{};  // while down: the failure that took it down or the last since
};

}  // namespace sniproxy::upstream
