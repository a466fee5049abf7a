// The hand-over channel's ends on a real socketpair, as the master makes
// it: a handed datagram arrives whole; a full channel says so without
// blocking; a reader that is gone ends the channel, seen by a send or by
// the sweep's poll.
#include "proxy/quic/handover_channel.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include "proxy/quic/handover_message.hpp"

namespace sniproxy::proxy::quic {
namespace {

struct Pair {
  UniqueFd read;
  UniqueFd write;
};

Pair seqpacket_pair() {
  int fds[2] = {-1, -1};
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

const Endpoint kClient = *Endpoint::parse("127.0.0.9:40000");
const Endpoint kLocal = *Endpoint::parse("127.0.0.1:443");

TEST(QuicHandoverChannel, AHandedDatagramArrivesWhole) {
  Pair pair = seqpacket_pair();
  HandoverOut out(std::move(pair.write));
  HandoverIn in(std::move(pair.read), [](std::span<const std::uint8_t>) {});
  const std::vector<std::uint8_t> payload(1'200, 0x42);
  ASSERT_EQ(out.hand(kClient, kLocal, payload), HandoverOut::Sent::handed);
  ASSERT_EQ(out.hand(kClient, kLocal, std::vector<std::uint8_t>{7}), HandoverOut::Sent::handed);
  auto queued = in.read_queued();
  ASSERT_EQ(queued.size(), 2u);
  auto m = decode_handover(queued[0]);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->client, kClient);
  EXPECT_EQ(m->local, kLocal);
  EXPECT_EQ(std::vector<std::uint8_t>(m->payload.begin(), m->payload.end()), payload);
  EXPECT_EQ(decode_handover(queued[1])->payload.size(), 1u);
  EXPECT_TRUE(in.read_queued().empty());
  EXPECT_FALSE(out.reader_gone());
}

TEST(QuicHandoverChannel, AFullChannelDropsWithoutBlocking) {
  Pair pair = seqpacket_pair();
  HandoverOut out(std::move(pair.write));
  const std::vector<std::uint8_t> payload(1'400, 1);
  HandoverOut::Sent last = HandoverOut::Sent::handed;
  for (int i = 0; i < 100'000 && last == HandoverOut::Sent::handed; ++i)
    last = out.hand(kClient, kLocal, payload);
  EXPECT_EQ(last, HandoverOut::Sent::full);
  EXPECT_TRUE(out.open());
}

TEST(QuicHandoverChannel, AReaderGoneEndsTheChannel) {
  Pair by_send = seqpacket_pair();
  HandoverOut out(std::move(by_send.write));
  by_send.read.reset();
  EXPECT_EQ(out.hand(kClient, kLocal, std::vector<std::uint8_t>{1}), HandoverOut::Sent::ended);
  EXPECT_FALSE(out.open());

  Pair by_poll = seqpacket_pair();
  HandoverOut polled(std::move(by_poll.write));
  EXPECT_FALSE(polled.reader_gone());
  by_poll.read.reset();
  EXPECT_TRUE(polled.reader_gone());
  EXPECT_FALSE(polled.open());
}

}  // namespace
}  // namespace sniproxy::proxy::quic
