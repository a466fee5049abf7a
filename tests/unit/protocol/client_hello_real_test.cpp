// The ClientHello parser on real hellos captured from openssl s_client (see
// tests/fixtures/hello/README.md), fed whole, split at every offset, byte by
// byte, re-framed across several records and padded to tens of KiB.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "hello_bytes.hpp"
#include "hello_result.hpp"
#include "protocol/client_hello.hpp"

namespace sniproxy::protocol::test {
namespace {

struct Fixture {
  const char* file;
  std::optional<std::string> server_name;
  std::vector<std::string> alpn;
  std::vector<std::uint16_t> versions;
};

const std::vector<Fixture>& fixtures() {
  static const std::vector<Fixture> all = {
      {"tls13_alpn.bin", "www.example.com", {"h2", "http/1.1"}, {0x0304}},
      {"tls12_sni.bin", "legacy.example.org", {}, {0x0303}},
      {"any_version_sni.bin", "api.example.net", {"http/1.1"}, {0x0304, 0x0303, 0x0302, 0x0301}},
      {"no_sni.bin", std::nullopt, {}, {0x0304}},
      {"tls13_ffdhe8192.bin", "big.example.com", {}, {0x0304}},
      {"tls13_resumption.bin", "resume.example.com", {"h2", "http/1.1"}, {0x0304}},
  };
  return all;
}

class RealHello : public ::testing::TestWithParam<Fixture> {
 protected:
  Bytes wire = load_fixture(GetParam().file);
};

TEST_P(RealHello, ParsesWholeHello) {
  const auto r = parse_whole(wire);
  ASSERT_EQ(r.status, ParseStatus::done) << r;
  EXPECT_EQ(r.info.server_name, GetParam().server_name);
  EXPECT_EQ(r.info.alpn, GetParam().alpn);
  EXPECT_EQ(r.info.versions, GetParam().versions);
  EXPECT_EQ(r.info.legacy_version, 0x0303);
  EXPECT_FALSE(r.info.ech_offered);
}

TEST_P(RealHello, SplitAtEveryOffsetGivesTheSameResult) {
  const auto whole = parse_whole(wire);
  for (std::size_t offset = 0; offset <= wire.size(); ++offset)
    ASSERT_EQ(parse_split(wire, offset), whole) << "split at " << offset;
}

TEST_P(RealHello, ByteByByteGivesTheSameResult) {
  EXPECT_EQ(parse_chunked(wire, 1), parse_whole(wire));
  EXPECT_EQ(parse_chunked(wire, 7), parse_whole(wire));
}

TEST_P(RealHello, EveryStrictPrefixNeedsMore) {
  ClientHelloParser parser(kDefaultMax);
  for (std::size_t i = 0; i + 1 < wire.size(); ++i) {
    ASSERT_EQ(parser.feed(std::span<const std::uint8_t>(&wire[i], 1)), ParseStatus::need_more)
        << "after " << i + 1 << " bytes";
  }
  EXPECT_EQ(parser.feed(std::span<const std::uint8_t>(&wire.back(), 1)), ParseStatus::done);
}

// The hint is a lower bound: feeding exactly that many bytes never overshoots
// the end of the hello, and stepping by it still reaches done.
TEST_P(RealHello, BytesNeededHintNeverOvershoots) {
  ClientHelloParser parser(kDefaultMax);
  std::size_t fed = 0;
  ParseStatus status = ParseStatus::need_more;
  int steps = 0;
  while (status == ParseStatus::need_more) {
    const std::size_t hint = parser.bytes_needed_hint();
    ASSERT_GE(hint, 1u);
    ASSERT_LE(fed + hint, wire.size()) << "at " << fed;
    status = parser.feed(std::span<const std::uint8_t>(wire).subspan(fed, hint));
    fed += hint;
    ++steps;
  }
  EXPECT_EQ(status, ParseStatus::done);
  EXPECT_EQ(fed, wire.size());
  EXPECT_LE(steps, 4);  // record header + handshake header, then the rest
}

TEST_P(RealHello, ThreeRecordsGiveTheSameResult) {
  const Bytes message = handshake_message(wire);
  const Bytes framed = frame_records(message, {2, 100});  // header split across records too
  ASSERT_EQ(framed.size(), wire.size() + 10);
  const auto whole = parse_whole(wire);
  EXPECT_EQ(parse_whole(framed), whole);
  EXPECT_EQ(parse_chunked(framed, 1), whole);
  for (std::size_t offset = 0; offset <= framed.size(); ++offset)
    ASSERT_EQ(parse_split(framed, offset), whole) << "split at " << offset;
}

TEST_P(RealHello, OneByteRecordsGiveTheSameResult) {
  const Bytes framed = frame_evenly(handshake_message(wire), 1);
  EXPECT_EQ(parse_whole(framed), parse_whole(wire));
  EXPECT_EQ(parse_chunked(framed, 3), parse_whole(wire));
}

TEST_P(RealHello, IgnoresBytesAfterTheHello) {
  Bytes with_more = concat({wire, record(23, bytes_of("early data")), bytes_of("garbage")});
  const auto r = parse_whole(with_more);
  EXPECT_EQ(r, parse_whole(wire));
}

TEST_P(RealHello, TooLargeForABoundJustBelowIt) {
  EXPECT_EQ(parse_whole(wire, wire.size()).status, ParseStatus::done);
  const auto r = parse_whole(wire, wire.size() - 1);
  ASSERT_EQ(r.status, ParseStatus::rejected);
  EXPECT_EQ(r.error, HelloError::too_large);
}

INSTANTIATE_TEST_SUITE_P(Captured, RealHello, ::testing::ValuesIn(fixtures()),
                         [](const auto& info) {
                           std::string name = info.param.file;
                           return name.substr(0, name.find('.'));
                         });

TEST(ClientHelloParser, FeedsAfterDoneReadNothing) {
  const Bytes wire = load_fixture("tls13_alpn.bin");
  ClientHelloParser parser(kDefaultMax);
  ASSERT_EQ(parser.feed(wire), ParseStatus::done);
  const Bytes junk = bytes_of("GET / HTTP/1.1\r\n");
  EXPECT_EQ(parser.feed(junk), ParseStatus::done);
  EXPECT_EQ(parser.feed({}), ParseStatus::done);
  EXPECT_EQ(parser.info().server_name, "www.example.com");
}

TEST(ClientHelloParser, EmptyFeedNeedsMore) {
  ClientHelloParser parser(kDefaultMax);
  EXPECT_EQ(parser.feed({}), ParseStatus::need_more);
  EXPECT_EQ(parser.bytes_needed_hint(), 9u);  // record header + handshake header
}

// Post-quantum key shares and padding push hellos past one 16 KiB record.
class LargeHello : public ::testing::Test {
 protected:
  Bytes message = insert_extension(handshake_message(load_fixture("tls13_alpn.bin")),
                                   padding_extension(40 * 1024));
  Bytes wire = frame_evenly(message, 1u << 14);
};

TEST_F(LargeHello, ParsesAcrossFullSizeRecords) {
  ASSERT_EQ(wire.size(), message.size() + 3 * 5);
  const auto r = parse_whole(wire);
  ASSERT_EQ(r.status, ParseStatus::done) << r;
  EXPECT_EQ(r.info.server_name, "www.example.com");
  EXPECT_EQ(r.info.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(parse_chunked(wire, 1), r);
  EXPECT_EQ(parse_chunked(wire, 1460), r);  // one Ethernet MSS at a time
}

TEST_F(LargeHello, SplitAtEveryOffsetGivesTheSameResult) {
  const auto whole = parse_whole(wire);
  for (std::size_t offset = 0; offset <= wire.size(); offset += 1 + offset % 13)
    ASSERT_EQ(parse_split(wire, offset), whole) << "split at " << offset;
}

TEST_F(LargeHello, TooLargeAsSoonAsTheDeclaredLengthIsKnown) {
  ClientHelloParser parser(32 * 1024);
  const std::span<const std::uint8_t> bytes(wire);
  EXPECT_EQ(parser.feed(bytes.subspan(0, 8)), ParseStatus::need_more);
  EXPECT_EQ(parser.feed(bytes.subspan(8, 1)), ParseStatus::rejected);
  EXPECT_EQ(parser.error(), HelloError::too_large);
}

TEST_F(LargeHello, RecordsUpToTheCiphertextLimitAreAccepted) {
  const Bytes framed = frame_evenly(message, (1u << 14) + 256);
  EXPECT_EQ(parse_whole(framed).status, ParseStatus::done);
}

TEST(ClientHelloParser, EchOffered) {
  const Bytes message = insert_extension(handshake_message(load_fixture("tls13_alpn.bin")),
                                         extension(0xfe0d, Bytes(200, 0x42)));
  const auto r = parse_whole(frame_records(message, {}));
  ASSERT_EQ(r.status, ParseStatus::done) << r;
  EXPECT_TRUE(r.info.ech_offered);
  EXPECT_EQ(r.info.server_name, "www.example.com");
}

TEST(TlsAlert, IsAFatalAlertRecord) {
  const std::array<std::uint8_t, 7> expected = {21, 3, 3, 0, 2, 2, 112};
  EXPECT_EQ(tls_alert(112), expected);
  EXPECT_EQ(tls_alert(40)[6], 40);
}

TEST(HelloError, TokensAreStable) {
  EXPECT_EQ(to_string(HelloError::not_tls), "not_tls");
  EXPECT_EQ(to_string(HelloError::sslv2), "sslv2");
  EXPECT_EQ(to_string(HelloError::not_handshake), "not_handshake");
  EXPECT_EQ(to_string(HelloError::not_client_hello), "not_client_hello");
  EXPECT_EQ(to_string(HelloError::bad_record), "bad_record");
  EXPECT_EQ(to_string(HelloError::bad_handshake), "bad_handshake");
  EXPECT_EQ(to_string(HelloError::bad_extension), "bad_extension");
  EXPECT_EQ(to_string(HelloError::bad_server_name), "bad_server_name");
  EXPECT_EQ(to_string(HelloError::too_large), "too_large");
}

}  // namespace
}  // namespace sniproxy::protocol::test
