// The QUIC hand-over channel's messages: a handed datagram keeps its bytes
// and both addresses; anything malformed decodes to nothing.
#include "proxy/quic/handover_message.hpp"

#include <gtest/gtest.h>

namespace sniproxy::proxy::quic {
namespace {

TEST(QuicHandoverMessage, ADatagramKeepsItsAddressesAndBytes) {
  const Endpoint client = *Endpoint::parse("[2001:db8::7]:51234");
  const Endpoint local = *Endpoint::parse("127.0.0.1:443");
  const std::vector<std::uint8_t> payload = {0x40, 1, 2, 3, 0xff};
  const auto bytes = encode_handed_datagram(client, local, payload);
  EXPECT_EQ(bytes.size(), kHandoverHeader + payload.size());
  auto m = decode_handover(bytes);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, HandoverKind::datagram);
  EXPECT_EQ(m->client, client);
  EXPECT_EQ(m->local, local);
  EXPECT_EQ(std::vector<std::uint8_t>(m->payload.begin(), m->payload.end()), payload);
}

TEST(QuicHandoverMessage, TheSuccessorMessageHasNoAddresses) {
  auto m = decode_handover(encode_successor());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, HandoverKind::successor);
}

TEST(QuicHandoverMessage, MalformedMessagesDecodeToNothing) {
  const Endpoint e = *Endpoint::parse("127.0.0.1:443");
  auto good = encode_handed_datagram(e, e, std::vector<std::uint8_t>{1});
  EXPECT_FALSE(decode_handover({}));
  EXPECT_FALSE(decode_handover(std::span(good).first(kHandoverHeader - 1)));  // short
  auto bad = good;
  bad[0] = 'X';  // unknown kind
  EXPECT_FALSE(decode_handover(bad));
  bad = good;
  bad[1] = 9;  // unknown version
  EXPECT_FALSE(decode_handover(bad));
  bad = good;
  bad[2] = 5;  // no such family
  EXPECT_FALSE(decode_handover(bad));
}

}  // namespace
}  // namespace sniproxy::proxy::quic
