// bpf::session_entries: the two map entries of a session, byte for byte,
// and the sessions the fast path refuses. Pure: no root needed.
#include "bpf/quic_fast_path/session_entries.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>

#include <gtest/gtest.h>

namespace sniproxy::bpf {
namespace {

Endpoint at(std::string_view text) {
  return Endpoint::parse(text).value();
}

FastPathSession v4_session() {
  FastPathSession s;
  s.client_side = {at("192.0.2.7:50000"), at("10.0.0.1:443")};
  s.backend_side = {at("10.1.0.1:40001"), at("10.1.0.9:8443")};
  s.client_ifindex = 3;
  s.backend_ifindex = 4;
  return s;
}

TEST(QuicSessionEntries, ClientSideIsRewrittenToTheBackendSide) {
  auto entries = session_entries(v4_session());
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  const sniproxy_quic_fp_key& key = entries->to_backend_key;
  EXPECT_EQ(key.family, static_cast<__u32>(AF_INET));
  const std::uint8_t client[16] = {192, 0, 2, 7};
  const std::uint8_t listener[16] = {10, 0, 0, 1};
  EXPECT_EQ(std::memcmp(key.src_addr, client, 16), 0);
  EXPECT_EQ(std::memcmp(key.dst_addr, listener, 16), 0);
  EXPECT_EQ(key.src_port, htons(50000));
  EXPECT_EQ(key.dst_port, htons(443));
  const sniproxy_quic_fp_flow& flow = entries->to_backend;
  const std::uint8_t session[16] = {10, 1, 0, 1};
  const std::uint8_t backend[16] = {10, 1, 0, 9};
  EXPECT_EQ(std::memcmp(flow.new_src_addr, session, 16), 0);
  EXPECT_EQ(std::memcmp(flow.new_dst_addr, backend, 16), 0);
  EXPECT_EQ(flow.new_src_port, htons(40001));
  EXPECT_EQ(flow.new_dst_port, htons(8443));
  EXPECT_EQ(flow.ifindex, 4u);
  EXPECT_EQ(flow.packets, 0u);
  EXPECT_EQ(flow.last_seen_ns, 0u);
}

TEST(QuicSessionEntries, BackendRepliesAreRewrittenToComeFromTheListener) {
  auto entries = session_entries(v4_session());
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  const sniproxy_quic_fp_key expected = flow_key_bytes({at("10.1.0.9:8443"), at("10.1.0.1:40001")});
  EXPECT_EQ(std::memcmp(&entries->to_client_key, &expected, sizeof(expected)), 0);
  const sniproxy_quic_fp_flow& flow = entries->to_client;
  const std::uint8_t listener[16] = {10, 0, 0, 1};
  const std::uint8_t client[16] = {192, 0, 2, 7};
  EXPECT_EQ(std::memcmp(flow.new_src_addr, listener, 16), 0);
  EXPECT_EQ(std::memcmp(flow.new_dst_addr, client, 16), 0);
  EXPECT_EQ(flow.new_src_port, htons(443));
  EXPECT_EQ(flow.new_dst_port, htons(50000));
  EXPECT_EQ(flow.ifindex, 3u);
}

TEST(QuicSessionEntries, Ipv6KeysCarryAllSixteenBytes) {
  FastPathSession s;
  s.client_side = {at("[2001:db8::7]:50000"), at("[2001:db8::1]:443")};
  s.backend_side = {at("[fd00::1]:40001"), at("[fd00::9]:8443")};
  s.client_ifindex = 1;
  s.backend_ifindex = 1;
  auto entries = session_entries(s);
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  EXPECT_EQ(entries->to_backend_key.family, static_cast<__u32>(AF_INET6));
  EXPECT_EQ(entries->to_backend_key.src_addr[15], 7);
  EXPECT_EQ(entries->to_backend.new_dst_addr[15], 9);
  EXPECT_EQ(entries->to_backend.new_dst_addr[0], 0xfd);
}

TEST(QuicSessionEntries, RefusesWhatThePathCannotCarry) {
  auto refused = [](FastPathSession s, std::string_view why) {
    auto entries = session_entries(s);
    ASSERT_FALSE(entries.ok()) << why;
    EXPECT_NE(entries.error().message.find(why), std::string::npos) << entries.error().message;
  };
  FastPathSession mixed = v4_session();
  mixed.backend_side.destination = at("[fd00::9]:8443");
  refused(mixed, "does not translate between IPv4 and IPv6");
  FastPathSession unspecified = v4_session();
  unspecified.backend_side.source = at("0.0.0.0:40001");
  refused(unspecified, "unspecified");
  FastPathSession no_port = v4_session();
  no_port.client_side.source.port = 0;
  refused(no_port, "port 0");
  FastPathSession no_device = v4_session();
  no_device.backend_ifindex = 0;
  refused(no_device, "ifindex");
  FastPathSession loop = v4_session();
  loop.backend_side = {loop.client_side.destination, loop.client_side.source};
  refused(loop, "same flow");
}

}  // namespace
}  // namespace sniproxy::bpf
