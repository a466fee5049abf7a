// The auto_sockmap policy (proxy/exchange_watch.hpp): small messages back
// and forth make a connection ready for the sockmap; streams, big messages
// and one-sided traffic do not.
#include "proxy/exchange_watch.hpp"

#include <gtest/gtest.h>

#include "proxy/forwarding_choice.hpp"

namespace sniproxy::proxy {
namespace {

constexpr int kToBackend = 0;
constexpr int kToClient = 1;

// `round_trips` request/answer pairs of small messages.
void exchange(ExchangeWatch& watch, int round_trips) {
  for (int i = 0; i < round_trips; ++i) {
    watch.received(kToBackend, false);
    watch.received(kToClient, false);
  }
}

TEST(ExchangeWatchTest, ReadyAfterTheTurnsOfSmallMessagesBackAndForth) {
  ExchangeWatch watch(kAutoSockmapTurns);
  // The first receive is no turn; each change of direction after it is.
  watch.received(kToBackend, false);
  EXPECT_EQ(watch.turns(), 0u);
  for (std::uint32_t turn = 1; turn < kAutoSockmapTurns; ++turn) {
    watch.received(turn % 2 == 1 ? kToClient : kToBackend, false);
    EXPECT_EQ(watch.turns(), turn);
    EXPECT_FALSE(watch.ready()) << turn;
  }
  watch.received(kAutoSockmapTurns % 2 == 1 ? kToClient : kToBackend, false);
  EXPECT_TRUE(watch.ready());
}

TEST(ExchangeWatchTest, AHandshakeAndAFewRequestsAreNotEnough) {
  // A TLS 1.3 handshake (hello, server flight, client Finished) and three
  // requests with their answers: 6 turns, well short of what is needed.
  ExchangeWatch watch(kAutoSockmapTurns);
  watch.received(kToClient, false);  // the server's flight (the hello went before)
  watch.received(kToBackend, false);
  exchange(watch, 3);
  EXPECT_EQ(watch.turns(), 6u);
  EXPECT_FALSE(watch.ready());
}

TEST(ExchangeWatchTest, AMessageInSeveralReceivesIsOneTurn) {
  ExchangeWatch watch(4);
  watch.received(kToBackend, false);
  watch.received(kToBackend, false);
  watch.received(kToBackend, false);
  EXPECT_EQ(watch.turns(), 0u);
  watch.received(kToClient, false);
  watch.received(kToClient, false);
  EXPECT_EQ(watch.turns(), 1u);
}

TEST(ExchangeWatchTest, OneSidedTrafficNeverTurns) {
  ExchangeWatch watch(kAutoSockmapTurns);
  for (int i = 0; i < 10'000; ++i) watch.received(kToClient, false);
  EXPECT_EQ(watch.turns(), 0u);
  EXPECT_FALSE(watch.ready());
}

TEST(ExchangeWatchTest, AFullBufferStartsTheCountAgain) {
  // A stream, or a message as big as a buffer, is not what the sockmap
  // serves well: the turns before it do not count.
  ExchangeWatch watch(kAutoSockmapTurns);
  exchange(watch, 7);
  EXPECT_EQ(watch.turns(), 13u);
  watch.received(kToClient, true);
  EXPECT_EQ(watch.turns(), 0u);
  exchange(watch, 7);
  watch.received(kToBackend, false);
  EXPECT_EQ(watch.turns(), 15u);
  EXPECT_FALSE(watch.ready());
  watch.received(kToClient, false);
  EXPECT_TRUE(watch.ready());
}

TEST(ExchangeWatchTest, StreamsInBothDirectionsNeverGetReady) {
  ExchangeWatch watch(kAutoSockmapTurns);
  for (int i = 0; i < 1000; ++i) {
    watch.received(kToBackend, true);
    watch.received(kToClient, true);
  }
  EXPECT_FALSE(watch.ready());
}

TEST(ExchangeWatchTest, RestartAsksForTheSameEvidenceAgain) {
  ExchangeWatch watch(kAutoSockmapTurns);
  exchange(watch, 20);
  EXPECT_TRUE(watch.ready());
  watch.restart();
  EXPECT_FALSE(watch.ready());
  watch.received(kToClient, false);  // no turn: nothing before it since
  EXPECT_EQ(watch.turns(), 0u);
  exchange(watch, 8);
  EXPECT_EQ(watch.turns(), 16u);
  EXPECT_TRUE(watch.ready());
}

TEST(ExchangeWatchTest, ZeroTurnsNeededIsNeverReady) {
  ExchangeWatch watch(0);
  exchange(watch, 100);
  EXPECT_FALSE(watch.ready());
}

}  // namespace
}  // namespace sniproxy::proxy
