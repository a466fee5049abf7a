#include "observe/retrans_metrics.hpp"

namespace sniproxy::observe {

void RetransMetrics::bump_label(std::map<std::string, std::uint64_t, std::less<>>& counts,
                                const std::string& value) {
  auto it = counts.find(value);
  if (it == counts.end()) {
    // kMaxLabelValues real values plus the overflow bucket.
    const bool full = counts.size() >= kMaxLabelValues + (counts.contains(kOther) ? 1 : 0);
    it = counts.emplace(full ? std::string(kOther) : value, 0).first;
  }
  ++it->second;
}

void RetransMetrics::count(const SocketOwner& owner) {
  std::lock_guard lock(mu_);
  ++totals_.by_side[owner.side == SocketSide::client ? 0 : 1];
  bump_label(by_server_name_, owner.server_name);
  bump_label(by_backend_, owner.backend);
}

void RetransMetrics::count_unattributed() {
  std::lock_guard lock(mu_);
  ++totals_.unattributed;
}

void RetransMetrics::count_lost(std::uint64_t n) {
  std::lock_guard lock(mu_);
  totals_.lost_events += n;
}

RetransMetrics::Snapshot RetransMetrics::snapshot() const {
  std::lock_guard lock(mu_);
  Snapshot s = totals_;
  s.by_server_name.assign(by_server_name_.begin(), by_server_name_.end());
  s.by_backend.assign(by_backend_.begin(), by_backend_.end());
  return s;
}

}  // namespace sniproxy::observe
