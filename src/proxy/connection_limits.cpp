#include "proxy/connection_limits.hpp"

namespace sniproxy::proxy {

ConnectionLimits::Admit ConnectionLimits::admit(const IpAddress& source, std::uint32_t max_total,
                                                std::uint32_t per_source) {
  if (total_.fetch_add(1, std::memory_order_relaxed) >= max_total) {
    total_.fetch_sub(1, std::memory_order_relaxed);
    return Admit::over_total;
  }
  Shard& s = shard_for(source);
  std::lock_guard lock(s.mu);
  std::uint32_t& count = s.counts[source];
  if (per_source != 0 && count >= per_source) {
    if (count == 0) s.counts.erase(source);
    total_.fetch_sub(1, std::memory_order_relaxed);
    return Admit::over_source;
  }
  ++count;
  return Admit::yes;
}

bool ConnectionLimits::move_source(const IpAddress& from, const IpAddress& to,
                                   std::uint32_t per_source) {
  if (from == to) return true;
  {
    Shard& s = shard_for(to);
    std::lock_guard lock(s.mu);
    std::uint32_t& count = s.counts[to];
    if (per_source != 0 && count >= per_source) {
      if (count == 0) s.counts.erase(to);
      return false;
    }
    ++count;
  }
  Shard& s = shard_for(from);
  std::lock_guard lock(s.mu);
  auto it = s.counts.find(from);
  if (it != s.counts.end() && --it->second == 0) s.counts.erase(it);
  return true;
}

void ConnectionLimits::release(const IpAddress& source) {
  total_.fetch_sub(1, std::memory_order_relaxed);
  Shard& s = shard_for(source);
  std::lock_guard lock(s.mu);
  auto it = s.counts.find(source);
  if (it == s.counts.end()) return;
  if (--it->second == 0) s.counts.erase(it);
}

}  // namespace sniproxy::proxy
