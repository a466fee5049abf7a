#include "proxy/quic/pending_flows.hpp"

#include <algorithm>

namespace sniproxy::proxy::quic {

PendingFlow* PendingFlows::find(const FlowKey& key) {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &*it->second;
}

std::size_t PendingFlows::from_source(const IpAddress& ip) const {
  auto it = by_source_.find(ip);
  return it == by_source_.end() ? 0 : it->second.size();
}

void PendingFlows::erase(List::iterator it) {
  auto source = by_source_.find(it->key.client.ip);
  if (source != by_source_.end()) {
    std::erase(source->second, it);
    if (source->second.empty()) by_source_.erase(source);
  }
  index_.erase(it->key);
  flows_.erase(it);
}

PendingFlows::Added PendingFlows::add(const FlowKey& key, protocol::quic::QuicHelloReader reader,
                                      std::span<const std::uint8_t> first_datagram,
                                      Clock::time_point deadline) {
  Added added;
  const std::size_t per_source = std::max<std::size_t>(limits_.max_per_source, 1);
  while (from_source(key.client.ip) >= per_source) {
    erase(by_source_.at(key.client.ip).front());
    ++added.evicted;
  }
  const std::size_t max_flows = std::max<std::size_t>(limits_.max_flows, 1);
  while (flows_.size() >= max_flows) {
    erase(flows_.begin());
    ++added.evicted;
  }
  flows_.emplace_back(key, std::move(reader), deadline);
  auto it = std::prev(flows_.end());
  index_.emplace(key, it);
  by_source_[key.client.ip].push_back(it);
  // The first datagram is always held: it is what the backend must see first.
  it->held.emplace_back(first_datagram.begin(), first_datagram.end());
  it->held_bytes = first_datagram.size();
  added.flow = &*it;
  return added;
}

bool PendingFlows::hold(PendingFlow& flow, std::span<const std::uint8_t> datagram) {
  if (flow.held.size() + 1 > limits_.max_datagrams) return false;
  if (flow.held_bytes + datagram.size() > limits_.max_bytes) return false;
  flow.held.emplace_back(datagram.begin(), datagram.end());
  flow.held_bytes += datagram.size();
  return true;
}

std::optional<PendingFlow> PendingFlows::take(const FlowKey& key) {
  auto found = index_.find(key);
  if (found == index_.end()) return std::nullopt;
  auto it = found->second;
  std::optional<PendingFlow> out(std::move(*it));
  erase(it);
  return out;
}

std::vector<PendingFlow> PendingFlows::expire(Clock::time_point now) {
  // A full scan (a reload may change the timeout, so creation order is not
  // deadline order): at most max_flows, from the periodic sweep only.
  std::vector<PendingFlow> out;
  for (auto it = flows_.begin(); it != flows_.end();) {
    auto next = std::next(it);
    if (it->deadline <= now) {
      out.push_back(std::move(*it));
      erase(it);
    }
    it = next;
  }
  return out;
}

}  // namespace sniproxy::proxy::quic
