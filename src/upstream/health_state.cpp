#include "upstream/health_state.hpp"

namespace sniproxy::upstream {

HealthSettings HealthSettings::from(const config::HealthCheck& check) {
  HealthSettings s;
  s.active_checks = check.check != config::HealthCheckKind::none;
  s.rise = check.rise;
  s.fall = check.fall;
  s.interval = check.interval;
  return s;
}

std::string_view to_string(HealthCause cause) {
  switch (cause) {
    case HealthCause::checks_failed:
      return "checks failed";
    case HealthCause::connects_failed:
      return "connects failed";
    case HealthCause::checks_passed:
      return "checks passed";
    case HealthCause::connected:
      return "connected";
  }
  return "unknown";
}

HealthState HealthState::awaiting_first_check(HealthSettings settings) {
  HealthState state(settings);
  if (!settings.active_checks) return state;  // nothing would ever check it: up
  state.up_ = false;
  state.awaiting_first_check_ = true;
  return state;
}

std::optional<HealthTransition> HealthState::on_check(bool ok, TimePoint now) {
  if (awaiting_first_check_) {
    awaiting_first_check_ = false;
    if (ok) return go_up(HealthCause::checks_passed, 1, now);
    // Failed: down as any other, back after `rise` passed checks.
  }
  if (up_) {
    if (ok) {
      failed_checks_ = 0;
      return std::nullopt;
    }
    if (++failed_checks_ < settings_.fall) return std::nullopt;
    return go_down(HealthCause::checks_failed, failed_checks_, now);
  }
  if (!ok) {
    passed_checks_ = 0;
    last_failure_ = now;
    return std::nullopt;
  }
  if (++passed_checks_ < settings_.rise) return std::nullopt;
  return go_up(HealthCause::checks_passed, passed_checks_, now);
}

std::optional<HealthTransition> HealthState::on_connect_result(bool ok, TimePoint now) {
  if (up_) {
    if (ok) {
      failed_connects_ = 0;
      return std::nullopt;
    }
    if (++failed_connects_ < settings_.fall) return std::nullopt;
    return go_down(HealthCause::connects_failed, failed_connects_, now);
  }
  // A connect picked just before the member went down says nothing the
  // checks do not; without checks, connects are the only evidence.
  if (settings_.active_checks) return std::nullopt;
  if (ok) return go_up(HealthCause::connected, 1, now);
  last_failure_ = now;
  return std::nullopt;
}

bool HealthState::eligible(TimePoint now) const {
  if (up_) return true;
  auto retry = retry_at();
  return retry && now >= *retry;
}

std::optional<TimePoint> HealthState::retry_at() const {
  if (up_ || settings_.active_checks) return std::nullopt;
  return last_failure_ + settings_.interval;
}

HealthTransition HealthState::go_down(HealthCause cause, std::uint32_t in_a_row, TimePoint now) {
  up_ = false;
  failed_checks_ = failed_connects_ = passed_checks_ = 0;
  last_failure_ = now;
  return HealthTransition{false, cause, in_a_row};
}

HealthTransition HealthState::go_up(HealthCause cause, std::uint32_t in_a_row, TimePoint now) {
  up_ = true;
  failed_checks_ = failed_connects_ = passed_checks_ = 0;
  up_since_ = now;
  return HealthTransition{true, cause, in_a_row};
}

}  // namespace sniproxy::upstream
