#include "proxy/health_checker.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <random>
#include <system_error>
#include <thread>
#include <utility>

#include "common/log.hpp"
#include "protocol/client_hello_writer.hpp"
#include "proxy/health_events.hpp"
#include "proxy/health_probe.hpp"
#include "proxy/poll_timeout.hpp"

namespace sniproxy::proxy {

using upstream::Clock;
using upstream::TimePoint;

namespace {

// New targets' first checks are spread over this (or their interval, if
// shorter): prompt, without a burst of connects at start or reload.
constexpr std::chrono::milliseconds kFirstCheckSpread{200};

bool same_check(const CheckTarget& a, const CheckTarget& b) {
  return a.endpoint == b.endpoint && a.kind == b.kind && a.server_name == b.server_name;
}

std::vector<std::uint8_t> hello_for(const CheckTarget& target, std::mt19937_64& rng) {
  if (target.kind != config::HealthCheckKind::tls_hello) return {};
  protocol::ClientHelloSpec spec{.server_name = target.server_name};
  // Not secret: the handshake is never completed.
  for (auto& b : spec.random) b = static_cast<std::uint8_t>(rng());
  for (auto& b : spec.x25519_key) b = static_cast<std::uint8_t>(rng());
  return protocol::client_hello_record(spec);
}

}  // namespace

std::vector<CheckTarget> check_targets(const std::map<std::string, PoolMembers>& pools) {
  std::vector<CheckTarget> targets;
  for (const auto& [name, pm] : pools) {
    if (pm.pool == nullptr) continue;
    const config::HealthCheck& check = pm.pool->health;
    if (check.check == config::HealthCheckKind::none) continue;
    const auto snapshot = pm.current->load();
    for (std::size_t i = 0; i < snapshot->members.size() && i < snapshot->health.size(); ++i) {
      const upstream::Member& m = snapshot->members[i];
      targets.push_back(CheckTarget{m.key, m.endpoint, check.check, check.server_name,
                                    check.interval, check.timeout, snapshot->health[i]});
    }
  }
  return targets;
}

struct HealthChecker::Slot {
  CheckTarget target;
  TimePoint due;
  std::optional<HealthProbe> probe;  // at most one check in flight per target
};

HealthChecker::HealthChecker() : HealthChecker(log_health_transition) {}

HealthChecker::HealthChecker(TransitionSink sink)
    : sink_(std::move(sink)), wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!wake_fd_) throw std::system_error(errno, std::generic_category(), "health checker eventfd");
}

HealthChecker::~HealthChecker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake();
  if (thread_.joinable()) thread_.join();
}

void HealthChecker::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void HealthChecker::set_targets(std::vector<CheckTarget> targets) {
  {
    std::lock_guard lock(mutex_);
    pending_ = std::move(targets);
  }
  wake();
}

void HealthChecker::wake() const {
  const std::uint64_t one = 1;
  // Fails only when the counter is saturated: the loop is woken anyway.
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

void HealthChecker::run() {
  std::map<upstream::MemberKey, Slot> slots;
  std::mt19937_64 rng{std::random_device{}()};
  std::vector<pollfd> fds;
  std::vector<Slot*> polled;  // index-aligned with fds[1..]

  const auto report = [this](Slot& slot, TimePoint now) {
    const HealthProbe& probe = *slot.probe;
    if (auto transition = slot.target.health->on_check(probe.ok(), now))
      sink_(slot.target.key, *transition, probe.detail());
    slot.probe.reset();
  };

  for (;;) {
    std::optional<std::vector<CheckTarget>> fresh;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      fresh.swap(pending_);
    }
    TimePoint now = Clock::now();

    if (fresh) {
      // A reload: keys that stay keep their schedule (and any check in
      // flight, unless what it checks changed); new keys are due at once.
      std::map<upstream::MemberKey, Slot> next;
      std::size_t added = 0;
      const auto new_count = static_cast<std::size_t>(std::count_if(
          fresh->begin(), fresh->end(), [&](const auto& t) { return !slots.contains(t.key); }));
      for (auto& target : *fresh) {
        if (!target.health || next.contains(target.key)) continue;
        if (auto node = slots.extract(target.key)) {
          Slot slot = std::move(node.mapped());
          if (!same_check(slot.target, target)) {
            slot.probe.reset();
            slot.due = now;
          } else {
            slot.due = std::min(slot.due, now + target.interval);
          }
          slot.target = std::move(target);
          next.emplace(slot.target.key, std::move(slot));
        } else {
          const auto spread =
              std::min<std::chrono::nanoseconds>(kFirstCheckSpread, target.interval);
          const TimePoint due = now + spread * added++ / std::max<std::size_t>(new_count, 1);
          auto key = target.key;
          next.emplace(std::move(key), Slot{std::move(target), due, std::nullopt});
        }
      }
      slots = std::move(next);
    }

    // Start what is due; spread-out schedules stay spread: the next check
    // is one interval after this one was due, not after it ran.
    for (auto& [key, slot] : slots) {
      if (slot.probe || slot.due > now) continue;
      slot.probe.emplace(slot.target.endpoint, hello_for(slot.target, rng),
                         now + slot.target.timeout);
      slot.due += slot.target.interval;
      if (slot.due <= now) slot.due = now + slot.target.interval;  // fell behind: no bursts
      if (slot.probe->done()) report(slot, now);
    }

    fds.assign(1, pollfd{wake_fd_.get(), POLLIN, 0});
    polled.clear();
    TimePoint until = TimePoint::max();
    for (auto& [key, slot] : slots) {
      if (slot.probe) {
        fds.push_back(pollfd{slot.probe->fd(), slot.probe->events(), 0});
        polled.push_back(&slot);
        until = std::min(until, slot.probe->deadline());
      } else {
        until = std::min(until, slot.due);
      }
    }
    const int ready = ::poll(fds.data(), fds.size(), poll_timeout_ms(now, until));
    // Only EINVAL or ENOMEM remain (an exhausted machine): said once, and
    // tried again shortly rather than ending the proxy or spinning.
    if (ready < 0 && errno != EINTR) {
      if (!poll_failed_logged_)
        log::warn("health_check_failed", "detail={}", log::quote(std::strerror(errno)));
      poll_failed_logged_ = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    poll_failed_logged_ = false;
    if (ready > 0 && (fds[0].revents & POLLIN) != 0) {
      std::uint64_t count = 0;
      [[maybe_unused]] const ssize_t n = ::read(wake_fd_.get(), &count, sizeof count);
    }

    now = Clock::now();
    for (std::size_t i = 0; i < polled.size(); ++i) {
      Slot& slot = *polled[i];
      if (ready > 0 && fds[i + 1].revents != 0) slot.probe->on_ready();
      if (!slot.probe->done() && slot.probe->deadline() <= now) slot.probe->on_timeout();
      if (slot.probe->done()) report(slot, now);
    }
  }
}

}  // namespace sniproxy::proxy
