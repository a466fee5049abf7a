// QUIC through the real binary: client Initials sealed by the test-side
// builder, fake UDP backends that record what they get and answer with a
// long header carrying their connection ID. Routing by name, the datagrams
// passed unchanged and in order, replies from the listener's address, the
// server's connection ID learnt for short headers and NAT rebinding, drops
// counted by reason, the pending-flow caps under a flood, idle timeouts with
// their access-log line, and --check. The forwarding mode does not apply to
// UDP: one instantiation; the reactor backend is the suite's repeat
// ($SNIPROXY_TEST_REACTOR=epoll).
#include <fmt/format.h>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "quic_initial_builder.hpp"
#include "support/admin_client.hpp"
#include "support/credentials.hpp"
#include "support/dns_server_thread.hpp"
#include "support/ngtcp2_peers.hpp"
#include "support/pattern.hpp"
#include "support/proxy_fixture.hpp"
#include "support/quic_fixture.hpp"
#include "support/udp_peer.hpp"

namespace sniproxy::integration {
namespace {

using namespace quic_fixture;  // NOLINT(google-build-using-namespace): the suite's fixture

TEST_P(QuicTest, NamesRouteToTheirBackendsAndDatagramsPassUnchanged) {
  FakeQuicBackend a(kServerA);
  FakeQuicBackend b(kServerB);
  ConfigSpec spec = quic_config();
  ASSERT_NO_FATAL_FAILURE(start(spec, {route("a.quic.test", a), route("b.quic.test", b)}));

  // One datagram for a.quic.test: it reaches backend a as sent, and a's
  // answer comes back from the listener's address.
  UdpPeer client_a(local_ip(1));
  const Bytes hello_a = initial_for("a.quic.test", {0xa1, 2, 3, 4, 5, 6, 7, 8});
  Bytes answer;
  ASSERT_NO_FATAL_FAILURE(expect_passed_and_answered(client_a, listener(), hello_a, a, 1, answer));
  EXPECT_EQ(answer, a.answer_to(hello_a));

  // Then a short header with the server's connection ID goes on to a too.
  const Bytes one_rtt = short_header_packet(kServerA);
  ASSERT_TRUE(client_a.send_to(listener(), one_rtt));
  ASSERT_TRUE(a.wait_for(2, Deadline::in(milliseconds(3'000))));
  EXPECT_EQ(a.received()[1].bytes, one_rtt);
  EXPECT_EQ(a.received()[1].from, a.received()[0].from);  // the session's one socket

  // A hello over two datagrams for b.quic.test arrives at b as the same two
  // datagrams, in order, and nothing of it at a.
  UdpPeer client_b(local_ip(1));
  const auto [first, second] = two_datagram_initials("b.quic.test", {0xb1, 2, 3, 4, 5, 6, 7, 8});
  ASSERT_TRUE(client_b.send_to(listener(), first));
  ASSERT_TRUE(client_b.send_to(listener(), second));
  ASSERT_TRUE(b.wait_for(2, Deadline::in(milliseconds(3'000))));
  EXPECT_EQ(b.received()[0].bytes, first);
  EXPECT_EQ(b.received()[1].bytes, second);
  EXPECT_EQ(a.received().size(), 2u);
  EXPECT_TRUE(client_b.receive(Deadline::in(milliseconds(3'000))));

  const Scrape s = scrape();
  EXPECT_EQ(s.at(hellos("routed")), 2);
  EXPECT_EQ(s.at("sniproxy_quic_multi_datagram_hellos_total"), 1);  // b's
  EXPECT_EQ(s.at("sniproxy_quic_sessions"), 2);
  EXPECT_EQ(s.at("sniproxy_quic_sessions_total"), 2);
  EXPECT_EQ(s.at("sniproxy_quic_pending_flows"), 0);
  EXPECT_EQ(s.at("sniproxy_quic_packets_total{direction=\"from_client\"}"), 4);
  EXPECT_GE(s.at("sniproxy_quic_packets_total{direction=\"from_backend\"}"), 2);

  HttpAnswer status = http_get(admin_port_, "/status");
  EXPECT_NE(status.body.find("\"protocol\":\"quic\""), std::string::npos) << status.body;
  EXPECT_NE(status.body.find("\"quic\":{\"sessions\":2"), std::string::npos) << status.body;
  EXPECT_EQ(s.at("sniproxy_listener_forwarding_mode{listener=\"quic\",mode=\"datagram\"}"), 1);
}

TEST_P(QuicTest, NatRebindingKeepsTheSession) {
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = quic_config();
  ASSERT_NO_FATAL_FAILURE(start(spec, {route("a.quic.test", a)}));
  UdpPeer before(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(before, "a.quic.test", {0xa2, 2, 3, 4, 5, 6, 7, 8}));

  // The client's NAT gave it a new address and port.
  UdpPeer after(local_ip(7));
  // The answer goes to the new address.
  Bytes answer;
  ASSERT_NO_FATAL_FAILURE(
      expect_passed_and_answered(after, listener(), short_header_packet(kServerA), a, 2, answer));
  EXPECT_EQ(a.received()[1].from, a.received()[0].from);  // same session socket
  EXPECT_EQ(metric("sniproxy_quic_sessions_total"), 1);
}

TEST_P(QuicTest, AlpnRoutesAndTheFallbackApply) {
  FakeQuicBackend h3(kServerA);
  FakeQuicBackend plain(kServerB);
  FakeQuicBackend fallback({0xfb, 1, 2, 3});
  ConfigSpec spec = quic_config();
  spec.listeners[1].fallback = fallback.address();
  ASSERT_NO_FATAL_FAILURE(
      start(spec, {{.match = "alpn.quic.test", .backend = h3.address(), .alpn = {"h3"}},
                   route("alpn.quic.test", plain)}));
  auto hello_offering = [](std::initializer_list<std::string_view> alpn, const Bytes& dcid) {
    InitialSpec initial;
    initial.dcid = dcid;
    initial.frames = crypto_frame(0, quic_client_hello("alpn.quic.test", 30'000, 0, alpn));
    return padded_initial(initial);
  };
  UdpPeer offers_h3(local_ip(1));
  ASSERT_TRUE(offers_h3.send_to(listener(), hello_offering({"h3"}, {0xd1, 2, 3, 4, 5, 6, 7, 8})));
  ASSERT_TRUE(h3.wait_for(1, Deadline::in(milliseconds(3'000))));
  UdpPeer offers_other(local_ip(1));
  ASSERT_TRUE(
      offers_other.send_to(listener(), hello_offering({"hq-29"}, {0xd2, 2, 3, 4, 5, 6, 7, 8})));
  ASSERT_TRUE(plain.wait_for(1, Deadline::in(milliseconds(3'000))));
  UdpPeer unknown(local_ip(1));
  ASSERT_TRUE(
      unknown.send_to(listener(), initial_for("nobody.quic.test", {0xd3, 2, 3, 4, 5, 6, 7, 8})));
  ASSERT_TRUE(fallback.wait_for(1, Deadline::in(milliseconds(3'000))));
  EXPECT_EQ(h3.received().size(), 1u);
  EXPECT_EQ(plain.received().size(), 1u);
}

TEST_P(QuicTest, UnknownNameWithoutFallbackAndDenyAreDroppedAndCounted) {
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = quic_config();
  ASSERT_NO_FATAL_FAILURE(
      start(spec, {route("a.quic.test", a), {.match = "denied.quic.test", .deny = true}}));
  UdpPeer client(local_ip(1));
  ASSERT_TRUE(client.send_to(listener(), initial_for("other.quic.test", {1, 1, 1, 1, 1, 1, 1, 1})));
  ASSERT_TRUE(metric_reaches(drops("no_route"), 1));
  ASSERT_TRUE(
      client.send_to(listener(), initial_for("denied.quic.test", {2, 2, 2, 2, 2, 2, 2, 2})));
  ASSERT_TRUE(metric_reaches(drops("denied"), 1));
  const Scrape s = scrape();
  EXPECT_EQ(s.at(hellos("no_route")), 1);
  EXPECT_EQ(s.at(hellos("denied")), 1);
  EXPECT_EQ(s.at("sniproxy_quic_sessions_total"), 0);
  EXPECT_FALSE(client.receive(Deadline::in(milliseconds(200))));
  EXPECT_TRUE(a.received().empty());
}

TEST_P(QuicTest, ABadTagCreatesNoFlow) {
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = quic_config();
  ASSERT_NO_FATAL_FAILURE(start(spec, {route("a.quic.test", a)}));
  auto [first, second] = two_datagram_initials("a.quic.test", {0xa3, 2, 3, 4, 5, 6, 7, 8});
  first[first.size() - 1] ^= 0x01;  // the tag's last byte
  UdpPeer client(local_ip(1));
  ASSERT_TRUE(client.send_to(listener(), first));
  ASSERT_TRUE(metric_reaches(drops("bad_tag"), 1));
  const Scrape s = scrape();
  EXPECT_EQ(s.at("sniproxy_quic_pending_flows"), 0);
  EXPECT_EQ(s.at(hellos("routed")) + s.at(hellos("evicted")) + s.at(hellos("timeout")), 0);
  EXPECT_TRUE(a.received().empty());
  // Under 1200 bytes: too_short, no state either.
  ASSERT_TRUE(client.send_to(listener(), Bytes(600, 0xc3)));
  ASSERT_TRUE(metric_reaches(drops("too_short"), 1));
}

TEST_P(QuicTest, AnUnknownVersionIsAnsweredWithVersionNegotiation) {
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = quic_config();
  ASSERT_NO_FATAL_FAILURE(start(spec, {route("a.quic.test", a)}));
  Bytes unknown = {0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 4, 1, 2, 3, 4, 2, 9, 9};
  unknown.resize(1'200, 0);
  UdpPeer client(local_ip(1));
  ASSERT_TRUE(client.send_to(listener(), unknown));
  auto vn = client.receive(Deadline::in(milliseconds(3'000)));
  ASSERT_TRUE(vn);
  ASSERT_GE(vn->bytes.size(), 5u + 1 + 2 + 1 + 4 + 4);
  EXPECT_NE(vn->bytes[0] & 0x80, 0);
  EXPECT_EQ(Bytes(vn->bytes.begin() + 1, vn->bytes.begin() + 5), (Bytes{0, 0, 0, 0}));
  // The IDs come back swapped: the client's SCID {9, 9} is the DCID.
  EXPECT_EQ(Bytes(vn->bytes.begin() + 5, vn->bytes.begin() + 8), (Bytes{2, 9, 9}));
  EXPECT_EQ(metric(drops("unknown_version")), 1);
  EXPECT_EQ(metric("sniproxy_quic_version_negotiations_total"), 1);
  // Rate-limited: a second one within the second is not answered.
  ASSERT_TRUE(client.send_to(listener(), unknown));
  ASSERT_TRUE(metric_reaches(drops("unknown_version"), 2));
  EXPECT_EQ(metric("sniproxy_quic_version_negotiations_total"), 1);
}

TEST_P(QuicTest, AFloodOfInitialsStaysUnderTheCapsAndARealClientIsServedAfter) {
  FakeQuicBackend a(kServerA);
  ConfigSpec spec =
      quic_config("max_pending_flows = 200\nmax_pending_per_source = 8\nhello_timeout = \"10s\"\n");
  ASSERT_NO_FATAL_FAILURE(start(spec, {route("a.quic.test", a)}));
  // 2,000 Initials that each open a flow (half a hello: it waits for more),
  // from 100 addresses of 127.0.0.0/8, 20 ports each.
  const auto [half, rest] = two_datagram_initials("a.quic.test", {0xf1, 2, 3, 4, 5, 6, 7, 8});
  int sent = 0;
  for (int port = 0; port < 20; ++port) {
    for (int source = 0; source < 100; ++source) {
      UdpPeer flooder(local_ip(static_cast<std::uint8_t>(10 + source)));
      if (flooder.send_to(listener(), half)) ++sent;
    }
    // Paced so that the proxy's receive buffer, not its caps, is not what drops them.
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_EQ(sent, 2'000);
  ASSERT_TRUE(metric_reaches(drops("evicted"), 1'000));
  const Deadline settle = Deadline::in(milliseconds(3'000));
  Scrape s = scrape();
  while (!settle.expired()) {
    s = scrape();
    if (s.at(drops("evicted")) + s.at("sniproxy_quic_pending_flows") >= 2'000) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_LE(s.at("sniproxy_quic_pending_flows"), 200);
  EXPECT_EQ(s.at(drops("evicted")), s.at(hellos("evicted")));
  EXPECT_GE(s.at(drops("evicted")) + s.at("sniproxy_quic_pending_flows"), 1'800);
  EXPECT_TRUE(a.received().empty());

  // A real client still gets through.
  UdpPeer client(local_ip(1));
  const Bytes hello = initial_for("a.quic.test", {0xa4, 2, 3, 4, 5, 6, 7, 8});
  ASSERT_TRUE(client.send_to(listener(), hello));
  ASSERT_TRUE(a.wait_for(1, Deadline::in(milliseconds(3'000))));
  EXPECT_EQ(a.received()[0].bytes, hello);
  EXPECT_TRUE(client.receive(Deadline::in(milliseconds(3'000))));
}

TEST_P(QuicTest, AnIdleSessionEndsWithItsAccessLogLine) {
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = quic_config("idle_timeout = \"300ms\"\nmax_idle_timeout = \"300ms\"\n");
  ASSERT_NO_FATAL_FAILURE(start(spec, {route("a.quic.test", a)}));
  UdpPeer client(local_ip(1));
  const Bytes hello = initial_for("a.quic.test", {0xa5, 2, 3, 4, 5, 6, 7, 8}, 200);
  ASSERT_TRUE(client.send_to(listener(), hello));
  ASSERT_TRUE(client.receive(Deadline::in(milliseconds(3'000))));
  auto entry =
      wait_access_entry(access_log_path(), client.local().port, Deadline::in(milliseconds(5'000)));
  ASSERT_TRUE(entry) << "no access-log line for the session";
  auto& e = *entry;
  EXPECT_EQ(e["listener"], "quic");
  EXPECT_EQ(e["server_name"], "a.quic.test");
  EXPECT_EQ(e["backend"], a.address());
  EXPECT_EQ(e["outcome"], "idle_timeout");
  EXPECT_EQ(e["mode"], "datagram");
  EXPECT_EQ(e["bytes_in"], std::to_string(hello.size()));
  EXPECT_EQ(e["bytes_out"], std::to_string(a.answer_to(hello).size()));
  EXPECT_EQ(e["packets_in"], "1");
  EXPECT_EQ(e["packets_out"], "1");
  EXPECT_GE(std::stoll(e["duration_ms"]), 250);
  EXPECT_EQ(metric("sniproxy_quic_sessions"), 0);
  // A datagram after the end is a new flow's business: a (short) short
  // header opens none, so it is dropped, not sent on.
  ASSERT_TRUE(client.send_to(listener(), short_header_packet(kServerA)));
  ASSERT_TRUE(metric_reaches(drops("too_short"), 1));
  EXPECT_EQ(a.received().size(), 1u);
}

TEST_P(QuicTest, ANewInitialFromTheSameAddressStartsANewSession) {
  FakeQuicBackend a(kServerA);
  FakeQuicBackend b(kServerB);
  ConfigSpec spec = quic_config();
  ASSERT_NO_FATAL_FAILURE(start(spec, {route("a.quic.test", a), route("b.quic.test", b)}));
  UdpPeer client(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(client, "a.quic.test", {0xa7, 2, 3, 4, 5, 6, 7, 8}));
  // The same port, a new connection (a new DCID) to another name.
  const Bytes hello_b = initial_for("b.quic.test", {0xb7, 2, 3, 4, 5, 6, 7, 8});
  ASSERT_TRUE(client.send_to(listener(), hello_b));
  ASSERT_TRUE(b.wait_for(1, Deadline::in(milliseconds(3'000))));
  EXPECT_EQ(b.received()[0].bytes, hello_b);
  EXPECT_EQ(a.received().size(), 1u);
  auto entry =
      wait_access_entry(access_log_path(), client.local().port, Deadline::in(milliseconds(3'000)));
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["server_name"], "a.quic.test");
  EXPECT_EQ((*entry)["outcome"], "ok");
  EXPECT_EQ(metric("sniproxy_quic_sessions_total"), 2);
  EXPECT_EQ(metric("sniproxy_quic_sessions"), 1);
}

TEST_P(QuicTest, AReloadRoutesNewFlowsAndKeepsSessions) {
  FakeQuicBackend a(kServerA);
  FakeQuicBackend b(kServerB);
  ConfigSpec spec = quic_config();
  ASSERT_NO_FATAL_FAILURE(start(spec, {route("name.quic.test", a)}));
  UdpPeer early(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(early, "name.quic.test", {0xa8, 2, 3, 4, 5, 6, 7, 8}));

  spec.table("default") = {route("name.quic.test", b)};
  rewrite_config(spec.to_toml());
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(metric_reaches("sniproxy_config_reloads_total{result=\"ok\"}", 1));

  // The session routed before the reload stays with a.
  ASSERT_TRUE(early.send_to(listener(), short_header_packet(kServerA)));
  ASSERT_TRUE(a.wait_for(2, Deadline::in(milliseconds(3'000))));
  // A new flow takes the new route.
  UdpPeer late(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(late, "name.quic.test", {0xb8, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(b.received().size(), 1u);
  EXPECT_EQ(a.received().size(), 2u);
}

TEST_P(QuicTest, APoolSpreadsSessionsOverItsServers) {
  FakeQuicBackend a(kServerA);
  FakeQuicBackend b(kServerB);
  ConfigSpec spec = quic_config();
  spec.extra += fmt::format(
      "[pools.udp]\nservers = [{{ backend = \"{}\" }}, {{ backend = \"{}\" }}]\n"
      "[pools.udp.health]\ncheck = \"none\"\n",
      a.address(), b.address());
  // A balancer is per worker thread (as for TCP): one thread, so that the
  // two sessions take turns in one round robin.
  spec.workers = 1;
  ASSERT_NO_FATAL_FAILURE(start(spec, {{.match = "pool.quic.test", .pool = "udp"}}));
  UdpPeer first(local_ip(1));
  UdpPeer second(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(first, "pool.quic.test", {0xc1, 2, 3, 4, 5, 6, 7, 8}));
  ASSERT_NO_FATAL_FAILURE(open_session(second, "pool.quic.test", {0xc2, 2, 3, 4, 5, 6, 7, 8}));
  // Round robin: one session each.
  EXPECT_EQ(a.received().size(), 1u);
  EXPECT_EQ(b.received().size(), 1u);
}

TEST_P(QuicTest, NamedBackendsAndResolveTargetsAreResolvedPerFlow) {
  FakeQuicBackend named(kServerA);
  FakeQuicBackend resolved(kServerB);
  DnsServerThread dns;
  dns.change([](FakeDnsServer& s) {
    for (const char* name : {"backend.quic.test", "r.quic.test", "guarded.quic.test"}) {
      s.set_behaviour(name, FakeDnsServer::Behaviour::answer);
      s.add(name, IpAddress::v4(127, 0, 0, 1), 60);
    }
    s.set_behaviour("broken.quic.test", FakeDnsServer::Behaviour::servfail);
  });
  const std::uint16_t named_port = Endpoint::parse(named.address())->port;
  const std::uint16_t resolved_port = Endpoint::parse(resolved.address())->port;
  ConfigSpec spec = quic_config();
  spec.extra += "[dns]\nservers = [\"" + dns.endpoint().to_string() + "\"]\ntimeout = \"300ms\"\n";
  ASSERT_NO_FATAL_FAILURE(start(
      spec,
      {{.match = "named.quic.test", .backend = "backend.quic.test:" + std::to_string(named_port)},
       {.match = "r.quic.test", .resolve = resolved_port, .allow_private = true},
       {.match = "guarded.quic.test", .resolve = resolved_port},
       {.match = "broken.quic.test", .backend = "broken.quic.test:1"}}));
  // A hello over two datagrams to a DNS-named backend: both arrive, in order.
  UdpPeer to_named(local_ip(1));
  const auto [first, second] =
      two_datagram_initials("named.quic.test", {0xe1, 2, 3, 4, 5, 6, 7, 8});
  ASSERT_TRUE(to_named.send_to(listener(), first));
  ASSERT_TRUE(to_named.send_to(listener(), second));
  ASSERT_TRUE(named.wait_for(2, Deadline::in(milliseconds(3'000))));
  EXPECT_EQ(named.received()[0].bytes, first);
  EXPECT_EQ(named.received()[1].bytes, second);
  // The requested name itself, resolved (loopback allowed by the route).
  UdpPeer to_resolved(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(to_resolved, "r.quic.test", {0xe2, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(resolved.received().size(), 1u);
  // Without allow_private the open-proxy guard refuses loopback; a name
  // that does not resolve is dropped too.
  UdpPeer guarded(local_ip(1));
  ASSERT_TRUE(
      guarded.send_to(listener(), initial_for("guarded.quic.test", {0xe3, 2, 3, 4, 5, 6, 7, 8})));
  ASSERT_TRUE(metric_reaches(drops("guard_refused"), 1));
  UdpPeer broken(local_ip(1));
  ASSERT_TRUE(
      broken.send_to(listener(), initial_for("broken.quic.test", {0xe4, 2, 3, 4, 5, 6, 7, 8})));
  ASSERT_TRUE(metric_reaches(drops("dns_failed"), 1));
  EXPECT_EQ(resolved.received().size(), 1u);
  EXPECT_EQ(metric("sniproxy_quic_sessions_total"), 2);
}

TEST_P(QuicTest, AnIpv6ListenerServesIpv6Clients) {
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = quic_config();
  spec.listeners[1].host = "[::1]";
  ASSERT_NO_FATAL_FAILURE(start(spec, {route("a.quic.test", a)}));
  const Endpoint six{*IpAddress::parse("::1"), port_};
  UdpPeer client(Endpoint{*IpAddress::parse("::1"), 0});
  Bytes answer;
  ASSERT_NO_FATAL_FAILURE(expect_passed_and_answered(
      client, six, initial_for("a.quic.test", {0xa9, 2, 3, 4, 5, 6, 7, 8}), a, 1, answer));
}

TEST_P(QuicTest, ShutdownEndsLiveSessionsAndExits) {
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = quic_config();
  ASSERT_NO_FATAL_FAILURE(start(spec, {route("a.quic.test", a)}));
  UdpPeer client(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(client, "a.quic.test", {0xa6, 2, 3, 4, 5, 6, 7, 8}));
  proxy_->signal(SIGTERM);
  EXPECT_EQ(proxy_->wait_exit(milliseconds(5'000)), 0);
  auto entry =
      wait_access_entry(access_log_path(), client.local().port, Deadline::in(milliseconds(1'000)));
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "shutdown");
}

TEST_P(QuicTest, CheckAcceptsAQuicConfigAndRefusesWhatUdpCannotDo) {
  ConfigSpec spec = quic_config();
  spec.table("default").push_back({.match = "a.quic.test", .backend = "127.0.0.1:4433"});
  write_file(dir_.file("good.toml"), spec.to_toml());
  auto good =
      run_command(sniproxy_binary(), {"--check", "--config", dir_.file("good.toml")}, dir_.path());
  EXPECT_EQ(good.exit_code, 0) << good.err;

  spec.listeners[1].lines = "mode = \"splice\"\n";
  write_file(dir_.file("bad.toml"), spec.to_toml());
  auto bad =
      run_command(sniproxy_binary(), {"--check", "--config", dir_.file("bad.toml")}, dir_.path());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("'mode' does not apply to a quic listener"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("bad.toml:"), std::string::npos) << bad.err;
}

// The kernel's doubled receive buffer (skmem rb) of the UDP socket with
// local port `local_port` or, when `peer_port` is set, the one connected to
// that port: read with ss(8) (sock_diag), as an operator would; 0 if none.
long quic_listener_receive_buffer(std::uint16_t local_port, std::uint16_t peer_port,
                                  const std::filesystem::path& dir) {
  const std::string filter = peer_port != 0 ? fmt::format("dport = :{}", peer_port)
                                            : fmt::format("sport = :{}", local_port);
  auto listed = run_command("/usr/bin/ss", {"-u", "-a", "-n", "-m", filter}, dir);
  const auto at = listed.out.find("rb");
  return at == std::string::npos ? 0 : std::atol(listed.out.c_str() + at + 2);
}

TEST_P(QuicTest, TheListenerAndSessionSocketsGetTheirBuffer) {
  if (::geteuid() != 0) GTEST_SKIP() << "SO_RCVBUFFORCE needs CAP_NET_ADMIN";
  if (!std::filesystem::exists("/usr/bin/ss")) GTEST_SKIP() << "needs ss (iproute2)";
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = quic_config("socket_buffer = 1234567\n");
  ASSERT_NO_FATAL_FAILURE(start(spec, {route("a.quic.test", a)}));
  UdpPeer client(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(client, "a.quic.test", {0xaa, 2, 3, 4, 5, 6, 7, 8}));
  // Above any usual net.core.rmem_max cap: only the FORCE option gives it.
  EXPECT_EQ(quic_listener_receive_buffer(port_, 0, dir_.path()), 2 * 1'234'567);
  const std::uint16_t backend_port = Endpoint::parse(a.address())->port;
  EXPECT_EQ(quic_listener_receive_buffer(0, backend_port, dir_.path()), 2 * 1'234'567);
  EXPECT_EQ(proxy_->log().find("quic_socket_buffer"), std::string::npos) << proxy_->log();
}

TEST_P(QuicTest, ABufferTheKernelCapsIsNamedOnceWithWhatToRaise) {
  if (::access("/usr/sbin/capsh", X_OK) != 0) GTEST_SKIP() << "needs /usr/sbin/capsh";
  const long rmem_max = std::stol(read_file("/proc/sys/net/core/rmem_max"));
  const long asked = 2 * rmem_max + 65'536;
  if (asked > 256L * 1024 * 1024) GTEST_SKIP() << "net.core.rmem_max is above the key's range";
  // Without CAP_NET_ADMIN (even as root) only the capped options work.
  proxy_binary_ = launcher_script(dir_.file("without-net-admin.sh"),
                                  "/usr/sbin/capsh --drop=cap_net_admin -- -c 'exec \"$0\" \"$@\"'",
                                  sniproxy_binary());
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = quic_config(fmt::format("socket_buffer = {}\n", asked));
  ASSERT_NO_FATAL_FAILURE(start(spec, {route("a.quic.test", a)}));
  UdpPeer client(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(client, "a.quic.test", {0xab, 2, 3, 4, 5, 6, 7, 8}));
  UdpPeer second(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(second, "a.quic.test", {0xac, 2, 3, 4, 5, 6, 7, 8}));
  const std::string line = fmt::format(
      "event=quic_socket_buffer socket=listener:quic asked={} receive={}", asked, rmem_max);
  EXPECT_TRUE(proxy_->wait_for_log(line, Deadline::in(milliseconds(1'000)))) << proxy_->log();
  EXPECT_NE(proxy_->log().find(fmt::format("raise net.core.rmem_max={}", asked)), std::string::npos)
      << proxy_->log();
  // The sessions' sockets are short too: one line for all of them.
  EXPECT_EQ(count_occurrences(proxy_->log(), "quic_socket_buffer socket=session"), 1)
      << proxy_->log();
  EXPECT_EQ(quic_listener_receive_buffer(port_, 0, dir_.path()), 2 * rmem_max);
}

// Optional: Debian's ngtcp2 example client and server (packages
// ngtcp2-client, ngtcp2-server), a real QUIC handshake and HTTP/3 download
// through the proxy. Their client (0.12) sends the SNI "localhost" for a
// numeric host whatever --sni says, so this routes that name; names from a
// hosts file, loss and rebinding are quic_real_client_test.cpp's.
TEST_P(QuicTest, ARealHttp3ClientDownloadsThroughTheProxy) {
  if (!ngtcp2_installed()) GTEST_SKIP() << "ngtcp2-client and ngtcp2-server are not installed";
  ASSERT_EQ(make_localhost_certificate(dir_.path()), "");
  std::filesystem::create_directories(dir_.file("htdocs"));
  std::filesystem::create_directories(dir_.file("download"));
  std::filesystem::create_directories(dir_.file("h3server"));
  const Bytes blob = pattern_bytes(24, 1 << 20);
  write_file(dir_.file("htdocs") / "blob", to_text(blob));
  // The server as a child the fixture's process class owns (killed at the
  // end): a script, since that class passes --config to what it starts.
  const std::uint16_t server_port = free_port();
  const auto script =
      write_h3_server_script(dir_.path(), dir_.file("htdocs"), "127.0.0.1", server_port);
  ProxyProcess server(script.string(), config_path(), dir_.file("h3server"));
  ASSERT_EQ(server.start({}), "");

  ConfigSpec spec = quic_config();
  ASSERT_NO_FATAL_FAILURE(
      start(spec, {{.match = "localhost", .backend = fmt::format("127.0.0.1:{}", server_port)}}));
  auto got = run_command(
      kNgtcp2Client,
      {"-q", "--exit-on-all-streams-close", "--download=" + dir_.file("download").string(),
       "127.0.0.1", std::to_string(port_), "https://localhost/blob"},
      dir_.path(), milliseconds(20'000));
  EXPECT_EQ(got.exit_code, 0) << got.err << got.out;
  EXPECT_EQ(read_file(dir_.file("download") / "blob"), to_text(blob));
  const Scrape s = scrape();
  EXPECT_EQ(s.at("sniproxy_quic_sessions_total"), 1);
  EXPECT_GE(s.at("sniproxy_quic_bytes_total{direction=\"from_backend\"}"), 1 << 20);
}

INSTANTIATE_TEST_SUITE_P(Datagrams, QuicTest, ::testing::Values("copy"), mode_name);

}  // namespace
}  // namespace sniproxy::integration
