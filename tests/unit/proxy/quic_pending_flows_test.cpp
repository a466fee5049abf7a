// PendingFlows: a flow exists only with a reader from a verified Initial; it
// holds its datagrams in order within its bounds; the global and per-source
// caps evict the oldest flows; deadlines expire flows.
#include "proxy/quic/pending_flows.hpp"

#include <gtest/gtest.h>

#include "observe/quic_drop.hpp"
#include "protocol/quic/quic_hello_error.hpp"
#include "quic_initial_builder.hpp"

namespace sniproxy::proxy::quic {
namespace {

using protocol::test::Bytes;
using protocol::test::crypto_frame;
using protocol::test::InitialSpec;
using protocol::test::padded_initial;
using protocol::test::quic_client_hello;

constexpr std::size_t kMaxHello = 16 * 1024;

// The first half of a hello too big for one datagram: a reader that needs more.
struct HalfHello {
  Bytes first;
  Bytes second;
};
HalfHello half_hello(std::uint8_t dcid_tag) {
  const Bytes hello = quic_client_hello("pending.example", 30000, 3000);
  const auto view = std::span<const std::uint8_t>(hello);
  InitialSpec spec;
  spec.dcid = {dcid_tag, 1, 2, 3, 4, 5, 6, 7};
  spec.frames = crypto_frame(0, view.first(1100));
  HalfHello h;
  h.first = padded_initial(spec);
  spec.packet_number = 1;
  spec.frames = crypto_frame(1100, view.subspan(1100));
  h.second = padded_initial(spec);
  return h;
}

protocol::quic::QuicHelloReader reader_of(const Bytes& datagram) {
  auto start = protocol::quic::read_first_initial(datagram, kMaxHello);
  EXPECT_TRUE(start.reader.has_value());
  return std::move(*start.reader);
}

FlowKey flow_key(std::uint8_t last_octet, std::uint16_t port, std::size_t listener = 0) {
  return FlowKey{listener, Endpoint{IpAddress::v4(127, 0, 0, last_octet), port},
                 IpAddress::v4(127, 0, 0, 1)};
}

const Clock::time_point kT0{};

TEST(QuicPendingFlows, HoldsDatagramsInOrderUntilTheHelloIsDone) {
  PendingFlows flows({});
  const HalfHello h = half_hello(0xa0);
  auto added =
      flows.add(flow_key(1, 5000), reader_of(h.first), h.first, kT0 + std::chrono::seconds(2));
  ASSERT_NE(added.flow, nullptr);
  EXPECT_EQ(added.evicted, 0u);
  EXPECT_EQ(flows.find(flow_key(1, 5000)), added.flow);
  EXPECT_EQ(flows.find(flow_key(1, 5001)), nullptr);
  EXPECT_EQ(flows.find(flow_key(1, 5000, 1)), nullptr);  // another listener
  ASSERT_TRUE(flows.hold(*added.flow, h.second));
  EXPECT_EQ(added.flow->reader.feed(h.second), protocol::ParseStatus::done);
  auto taken = flows.take(flow_key(1, 5000));
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->reader.info().hello.server_name, "pending.example");
  ASSERT_EQ(taken->held.size(), 2u);
  EXPECT_EQ(taken->held[0], h.first);  // unchanged, in arrival order
  EXPECT_EQ(taken->held[1], h.second);
  EXPECT_EQ(taken->held_bytes, h.first.size() + h.second.size());
  EXPECT_EQ(flows.size(), 0u);
  EXPECT_FALSE(flows.take(flow_key(1, 5000)).has_value());
}

TEST(QuicPendingFlows, HeldDatagramsAreBoundedInCountAndBytes) {
  const HalfHello h = half_hello(0xa1);
  PendingFlows by_count(
      {.max_flows = 10, .max_per_source = 10, .max_datagrams = 2, .max_bytes = 100'000});
  PendingFlow* flow = by_count.add(flow_key(1, 1), reader_of(h.first), h.first, kT0).flow;
  EXPECT_TRUE(by_count.hold(*flow, h.second));
  EXPECT_FALSE(by_count.hold(*flow, h.second));
  EXPECT_EQ(flow->held.size(), 2u);

  PendingFlows by_bytes({.max_flows = 10,
                         .max_per_source = 10,
                         .max_datagrams = 100,
                         .max_bytes = h.first.size() + 10});
  flow = by_bytes.add(flow_key(1, 1), reader_of(h.first), h.first, kT0).flow;
  EXPECT_TRUE(by_bytes.hold(*flow, Bytes(10, 0)));
  EXPECT_FALSE(by_bytes.hold(*flow, Bytes(1, 0)));
  EXPECT_EQ(flow->held_bytes, h.first.size() + 10);
}

TEST(QuicPendingFlows, TheGlobalCapEvictsTheOldestFlow) {
  PendingFlows flows(
      {.max_flows = 3, .max_per_source = 3, .max_datagrams = 8, .max_bytes = 16'384});
  const HalfHello h = half_hello(0xa2);
  for (std::uint8_t i = 1; i <= 3; ++i)
    EXPECT_EQ(flows.add(flow_key(i, 1000), reader_of(h.first), h.first, kT0).evicted, 0u);
  auto added = flows.add(flow_key(4, 1000), reader_of(h.first), h.first, kT0);
  EXPECT_EQ(added.evicted, 1u);
  EXPECT_EQ(flows.size(), 3u);
  EXPECT_EQ(flows.find(flow_key(1, 1000)), nullptr);  // the oldest went
  EXPECT_NE(flows.find(flow_key(2, 1000)), nullptr);
  EXPECT_NE(flows.find(flow_key(4, 1000)), nullptr);
}

TEST(QuicPendingFlows, TheSourceCapEvictsThatSourcesOldestOnly) {
  PendingFlows flows(
      {.max_flows = 100, .max_per_source = 2, .max_datagrams = 8, .max_bytes = 16'384});
  const HalfHello h = half_hello(0xa3);
  flows.add(flow_key(9, 1), reader_of(h.first), h.first, kT0);  // another source, older
  flows.add(flow_key(1, 1), reader_of(h.first), h.first, kT0);
  flows.add(flow_key(1, 2), reader_of(h.first), h.first, kT0);
  EXPECT_EQ(flows.from_source(IpAddress::v4(127, 0, 0, 1)), 2u);
  auto added = flows.add(flow_key(1, 3), reader_of(h.first), h.first, kT0);
  EXPECT_EQ(added.evicted, 1u);
  EXPECT_EQ(flows.find(flow_key(1, 1)), nullptr);
  EXPECT_NE(flows.find(flow_key(1, 2)), nullptr);
  EXPECT_NE(flows.find(flow_key(1, 3)), nullptr);
  EXPECT_NE(flows.find(flow_key(9, 1)), nullptr);  // untouched
  EXPECT_EQ(flows.from_source(IpAddress::v4(127, 0, 0, 1)), 2u);
}

TEST(QuicPendingFlows, AFloodStaysUnderTheCaps) {
  PendingFlows flows(
      {.max_flows = 50, .max_per_source = 5, .max_datagrams = 8, .max_bytes = 16'384});
  const HalfHello h = half_hello(0xa4);
  std::size_t evicted = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto k = flow_key(static_cast<std::uint8_t>(1 + i % 20), static_cast<std::uint16_t>(i));
    evicted += flows.add(k, reader_of(h.first), h.first, kT0).evicted;
    ASSERT_LE(flows.size(), 50u);
    ASSERT_LE(flows.from_source(k.client.ip), 5u);
  }
  EXPECT_EQ(flows.size() + evicted, 1000u);
}

TEST(QuicPendingFlows, DeadlinesExpireFlows) {
  PendingFlows flows({});
  const HalfHello h = half_hello(0xa5);
  flows.add(flow_key(1, 1), reader_of(h.first), h.first, kT0 + std::chrono::seconds(1));
  flows.add(flow_key(1, 2), reader_of(h.first), h.first, kT0 + std::chrono::seconds(3));
  EXPECT_TRUE(flows.expire(kT0).empty());
  auto late = flows.expire(kT0 + std::chrono::seconds(2));
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].key, flow_key(1, 1));
  EXPECT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows.from_source(IpAddress::v4(127, 0, 0, 1)), 1u);
}

// The listener counts a reader's refusal as the drop of the same index
// (quic_service.cpp): the two enums must agree, token for token.
TEST(QuicDropReasons, TheReadersReasonsComeFirstInTheSameOrder) {
  using protocol::quic::QuicHelloError;
  for (int i = 0; i <= static_cast<int>(QuicHelloError::internal); ++i)
    EXPECT_EQ(to_string(static_cast<QuicHelloError>(i)),
              to_string(static_cast<observe::QuicDrop>(i)));
}

}  // namespace
}  // namespace sniproxy::proxy::quic
