// The Initial frame reader, the CRYPTO reassembly under it, transport
// parameters and Version Negotiation: the pure parts below QuicHelloReader.
#include <gtest/gtest.h>

#include "protocol/quic/crypto_assembler.hpp"
#include "protocol/quic/initial_frames.hpp"
#include "protocol/quic/long_header.hpp"
#include "protocol/quic/quic_version.hpp"
#include "protocol/quic/transport_parameters.hpp"
#include "protocol/quic/varint.hpp"
#include "protocol/quic/version_negotiation.hpp"
#include "quic_initial_builder.hpp"

namespace sniproxy::protocol::test {
namespace {

using quic::CryptoAssembler;
using quic::QuicHelloError;
using quic::read_initial_frames;

// A 4-byte ClientHello header announcing `body` bytes, then `body` bytes of 0xab.
Bytes message_of(std::size_t body) {
  Bytes out{1, static_cast<std::uint8_t>(body >> 16), static_cast<std::uint8_t>(body >> 8),
            static_cast<std::uint8_t>(body)};
  out.resize(4 + body, 0xab);
  return out;
}

TEST(CryptoAssembler, AnyOrderCompletes) {
  const Bytes message = message_of(10);
  CryptoAssembler crypto(64);
  const auto view = std::span<const std::uint8_t>(message);
  EXPECT_FALSE(crypto.place(8, view.subspan(8)));
  EXPECT_FALSE(crypto.complete());
  EXPECT_FALSE(crypto.place(2, view.subspan(2, 6)));
  EXPECT_FALSE(crypto.complete());
  EXPECT_FALSE(crypto.place(0, view.first(3)));  // overlaps byte 2, same value
  ASSERT_TRUE(crypto.complete());
  EXPECT_EQ(Bytes(crypto.hello_body().begin(), crypto.hello_body().end()), Bytes(10, 0xab));
}

TEST(CryptoAssembler, DisagreeingOverlapIsRefused) {
  const Bytes message = message_of(10);
  CryptoAssembler crypto(64);
  EXPECT_FALSE(crypto.place(0, message));
  const Bytes other{0xac};
  EXPECT_EQ(crypto.place(5, other), QuicHelloError::crypto_conflict);
}

TEST(CryptoAssembler, Bounds) {
  CryptoAssembler crypto(64);
  const Bytes byte{0x01};
  EXPECT_EQ(crypto.place(64, byte), QuicHelloError::crypto_too_large);
  EXPECT_EQ(crypto.place(quic::kMaxVarint, byte), QuicHelloError::crypto_too_large);
  EXPECT_EQ(CryptoAssembler(64).place(0, message_of(61)), QuicHelloError::crypto_too_large);
  EXPECT_FALSE(CryptoAssembler(64).place(0, message_of(60)));
  // Data past the hello's announced end: a second message a client never sends here.
  CryptoAssembler past(64);
  EXPECT_FALSE(past.place(0, message_of(4)));
  EXPECT_EQ(past.place(8, byte), QuicHelloError::crypto_too_large);
}

TEST(CryptoAssembler, FirstMessageMustBeAClientHello) {
  Bytes message = message_of(4);
  message[0] = 2;
  EXPECT_EQ(CryptoAssembler(64).place(0, message), QuicHelloError::not_client_hello);
}

TEST(InitialFrames, SkipsPaddingPingAndBothAckKinds) {
  const Bytes message = message_of(3);
  CryptoAssembler crypto(64);
  Bytes payload = {0x00, 0x00, 0x01};
  const Bytes ack = ack_frame(5);
  payload.insert(payload.end(), ack.begin(), ack.end());
  const Bytes ack_ecn{0x03, 0x05, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03};
  payload.insert(payload.end(), ack_ecn.begin(), ack_ecn.end());
  const Bytes crypto_bytes = crypto_frame(0, message);
  payload.insert(payload.end(), crypto_bytes.begin(), crypto_bytes.end());
  EXPECT_FALSE(read_initial_frames(payload, crypto));
  EXPECT_TRUE(crypto.complete());
}

TEST(InitialFrames, MalformedFrames) {
  auto error_of = [](const Bytes& payload) {
    CryptoAssembler crypto(64);
    return read_initial_frames(payload, crypto);
  };
  EXPECT_EQ(error_of({}), QuicHelloError::bad_frame);                        // no frame at all
  EXPECT_EQ(error_of({0x06, 0x00, 0x05, 0x01}), QuicHelloError::bad_frame);  // CRYPTO cut short
  EXPECT_EQ(error_of({0x02, 0x00, 0x00, 0x3f, 0x00}),
            QuicHelloError::bad_frame);                                // 63 ranges, none there
  EXPECT_EQ(error_of({0x08, 0x00}), QuicHelloError::bad_frame);        // STREAM
  EXPECT_EQ(error_of({0x1d, 0x00, 0x00}), QuicHelloError::bad_frame);  // application close
  EXPECT_EQ(error_of({0x1c, 0x00, 0x00, 0x05, 'x'}), QuicHelloError::bad_frame);
  EXPECT_EQ(error_of({0x1c, 0x01, 0x00, 0x00}), QuicHelloError::client_closed);
}

TEST(TransportParameters, MaxIdleTimeout) {
  Bytes parameters;
  quic::append_varint(parameters, 0x04);  // initial_max_data
  quic::append_varint(parameters, 2);
  quic::append_varint(parameters, 1000);
  EXPECT_FALSE(quic::max_idle_timeout_ms(parameters).has_value());
  // max_idle_timeout 30000 as a 4-byte varint, as RFC 9001 A.2's client sends it.
  const Bytes idle{0x01, 0x04, 0x80, 0x00, 0x75, 0x30};
  parameters.insert(parameters.end(), idle.begin(), idle.end());
  EXPECT_EQ(quic::max_idle_timeout_ms(parameters), 30000u);
  Bytes twice = parameters;
  twice.insert(twice.end(), parameters.end() - 6, parameters.end());
  EXPECT_FALSE(quic::max_idle_timeout_ms(twice).has_value());
  Bytes cut = parameters;
  cut.pop_back();
  EXPECT_FALSE(quic::max_idle_timeout_ms(cut).has_value());
}

TEST(VersionNegotiation, EchoesSwappedIdsAndListsVersions) {
  const Bytes dcid = from_hex("8394c8f03e515708");
  const Bytes scid = from_hex("0a0b");
  const Bytes packet =
      quic::version_negotiation_packet(dcid, scid, quic::supported_versions(), 0x55);
  EXPECT_EQ(packet, from_hex("d500000000020a0b088394c8f03e515708000000016b3343cf"));
  const auto ids = quic::read_long_header_ids(packet);
  ASSERT_TRUE(ids.has_value());
  EXPECT_EQ(ids->version, 0u);
  EXPECT_EQ(Bytes(ids->dcid.begin(), ids->dcid.end()), scid);
  EXPECT_EQ(Bytes(ids->scid.begin(), ids->scid.end()), dcid);
}

}  // namespace
}  // namespace sniproxy::protocol::test
