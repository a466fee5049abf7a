#pragma once
// A non-blocking DNS resolver on c-ares with a TTL cache. One per worker
// thread, driven by that thread's event loop through IoDriver: the resolver
// never blocks and never polls by itself.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/address.hpp"
#include "common/result.hpp"
#include "config/config.hpp"
#include "dns/addresses.hpp"
#include "dns/cache.hpp"

struct ares_channeldata;  // c-ares' ares_channel points to this

namespace sniproxy::dns {

// Implemented by the caller's event loop (the io_uring reactor).
class IoDriver {
 public:
  virtual ~IoDriver() = default;
  // Start/update/stop watching fd. readable=false && writable=false means
  // stop watching (fd about to close).
  virtual void watch(int fd, bool readable, bool writable) = 0;
  // (Re)arm the single resolver timer to fire once after `delay`; replaces
  // any earlier arming.
  virtual void arm_timer(std::chrono::milliseconds delay) = 0;
};

using Clock = std::function<std::chrono::steady_clock::time_point()>;  // injected for tests
using Callback = std::function<void(const Result<Addresses>&)>;
// With the steady-clock time until which the answer holds (when to ask again).
using TimedCallback =
    std::function<void(const Result<Addresses>&, std::chrono::steady_clock::time_point expires)>;

// Atomic: /metrics reads them from another thread than the worker's.
struct Stats {
  std::atomic<std::uint64_t> cache_hits{0};    // resolve() answered from the cache
  std::atomic<std::uint64_t> cache_misses{0};  // resolve() that had to wait (new or shared query)
  std::atomic<std::uint64_t> failures{0};      // queries that ended in an error
  std::atomic<std::uint64_t> queries{0};       // lookups handed to c-ares (A+AAAA counts once)
};

struct AresCallbacks;

class Resolver {
 public:
  // Error if c-ares cannot be initialised, a server is invalid (port 0) or
  // the timeout is not positive.
  // Empty config.servers: the system's /etc/resolv.conf (with its search
  // domains and /etc/hosts, like the libc resolver). Explicit servers: only
  // those servers, names taken as absolute, no hosts file.
  static Result<std::unique_ptr<Resolver>> create(const config::Dns& config, IoDriver& driver,
                                                  Clock clock = std::chrono::steady_clock::now);

  // Cancels outstanding queries; their callbacks are NOT called once
  // destruction begins. Closing c-ares' sockets calls driver.watch(fd, false,
  // false) for each, so the driver must still be usable here.
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // `name` is a DNS name (normalised here as well) or an IP literal. An IP
  // literal (returned as is, whatever the preference), an invalid name or a
  // cache hit (positive or negative) calls cb before resolve() returns.
  // Otherwise cb runs later from on_fd_ready/on_timer; requests for a name
  // already being looked up share its query. Addresses are ordered by
  // config.prefer. cb may call resolve() again but must not destroy the
  // resolver.
  void resolve(std::string_view name, Callback cb);
  // As resolve(), and tells until when the answer holds: an answer's TTL
  // (clamped to [min_ttl, max_ttl]) from when it arrived, negative_ttl for a
  // failure that is cached, the moment it arrived for one that is not (a
  // timeout, SERVFAIL), time_point::max() for an IP literal. A cache hit
  // gives the cached entry's expiry. For callers that re-resolve a name as
  // its TTL runs out (the pools' DNS-named servers).
  void resolve_timed(std::string_view name, TimedCallback cb);

  // Called by the driver when a watched fd is ready / the timer fires.
  void on_fd_ready(int fd, bool readable, bool writable);
  void on_timer();

  [[nodiscard]] const Stats& stats() const { return stats_; }
  [[nodiscard]] std::size_t cache_entries() const { return cache_.size(); }
  // Mirrors the cache's stores and removals to `observer` (see Cache).
  void set_cache_observer(std::unique_ptr<CacheObserver> observer) {
    cache_.set_observer(std::move(observer));
  }

 private:
  friend struct AresCallbacks;
  struct Query;  // one lookup in flight and the callbacks waiting for it

  Resolver(const config::Dns& config, IoDriver& driver, Clock clock);
  Result<bool> open_channel(bool pass_error_answers);
  void start_query(const std::string& name, TimedCallback cb);
  void finish_query(Query& query, int status, const Addresses& found, int min_ttl_seconds);
  void rearm_timer();

  config::Dns config_;
  IoDriver& driver_;
  Clock clock_;
  ares_channeldata* channel_ = nullptr;
  bool destroying_ = false;
  Cache cache_;
  std::unordered_map<std::string, std::unique_ptr<Query>> pending_;
  Stats stats_;
};

}  // namespace sniproxy::dns
