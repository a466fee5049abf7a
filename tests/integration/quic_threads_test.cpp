// QUIC listeners served by every worker thread (docs/quic.md, "Every worker
// thread"): with workers = 2 each thread has its own socket in the
// listener's SO_REUSEPORT group. Many clients are all served and spread
// over both threads (/status's thread_sessions); a client whose new port
// lands on the other thread keeps its session (the datagram is passed to
// the owner, which replies from the listener's address); max_sessions and
// max_pending_flows bound the process, not each thread. The forwarding mode
// does not apply to UDP: one instantiation; the reactor is the suite's
// repeat ($SNIPROXY_TEST_REACTOR=epoll).
#include <fmt/format.h>

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "support/quic_fixture.hpp"

namespace sniproxy::integration {
namespace {

using quic_fixture::initial_for;
using quic_fixture::kServerA;
using quic_fixture::local_ip;
using quic_fixture::two_datagram_initials;

class QuicThreadsTest : public quic_fixture::QuicTest {
 protected:
  ConfigSpec two_workers(const std::string& quic_section = "") {
    ConfigSpec spec = quic_config(quic_section);
    spec.workers = 2;
    return spec;
  }
  // /status's "thread_sessions":[a,b].
  std::vector<int> thread_sessions() {
    HttpAnswer status = http_get(admin_port_, "/status");
    std::smatch m;
    static const std::regex kThreads("\"thread_sessions\":\\[([0-9]+),([0-9]+)\\]");
    if (!std::regex_search(status.body, m, kThreads)) {
      ADD_FAILURE() << status.body;
      return {};
    }
    return {std::stoi(m[1]), std::stoi(m[2])};
  }
  static Bytes dcid_of(int i) { return {0xd0, static_cast<std::uint8_t>(i), 3, 4, 5, 6, 7, 8}; }
};

TEST_P(QuicThreadsTest, ManyClientsAreAllServedOnBothThreads) {
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = two_workers();
  ASSERT_NO_FATAL_FAILURE(start(spec, {route("a.quic.test", a)}));
  EXPECT_TRUE(proxy_->wait_for_log("event=quic_threads threads=2 socket=reuseport_group",
                                   Deadline::in(milliseconds(1'000))))
      << proxy_->log();
  // 32 source ports: the kernel's hash of each 4-tuple picks the thread.
  constexpr int kClients = 32;
  std::vector<std::unique_ptr<UdpPeer>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<UdpPeer>(local_ip(1)));
    ASSERT_NO_FATAL_FAILURE(open_session(*clients.back(), "a.quic.test", dcid_of(i)));
  }
  const Scrape s = scrape();
  EXPECT_EQ(s.at("sniproxy_quic_sessions"), kClients);
  EXPECT_EQ(s.at("sniproxy_quic_sessions_total"), kClients);
  EXPECT_EQ(s.at(hellos("routed")), kClients);
  const std::vector<int> per_thread = thread_sessions();
  ASSERT_EQ(per_thread.size(), 2u);
  EXPECT_EQ(per_thread[0] + per_thread[1], kClients);
  // 32 hashed ports all on one thread: 2 in 2^32.
  EXPECT_GT(per_thread[0], 0);
  EXPECT_GT(per_thread[1], 0);
  // Each client's next datagram reaches its session (on whichever thread).
  for (int i = 0; i < kClients; ++i) {
    ASSERT_TRUE(clients[i]->send_to(listener(), short_header_packet(kServerA)));
    ASSERT_TRUE(clients[i]->receive(Deadline::in(milliseconds(3'000)))) << i;
  }
  EXPECT_EQ(metric("sniproxy_quic_packets_total{direction=\"from_client\"}"), 2 * kClients);
  EXPECT_EQ(metric("sniproxy_quic_thread_datagrams_total{outcome=\"passed\"}"), 0);
}

TEST_P(QuicThreadsTest, ARebindingOntoTheOtherThreadKeepsTheSession) {
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = two_workers();
  ASSERT_NO_FATAL_FAILURE(start(spec, {route("a.quic.test", a)}));
  UdpPeer first(local_ip(1));
  ASSERT_NO_FATAL_FAILURE(open_session(first, "a.quic.test", dcid_of(1)));
  // New ports (the NAT rebinding again) until one lands on the thread
  // without the session: bounded, each try is one rebinding that must keep
  // the session whichever thread receives it.
  const std::string passed = "sniproxy_quic_thread_datagrams_total{outcome=\"passed\"}";
  std::vector<std::unique_ptr<UdpPeer>> ports;
  std::size_t forwarded = 1;
  for (int attempt = 0; attempt < 64 && metric(passed) == 0; ++attempt) {
    ports.push_back(std::make_unique<UdpPeer>(local_ip(7)));
    const Bytes one_rtt = short_header_packet(kServerA);
    ASSERT_TRUE(ports.back()->send_to(listener(), one_rtt));
    ASSERT_TRUE(a.wait_for(++forwarded, Deadline::in(milliseconds(3'000)))) << attempt;
    EXPECT_EQ(a.received().back().bytes, one_rtt);
    EXPECT_EQ(a.received().back().from, a.received()[0].from);  // the one session socket
    auto reply = ports.back()->receive(Deadline::in(milliseconds(3'000)));
    ASSERT_TRUE(reply) << attempt;
    EXPECT_EQ(reply->from, listener());
  }
  ASSERT_GE(metric(passed), 1) << "no new port landed on the other thread";
  // The rebinding was the owner's (its worker named), not a new session's.
  EXPECT_TRUE(proxy_->wait_for_log("event=quic_rebind", Deadline::in(milliseconds(1'000))));
  const Scrape s = scrape();
  EXPECT_EQ(s.at("sniproxy_quic_sessions_total"), 1);
  EXPECT_EQ(s.at("sniproxy_quic_thread_datagrams_total{outcome=\"unplaced\"}"), 0);
  EXPECT_EQ(s.at("sniproxy_quic_thread_datagrams_total{outcome=\"inbox_full\"}"), 0);
  // Later datagrams from that port keep going through the owner.
  const Bytes again = short_header_packet(kServerA, 80);
  ASSERT_TRUE(ports.back()->send_to(listener(), again));
  ASSERT_TRUE(a.wait_for(forwarded + 1, Deadline::in(milliseconds(3'000))));
  EXPECT_EQ(a.received().back().bytes, again);
  EXPECT_TRUE(ports.back()->receive(Deadline::in(milliseconds(3'000))));
}

TEST_P(QuicThreadsTest, MaxSessionsBoundsTheWholeProcess) {
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = two_workers("max_sessions = 5\n");
  ASSERT_NO_FATAL_FAILURE(start(spec, {route("a.quic.test", a)}));
  constexpr int kClients = 16;
  std::vector<std::unique_ptr<UdpPeer>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<UdpPeer>(local_ip(1)));
    ASSERT_TRUE(clients.back()->send_to(listener(), initial_for("a.quic.test", dcid_of(i))));
  }
  ASSERT_TRUE(metric_reaches(hellos("routed"), 5));
  ASSERT_TRUE(metric_reaches(drops("session_limit"), kClients - 5));
  const Scrape s = scrape();
  EXPECT_EQ(s.at("sniproxy_quic_sessions"), 5);
  EXPECT_EQ(s.at(hellos("routed")), 5);
  EXPECT_EQ(s.at(drops("session_limit")), kClients - 5);
  const std::vector<int> per_thread = thread_sessions();
  ASSERT_EQ(per_thread.size(), 2u);
  EXPECT_EQ(per_thread[0] + per_thread[1], 5);
}

TEST_P(QuicThreadsTest, MaxPendingFlowsBoundsTheWholeProcess) {
  FakeQuicBackend a(kServerA);
  ConfigSpec spec = two_workers("max_pending_flows = 10\nhello_timeout = \"10s\"\n");
  ASSERT_NO_FATAL_FAILURE(start(spec, {route("a.quic.test", a)}));
  // 40 half hellos from 40 ports: each thread keeps its share of 10.
  const auto [half, rest] = two_datagram_initials("a.quic.test", dcid_of(9));
  std::vector<std::unique_ptr<UdpPeer>> clients;
  for (int i = 0; i < 40; ++i) {
    clients.push_back(std::make_unique<UdpPeer>(local_ip(1)));
    ASSERT_TRUE(clients.back()->send_to(listener(), half));
  }
  ASSERT_TRUE(metric_reaches(drops("evicted"), 30));
  const Scrape s = scrape();
  EXPECT_LE(s.at("sniproxy_quic_pending_flows"), 10);
  EXPECT_EQ(s.at("sniproxy_quic_pending_flows") + s.at(drops("evicted")), 40);
}

INSTANTIATE_TEST_SUITE_P(Datagrams, QuicThreadsTest, ::testing::Values("copy"), mode_name);

}  // namespace
}  // namespace sniproxy::integration
