#include "proxy/pool_resolver.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <set>
#include <utility>

#include "common/log.hpp"
#include "config/names.hpp"
#include "proxy/poll_timeout.hpp"
#include "upstream/member_diff.hpp"

namespace sniproxy::proxy {

namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kFirstBackoff = 1s;
constexpr std::chrono::milliseconds kMaxBackoff = 30s;
constexpr std::chrono::milliseconds kMinRefresh = 1s;

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out.append(out.empty() ? "" : ",").append(item);
  return out;
}

std::string joined(const dns::Addresses& addresses) {
  std::vector<std::string> text;
  for (const IpAddress& ip : addresses) text.push_back(ip.to_string());
  return joined(text);
}

// The DNS names among the pools' servers.
std::set<std::string> named_hosts(const Runtime& runtime) {
  std::set<std::string> out;
  for (const auto& [name, pool] : runtime.config.pools)
    for (const auto& server : pool.servers)
      if (!IpAddress::parse(server.host)) out.insert(server.host);
  return out;
}

}  // namespace

std::chrono::milliseconds next_dns_backoff(std::chrono::milliseconds last) {
  if (last < kFirstBackoff) return kFirstBackoff;
  return std::min(last * 2, kMaxBackoff);
}

SteadyClock::time_point next_lookup(SteadyClock::time_point expires, SteadyClock::time_point now) {
  return std::max(expires, now + kMinRefresh);
}

Result<std::unique_ptr<PoolResolver>> PoolResolver::create(const config::Dns& dns,
                                                           upstream::HealthTable& health,
                                                           MembersChanged changed) {
  std::unique_ptr<PoolResolver> self(new PoolResolver(health, std::move(changed)));
  if (!self->wake_fd_)
    return make_error(std::string("pool resolver eventfd: ") + std::strerror(errno));
  auto resolver = dns::Resolver::create(dns, *self);
  if (!resolver) return resolver.error();
  self->resolver_ = std::move(resolver).value();
  return self;
}

PoolResolver::PoolResolver(upstream::HealthTable& health, MembersChanged changed)
    : health_(health),
      changed_(std::move(changed)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

PoolResolver::~PoolResolver() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake();
  if (thread_.joinable()) thread_.join();
}

void PoolResolver::start(std::shared_ptr<const Runtime> runtime, std::chrono::milliseconds limit) {
  follow(std::move(runtime));
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  std::unique_lock lock(mutex_);
  settled_cv_.wait_for(lock, limit, [this] { return first_round_settled_; });
  starting_ = false;
}

void PoolResolver::follow(std::shared_ptr<const Runtime> runtime) {
  {
    std::lock_guard lock(mutex_);
    pending_ = std::move(runtime);
  }
  wake();
}

upstream::ResolvedHosts PoolResolver::answers() const {
  std::lock_guard lock(mutex_);
  return answers_;
}

void PoolResolver::watch(int fd, bool readable, bool writable) {
  const auto events = static_cast<short>((readable ? POLLIN : 0) | (writable ? POLLOUT : 0));
  if (events == 0)
    watched_.erase(fd);
  else
    watched_[fd] = events;
}

void PoolResolver::arm_timer(std::chrono::milliseconds delay) {
  timer_ = SteadyClock::now() + delay;
}

void PoolResolver::wake() const {
  const std::uint64_t one = 1;
  // Fails only when the counter is saturated: the loop is woken anyway.
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

void PoolResolver::run() {
  std::vector<pollfd> fds;
  for (;;) {
    std::optional<std::shared_ptr<const Runtime>> fresh;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      fresh.swap(pending_);
    }
    if (fresh) apply(std::move(*fresh));

    // Ask for what is due; a lookup may answer at once (from the cache).
    auto now = SteadyClock::now();
    std::vector<std::string> due;
    for (const auto& [name, state] : names_)
      if (!state.in_flight && state.due <= now) due.push_back(name);
    for (const auto& name : due) look_up(name);
    mark_settled();

    auto until = timer_.value_or(SteadyClock::time_point::max());
    for (const auto& [name, state] : names_)
      if (!state.in_flight) until = std::min(until, state.due);
    fds.assign(1, pollfd{wake_fd_.get(), POLLIN, 0});
    for (const auto& [fd, events] : watched_) fds.push_back(pollfd{fd, events, 0});
    const int ready = ::poll(fds.data(), fds.size(), poll_timeout_ms(now, until));
    // Only EINVAL or ENOMEM remain (an exhausted machine): said once, and
    // tried again shortly rather than ending the proxy or spinning.
    if (ready < 0 && errno != EINTR) {
      if (!poll_failed_logged_)
        log::warn("pool_dns_failed", "detail={}", log::quote(std::strerror(errno)));
      poll_failed_logged_ = true;
      std::this_thread::sleep_for(100ms);
      continue;
    }
    poll_failed_logged_ = false;
    if (ready > 0 && (fds[0].revents & POLLIN) != 0) {
      std::uint64_t count = 0;
      [[maybe_unused]] const ssize_t n = ::read(wake_fd_.get(), &count, sizeof count);
    }
    // c-ares may change what is watched while it processes: act on a copy.
    for (std::size_t i = 1; ready > 0 && i < fds.size(); ++i) {
      const short got = fds[i].revents;
      if (got == 0 || !watched_.contains(fds[i].fd)) continue;
      const bool error = (got & (POLLERR | POLLHUP)) != 0;
      resolver_->on_fd_ready(fds[i].fd, (got & POLLIN) != 0 || error, (got & POLLOUT) != 0);
    }
    if (timer_ && *timer_ <= SteadyClock::now()) {
      timer_.reset();
      resolver_->on_timer();
    }
  }
}

