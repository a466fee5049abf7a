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

#include "support/admin_client.hpp"
#include "support/proxy_fixture.hpp"
#include "support/quic_fixture.hpp"
#include "support/udp_peer.hpp"

// Its own namespace: the unity build groups it with quic_listener_test.cpp.
namespace sniproxy::integration::quic_wildcard {
namespace {

using quic_fixture::initial_for;

const Bytes kServerA = {0x5a, 0x5a, 0x0a, 0x02, 0x03, 0x04, 0x05, 0x06};
const Bytes kServerB = {0x5b, 0x5b, 0x0b, 0x02, 0x03, 0x04, 0x05, 0x06};

Endpoint at(const char* ip, std::uint16_t port = 0) {
  return Endpoint{*IpAddress::parse(ip), port};
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

class QuicWildcardTest : public quic_fixture::QuicTest {
 protected:
  FakeQuicBackend a_{kServerA};  // a.quic.test's
  FakeQuicBackend b_{kServerB};  // b.quic.test's

  // The fixture's TLS listener (its readiness probe, on 127.0.0.1) and a
  // QUIC listener on `host` (a wildcard) and the same port, routing
  // a.quic.test to a_ and b.quic.test to b_.
  void start_on(const std::string& host) {
    ConfigSpec spec = quic_config("", host);
    start(spec, {route("a.quic.test", a_), route("b.quic.test", b_)});
  }
  // `client` sends `name`'s hello to `to`: it reaches `backend` unchanged,
  // and the backend's answer comes back from `to`.
  void expect_round_trip(const UdpPeer& client, const Endpoint& to, const std::string& name,
                         const Bytes& dcid, const FakeQuicBackend& backend) {
    const Bytes hello = initial_for(name, dcid);
    Bytes answer;
    ASSERT_NO_FATAL_FAILURE(expect_passed_and_answered(client, to, hello, backend,
                                                       backend.received().size() + 1, answer))
        << name;
    EXPECT_EQ(answer, backend.answer_to(hello));
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
  ASSERT_NO_FATAL_FAILURE(start_on("0.0.0.0"));
  const Endpoint one = at("127.0.0.1", port_);
  const Endpoint two = at("127.0.0.2", port_);
  UdpPeer client_a = connected(at("127.0.0.1"), one);
  UdpPeer client_b = connected(at("127.0.0.1"), two);
  ASSERT_NO_FATAL_FAILURE(
      expect_round_trip(client_a, one, "a.quic.test", {0xa1, 1, 2, 3, 4, 5, 6, 7}, a_));
  ASSERT_NO_FATAL_FAILURE(
      expect_round_trip(client_b, two, "b.quic.test", {0xb1, 1, 2, 3, 4, 5, 6, 7}, b_));
  // The sessions go on: a short header with b's connection ID reaches b,
  // and b's answer comes back from 127.0.0.2.
  Bytes answer;
  ASSERT_NO_FATAL_FAILURE(
      expect_passed_and_answered(client_b, two, short_header_packet(kServerB), b_, 2, answer));
  EXPECT_EQ(a_.received().size(), 1u);

  const AccessEntry e = entry_after_shutdown(client_b);
  EXPECT_EQ(e.count("local") ? e.at("local") : "", two.to_string());
  EXPECT_EQ(e.count("server_name") ? e.at("server_name") : "", "b.quic.test");
}

TEST_P(QuicWildcardTest, OneClientSendingToTwoAddressesHasTwoSessions) {
  ASSERT_NO_FATAL_FAILURE(start_on("0.0.0.0"));
  const Endpoint one = at("127.0.0.1", port_);
  const Endpoint two = at("127.0.0.2", port_);
  // One socket, one port: two 4-tuples, two connections.
  UdpPeer client(at("127.0.0.1"));
  ASSERT_NO_FATAL_FAILURE(
      expect_round_trip(client, one, "a.quic.test", {0xa2, 1, 2, 3, 4, 5, 6, 7}, a_));
  ASSERT_NO_FATAL_FAILURE(
      expect_round_trip(client, two, "b.quic.test", {0xb2, 1, 2, 3, 4, 5, 6, 7}, b_));
  EXPECT_EQ(metric("sniproxy_quic_sessions"), 2);
  EXPECT_EQ(metric("sniproxy_quic_sessions_total"), 2);
  // Each address's datagrams stay with its session.
  ASSERT_TRUE(client.send_to(one, short_header_packet(kServerA)));
  ASSERT_TRUE(a_.wait_for(2, Deadline::in(milliseconds(3'000))));
  auto reply = client.receive(Deadline::in(milliseconds(3'000)));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->from, one);
  EXPECT_EQ(b_.received().size(), 1u);
}

TEST_P(QuicWildcardTest, ADualStackWildcardAnswersIpv6AndIpv4Clients) {
  ASSERT_NO_FATAL_FAILURE(start_on("[::]"));
  const Endpoint six = at("::1", port_);
  const Endpoint four = at("127.0.0.3", port_);
  UdpPeer client6 = connected(at("::1"), six);
  ASSERT_NO_FATAL_FAILURE(
      expect_round_trip(client6, six, "a.quic.test", {0xa3, 1, 2, 3, 4, 5, 6, 7}, a_));
  // An IPv4 client of the IPv6 socket (IPv4-mapped inside): answered from
  // the IPv4 address it sent to.
  UdpPeer client4 = connected(at("127.0.0.1"), four);
  ASSERT_NO_FATAL_FAILURE(
      expect_round_trip(client4, four, "b.quic.test", {0xb3, 1, 2, 3, 4, 5, 6, 7}, b_));
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
