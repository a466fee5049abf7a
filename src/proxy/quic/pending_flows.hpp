#pragma once
// QUIC flows waiting for the rest of their ClientHello: per (listener,
// client address:port) the hello reader, the raw datagrams held for the
// backend (bounded in count and bytes) and a deadline. A flow exists only
// once read_first_initial() gave a reader (its first Initial's tag
// verified). Global and per-source caps evict the oldest flow (of all, or of
// that source) so that a flood of valid Initials cannot grow the table.
// Pure: no sockets; time is passed in.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/address.hpp"
#include "protocol/quic/quic_hello_reader.hpp"
#include "proxy/quic/flow_key.hpp"

namespace sniproxy::proxy::quic {

using Clock = std::chrono::steady_clock;

struct PendingLimits {
  std::size_t max_flows = 4'096;
  std::size_t max_per_source = 64;
  std::size_t max_datagrams = 8;   // held per flow
  std::size_t max_bytes = 16'384;  // held per flow
};

struct PendingFlow {
  PendingFlow(FlowKey k, protocol::quic::QuicHelloReader r, Clock::time_point d)
      : key(k), reader(std::move(r)), deadline(d) {}
  FlowKey key;
  protocol::quic::QuicHelloReader reader;
  std::vector<std::vector<std::uint8_t>> held;  // in arrival order, unchanged
  std::size_t held_bytes = 0;
  Clock::time_point deadline;
};

class PendingFlows {
 public:
  explicit PendingFlows(PendingLimits limits) : limits_(limits) {}

  // New limits (a reload) apply to flows added or held from now on.
  void set_limits(PendingLimits limits) { limits_ = limits; }

  [[nodiscard]] PendingFlow* find(const FlowKey& key);

  struct Added {
    PendingFlow* flow = nullptr;
    std::size_t evicted = 0;  // flows dropped to make room (oldest first)
  };
  // Starts a flow for `key` (which must not have one) with its first
  // datagram held. Evicts first the source's oldest flow when the source is
  // at its cap, then the oldest flow of all when the table is.
  Added add(const FlowKey& key, protocol::quic::QuicHelloReader reader,
            std::span<const std::uint8_t> first_datagram, Clock::time_point deadline);

  // Holds one more datagram of `flow`; false (nothing held) when that would
  // pass the flow's count or byte bound.
  bool hold(PendingFlow& flow, std::span<const std::uint8_t> datagram);

  // Removes the flow and hands it over (routed, or rejected).
  std::optional<PendingFlow> take(const FlowKey& key);

  // Removes every flow whose deadline is at or before `now`; returns them.
  std::vector<PendingFlow> expire(Clock::time_point now);

  [[nodiscard]] std::size_t size() const { return index_.size(); }
  [[nodiscard]] std::size_t from_source(const IpAddress& ip) const;

 private:
  using List = std::list<PendingFlow>;
  void erase(List::iterator it);

  PendingLimits limits_;
  List flows_;  // oldest first
  std::unordered_map<FlowKey, List::iterator, FlowKeyHash> index_;
  // Each source's flows, oldest first (at most max_per_source: short scans).
  std::unordered_map<IpAddress, std::vector<List::iterator>, IpAddressHash> by_source_;
};

}  // namespace sniproxy::proxy::quic
