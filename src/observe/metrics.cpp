#include "observe/metrics.hpp"

#include <algorithm>

namespace sniproxy::observe {

std::string_view to_string(ForwardedBy by) {
  switch (by) {
    case ForwardedBy::copy:
      return "copy";
    case ForwardedBy::splice:
      return "splice";
    case ForwardedBy::auto_copy:
      return "auto/copy";
    case ForwardedBy::auto_splice:
      return "auto/splice";
    case ForwardedBy::sockmap:
      return "sockmap";
    case ForwardedBy::sockmap_splice:
      return "sockmap/splice";
    case ForwardedBy::auto_sockmap:
      return "auto/sockmap";
  }
  return "unknown";
}

void LatencyHistogram::observe(std::chrono::nanoseconds elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(kBounds.begin(), kBounds.end(), seconds) - kBounds.begin());
  bump(buckets_[bucket]);
  bump(sum_ns_, static_cast<std::uint64_t>(std::max<std::int64_t>(elapsed.count(), 0)));
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
  Snapshot s;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    running += read(buckets_[i]);
    s.cumulative[i] = running;
  }
  s.count = running + read(buckets_[kBounds.size()]);
  s.sum_seconds = static_cast<double>(read(sum_ns_)) / 1e9;
  return s;
}

Metrics::Metrics(std::size_t listeners)
    : listener_count_(listeners), listeners_(std::make_unique<ListenerMetrics[]>(listeners)) {}

RouteMetrics& Metrics::route(std::string_view table, std::string_view pattern,
                             std::string_view alpn) {
  std::string key;
  key.reserve(table.size() + 2 + pattern.size() + alpn.size());
  key.append(table).push_back('\0');
  key.append(pattern).push_back('\0');
  key.append(alpn);
  std::lock_guard lock(mu_);
  auto it = routes_.find(key);
  if (it == routes_.end())
    it = routes_.emplace(std::move(key), std::make_unique<RouteMetrics>()).first;
  return *it->second;
}

PoolServerMetrics& Metrics::pool_server(std::string_view pool, std::string_view server) {
  std::string key;
  key.reserve(pool.size() + 1 + server.size());
  key.append(pool).push_back('\0');
  key.append(server);
  std::lock_guard lock(mu_);
  auto it = pool_servers_.find(key);
  if (it == pool_servers_.end())
    it = pool_servers_.emplace(std::move(key), std::make_unique<PoolServerMetrics>()).first;
  return *it->second;
}

std::vector<Metrics::PoolServerEntry> Metrics::pool_servers() const {
  std::vector<PoolServerEntry> out;
  std::lock_guard lock(mu_);
  out.reserve(pool_servers_.size());
  for (const auto& [key, metrics] : pool_servers_) {
    const auto split = key.find('\0');
    out.push_back({key.substr(0, split), key.substr(split + 1), metrics.get()});
  }
  return out;
}

std::vector<Metrics::RouteEntry> Metrics::routes() const {
  std::vector<RouteEntry> out;
  std::lock_guard lock(mu_);
  out.reserve(routes_.size());
  for (const auto& [key, metrics] : routes_) {
    const auto split = key.find('\0');
    const auto second = key.find('\0', split + 1);
    out.push_back({key.substr(0, split), key.substr(split + 1, second - split - 1),
                   key.substr(second + 1), metrics.get()});
  }
  return out;
}

void Metrics::hello_failure(std::string_view reason) {
  std::lock_guard lock(mu_);
  auto it = hello_failures_.find(reason);
  if (it == hello_failures_.end()) it = hello_failures_.emplace(std::string(reason), 0).first;
  ++it->second;
}

std::vector<std::pair<std::string, std::uint64_t>> Metrics::hello_failures() const {
  std::lock_guard lock(mu_);
  return {hello_failures_.begin(), hello_failures_.end()};
}

}  // namespace sniproxy::observe
