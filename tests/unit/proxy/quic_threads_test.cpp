// What the threads serving quic listeners share: the connection-ID
// directory (fed by a session table's observer, withdrawn by the owner
// only, short headers tried at each length), the bounded inbox, and the
// process-wide session slots.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "proxy/quic/cid_directory.hpp"
#include "proxy/quic/datagram_inbox.hpp"
#include "proxy/quic/quic_threads.hpp"
#include "proxy/quic/session_table.hpp"
#include "quic_test_packets.hpp"

namespace sniproxy::proxy::quic {
namespace {

using std::chrono::milliseconds;
using test_packets::Bytes;
using test_packets::long_header;
using test_packets::short_header;

std::string as_text(const Bytes& b) {
  return {b.begin(), b.end()};
}

const Bytes kOriginalId = {1, 2, 3, 4, 5, 6, 7, 8};
const Bytes kServerId = {0xc1, 0xc2, 0xc3, 0xc4, 0xc5};

TEST(QuicCidDirectory, NamesTheOwnerOfALongOrShortHeadersId) {
  CidDirectory d;
  d.publish(0, as_text(kOriginalId), 1);
  d.publish(0, as_text(kServerId), 1);
  EXPECT_EQ(d.owner(0, long_header(kOriginalId, {9})), 1u);
  EXPECT_EQ(d.owner(0, short_header(kServerId)), 1u);
  EXPECT_FALSE(d.owner(1, short_header(kServerId)).has_value());  // another listener
  EXPECT_FALSE(d.owner(0, short_header({7, 7, 7, 7, 7})).has_value());
  EXPECT_FALSE(d.owner(0, {}).has_value());
}

TEST(QuicCidDirectory, TheFirstOwnerKeepsAnIdAndOnlyItWithdrawsIt) {
  CidDirectory d;
  d.publish(0, as_text(kServerId), 0);
  d.publish(0, as_text(kServerId), 1);  // another thread's session saw it too
  EXPECT_EQ(d.owner(0, short_header(kServerId)), 0u);
  d.withdraw(0, as_text(kServerId), 1);
  EXPECT_EQ(d.owner(0, short_header(kServerId)), 0u);
  d.withdraw(0, as_text(kServerId), 0);
  EXPECT_FALSE(d.owner(0, short_header(kServerId)).has_value());
  EXPECT_EQ(d.size(), 0u);
}

TEST(QuicCidDirectory, ASessionTablesObserverPublishesAndWithdraws) {
  CidDirectory d;
  struct Publisher final : CidObserver {
    CidDirectory* d = nullptr;
    void learnt(std::size_t l, const std::string& cid) override { d->publish(l, cid, 3); }
    void forgotten(std::size_t l, const std::string& cid) override { d->withdraw(l, cid, 3); }
  } publisher;
  publisher.d = &d;
  SessionTable t(10);
  t.set_observer(&publisher);
  const FlowKey key{0, Endpoint{IpAddress::v4(127, 0, 0, 1), 1000}, IpAddress::v4(127, 0, 0, 1)};
  ASSERT_TRUE(t.add(7, key, kOriginalId, milliseconds(1000), {}));
  t.learn_from_backend(7, long_header({9}, kServerId));
  t.learn_from_backend(7, long_header({9}, kServerId));  // known: published once
  EXPECT_EQ(d.size(), 2u);
  EXPECT_EQ(d.owner(0, short_header(kServerId)), 3u);
  EXPECT_EQ(d.owner(0, long_header(kOriginalId, {})), 3u);
  t.remove(7);
  EXPECT_EQ(d.size(), 0u);
}

TEST(QuicDatagramInbox, BoundedAndWakesOnlyWhenItWasEmpty) {
  DatagramInbox inbox(2);
  const Endpoint client{IpAddress::v4(127, 0, 0, 1), 5000};
  const Bytes payload = {1, 2, 3};
  auto first = inbox.push(0, client, client.ip, payload);
  EXPECT_TRUE(first.queued);
  EXPECT_TRUE(first.was_empty);
  auto second = inbox.push(1, client, client.ip, payload);
  EXPECT_TRUE(second.queued);
  EXPECT_FALSE(second.was_empty);
  EXPECT_FALSE(inbox.push(0, client, client.ip, payload).queued);  // full
  auto all = inbox.take_all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].listener, 0u);
  EXPECT_EQ(all[1].listener, 1u);
  EXPECT_EQ(all[0].payload, payload);
  EXPECT_EQ(all[0].client, client);
  EXPECT_TRUE(inbox.push(0, client, client.ip, payload).was_empty);
}

TEST(QuicThreads, SessionSlotsBoundTheWholeProcess) {
  QuicThreads threads(2);
  constexpr std::size_t kMax = 100;
  std::vector<std::thread> takers;
  std::atomic<int> taken{0};
  for (int t = 0; t < 2; ++t)
    takers.emplace_back([&] {
      for (int i = 0; i < 80; ++i)
        if (threads.take_session_slot(kMax)) taken.fetch_add(1);
    });
  for (auto& t : takers) t.join();
  EXPECT_EQ(taken.load(), 100);
  EXPECT_FALSE(threads.take_session_slot(kMax));
  threads.give_session_slots(3);
  EXPECT_TRUE(threads.take_session_slot(kMax));
  threads.set_thread_sessions(1, 5);
  EXPECT_EQ(threads.thread_sessions(), (std::vector<std::uint64_t>{0, 5}));
}

}  // namespace
}  // namespace sniproxy::proxy::quic
