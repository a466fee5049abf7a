// PROXY protocol v1/v2 headers written to the backend before the client's
// bytes, checked both byte by byte here and with the project's parser.
#include "protocol/proxy_protocol.hpp"
#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class ProxyProtocolTest : public ProxyTest {
 protected:
  struct Seen {
    std::vector<std::uint8_t> bytes;
    Endpoint client;  // the client's local address
    std::vector<std::uint8_t> hello;
  };

  Seen run(const std::string& version, const std::string& name) {
    RecordingBackend backend("ok");
    start_routing({{.match = name, .backend = backend.address(), .proxy_protocol = version}});
    if (HasFatalFailure()) return {};
    Seen s;
    s.hello = hello_for(name);
    UniqueFd c = connect_to(listener_port());
    if (!c) return s;
    s.client = local_endpoint(c.get());
    EXPECT_EQ(send_all(c.get(), s.hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
    std::vector<std::uint8_t> got;
    EXPECT_EQ(read_exact(c.get(), 2, got, Deadline::in(milliseconds(3000))), IoStatus::ok);
    // Header (at most 536 bytes for v2 with our TLV) + hello: wait for the hello's last byte.
    auto seen =
        backend.recording().wait_bytes(0, s.hello.size() + 16, Deadline::in(milliseconds(3000)));
    for (int i = 0; i < 50 && !ends_with(seen.bytes, s.hello); ++i)
      seen =
          backend.recording().wait_bytes(0, seen.bytes.size() + 1, Deadline::in(milliseconds(100)));
    s.bytes = seen.bytes;
    return s;
  }

  static bool ends_with(const std::vector<std::uint8_t>& all,
                        const std::vector<std::uint8_t>& tail) {
    return all.size() >= tail.size() &&
           std::equal(tail.begin(), tail.end(), all.end() - static_cast<long>(tail.size()));
  }
};

TEST_P(ProxyProtocolTest, V1HeaderThenHello) {
  Seen s = run("v1", "pp1.test");
  ASSERT_FALSE(HasFatalFailure());
  const std::string expected_header = "PROXY TCP4 127.0.0.1 127.0.0.1 " +
                                      std::to_string(s.client.port) + " " +
                                      std::to_string(listener_port()) + "\r\n";
  ASSERT_GE(s.bytes.size(), expected_header.size());
  EXPECT_EQ(to_text(std::span(s.bytes.data(), expected_header.size())), expected_header);
  EXPECT_EQ(std::vector<std::uint8_t>(s.bytes.begin() + static_cast<long>(expected_header.size()),
                                      s.bytes.end()),
            s.hello);

  auto parsed = protocol::parse_proxy_header(s.bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->version, 1);
  EXPECT_EQ(parsed->source, s.client);
  EXPECT_EQ(parsed->destination, loopback(listener_port()));
}

TEST_P(ProxyProtocolTest, V2HeaderWithAuthorityThenHello) {
  const std::string name = "pp2.test";
  Seen s = run("v2", name);
  ASSERT_FALSE(HasFatalFailure());
  const std::vector<std::uint8_t> signature{0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                            0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
  ASSERT_GE(s.bytes.size(), 16u + 12u);
  EXPECT_TRUE(std::equal(signature.begin(), signature.end(), s.bytes.begin()));
  EXPECT_EQ(s.bytes[12], 0x21);  // version 2, PROXY
  EXPECT_EQ(s.bytes[13], 0x11);  // AF_INET, STREAM
  const std::size_t len = std::size_t(s.bytes[14]) << 8 | s.bytes[15];
  ASSERT_GE(s.bytes.size(), 16 + len);
  const std::uint8_t* a = s.bytes.data() + 16;
  EXPECT_EQ(std::vector<std::uint8_t>(a, a + 8),
            (std::vector<std::uint8_t>{127, 0, 0, 1, 127, 0, 0, 1}));
  EXPECT_EQ(std::size_t(a[8]) << 8 | a[9], s.client.port);
  EXPECT_EQ(std::size_t(a[10]) << 8 | a[11], listener_port());
  // TLVs after the 12 address bytes: find PP2_TYPE_AUTHORITY (0x02).
  std::string authority;
  for (std::size_t off = 12; off + 3 <= len;) {
    const std::uint8_t type = a[off];
    const std::size_t tlv_len = std::size_t(a[off + 1]) << 8 | a[off + 2];
    if (off + 3 + tlv_len > len) break;
    if (type == 0x02) authority.assign(a + off + 3, a + off + 3 + tlv_len);
    off += 3 + tlv_len;
  }
  EXPECT_EQ(authority, name);
  EXPECT_EQ(std::vector<std::uint8_t>(s.bytes.begin() + static_cast<long>(16 + len), s.bytes.end()),
            s.hello);

  auto parsed = protocol::parse_proxy_header(s.bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->version, 2);
  EXPECT_FALSE(parsed->local);
  EXPECT_EQ(parsed->source, s.client);
  EXPECT_EQ(parsed->destination, loopback(listener_port()));
  EXPECT_EQ(parsed->authority, name);
  EXPECT_EQ(parsed->size, 16 + len);
}

TEST_P(ProxyProtocolTest, HttpListenerV1HeaderThenRequest) {
  RecordingBackend backend;
  ConfigSpec spec = base_config();
  spec.listeners[0].protocol = "http";
  ASSERT_NO_FATAL_FAILURE(start_routing(
      spec, {{.match = "a.test", .backend = backend.address(), .proxy_protocol = "v1"}}));
  UniqueFd c = connect_to(listener_port());
  ASSERT_TRUE(c);
  const std::string request = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
  ASSERT_EQ(send_all(c.get(), request, Deadline::in(milliseconds(3000))), IoStatus::ok);
  const std::string header = "PROXY TCP4 127.0.0.1 127.0.0.1 " +
                             std::to_string(local_endpoint(c.get()).port) + " " +
                             std::to_string(listener_port()) + "\r\n";
  auto seen = backend.recording().wait_bytes(0, header.size() + request.size(),
                                             Deadline::in(milliseconds(3000)));
  EXPECT_EQ(to_text(seen.bytes), header + request);
}

SNIPROXY_INSTANTIATE_FOR_MODES(ProxyProtocolTest);

}  // namespace
}  // namespace sniproxy::integration
