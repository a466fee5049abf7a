// QuicHelloReader on the RFCs' client Initials and on Initials sealed here
// the way real clients split, reorder and spread their ClientHello.
#include "protocol/quic/quic_hello_reader.hpp"

#include <gtest/gtest.h>

#include "quic_initial_builder.hpp"
#include "quic_rfc_vectors.hpp"

namespace sniproxy::protocol::test {
namespace {

using quic::QuicHelloError;
using quic::read_first_initial;

constexpr std::size_t kMaxHello = 16 * 1024;

Bytes join(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

InitialSpec spec_with(Bytes frames, std::uint64_t packet_number = 0) {
  InitialSpec spec;
  spec.frames = std::move(frames);
  spec.packet_number = packet_number;
  return spec;
}

void expect_refused(const Bytes& datagram, QuicHelloError error) {
  const auto start = read_first_initial(datagram, kMaxHello);
  EXPECT_FALSE(start.reader.has_value());
  EXPECT_EQ(start.error, error) << to_string(start.error);
}

TEST(QuicHelloReader, Rfc9001ClientInitialGivesExampleCom) {
  const Bytes datagram = from_hex(kRfc9001ClientInitial);
  const Bytes original = datagram;
  auto start = read_first_initial(datagram, kMaxHello);
  ASSERT_TRUE(start.reader.has_value()) << to_string(start.error);
  EXPECT_EQ(start.reader->status(), ParseStatus::done);
  const auto& info = start.reader->info();
  EXPECT_EQ(info.hello.server_name, "example.com");
  EXPECT_EQ(info.hello.alpn, std::vector<std::string>{"alpn"});
  EXPECT_EQ(info.version, quic::kQuicV1);
  EXPECT_EQ(info.max_idle_timeout_ms, 30000u);
  EXPECT_EQ(Bytes(start.reader->dcid().begin(), start.reader->dcid().end()),
            from_hex("8394c8f03e515708"));
  EXPECT_EQ(datagram, original);  // read on a copy: the datagram goes on unchanged
}

TEST(QuicHelloReader, Rfc9369ClientInitialGivesExampleCom) {
  auto start = read_first_initial(from_hex(kRfc9369ClientInitial), kMaxHello);
  ASSERT_TRUE(start.reader.has_value()) << to_string(start.error);
  EXPECT_EQ(start.reader->status(), ParseStatus::done);
  EXPECT_EQ(start.reader->info().hello.server_name, "example.com");
  EXPECT_EQ(start.reader->info().version, quic::kQuicV2);
}

TEST(QuicHelloReader, ReorderedSplitCryptoFramesAmongPingAndPadding) {
  const Bytes hello = quic_client_hello("chrome.example", 60000);
  // Chrome's style: the hello in pieces, out of order, PING and PADDING between.
  const Bytes frames =
      join({ping_frame(), crypto_pieces(hello, {40, 41, 120}, {3, 1}), Bytes(7, 0), ping_frame(),
            crypto_pieces(hello, {40, 41, 120}, {2, 0}), ack_frame(0)});
  auto start = read_first_initial(padded_initial(spec_with(frames)), kMaxHello);
  ASSERT_TRUE(start.reader.has_value()) << to_string(start.error);
  ASSERT_EQ(start.reader->status(), ParseStatus::done);
  EXPECT_EQ(start.reader->info().hello.server_name, "chrome.example");
  EXPECT_EQ(start.reader->info().max_idle_timeout_ms, 60000u);
}

TEST(QuicHelloReader, OverlappingCryptoFramesThatAgree) {
  const Bytes hello = quic_client_hello("overlap.example", 1000);
  const auto view = std::span<const std::uint8_t>(hello);
  const Bytes frames = join({crypto_frame(50, view.subspan(50)), crypto_frame(0, view.first(80))});
  auto start = read_first_initial(padded_initial(spec_with(frames)), kMaxHello);
  ASSERT_TRUE(start.reader.has_value()) << to_string(start.error);
  EXPECT_EQ(start.reader->info().hello.server_name, "overlap.example");
}

TEST(QuicHelloReader, HelloOverTwoDatagrams) {
  // A post-quantum-sized hello: it cannot fit one 1200-byte datagram.
  const Bytes hello = quic_client_hello("pq.example", 30000, 3000);
  ASSERT_GT(hello.size(), 3000u);
  const std::size_t cut = 1100;
  const auto view = std::span<const std::uint8_t>(hello);
  // The second half is sent first, as loss and reordering can make it arrive.
  const Bytes second = padded_initial(spec_with(crypto_frame(cut, view.subspan(cut)), 1));
  const Bytes first = padded_initial(spec_with(crypto_frame(0, view.first(cut)), 0));
  ASSERT_GT(second.size(), 1200u);

  auto start = read_first_initial(second, kMaxHello);
  ASSERT_TRUE(start.reader.has_value()) << to_string(start.error);
  auto& reader = *start.reader;
  EXPECT_EQ(reader.status(), ParseStatus::need_more);
  EXPECT_EQ(reader.feed(first), ParseStatus::done);
  EXPECT_EQ(reader.info().hello.server_name, "pq.example");
  EXPECT_EQ(reader.feed(first), ParseStatus::done);  // later feeds read nothing
}

TEST(QuicHelloReader, CoalescedZeroRttAfterTheInitialIsSkipped) {
  const Bytes hello = quic_client_hello("early.example", 30000);
  const InitialSpec spec = spec_with(crypto_frame(0, hello));
  // Initial, then 0-RTT, then a 1-RTT-looking tail: walked by Length.
  const Bytes datagram =
      join({seal_initial(spec), zero_rtt_packet(spec, 300), Bytes{0x40, 1, 2, 3}, Bytes(900, 0)});
  auto start = read_first_initial(datagram, kMaxHello);
  ASSERT_TRUE(start.reader.has_value()) << to_string(start.error);
  EXPECT_EQ(start.reader->status(), ParseStatus::done);
  EXPECT_EQ(start.reader->info().hello.server_name, "early.example");
}

TEST(QuicHelloReader, TwoCoalescedInitialsInOneDatagram) {
  const Bytes hello = quic_client_hello("two.example", 30000);
  const auto view = std::span<const std::uint8_t>(hello);
  const Bytes datagram = join({seal_initial(spec_with(crypto_frame(0, view.first(64)), 0)),
                               padded_initial(spec_with(crypto_frame(64, view.subspan(64)), 1))});
  auto start = read_first_initial(datagram, kMaxHello);
  ASSERT_TRUE(start.reader.has_value()) << to_string(start.error);
  EXPECT_EQ(start.reader->info().hello.server_name, "two.example");
}

TEST(QuicHelloReader, V2CraftedInitialWithToken) {
  const Bytes hello = quic_client_hello("v2.example", 30000);
  InitialSpec spec = spec_with(crypto_pieces(hello, {100}, {1, 0}));
  spec.version = quic::kQuicV2;
  spec.packet_number_size = 1;
  spec.token = Bytes(40, 0x7e);  // as after a Retry or with a NEW_TOKEN token: skipped
  auto start = read_first_initial(padded_initial(spec), kMaxHello);
  ASSERT_TRUE(start.reader.has_value()) << to_string(start.error);
  EXPECT_EQ(start.reader->info().hello.server_name, "v2.example");
  EXPECT_EQ(start.reader->version(), quic::kQuicV2);
}

TEST(QuicHelloReader, BadTagCreatesNoReader) {
  Bytes datagram = from_hex(kRfc9001ClientInitial);
  datagram[600] ^= 0x01;
  expect_refused(datagram, QuicHelloError::bad_tag);
  Bytes last = from_hex(kRfc9001ClientInitial);
  last.back() ^= 0x80;  // in the tag itself
  expect_refused(last, QuicHelloError::bad_tag);
}

TEST(QuicHelloReader, ShortDatagramCreatesNoReader) {
  Bytes datagram = from_hex(kRfc9001ClientInitial);
  datagram.resize(1199);
  expect_refused(datagram, QuicHelloError::too_short);
}

TEST(QuicHelloReader, UnknownVersionCreatesNoReaderAndSaysWhich) {
  Bytes datagram = from_hex(kRfc9001ClientInitial);
  datagram[1] = 0x1a;  // 0x1a2a3a4a: a version-negotiation greasing value
  datagram[2] = 0x2a;
  datagram[3] = 0x3a;
  datagram[4] = 0x4a;
  const auto start = read_first_initial(datagram, kMaxHello);
  EXPECT_FALSE(start.reader.has_value());
  EXPECT_EQ(start.error, QuicHelloError::unknown_version);
  EXPECT_EQ(start.version, 0x1a2a3a4au);
}

TEST(QuicHelloReader, NotAnInitial) {
  Bytes short_header(1200, 0x41);
  expect_refused(short_header, QuicHelloError::not_initial);
  Bytes negotiation = from_hex(kRfc9001ClientInitial);
  std::fill(negotiation.begin() + 1, negotiation.begin() + 5, 0);  // version 0
  expect_refused(negotiation, QuicHelloError::not_initial);
  const InitialSpec spec;
  expect_refused(join({zero_rtt_packet(spec, 1200)}), QuicHelloError::not_initial);
}

TEST(QuicHelloReader, BadHeaders) {
  InitialSpec spec = spec_with(crypto_frame(0, quic_client_hello("x.example", 1)));
  spec.dcid = {1, 2, 3, 4, 5, 6, 7};  // RFC 9000 7.2: at least 8 bytes
  expect_refused(padded_initial(spec), QuicHelloError::bad_header);
  Bytes datagram = from_hex(kRfc9001ClientInitial);
  datagram[16] = 0x7f;  // Length 0x3f9e: past the datagram's end
  expect_refused(datagram, QuicHelloError::bad_header);
  Bytes cut = from_hex(kRfc9001ClientInitial);
  cut[5] = 0xff;  // a DCID length that runs past everything
  expect_refused(cut, QuicHelloError::bad_header);
}

TEST(QuicHelloReader, FramesThatMayNotBeInAnInitial) {
  const Bytes hello = quic_client_hello("x.example", 1);
  const Bytes stream_frame{0x08, 0x00, 0x01, 0x61};
  expect_refused(padded_initial(spec_with(join({crypto_frame(0, hello), stream_frame}))),
                 QuicHelloError::bad_frame);
  const Bytes close{0x1c, 0x0a, 0x00, 0x02, 'n', 'o'};
  expect_refused(padded_initial(spec_with(close)), QuicHelloError::client_closed);
}

TEST(QuicHelloReader, HelloLargerThanTheBound) {
  const Bytes hello = quic_client_hello("big.example", 1, 3000);
  const auto view = std::span<const std::uint8_t>(hello);
  // The header alone announces more than the bound: refused at once.
  const auto start =
      read_first_initial(padded_initial(spec_with(crypto_frame(0, view.first(600)))), 2048);
  EXPECT_FALSE(start.reader.has_value());
  EXPECT_EQ(start.error, QuicHelloError::crypto_too_large);
}

TEST(QuicHelloReader, NotAClientHello) {
  Bytes server_hello = quic_client_hello("x.example", 1);
  server_hello[0] = 2;
  expect_refused(padded_initial(spec_with(crypto_frame(0, server_hello))),
                 QuicHelloError::not_client_hello);
}

TEST(QuicHelloReader, BadHelloBody) {
  Bytes hello = quic_client_hello("x.example", 1);
  hello[4 + 2 + 32] = 0xff;  // the session id length, past the body
  expect_refused(padded_initial(spec_with(crypto_frame(0, hello))), QuicHelloError::bad_hello);
}

// Later datagrams that give nothing authentic are ignored, not fatal: a
// spoofer must not be able to end someone else's flow.
TEST(QuicHelloReader, LaterDatagramsThatAreNotTheFlowsAreIgnored) {
  const Bytes hello = quic_client_hello("later.example", 30000, 3000);
  const std::size_t cut = 1000;
  const auto view = std::span<const std::uint8_t>(hello);
  auto start =
      read_first_initial(padded_initial(spec_with(crypto_frame(0, view.first(cut)))), kMaxHello);
  ASSERT_TRUE(start.reader.has_value()) << to_string(start.error);
  auto& reader = *start.reader;
  const Bytes rest = padded_initial(spec_with(crypto_frame(cut, view.subspan(cut)), 1));

  Bytes forged = rest;
  forged[forged.size() - 3] ^= 0x10;
  EXPECT_EQ(reader.feed(forged), ParseStatus::need_more);
  EXPECT_EQ(reader.last_ignored(), QuicHelloError::bad_tag);

  EXPECT_EQ(reader.feed(Bytes(rest.begin(), rest.begin() + 1199)), ParseStatus::need_more);
  EXPECT_EQ(reader.last_ignored(), QuicHelloError::too_short);

  InitialSpec other = spec_with(crypto_frame(cut, view.subspan(cut)), 1);
  other.dcid = from_hex("0102030405060708");
  EXPECT_EQ(reader.feed(padded_initial(other)), ParseStatus::need_more);
  EXPECT_EQ(reader.last_ignored(), QuicHelloError::other_connection);

  EXPECT_EQ(reader.feed(rest), ParseStatus::done);
  EXPECT_FALSE(reader.last_ignored().has_value());
  EXPECT_EQ(reader.info().hello.server_name, "later.example");
}

TEST(QuicHelloReader, DisagreeingRetransmissionRejectsTheFlow) {
  const Bytes hello = quic_client_hello("conflict.example", 30000, 3000);
  const auto view = std::span<const std::uint8_t>(hello);
  auto start =
      read_first_initial(padded_initial(spec_with(crypto_frame(0, view.first(900)))), kMaxHello);
  ASSERT_TRUE(start.reader.has_value()) << to_string(start.error);
  Bytes changed(view.begin() + 800, view.begin() + 1000);
  changed[0] ^= 0xff;
  EXPECT_EQ(start.reader->feed(padded_initial(spec_with(crypto_frame(800, changed), 1))),
            ParseStatus::rejected);
  EXPECT_EQ(start.reader->error(), QuicHelloError::crypto_conflict);
}

TEST(QuicHelloReader, ErrorTokens) {
  EXPECT_EQ(to_string(QuicHelloError::too_short), "too_short");
  EXPECT_EQ(to_string(QuicHelloError::unknown_version), "unknown_version");
  EXPECT_EQ(to_string(QuicHelloError::bad_tag), "bad_tag");
  EXPECT_EQ(to_string(QuicHelloError::crypto_too_large), "crypto_too_large");
}

}  // namespace
}  // namespace sniproxy::protocol::test
