#include "upstream/health_table.hpp"

#include <limits>

namespace sniproxy::upstream {

namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::min();

std::int64_t to_ticks(std::optional<TimePoint> t) {
  return t ? static_cast<std::int64_t>(t->time_since_epoch().count()) : kNever;
}

std::optional<TimePoint> from_ticks(std::int64_t ticks) {
  if (ticks == kNever) return std::nullopt;
  return TimePoint(Clock::duration(ticks));
}

}  // namespace

MemberHealth::MemberHealth(HealthSettings settings) : MemberHealth(HealthState(settings)) {}

MemberHealth::MemberHealth(HealthState initial)
    : state_(initial), retry_at_(kNever), up_since_(kNever) {
  publish();
}

bool MemberHealth::eligible(TimePoint now) const {
  if (up()) return true;
  const std::int64_t retry = retry_at_.load(std::memory_order_acquire);
  return retry != kNever && to_ticks(now) >= retry;
}

std::optional<TimePoint> MemberHealth::up_since() const {
  return from_ticks(up_since_.load(std::memory_order_acquire));
}

std::optional<HealthTransition> MemberHealth::on_check(bool ok, TimePoint now) {
  std::lock_guard lock(mutex_);
  auto transition = state_.on_check(ok, now);
  publish();
  return transition;
}

std::optional<HealthTransition> MemberHealth::on_connect_result(bool ok, TimePoint now) {
  if (ok && clean_.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto transition = state_.on_connect_result(ok, now);
  // A failure counted marks it not clean until a success resets the count.
  clean_.store(state_.up() && ok, std::memory_order_release);
  publish();
  return transition;
}

void MemberHealth::set_settings(HealthSettings settings) {
  std::lock_guard lock(mutex_);
  state_.set_settings(settings);
  publish();
}

HealthState MemberHealth::snapshot() const {
  std::lock_guard lock(mutex_);
  return state_;
}

void MemberHealth::publish() {
  // Timestamps first: a reader that sees the new up flag sees them too.
  up_since_.store(to_ticks(state_.up_since()), std::memory_order_release);
  retry_at_.store(to_ticks(state_.retry_at()), std::memory_order_release);
  if (!state_.up()) clean_.store(false, std::memory_order_release);
  up_.store(state_.up(), std::memory_order_release);
}

std::shared_ptr<MemberHealth> HealthTable::acquire(const MemberKey& key,
                                                   const HealthSettings& settings,
                                                   bool unchecked_until_checked) {
  std::lock_guard lock(mutex_);
  std::weak_ptr<MemberHealth>& entry = entries_[key];
  if (auto health = entry.lock()) {
    health->set_settings(settings);
    return health;
  }
  auto health = std::make_shared<MemberHealth>(unchecked_until_checked
                                                   ? HealthState::awaiting_first_check(settings)
                                                   : HealthState(settings));
  entry = health;
  return health;
}

std::vector<std::pair<MemberKey, std::shared_ptr<MemberHealth>>> HealthTable::live() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<MemberKey, std::shared_ptr<MemberHealth>>> out;
  for (const auto& [key, entry] : entries_)
    if (auto health = entry.lock()) out.emplace_back(key, std::move(health));
  return out;
}

std::size_t HealthTable::prune() {
  std::lock_guard lock(mutex_);
  return std::erase_if(entries_, [](const auto& entry) { return entry.second.expired(); });
}

}  // namespace sniproxy::upstream
