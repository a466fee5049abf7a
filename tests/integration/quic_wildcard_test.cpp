// QUIC listeners on wildcard addresses (0.0.0.0, [::]) through the real
// binary: each datagram names the address the client sent to, and the
// reply leaves from it. The clients here are connected UDP sockets, which
// take datagrams from their peer only: a reply that arrives proves its
// source. One client talking to two of the box's addresses has two
// sessions; a dual-stack [::] listener serves IPv4 clients too, answering
// from the IPv4 address they used; the access log names it (local=). The
// forwarding mode does not apply to UDP: one instantiation, as
// quic_listener_test; the reactor backend is the suite's repeat
// ($SNIPROXY_TEST_REACTOR=epoll).
#include <fmt/format.h>
#include <signal.h>
#include <sys/socket.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "quic_initial_builder.hpp"
#include "support/admin_client.hpp"
#include "support/proxy_fixture.hpp"
#include "support/udp_peer.hpp"

// Its own namespace: the unity build groups it with quic_listener_test.cpp.
namespace sniproxy::integration::quic_wildcard {
namespace {

using protocol::test::crypto_frame;
using protocol::test::InitialSpec;
using protocol::test::padded_initial;
using protocol::test::quic_client_hello;

const Bytes kServerA = {0x5a, 0x5a, 0x0a, 0x02, 0x03, 0x04, 0x05, 0x06};
const Bytes kServerB = {0x5b, 0x5b, 0x0b, 0x02, 0x03, 0x04, 0x05, 0x06};

Endpoint at(const char* ip, std::uint16_t port = 0) {
  return Endpoint{*IpAddress::parse(ip), port};
}

// A client Initial with the whole hello for `name` in one datagram.
Bytes hello_for(const std::string& name, const Bytes& dcid) {
  InitialSpec spec;
  spec.dcid = dcid;
  spec.frames = crypto_frame(0, quic_client_hello(name, 30'000));
  return padded_initial(spec);
}

// A UDP socket bound to `from`, connected to `to`.
UdpPeer connected(const Endpoint& from, const Endpoint& to) {
  UdpPeer peer(from);
  sockaddr_storage ss{};
  const unsigned length = to.to_sockaddr(ss);
  EXPECT_EQ(::connect(peer.fd(), reinterpret_cast<const sockaddr*>(&ss), length), 0)
      << "connect " << to.to_string();
  return peer;
}

class QuicWildcardTest : public ProxyTest {
 protected:
  std::uint16_t admin_port_ = free_port();
  std::uint16_t port_ = 0;  // the TLS listener's (TCP, 127.0.0.1) and the QUIC one's (UDP)

  // The fixture's TLS listener (its readiness probe) and a QUIC listener on
  // `host` (a wildcard) and the same port, routing `routes`.
  void start(const std::string& host, const std::vector<RouteSpec>& routes) {
    ConfigSpec spec = base_config();
    port_ = spec.listeners[0].port;
    spec.listeners.push_back(ListenerSpec{
        .name = "quic", .port = port_, .protocol = "quic", .table = "default", .host = host});
    spec.extra += fmt::format("[admin]\nlisten = \"127.0.0.1:{}\"\n", admin_port_);
    auto& table = spec.table("default");
    table.insert(table.end(), routes.begin(), routes.end());
    start_proxy(spec, {admin_port_});
  }
  double metric(const std::string& key) {
    HttpAnswer a = http_get(admin_port_, "/metrics");
    EXPECT_EQ(a.status, 200) << a.head;
    return parse_exposition(a.body).at(key);
  }
  // `client` sends `name`'s hello to `to`: it reaches `backend` unchanged,
  // and the backend's answer comes back from `to`.
  void expect_round_trip(const UdpPeer& client, const Endpoint& to, const std::string& name,
                         const Bytes& dcid, const FakeQuicBackend& backend) {
    const std::size_t before = backend.received().size();
    const Bytes hello = hello_for(name, dcid);
    ASSERT_TRUE(client.send_to(to, hello));
    ASSERT_TRUE(backend.wait_for(before + 1, Deadline::in(milliseconds(3'000))))
        << name << " via " << to.to_string();
    EXPECT_EQ(backend.received()[before].bytes, hello);
    auto reply = client.receive(Deadline::in(milliseconds(3'000)));
    ASSERT_TRUE(reply) << "no reply from " << to.to_string();
    EXPECT_EQ(reply->from, to);
    EXPECT_EQ(reply->bytes, backend.answer_to(hello));
  }
  // Stops the proxy (every session ends with its access-log line) and
  // returns the line of the session from `client`.
  AccessEntry entry_after_shutdown(const UdpPeer& client) {
    proxy_->signal(SIGTERM);
    EXPECT_EQ(proxy_->wait_exit(milliseconds(5'000)), 0);
    auto entry = wait_access_entry(access_log_path(), client.local().port,
                                   Deadline::in(milliseconds(1'000)));
    EXPECT_TRUE(entry) << "no access-log line for port " << client.local().port;
    return entry.value_or(AccessEntry{});
  }
};

TEST_P(QuicWildcardTest, AnIpv4WildcardAnswersEachClientFromTheAddressItSentTo) {
  FakeQuicBackend a(kServerA);
  FakeQuicBackend b(kServerB);
  ASSERT_NO_FATAL_FAILURE(start("0.0.0.0", {route("a.quic.test", a), route("b.quic.test", b)}));
  const Endpoint one = at("127.0.0.1", port_);
  const Endpoint two = at("127.0.0.2", port_);
  UdpPeer client_a = connected(at("127.0.0.1"), one);
  UdpPeer client_b = connected(at("127.0.0.1"), two);
  ASSERT_NO_FATAL_FAILURE(
      expect_round_trip(client_a, one, "a.quic.test", {0xa1, 1, 2, 3, 4, 5, 6, 7}, a));
  ASSERT_NO_FATAL_FAILURE(
      expect_round_trip(client_b, two, "b.quic.test", {0xb1, 1, 2, 3, 4, 5, 6, 7}, b));
  // The sessions go on: a short header with b's connection ID reaches b,
  // and b's answer comes back from 127.0.0.2.
  const Bytes one_rtt = short_header_packet(kServerB);
  ASSERT_TRUE(client_b.send_to(two, one_rtt));
  ASSERT_TRUE(b.wait_for(2, Deadline::in(milliseconds(3'000))));
  EXPECT_EQ(b.received()[1].bytes, one_rtt);
  auto reply = client_b.receive(Deadline::in(milliseconds(3'000)));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->from, two);
  EXPECT_EQ(a.received().size(), 1u);

  const AccessEntry e = entry_after_shutdown(client_b);
  EXPECT_EQ(e.count("local") ? e.at("local") : "", two.to_string());
  EXPECT_EQ(e.count("server_name") ? e.at("server_name") : "", "b.quic.test");
}

TEST_P(QuicWildcardTest, OneClientSendingToTwoAddressesHasTwoSessions) {
  FakeQuicBackend a(kServerA);
  FakeQuicBackend b(kServerB);
  ASSERT_NO_FATAL_FAILURE(start("0.0.0.0", {route("a.quic.test", a), route("b.quic.test", b)}));
  const Endpoint one = at("127.0.0.1", port_);
  const Endpoint two = at("127.0.0.2", port_);
  // One socket, one port: two 4-tuples, two connections.
  UdpPeer client(at("127.0.0.1"));
  ASSERT_NO_FATAL_FAILURE(
      expect_round_trip(client, one, "a.quic.test", {0xa2, 1, 2, 3, 4, 5, 6, 7}, a));
  ASSERT_NO_FATAL_FAILURE(
      expect_round_trip(client, two, "b.quic.test", {0xb2, 1, 2, 3, 4, 5, 6, 7}, b));
  EXPECT_EQ(metric("sniproxy_quic_sessions"), 2);
  EXPECT_EQ(metric("sniproxy_quic_sessions_total"), 2);
  // Each address's datagrams stay with its session.
  ASSERT_TRUE(client.send_to(one, short_header_packet(kServerA)));
  ASSERT_TRUE(a.wait_for(2, Deadline::in(milliseconds(3'000))));
  auto reply = client.receive(Deadline::in(milliseconds(3'000)));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->from, one);
  EXPECT_EQ(b.received().size(), 1u);
}

TEST_P(QuicWildcardTest, ADualStackWildcardAnswersIpv6AndIpv4Clients) {
  FakeQuicBackend a(kServerA);
  FakeQuicBackend b(kServerB);
  ASSERT_NO_FATAL_FAILURE(start("[::]", {route("a.quic.test", a), route("b.quic.test", b)}));
  const Endpoint six = at("::1", port_);
  const Endpoint four = at("127.0.0.3", port_);
  UdpPeer client6 = connected(at("::1"), six);
  ASSERT_NO_FATAL_FAILURE(
      expect_round_trip(client6, six, "a.quic.test", {0xa3, 1, 2, 3, 4, 5, 6, 7}, a));
  // An IPv4 client of the IPv6 socket (IPv4-mapped inside): answered from
  // the IPv4 address it sent to.
  UdpPeer client4 = connected(at("127.0.0.1"), four);
  ASSERT_NO_FATAL_FAILURE(
      expect_round_trip(client4, four, "b.quic.test", {0xb3, 1, 2, 3, 4, 5, 6, 7}, b));
  EXPECT_EQ(metric("sniproxy_quic_sessions"), 2);

  // Logged as IPv4, as the TCP listeners log their IPv4 clients.
  const AccessEntry e = entry_after_shutdown(client4);
  EXPECT_EQ(e.count("client") ? e.at("client") : "", client4.local().to_string());
  EXPECT_EQ(e.count("local") ? e.at("local") : "", four.to_string());
}

TEST_P(QuicWildcardTest, CheckAcceptsWildcardQuicListeners) {
  ConfigSpec spec = base_config();
  const std::uint16_t port = spec.listeners[0].port;
  spec.listeners.push_back(ListenerSpec{
      .name = "quic4", .port = port, .protocol = "quic", .table = "default", .host = "0.0.0.0"});
  spec.listeners.push_back(ListenerSpec{
      .name = "quic6", .port = port, .protocol = "quic", .table = "default", .host = "[::]"});
  spec.table("default").push_back({.match = "a.quic.test", .backend = "127.0.0.1:4433"});
  write_file(dir_.file("wild.toml"), spec.to_toml());
  auto checked =
      run_command(sniproxy_binary(), {"--check", "--config", dir_.file("wild.toml")}, dir_.path());
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
}

INSTANTIATE_TEST_SUITE_P(Datagrams, QuicWildcardTest, ::testing::Values("copy"), mode_name);

}  // namespace
}  // namespace sniproxy::integration::quic_wildcard
