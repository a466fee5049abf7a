#include "proxy/spare_connections.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.hpp"
#include "proxy/upstream_socket.hpp"

namespace sniproxy::proxy {

namespace {

constexpr std::chrono::seconds kFirstRetry{1};
constexpr std::chrono::seconds kMaxRetry{30};

// Whether a spare is still connected: nothing to read yet (EAGAIN) or a
// server that speaks first; EOF or an error mean the backend let it go.
bool still_open(int fd) {
  char byte = 0;
  ssize_t n = 0;
  do {
    n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

}  // namespace

struct SpareConnections::Connect final : reactor::Completion {
  SpareConnections* owner = nullptr;
  Key key;
  UniqueFd fd;
  sockaddr_storage address{};
  std::list<Connect>::iterator self;
  void on_complete(const reactor::Event& event) override { owner->connected(*this, event.res); }
};

SpareConnections::SpareConnections(reactor::Reactor& reactor, reactor::TimerQueue& timers,
                                   observe::Metrics& metrics)
    : reactor_(reactor), timers_(timers), metrics_(metrics) {}

SpareConnections::~SpareConnections() = default;

UniqueFd SpareConnections::take(const Endpoint& backend, const std::optional<IpAddress>& source,
                                const Settings& settings) {
  if (closed_ || settings.wanted == 0) return {};
  const Key key{backend, source};
  Backend& b = backends_[key];
  b.settings = settings;
  b.last_taken = reactor::Clock::now();
  UniqueFd found;
  while (!b.ready.empty() && !found) {
    // The newest first: the least likely to have been closed meanwhile.
    UniqueFd fd = std::move(b.ready.back().fd);
    b.ready.pop_back();
    if (still_open(fd.get()))
      found = std::move(fd);
    else
      observe::bump(metrics_.preconnect_stale);
  }
  observe::bump(found ? metrics_.preconnect_used : metrics_.preconnect_missed);
  top_up(key, b);
  return found;
}

void SpareConnections::top_up(const Key& key, Backend& b) {
  if (closed_ || reactor::Clock::now() < b.retry_after) return;
  while (b.ready.size() + b.connecting < b.settings.wanted) {
    const std::uint32_t before = b.connecting;
    start_connect(key, b);
    if (b.connecting == before) return;  // could not start one: backing off
  }
}

void SpareConnections::start_connect(const Key& key, Backend& b) {
  auto sock = open_upstream_socket(key.backend, key.source);
  if (!sock) {
    // Out of descriptors, most likely: clients come first; try later.
    b.retry_after = reactor::Clock::now() + kFirstRetry;
    observe::bump(metrics_.preconnect_failed);
    return;
  }
  Connect& c = connects_.emplace_back();
  c.self = std::prev(connects_.end());
  c.owner = this;
  c.key = key;
  c.fd = std::move(sock).value();
  const unsigned length = key.backend.to_sockaddr(c.address);
  ++b.connecting;
  reactor_.connect(c.fd.get(), reinterpret_cast<sockaddr*>(&c.address), length,
                   b.settings.connect_timeout, &c);
}

void SpareConnections::connected(Connect& c, int res) {
  const auto now = reactor::Clock::now();
  auto it = backends_.find(c.key);
  if (it != backends_.end() && !closed_) {
    Backend& b = it->second;
    --b.connecting;
    if (res == 0) {
      if (b.failures != 0)
        log::info("preconnect_recovered", "backend={} failures={}", c.key.backend.to_string(),
                  b.failures);
      b.failures = 0;
      b.ready.push_back(Spare{std::move(c.fd), now + b.settings.idle});
      schedule_expiry(c.key, b);
    } else {
      observe::bump(metrics_.preconnect_failed);
      // One line per failure streak; the clients' own connects say more.
      if (b.failures++ == 0)
        log::warn("preconnect_failed", "backend={} error={}", c.key.backend.to_string(),
                  log::quote(res == -ECANCELED ? "connect timed out" : std::strerror(-res)));
      const auto backoff = std::min<std::chrono::milliseconds>(
          kFirstRetry * (1U << std::min(b.failures - 1, 5U)), kMaxRetry);
      b.retry_after = now + backoff;
      // With nothing ready no expiry is due: this looks again once clients
      // stopped coming, so a backend that never answers is forgotten too.
      schedule_expiry(c.key, b);
    }
  }
  connects_.erase(c.self);  // last: `c` is gone after this
}

void SpareConnections::schedule_expiry(const Key& key, Backend& b) {
  if (b.expiry_timer != 0) return;
  reactor::Clock::time_point due;
  if (!b.ready.empty()) {
    due = std::min_element(b.ready.begin(), b.ready.end(), [](const Spare& x, const Spare& y) {
            return x.expires < y.expires;
          })->expires;
  } else if (b.connecting == 0) {
    due = b.last_taken + b.settings.idle;  // when it stops being in use
  } else {
    return;  // a connect in flight schedules when it completes
  }
  b.expiry_timer = timers_.schedule(due, [this, key] { expire(key); });
}

void SpareConnections::expire(const Key& key) {
  auto it = backends_.find(key);
  if (it == backends_.end()) return;
  Backend& b = it->second;
  b.expiry_timer = 0;
  const auto now = reactor::Clock::now();
  const auto before = b.ready.size();
  std::erase_if(b.ready, [now](const Spare& s) { return s.expires <= now; });
  observe::bump(metrics_.preconnect_expired, before - b.ready.size());
  // Replaced only while clients still come for this backend; one that
  // clients left, with nothing ready or connecting, is forgotten (its
  // failure streak too: a client coming back starts afresh).
  const bool in_use = now - b.last_taken < b.settings.idle;
  if (in_use) top_up(key, b);
  if (!in_use && b.ready.empty() && b.connecting == 0) {
    backends_.erase(it);
    return;
  }
  schedule_expiry(key, b);
}

void SpareConnections::close_all() {
  closed_ = true;
  for (auto& [key, b] : backends_)
    if (b.expiry_timer != 0) timers_.cancel(b.expiry_timer);
  backends_.clear();
  for (Connect& c : connects_) reactor_.cancel(&c);
}

std::size_t SpareConnections::tracked() const {
  return backends_.size();
}

std::size_t SpareConnections::ready() const {
  std::size_t n = 0;
  for (const auto& [key, b] : backends_) n += b.ready.size();
  return n;
}

}  // namespace sniproxy::proxy