void PoolResolver::apply(std::shared_ptr<const Runtime> runtime) {
  runtime_ = std::move(runtime);
  const std::set<std::string> wanted = named_hosts(*runtime_);
  // An answer still in flight for a name dropped here finds no entry.
  std::erase_if(names_, [&](const auto& entry) { return !wanted.contains(entry.first); });
  for (const std::string& name : wanted) names_.try_emplace(name);  // new: due at once
  {
    std::lock_guard lock(mutex_);
    std::erase_if(answers_, [&](const auto& entry) { return !wanted.contains(entry.first); });
  }
  // The new Runtime was built from answers() a moment ago; an answer that
  // changed since is applied to it now.
  republish(nullptr);
  if (changed_) changed_();
}

void PoolResolver::look_up(const std::string& name) {
  names_[name].in_flight = true;
  resolver_->resolve_timed(
      name, [this, name](const Result<dns::Addresses>& answer, SteadyClock::time_point expires) {
        on_answer(name, answer, expires);
      });
}

void PoolResolver::on_answer(const std::string& name, const Result<dns::Addresses>& answer,
                             SteadyClock::time_point expires) {
  auto it = names_.find(name);
  if (it == names_.end()) return;  // a reload dropped the name meanwhile
  Name& state = it->second;
  state.in_flight = false;
  state.settled = true;
  const auto now = SteadyClock::now();
  if (!answer) {
    // The last good addresses stay members: a resolver outage must not
    // empty a pool that still works.
    state.backoff = next_dns_backoff(state.backoff);
    state.due = now + state.backoff;
    if (!state.failing) {
      const std::string kept = state.good ? joined(*state.good) : "";
      log_for_servers(name, [&](std::string_view pool, std::string_view server) {
        log::warn("pool_dns_failed", "pool={} server={} kept={} retry_ms={} detail={}",
                  log::quote(pool), log::quote(server), log::quote(kept), state.backoff.count(),
                  log::quote(answer.error().message));
      });
    }
    state.failing = true;
    return;
  }
  state.backoff = 0ms;
  state.due = next_lookup(expires, now);
  if (state.failing)
    log_for_servers(name, [&](std::string_view pool, std::string_view server) {
      log::info("pool_dns_recovered", "pool={} server={} addresses={}", log::quote(pool),
                log::quote(server), log::quote(joined(*answer)));
    });
  state.failing = false;

  dns::Addresses sorted = *answer;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  if (state.good == sorted) return;
  state.good = std::move(sorted);
  {
    std::lock_guard lock(mutex_);
    answers_[name] = *state.good;
  }
  if (republish(&name) && changed_) changed_();
}

bool PoolResolver::republish(const std::string* name) {
  if (!runtime_) return false;
  bool starting = false;
  {
    std::lock_guard lock(mutex_);
    starting = starting_;
  }
  upstream::ResolvedHosts known;
  for (const auto& [host, state] : names_)
    if (state.good) known[host] = *state.good;
  bool any = false;
  for (const auto& [pool_name, pool] : runtime_->pools) {
    if (name != nullptr && std::none_of(pool.pool->servers.begin(), pool.pool->servers.end(),
                                        [&](const auto& s) { return s.host == *name; }))
      continue;
    const auto before = pool.current->load();
    // Health is acquired for the new list while the old one still holds
    // it: an address that stays keeps its state.
    auto next = member_snapshot(*pool.pool, known, health_, !starting);
    const auto changes = upstream::member_changes(before->members, next->members);
    if (changes.empty()) continue;
    pool.current->publish(std::move(next));
    any = true;
    for (const auto& change : changes)
      log::info("pool_members_changed", "pool={} server={} added={} removed={}",
                log::quote(pool_name), log::quote(change.server), log::quote(joined(change.added)),
                log::quote(joined(change.removed)));
  }
  // Entries of addresses that left (once no snapshot holds them) go, so a
  // name whose addresses keep changing does not grow the table.
  if (any) health_.prune();
  return any;
}

void PoolResolver::log_for_servers(
    const std::string& name,
    const std::function<void(std::string_view pool, std::string_view server)>& line) const {
  if (!runtime_) return;
  for (const auto& [pool_name, pool] : runtime_->config.pools)
    for (const auto& server : pool.servers)
      if (server.host == name) line(pool_name, config::describe(server));
}

void PoolResolver::mark_settled() {
  bool all = true;
  for (const auto& [name, state] : names_) all = all && state.settled;
  if (!all) return;
  {
    std::lock_guard lock(mutex_);
    if (first_round_settled_) return;
    first_round_settled_ = true;
  }
  settled_cv_.notify_all();
}

}  // namespace sniproxy::proxy
