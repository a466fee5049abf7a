// SessionTable: sessions by 4-tuple, connection IDs learnt from the
// client's first Initial and the backend's long headers, NAT rebinding by a
// long or short header's DCID, idle expiry, the bound, and the idle timeout
// a client's transport parameter gives.
#include "proxy/quic/session_table.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "quic_test_packets.hpp"

namespace sniproxy::proxy::quic {
namespace {

using std::chrono::milliseconds;
using test_packets::Bytes;
using test_packets::long_header;
using test_packets::short_header;

FlowKey session_key(std::uint16_t port, std::size_t listener = 0,
                    IpAddress local = IpAddress::v4(127, 0, 0, 1)) {
  return FlowKey{listener, Endpoint{IpAddress::v4(127, 0, 0, 1), port}, local};
}

const Bytes kOriginal = {1, 2, 3, 4, 5, 6, 7, 8};
const Bytes kServer = {0xc1, 0xc2, 0xc3, 0xc4, 0xc5};
const SessionTable::Clock::time_point kStart{};

TEST(QuicSessionTable, FoundByAddressAndOriginalDcid) {
  SessionTable t(10);
  ASSERT_TRUE(t.add(7, session_key(1000), kOriginal, milliseconds(1000), kStart));
  EXPECT_EQ(t.find(session_key(1000)), 7u);
  EXPECT_FALSE(t.find(session_key(1001)).has_value());
  EXPECT_FALSE(t.find(session_key(1000, 1)).has_value());
  EXPECT_TRUE(t.knows_cid(7, kOriginal));
  EXPECT_EQ(t.match_cid(0, long_header(kOriginal, {9})), 7u);
  EXPECT_FALSE(t.match_cid(1, long_header(kOriginal, {9})).has_value());      // other listener
  EXPECT_FALSE(t.add(8, session_key(1000), {}, milliseconds(1000), kStart));  // address taken
}

TEST(QuicSessionTable, TheBackendsScidIsLearntAndMatchesShortHeaders) {
  SessionTable t(10);
  ASSERT_TRUE(t.add(7, session_key(1000), kOriginal, milliseconds(1000), kStart));
  EXPECT_FALSE(t.match_cid(0, short_header(kServer)).has_value());
  t.learn_from_backend(7, long_header({9, 9, 9, 9}, kServer));
  EXPECT_TRUE(t.knows_cid(7, kServer));
  EXPECT_EQ(t.match_cid(0, short_header(kServer)), 7u);
  EXPECT_EQ(t.match_cid(0, long_header(kServer, {})), 7u);
  EXPECT_FALSE(t.match_cid(0, short_header({0xc1, 0xc2, 0xc3, 0xc4, 0x00})).has_value());
  // A short header cut shorter than any learnt ID, and an empty datagram.
  EXPECT_FALSE(t.match_cid(0, Bytes{0x41, 0xc1}).has_value());
  EXPECT_FALSE(t.match_cid(0, Bytes{}).has_value());
  // The fixed bit greased (RFC 9287), as ngtcp2 does when the peer allows it.
  Bytes greased = short_header(kServer);
  greased[0] = 0x0b;
  EXPECT_EQ(t.match_cid(0, greased), 7u);
}

TEST(QuicSessionTable, ShortHeadersAreTriedAtEveryLearntLength) {
  SessionTable t(10);
  ASSERT_TRUE(t.add(1, session_key(1), kOriginal, milliseconds(1000), kStart));
  ASSERT_TRUE(t.add(2, session_key(2), {}, milliseconds(1000), kStart));
  t.learn_from_backend(1, long_header({}, {0xd1, 0xd2, 0xd3, 0xd4}));
  t.learn_from_backend(2, long_header({}, Bytes(20, 0xee)));
  EXPECT_EQ(t.match_cid(0, short_header({0xd1, 0xd2, 0xd3, 0xd4})), 1u);
  EXPECT_EQ(t.match_cid(0, short_header(Bytes(20, 0xee))), 2u);
}

TEST(QuicSessionTable, RebindingMovesTheSession) {
  SessionTable t(10);
  ASSERT_TRUE(t.add(7, session_key(1000), kOriginal, milliseconds(1000), kStart));
  ASSERT_TRUE(t.add(8, session_key(2000), {}, milliseconds(1000), kStart));
  const IpAddress local = session_key(1000).local;
  EXPECT_FALSE(t.rebind(7, session_key(2000).client, local));  // another session's address
  ASSERT_TRUE(t.rebind(7, session_key(3000).client, local));
  EXPECT_FALSE(t.find(session_key(1000)).has_value());
  EXPECT_EQ(t.find(session_key(3000)), 7u);
  EXPECT_EQ(t.key_of(7)->client, session_key(3000).client);
  EXPECT_EQ(t.match_cid(0, long_header(kOriginal, {})), 7u);  // IDs stay
}

TEST(QuicSessionTable, OneClientToTwoLocalAddressesIsTwoSessions) {
  // A wildcard listener: the same client address and port sends to two of
  // the box's addresses.
  SessionTable t(10);
  const FlowKey first = session_key(1000, 0, IpAddress::v4(127, 0, 0, 1));
  const FlowKey second = session_key(1000, 0, IpAddress::v4(127, 0, 0, 2));
  ASSERT_TRUE(t.add(7, first, kOriginal, milliseconds(1000), kStart));
  ASSERT_TRUE(t.add(8, second, {}, milliseconds(1000), kStart));
  EXPECT_EQ(t.find(first), 7u);
  EXPECT_EQ(t.find(second), 8u);
  EXPECT_FALSE(t.find(session_key(1000, 0, IpAddress::v4(127, 0, 0, 3))).has_value());
  // A rebinding takes the address the client now sends to along.
  ASSERT_TRUE(t.rebind(7, session_key(3000).client, IpAddress::v4(127, 0, 0, 3)));
  EXPECT_EQ(t.find(session_key(3000, 0, IpAddress::v4(127, 0, 0, 3))), 7u);
  EXPECT_EQ(t.key_of(7)->local, IpAddress::v4(127, 0, 0, 3));
}

TEST(QuicSessionTable, RemovedSessionsForgetTheirIds) {
  SessionTable t(10);
  ASSERT_TRUE(t.add(7, session_key(1000), kOriginal, milliseconds(1000), kStart));
  t.learn_from_backend(7, long_header({}, kServer));
  t.remove(7);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.find(session_key(1000)).has_value());
  EXPECT_FALSE(t.match_cid(0, short_header(kServer)).has_value());
  EXPECT_FALSE(t.match_cid(0, long_header(kOriginal, {})).has_value());
  // The same ID may be learnt by a later session.
  ASSERT_TRUE(t.add(9, session_key(1000), kOriginal, milliseconds(1000), kStart));
  EXPECT_EQ(t.match_cid(0, long_header(kOriginal, {})), 9u);
}

TEST(QuicSessionTable, AnIdHeldByOneSessionIsNotTakenByAnother) {
  SessionTable t(10);
  ASSERT_TRUE(t.add(1, session_key(1), kOriginal, milliseconds(1000), kStart));
  ASSERT_TRUE(t.add(2, session_key(2), {}, milliseconds(1000), kStart));
  t.learn_from_backend(2, long_header({}, kOriginal));
  EXPECT_EQ(t.match_cid(0, long_header(kOriginal, {})), 1u);
  EXPECT_FALSE(t.knows_cid(2, kOriginal));
}

TEST(QuicSessionTable, LearntIdsAreBounded) {
  SessionTable t(10);
  ASSERT_TRUE(t.add(1, session_key(1), {}, milliseconds(1000), kStart));
  for (std::uint8_t i = 0; i < 50; ++i) t.learn_from_backend(1, long_header({}, {i, i, i, i}));
  std::size_t known = 0;
  for (std::uint8_t i = 0; i < 50; ++i) known += t.knows_cid(1, Bytes{i, i, i, i}) ? 1 : 0;
  EXPECT_EQ(known, SessionTable::kMaxCidsPerSession);
  // Over 20 bytes is no v1/v2 ID: not learnt.
  t.learn_from_backend(1, long_header({}, Bytes(21, 1)));
  EXPECT_FALSE(t.knows_cid(1, Bytes(21, 1)));
}

TEST(QuicSessionTable, IdleSessionsExpireTouchedOnesLater) {
  SessionTable t(10);
  ASSERT_TRUE(t.add(1, session_key(1), {}, milliseconds(1000), kStart));
  ASSERT_TRUE(t.add(2, session_key(2), {}, milliseconds(1000), kStart));
  t.touch(2, kStart + milliseconds(800));
  EXPECT_TRUE(t.expired(kStart + milliseconds(999)).empty());
  EXPECT_EQ(t.expired(kStart + milliseconds(1000)), std::vector<SessionId>{1});
  EXPECT_EQ(t.expired(kStart + milliseconds(1800)).size(), 2u);
}

// The kernel fast path's last-seen times arrive late (read by the sweep):
// one older than the userspace path's does not move the deadline back.
TEST(QuicSessionTable, ALateTouchDoesNotMoveTheDeadlineBack) {
  SessionTable t(10);
  ASSERT_TRUE(t.add(1, session_key(1), {}, milliseconds(1000), kStart));
  t.touch(1, kStart + milliseconds(900));
  t.touch(1, kStart + milliseconds(300));
  EXPECT_FALSE(t.is_expired(1, kStart + milliseconds(1800)));
  EXPECT_TRUE(t.is_expired(1, kStart + milliseconds(1900)));
  EXPECT_FALSE(t.is_expired(2, kStart + milliseconds(1900)));  // no such session
}

TEST(QuicSessionTable, TheCountIsBounded) {
  SessionTable t(2);
  EXPECT_TRUE(t.add(1, session_key(1), {}, milliseconds(1), kStart));
  EXPECT_TRUE(t.add(2, session_key(2), {}, milliseconds(1), kStart));
  EXPECT_FALSE(t.add(3, session_key(3), {}, milliseconds(1), kStart));
  t.remove(1);
  EXPECT_TRUE(t.add(3, session_key(3), {}, milliseconds(1), kStart));
}

TEST(QuicSessionTable, IdleTimeoutFollowsTheClientWithinBounds) {
  const milliseconds floor(30'000);
  const milliseconds cap(600'000);
  EXPECT_EQ(session_idle_timeout(floor, cap, 60'000), milliseconds(60'000));
  EXPECT_EQ(session_idle_timeout(floor, cap, 5'000), floor);       // never under the floor
  EXPECT_EQ(session_idle_timeout(floor, cap, 3'600'000), cap);     // capped
  EXPECT_EQ(session_idle_timeout(floor, cap, std::nullopt), cap);  // none: no limit of its own
  EXPECT_EQ(session_idle_timeout(floor, cap, 0), cap);             // 0: none either
}

}  // namespace
}  // namespace sniproxy::proxy::quic
