// QUIC listeners run as TCP ones do: under [process] master = true the
// master binds the UDP socket and passes it to each worker generation, and
// systemd's ListenDatagram= sockets (faked with systemd-socket-activate -d)
// go to the quic listener with their address. The forwarding mode does not
// apply to UDP: one instantiation; the reactor backend is the suite's
// repeat ($SNIPROXY_TEST_REACTOR=epoll).
#include <fmt/format.h>

#include <signal.h>
#include <unistd.h>

#include <thread>

#include "support/access_log.hpp"

#include "support/admin_client.hpp"
#include "support/credentials.hpp"
#include "support/proxy_fixture.hpp"
#include "support/quic_fixture.hpp"
#include "support/udp_peer.hpp"

// A namespace of its own: the unity build puts this file beside the other
// QUIC suites, whose fixtures' names it could meet.
namespace sniproxy::integration::quic_master {
namespace {

using quic_fixture::kServerA;
using quic_fixture::kServerB;
using quic_fixture::local_ip;

constexpr const char* kActivator = "/usr/bin/systemd-socket-activate";

class QuicMasterTest : public quic_fixture::QuicTest {
 protected:
  // quic_config() and its routes.
  ConfigSpec master_config(const std::vector<RouteSpec>& routes, const std::string& quic = "",
                           const std::string& quic_host = "127.0.0.1") {
    ConfigSpec spec = quic_config(quic, quic_host);
    add_routes(spec, routes);
    return spec;
  }
  // A 1-RTT datagram of `client`'s session with `backend`: it reaches the
  // backend as its `nth` datagram, from the session's one socket, and the
  // answer comes back from the listener's address.
  void one_rtt_round_trip(const UdpPeer& client, const FakeQuicBackend& backend, std::size_t nth) {
    const Bytes one_rtt = short_header_packet(backend.scid(), 40 + nth);
    ASSERT_TRUE(client.send_to(listener(), one_rtt));
    ASSERT_TRUE(backend.wait_for(nth, Deadline::in(milliseconds(3'000)))) << proxy_->log();
    const auto got = backend.received();
    EXPECT_EQ(got[nth - 1].bytes, one_rtt);
    EXPECT_EQ(got[nth - 1].from, got[0].from);
    auto reply = client.receive(Deadline::in(milliseconds(3'000)));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->from, listener());
    EXPECT_EQ(reply->bytes, backend.answer_to(one_rtt));
  }
  // Under the master, once its first generation is ready.
  void start_master(ConfigSpec& spec) {
    spec.process += "master = true\n";
    ASSERT_NO_FATAL_FAILURE(start_proxy(spec, {admin_port_}));
    ASSERT_TRUE(proxy_->wait_for_log("event=generation_ready generation=1",
                                     Deadline::in(milliseconds(60'000))))
        << proxy_->log();
  }
  // Starts `launcher` (a systemd-socket-activate line) before the binary.
  void start_activated(const ConfigSpec& spec, const std::string& launcher) {
    write_file(config_path(), spec.to_toml());
    const std::string script =
        launcher_script(dir_.file("activate.sh"), launcher, sniproxy_binary());
    proxy_ = std::make_unique<ProxyProcess>(script, config_path(), dir_.path());
    ASSERT_EQ(proxy_->start({port_, admin_port_}), "");
  }
  std::string activate_both(std::uint16_t port) {
    // The outer one passes its stream socket through the inner one, which
    // adds the datagram socket: as a .socket unit with ListenStream= and
    // ListenDatagram= on one port.
    return fmt::format("{0} -l 127.0.0.1:{1} --fdname=tls -- {0} -d -l 127.0.0.1:{1} --fdname=quic",
                       kActivator, port);
  }
};

TEST_P(QuicMasterTest, ASessionThroughTheMastersWorkerRoutesByName) {
  FakeQuicBackend a(kServerA);
  FakeQuicBackend b(kServerB);
  ConfigSpec spec = master_config({route("a.quic.test", a), route("b.quic.test", b)});
  ASSERT_NO_FATAL_FAILURE(start_master(spec));
  EXPECT_NE(proxy_->log().find("listener=quic address=" + listener().to_string() +
                               " protocol=quic socket=passed"),
            std::string::npos)
      << proxy_->log();

  UdpPeer client_a(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(client_a, "a.quic.test", {0xa1, 2, 3, 4, 5, 6, 7, 8}));
  ASSERT_NO_FATAL_FAILURE(one_rtt_round_trip(client_a, a, 2));

  UdpPeer client_b(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(client_b, "b.quic.test", {0xb1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(b.received().size(), 1u);
  EXPECT_EQ(a.received().size(), 2u);
  EXPECT_EQ(metric("sniproxy_quic_sessions_total"), 2);
}

// An upgrade in the middle of a session: the new generation's worker reads
// the shared UDP socket and hands the session's datagrams to the old one,
// which still owns the session (the same backend socket) and replies from
// the listener's address until the session goes idle; a new session after
// the upgrade is the new worker's.
TEST_P(QuicMasterTest, AnUpgradeKeepsASessionOnTheOldWorker) {
  FakeQuicBackend a(kServerA);
  FakeQuicBackend b(kServerB);
  ConfigSpec spec = master_config({route("a.quic.test", a), route("b.quic.test", b)},
                                  "idle_timeout = \"3s\"\nmax_idle_timeout = \"3s\"\n");
  spec.shutdown_timeout = "20s";
  spec.workers = 2;
  ASSERT_NO_FATAL_FAILURE(start_master(spec));
  // The master's one UDP socket: one of the two threads serves it (the
  // hand-over reads and relays for one thread; docs/quic.md).
  EXPECT_TRUE(proxy_->wait_for_log("event=quic_threads threads=1 worker=0 reason=passed_socket",
                                   Deadline::in(milliseconds(1'000))))
      << proxy_->log();
  UdpPeer client_a(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(client_a, "a.quic.test", {0xa4, 2, 3, 4, 5, 6, 7, 8}));
  ASSERT_EQ(a.received().size(), 1u);

  proxy_->signal(SIGUSR2);
  ASSERT_TRUE(proxy_->wait_for_log("event=generation_ready generation=2",
                                   Deadline::in(milliseconds(60'000))))
      << proxy_->log();
  ASSERT_TRUE(proxy_->wait_for_log("event=quic_handover result=started worker=0 sessions=1",
                                   Deadline::in(milliseconds(10'000))))
      << proxy_->log();
  // (The old worker's cancelled receive may still take a datagram sent at
  // this very moment; later ones are the new worker's to hand over.)
  std::this_thread::sleep_for(milliseconds(200));

  // The session's 1-RTT datagrams, after the upgrade: on to the same
  // backend socket, and the answers come back from the listener's address.
  ASSERT_NO_FATAL_FAILURE(one_rtt_round_trip(client_a, a, 2));
  ASSERT_NO_FATAL_FAILURE(one_rtt_round_trip(client_a, a, 3));

  // A new session is the new worker's (its metrics are the admin
  // endpoint's now): one session there, and the two datagrams handed over.
  UdpPeer client_b(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(client_b, "b.quic.test", {0xb4, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(metric("sniproxy_quic_sessions_total"), 1);
  EXPECT_EQ(metric("sniproxy_quic_handover_datagrams_total{outcome=\"handed\"}"), 2);
  EXPECT_EQ(a.received().size(), 3u);

  // The old session ends idle in the old worker, which then exits.
  ASSERT_TRUE(
      proxy_->wait_for_log("event=quic_handover result=ended worker=0 reason=sessions_ended "
                           "delivered=2 unplaced=0",
                           Deadline::in(milliseconds(10'000))))
      << proxy_->log();
  ASSERT_TRUE(
      proxy_->wait_for_log("event=worker_exited generation=1", Deadline::in(milliseconds(10'000))))
      << proxy_->log();
  auto entry = access_entry(client_a.local().port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["server_name"], "a.quic.test");
  EXPECT_EQ((*entry)["outcome"], "idle_timeout");
  EXPECT_EQ((*entry)["packets_in"], "3");
  EXPECT_EQ((*entry)["packets_out"], "3");
  // Once the old worker is gone the new one stops handing over: a stray
  // short header is dropped, not sent anywhere.
  ASSERT_TRUE(client_a.send_to(listener(), short_header_packet(kServerA)));
  ASSERT_TRUE(proxy_->wait_for_log("event=quic_handover result=ended side=successor",
                                   Deadline::in(milliseconds(5'000))))
      << proxy_->log();
  EXPECT_EQ(a.received().size(), 3u);
  // (b's session has gone idle meanwhile too) A new one still opens.
  UdpPeer client_c(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(client_c, "b.quic.test", {0xb5, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(metric("sniproxy_quic_sessions_total"), 2);
}

// The same through a wildcard listener: the hand-over names the address the
// client sent to, so the old worker finds the session (keyed by it) and
// answers from it (one_rtt_round_trip checks the reply's source).
TEST_P(QuicMasterTest, AnUpgradeKeepsAWildcardListenersSessionOnTheOldWorker) {
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = master_config({route("a.quic.test", a)},
                                  "idle_timeout = \"3s\"\nmax_idle_timeout = \"3s\"\n", "0.0.0.0");
  spec.shutdown_timeout = "20s";
  sent_to_ = IpAddress::v4(127, 0, 0, 2);
  ASSERT_NO_FATAL_FAILURE(start_master(spec));
  UdpPeer client(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(client, "a.quic.test", {0xa7, 2, 3, 4, 5, 6, 7, 8}));

  proxy_->signal(SIGUSR2);
  ASSERT_TRUE(proxy_->wait_for_log("event=quic_handover result=started worker=0 sessions=1",
                                   Deadline::in(milliseconds(60'000))))
      << proxy_->log();
  std::this_thread::sleep_for(milliseconds(200));
  ASSERT_NO_FATAL_FAILURE(one_rtt_round_trip(client, a, 2));
  ASSERT_TRUE(
      proxy_->wait_for_log("event=quic_handover result=ended worker=0 reason=sessions_ended "
                           "delivered=1 unplaced=0",
                           Deadline::in(milliseconds(10'000))))
      << proxy_->log();
  auto entry = access_entry(client.local().port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["local"], listener().to_string());
}

// Two upgrades within one drain: the newest worker hands the oldest
// session's datagrams to the middle one, which has no session for them and
// passes them on to the oldest; each drained worker ends its hand-over once
// nothing can reach it any more.
TEST_P(QuicMasterTest, TwoUpgradesWithinADrainRelayToTheOldestWorker) {
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = master_config({route("a.quic.test", a)},
                                  "idle_timeout = \"5s\"\nmax_idle_timeout = \"5s\"\n");
  spec.shutdown_timeout = "30s";
  ASSERT_NO_FATAL_FAILURE(start_master(spec));
  UdpPeer client(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(client, "a.quic.test", {0xa6, 2, 3, 4, 5, 6, 7, 8}));
  for (int generation = 2; generation <= 3; ++generation) {
    proxy_->signal(SIGUSR2);
    ASSERT_TRUE(
        proxy_->wait_for_log(fmt::format("event=generation_ready generation={}", generation),
                             Deadline::in(milliseconds(60'000))))
        << proxy_->log();
    ASSERT_TRUE(proxy_->wait_for_log("event=quic_handover result=started",
                                     Deadline::in(milliseconds(10'000)), generation - 1))
        << proxy_->log();
    std::this_thread::sleep_for(milliseconds(200));
    ASSERT_NO_FATAL_FAILURE(one_rtt_round_trip(client, a, generation));
  }
  EXPECT_EQ(metric("sniproxy_quic_handover_datagrams_total{outcome=\"handed\"}"), 1);
  EXPECT_EQ(metric("sniproxy_quic_sessions_total"), 0);
  // The oldest delivered both; the middle one none of its own, and it lasts
  // until the oldest is gone.
  ASSERT_TRUE(proxy_->wait_for_log("reason=sessions_ended delivered=2 unplaced=0",
                                   Deadline::in(milliseconds(15'000))))
      << proxy_->log();
  ASSERT_TRUE(proxy_->wait_for_log("reason=sessions_ended delivered=0 unplaced=0",
                                   Deadline::in(milliseconds(10'000))))
      << proxy_->log();
  ASSERT_TRUE(
      proxy_->wait_for_log("event=worker_exited generation=2", Deadline::in(milliseconds(10'000))))
      << proxy_->log();
  const std::string log = proxy_->log();
  EXPECT_LT(log.find("event=worker_exited generation=1"),
            log.find("event=worker_exited generation=2"))
      << log;
  auto entry = access_entry(client.local().port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["packets_in"], "3");
}

// A stop is no upgrade: the worker ends its QUIC sessions at once.
TEST_P(QuicMasterTest, AStopEndsQuicSessionsWithoutAHandOver) {
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = master_config({route("a.quic.test", a)});
  ASSERT_NO_FATAL_FAILURE(start_master(spec));
  UdpPeer client(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(client, "a.quic.test", {0xa5, 2, 3, 4, 5, 6, 7, 8}));
  proxy_->signal(SIGTERM);
  auto code = proxy_->wait_exit(milliseconds(10'000));
  ASSERT_TRUE(code.has_value()) << proxy_->log();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(proxy_->log().find("quic_handover"), std::string::npos) << proxy_->log();
  auto entry = access_entry(client.local().port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "shutdown");
}

TEST_P(QuicMasterTest, SystemdsDatagramSocketServesTheQuicListener) {
  if (::access(kActivator, X_OK) != 0) GTEST_SKIP() << "needs " << kActivator << " (systemd)";
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = master_config({route("a.quic.test", a)});
  ASSERT_NO_FATAL_FAILURE(start_activated(spec, activate_both(port_)));
  ASSERT_TRUE(
      proxy_->wait_for_log("protocol=quic socket=passed", Deadline::in(milliseconds(30'000))))
      << proxy_->log();
  const std::string log = proxy_->log();
  // systemd's one socket, with no SO_REUSEPORT: one thread reads it.
  EXPECT_NE(log.find("event=quic_threads threads=1 worker=0 reason=passed_socket"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("event=listener_passed listener=quic"), std::string::npos) << log;
  EXPECT_NE(log.find("event=listener_passed listener=tls"), std::string::npos) << log;
  EXPECT_EQ(log.find("socket=bound"), std::string::npos) << log;
  EXPECT_EQ(log.find("listener_passed_unused"), std::string::npos) << log;
  UdpPeer client(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(client, "a.quic.test", {0xa2, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(a.received().size(), 1u);
}

// Under a master, systemd's datagram socket goes to the master, which
// passes it to the worker as it does a stream one.
TEST_P(QuicMasterTest, AMasterPassesSystemdsDatagramSocket) {
  if (::access(kActivator, X_OK) != 0) GTEST_SKIP() << "needs " << kActivator << " (systemd)";
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = master_config({route("a.quic.test", a)});
  spec.process += "master = true\n";
  ASSERT_NO_FATAL_FAILURE(start_activated(spec, activate_both(port_)));
  ASSERT_TRUE(proxy_->wait_for_log("event=generation_ready generation=1",
                                   Deadline::in(milliseconds(60'000))))
      << proxy_->log();
  EXPECT_EQ(proxy_->log().find("socket=bound"), std::string::npos) << proxy_->log();
  EXPECT_NE(proxy_->log().find("protocol=quic socket=passed"), std::string::npos) << proxy_->log();
  UdpPeer client(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(client, "a.quic.test", {0xa3, 2, 3, 4, 5, 6, 7, 8}));
}

// A stream socket where the config has only a quic listener is a mistake
// in the .socket unit (ListenStream= for ListenDatagram=): the start fails
// and says so.
TEST_P(QuicMasterTest, AStreamSocketForAQuicListenerIsAnError) {
  if (::access(kActivator, X_OK) != 0) GTEST_SKIP() << "needs " << kActivator << " (systemd)";
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = master_config({route("a.quic.test", a)});
  const std::uint16_t quic_port = free_port();
  spec.listeners[1].port = quic_port;
  write_file(config_path(), spec.to_toml());
  const std::string script = launcher_script(
      dir_.file("activate.sh"),
      fmt::format("{} -l 127.0.0.1:{} -l 127.0.0.1:{}", kActivator, port_, quic_port),
      sniproxy_binary());
  proxy_ = std::make_unique<ProxyProcess>(script, config_path(), dir_.path());
  // The activator starts the proxy at the probe's connection; it exits.
  (void)proxy_->start({port_}, milliseconds(5'000));
  auto code = proxy_->wait_exit(milliseconds(30'000));
  ASSERT_TRUE(code.has_value()) << proxy_->log();
  EXPECT_NE(*code, 0);
  proxy_->signal(SIGTERM);  // (exited already) its exit was the point
  const std::string expected = fmt::format(
      "on 127.0.0.1:{} is a TCP (ListenStream=) socket, but listener 'quic' there is a quic "
      "listener and needs a ListenDatagram= socket",
      quic_port);
  EXPECT_NE(proxy_->log().find(expected), std::string::npos) << proxy_->log();
}

INSTANTIATE_TEST_SUITE_P(Datagrams, QuicMasterTest, ::testing::Values("copy"), mode_name);

}  // namespace
}  // namespace sniproxy::integration::quic_master
