// The health checker's ClientHello, read back by the proxy's own parser.
#include "protocol/client_hello_writer.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "protocol/client_hello.hpp"

namespace sniproxy::protocol {
namespace {

ClientHelloParser parsed(const std::vector<std::uint8_t>& record) {
  ClientHelloParser parser(16 * 1024);
  EXPECT_EQ(parser.feed(record), ParseStatus::done);
  return parser;
}

TEST(ClientHelloWriter, ParsesBackWithServerNameAndTls13) {
  ClientHelloSpec spec{.server_name = "health.example.com"};
  spec.random.fill(0xab);
  spec.x25519_key.fill(0x42);
  const auto record = client_hello_record(spec);
  ASSERT_GE(record.size(), 5u);
  EXPECT_EQ(record[0], 22);
  EXPECT_EQ(record.size(), 5u + (std::size_t{record[3]} << 8 | record[4]));

  const auto parser = parsed(record);
  EXPECT_EQ(parser.info().server_name, "health.example.com");
  EXPECT_EQ(parser.info().legacy_version, 0x0303);
  const auto& versions = parser.info().versions;
  EXPECT_NE(std::find(versions.begin(), versions.end(), 0x0304), versions.end());
}

TEST(ClientHelloWriter, NoServerNameLeavesSniOut) {
  const auto parser = parsed(client_hello_record(ClientHelloSpec{}));
  EXPECT_FALSE(parser.info().server_name.has_value());
}

}  // namespace
}  // namespace sniproxy::protocol
