// Every way a hello can lie, one test each: the parser must reject with the
// right reason, as early as the bytes allow.
#include <gtest/gtest.h>

#include "hello_bytes.hpp"
#include "hello_result.hpp"
#include "protocol/client_hello.hpp"

namespace sniproxy::protocol::test {
namespace {

// Feeds byte by byte; returns how many bytes it took to be rejected (0 if not).
std::size_t bytes_until_rejected(const Bytes& bytes, std::size_t max_size = kDefaultMax) {
  ClientHelloParser parser(max_size);
  for (std::size_t i = 0; i < bytes.size(); ++i)
    if (parser.feed(std::span<const std::uint8_t>(&bytes[i], 1)) == ParseStatus::rejected)
      return i + 1;
  return 0;
}

void expect_rejected(const Bytes& bytes, HelloError error) {
  const auto whole = parse_whole(bytes);
  ASSERT_EQ(whole.status, ParseStatus::rejected) << whole;
  EXPECT_EQ(whole.error, error) << to_string(whole.error);
  EXPECT_EQ(parse_chunked(bytes, 1), whole);
}

const Bytes kSni = extension(0, server_name_data("example.com"));

TEST(ClientHelloFirstBytes, HttpIsNotTlsAfterOneByte) {
  expect_rejected(bytes_of("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), HelloError::not_tls);
  EXPECT_EQ(bytes_until_rejected(bytes_of("GET / HTTP/1.1\r\n")), 1u);
}

TEST(ClientHelloFirstBytes, HandshakeTypeWithWrongMajorVersionIsNotTls) {
  expect_rejected(concat({u8(22), bytes_of("GET")}), HelloError::not_tls);
  EXPECT_EQ(bytes_until_rejected(concat({u8(22), u8(2), u8(0)})), 2u);
}

TEST(ClientHelloFirstBytes, Sslv2RecordHeader) {
  // SSLv2 CLIENT-HELLO: 2-byte length with the high bit set, then msg type 1.
  const Bytes v2 = {0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15};
  expect_rejected(v2, HelloError::sslv2);
  EXPECT_EQ(bytes_until_rejected(v2), 1u);
}

TEST(ClientHelloFirstBytes, OtherRecordTypesAreNotHandshakes) {
  expect_rejected(record(23, bytes_of("application data")), HelloError::not_handshake);
  expect_rejected(record(21, {2, 40}), HelloError::not_handshake);
  expect_rejected(record(20, {1}), HelloError::not_handshake);
  EXPECT_EQ(bytes_until_rejected(record(23, {1, 2, 3})), 1u);
}

TEST(ClientHelloFirstBytes, ZeroLengthRecord) {
  const Bytes zero = concat({record(22, {}), wire_hello(kSni)});
  expect_rejected(zero, HelloError::bad_record);
  EXPECT_EQ(bytes_until_rejected(zero), 5u);
}

TEST(ClientHelloFirstBytes, OversizedRecord) {
  const Bytes header = {22, 3, 1, 0x41, 0x01};  // 2^14 + 257
  expect_rejected(header, HelloError::bad_record);
}

TEST(ClientHelloRecords, LaterRecordOfAnotherType) {
  const Bytes message = handshake(1, client_hello_body(kSni));
  Bytes framed = frame_records(message, {10});
  framed[5 + 10] = 23;  // the second record claims application data
  expect_rejected(framed, HelloError::bad_record);
}

TEST(ClientHelloRecords, LaterRecordWithWrongVersion) {
  const Bytes message = handshake(1, client_hello_body(kSni));
  Bytes framed = frame_records(message, {10});
  framed[5 + 10 + 1] = 0x02;
  expect_rejected(framed, HelloError::bad_record);
}

TEST(ClientHelloRecords, LaterZeroLengthRecord) {
  const Bytes message = handshake(1, client_hello_body(kSni));
  const Bytes first(message.begin(), message.begin() + 10);
  const Bytes rest(message.begin() + 10, message.end());
  expect_rejected(concat({record(22, first), record(22, {}), record(22, rest)}),
                  HelloError::bad_record);
}

TEST(ClientHelloHandshake, NotAClientHello) {
  const Bytes server_hello = record(22, handshake(2, client_hello_body(kSni)));
  expect_rejected(server_hello, HelloError::not_client_hello);
  EXPECT_EQ(bytes_until_rejected(server_hello), 6u);
}

TEST(ClientHelloHandshake, EmptyBody) {
  expect_rejected(record(22, handshake(1, {})), HelloError::bad_handshake);
}

TEST(ClientHelloHandshake, TruncatedAtEveryFieldBoundary) {
  // Cut the body short at every length: each is a complete handshake message
  // whose own length is honest but whose fields run past it.
  const Bytes body = client_hello_body(kSni);
  const std::size_t extensions_start = body.size() - 2 - kSni.size();
  for (std::size_t cut = 0; cut < body.size(); ++cut) {
    const Bytes shortened(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(cut));
    const auto r = parse_whole(record(22, handshake(1, shortened)));
    if (cut == extensions_start) {
      EXPECT_EQ(r.status, ParseStatus::done) << r;
      continue;
    }
    ASSERT_EQ(r.status, ParseStatus::rejected) << "cut at " << cut;
    // Cut exactly after the compression methods it is a valid pre-TLS-1.2
    // hello without extensions; anywhere else a length overflows its parent.
    ASSERT_TRUE(r.error == HelloError::bad_handshake || r.error == HelloError::bad_extension ||
                r.error == HelloError::bad_server_name)
        << "cut at " << cut << ": " << to_string(r.error);
  }
}

TEST(ClientHelloHandshake, NoExtensionsAtAll) {
  Bytes body = client_hello_body({});
  body.resize(body.size() - 2);  // drop the empty extensions block entirely
  const auto r = parse_whole(record(22, handshake(1, body)));
  ASSERT_EQ(r.status, ParseStatus::done) << r;
  EXPECT_EQ(r.info.server_name, std::nullopt);
  EXPECT_EQ(r.info.versions, std::vector<std::uint16_t>{0x0303});
}

TEST(ClientHelloHandshake, SessionIdTooLong) {
  const Bytes body = concat({u16(0x0303), Bytes(32, 0), vec(1, Bytes(33, 1)), vec(2, u16(0x1301)),
                             vec(1, u8(0)), vec(2, kSni)});
  expect_rejected(record(22, handshake(1, body)), HelloError::bad_handshake);
}

TEST(ClientHelloHandshake, OddCipherSuitesLength) {
  const Bytes body = concat({u16(0x0303), Bytes(32, 0), vec(1, {}), vec(2, {0x13, 0x01, 0x13}),
                             vec(1, u8(0)), vec(2, kSni)});
  expect_rejected(record(22, handshake(1, body)), HelloError::bad_handshake);
}

TEST(ClientHelloHandshake, EmptyCipherSuitesOrCompression) {
  expect_rejected(record(22, handshake(1, concat({u16(0x0303), Bytes(32, 0), vec(1, {}), vec(2, {}),
                                                  vec(1, u8(0)), vec(2, kSni)}))),
                  HelloError::bad_handshake);
  expect_rejected(record(22, handshake(1, concat({u16(0x0303), Bytes(32, 0), vec(1, {}),
                                                  vec(2, u16(0x1301)), vec(1, {}), vec(2, kSni)}))),
                  HelloError::bad_handshake);
}

TEST(ClientHelloHandshake, ExtensionsBlockOverflowsTheMessage) {
  Bytes body = client_hello_body(kSni);
  const std::size_t at = body.size() - kSni.size() - 2;
  body[at + 1] += 1;  // the block claims one byte more than the message has
  expect_rejected(record(22, handshake(1, body)), HelloError::bad_handshake);
}

TEST(ClientHelloHandshake, BytesAfterTheExtensionsBlock) {
  const Bytes body = concat({client_hello_body(kSni), u8(0)});
  expect_rejected(record(22, handshake(1, body)), HelloError::bad_handshake);
}

TEST(ClientHelloHandshake, MessageLongerThanItsRecordsSoFarNeedsMore) {
  // A declared length beyond the bytes sent is just an incomplete hello.
  const Bytes message = handshake(1, client_hello_body(kSni));
  Bytes wire = record(22, message);
  wire.resize(wire.size() - 1);
  EXPECT_EQ(parse_whole(wire).status, ParseStatus::need_more);
}

TEST(ClientHelloExtensions, ExtensionOverflowsTheBlock) {
  const Bytes lying = concat({u16(0x000a), u16(10), Bytes(4, 0)});
  expect_rejected(wire_hello(concat({kSni, lying})), HelloError::bad_extension);
}

TEST(ClientHelloExtensions, TruncatedExtensionHeader) {
  expect_rejected(wire_hello(concat({kSni, u16(0x000a), u8(0)})), HelloError::bad_extension);
  expect_rejected(wire_hello(concat({kSni, u8(0)})), HelloError::bad_extension);
}

TEST(ClientHelloExtensions, DuplicateExtension) {
  const Bytes alpn = extension(16, alpn_data({"h2"}));
  expect_rejected(wire_hello(concat({kSni, alpn, alpn})), HelloError::bad_extension);
  expect_rejected(wire_hello(concat({kSni, kSni})), HelloError::bad_extension);
  const Bytes unknown = extension(0x7777, {});
  expect_rejected(wire_hello(concat({unknown, kSni, unknown})), HelloError::bad_extension);
}

TEST(ClientHelloServerName, ParsesFirstHostName) {
  const auto r = parse_whole(wire_hello(kSni));
  ASSERT_EQ(r.status, ParseStatus::done) << r;
  EXPECT_EQ(r.info.server_name, "example.com");
}

TEST(ClientHelloServerName, KeepsTheNameAsSent) {
  const auto r = parse_whole(wire_hello(extension(0, server_name_data("WWW.Example.COM."))));
  ASSERT_EQ(r.status, ParseStatus::done) << r;
  EXPECT_EQ(r.info.server_name, "WWW.Example.COM.");
}

TEST(ClientHelloServerName, SkipsOtherNameTypes) {
  const Bytes list = concat({u8(7), vec(2, bytes_of("opaque")), u8(0), vec(2, bytes_of("a.b"))});
  const auto r = parse_whole(wire_hello(extension(0, vec(2, list))));
  ASSERT_EQ(r.status, ParseStatus::done) << r;
  EXPECT_EQ(r.info.server_name, "a.b");
  const auto only_other =
      parse_whole(wire_hello(extension(0, vec(2, concat({u8(7), vec(2, bytes_of("x"))})))));
  ASSERT_EQ(only_other.status, ParseStatus::done);
  EXPECT_EQ(only_other.info.server_name, std::nullopt);
}

TEST(ClientHelloServerName, ListLongerThanTheExtension) {
  const Bytes entry = concat({u8(0), vec(2, bytes_of("example.com"))});
  const Bytes data = concat({u16(static_cast<std::uint16_t>(entry.size() + 1)), entry});
  expect_rejected(wire_hello(extension(0, data)), HelloError::bad_server_name);
}

TEST(ClientHelloServerName, ListShorterThanTheExtension) {
  const Bytes entry = concat({u8(0), vec(2, bytes_of("example.com"))});
  const Bytes data = concat({u16(static_cast<std::uint16_t>(entry.size() - 1)), entry});
  expect_rejected(wire_hello(extension(0, data)), HelloError::bad_server_name);
}

TEST(ClientHelloServerName, NameLongerThanTheList) {
  const Bytes entry = concat({u8(0), u16(20), bytes_of("example.com")});
  expect_rejected(wire_hello(extension(0, vec(2, entry))), HelloError::bad_server_name);
}

TEST(ClientHelloServerName, TruncatedEntry) {
  expect_rejected(wire_hello(extension(0, vec(2, {0, 0}))), HelloError::bad_server_name);
  expect_rejected(wire_hello(extension(0, vec(2, {0}))), HelloError::bad_server_name);
}

TEST(ClientHelloServerName, EmptyName) {
  expect_rejected(wire_hello(extension(0, server_name_data(""))), HelloError::bad_server_name);
}

TEST(ClientHelloServerName, EmptyListOrExtension) {
  expect_rejected(wire_hello(extension(0, vec(2, {}))), HelloError::bad_server_name);
  expect_rejected(wire_hello(extension(0, {})), HelloError::bad_server_name);
  expect_rejected(wire_hello(extension(0, {0})), HelloError::bad_server_name);
}

TEST(ClientHelloServerName, TwoHostNames) {
  const Bytes list = concat({u8(0), vec(2, bytes_of("a.example")), u8(0), vec(2, bytes_of("b"))});
  expect_rejected(wire_hello(extension(0, vec(2, list))), HelloError::bad_server_name);
}

TEST(ClientHelloAlpn, ParsesInOrder) {
  const auto r =
      parse_whole(wire_hello(concat({kSni, extension(16, alpn_data({"h2", "http/1.1"}))})));
  ASSERT_EQ(r.status, ParseStatus::done) << r;
  EXPECT_EQ(r.info.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
}

TEST(ClientHelloAlpn, ListLengthLies) {
  const Bytes list = concat({vec(1, bytes_of("h2")), vec(1, bytes_of("http/1.1"))});
  const Bytes longer = concat({u16(static_cast<std::uint16_t>(list.size() + 1)), list});
  const Bytes shorter = concat({u16(static_cast<std::uint16_t>(list.size() - 1)), list});
  expect_rejected(wire_hello(extension(16, longer)), HelloError::bad_extension);
  expect_rejected(wire_hello(extension(16, shorter)), HelloError::bad_extension);
}

TEST(ClientHelloAlpn, EntryLengthLies) {
  const Bytes list = concat({vec(1, bytes_of("h2")), u8(9), bytes_of("http/1.1")});
  expect_rejected(wire_hello(extension(16, vec(2, list))), HelloError::bad_extension);
}

TEST(ClientHelloAlpn, EmptyEntryOrList) {
  expect_rejected(wire_hello(extension(16, vec(2, concat({vec(1, bytes_of("h2")), u8(0)})))),
                  HelloError::bad_extension);
  expect_rejected(wire_hello(extension(16, vec(2, {}))), HelloError::bad_extension);
  expect_rejected(wire_hello(extension(16, {})), HelloError::bad_extension);
}

TEST(ClientHelloSupportedVersions, ParsedAsSent) {
  const Bytes versions = extension(43, supported_versions_data({0x3a3a, 0x0304, 0x0303}));
  const auto r = parse_whole(wire_hello(concat({kSni, versions})));
  ASSERT_EQ(r.status, ParseStatus::done) << r;
  EXPECT_EQ(r.info.versions, (std::vector<std::uint16_t>{0x3a3a, 0x0304, 0x0303}));
}

TEST(ClientHelloSupportedVersions, LengthsLie) {
  expect_rejected(wire_hello(extension(43, {3, 3, 4, 3})), HelloError::bad_extension);  // odd
  expect_rejected(wire_hello(extension(43, {4, 3, 4})), HelloError::bad_extension);     // overflow
  expect_rejected(wire_hello(extension(43, {2, 3, 4, 0})), HelloError::bad_extension);  // trailing
  expect_rejected(wire_hello(extension(43, {0})), HelloError::bad_extension);           // empty
  expect_rejected(wire_hello(extension(43, {})), HelloError::bad_extension);
}

TEST(ClientHelloBounds, TooLargeFromTheDeclaredLength) {
  const Bytes wire = wire_hello(concat({kSni, padding_extension(2000)}));
  EXPECT_EQ(bytes_until_rejected(wire, 1000), 9u);
  const auto r = parse_whole(wire, 1000);
  EXPECT_EQ(r.error, HelloError::too_large);
}

TEST(ClientHelloBounds, TooLargeFromRecordOverhead) {
  // The message fits the bound, but one-byte records multiply the wire size.
  const Bytes message = handshake(1, client_hello_body(kSni));
  const Bytes framed = frame_evenly(message, 1);
  const auto r = parse_whole(framed, message.size() * 2);
  ASSERT_EQ(r.status, ParseStatus::rejected);
  EXPECT_EQ(r.error, HelloError::too_large);
  EXPECT_EQ(parse_whole(framed, framed.size()).status, ParseStatus::done);
}

TEST(ClientHelloBounds, RejectedParserStaysRejected) {
  ClientHelloParser parser(kDefaultMax);
  EXPECT_EQ(parser.feed(bytes_of("GET")), ParseStatus::rejected);
  EXPECT_EQ(parser.feed(wire_hello(kSni)), ParseStatus::rejected);
  EXPECT_EQ(parser.error(), HelloError::not_tls);
}

}  // namespace
}  // namespace sniproxy::protocol::test
