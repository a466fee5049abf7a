// Backend pools with the real binary: balancing over three recording
// backends, failover past servers that refuse, backups, hash_name, and the
// outcome that names every attempt when none connects.
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <thread>

#include "support/admin_client.hpp"
#include "support/backend_behaviours.hpp"
#include "support/netns.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class PoolsTest : public ProxyTest {
 protected:
  // A pool `web` over `servers` (lines of the servers array) with `balance`,
  // routed from a.example and b.example; one worker, so that a policy's
  // turn is not split between two workers' own states.
  void start_pool(const std::string& balance, const std::vector<std::string>& servers,
                  const std::string& health = "check = \"none\"\n") {
    ConfigSpec spec = base_config();
    spec.workers = 1;
    std::string pool =
        "[pools.web]\nbalance = \"" + balance + "\"\nconnect_timeout = \"1s\"\nservers = [\n";
    for (const auto& s : servers) pool += "  " + s + ",\n";
    pool += "]\n\n[pools.web.health]\n" + health;
    spec.extra = pool;
    std::vector<RouteSpec> routes;
    for (const char* name : {"a.example", "b.example", "c.example"})
      routes.push_back({.match = name, .pool = "web"});
    ASSERT_NO_FATAL_FAILURE(start_routing(spec, routes));
  }

  static std::string server(const RecordingBackend& b, const std::string& more = "") {
    return "{ backend = \"" + b.address() + "\"" + more + " }";
  }

  // One connection for `name` that the pool serves: true when the backend's
  // greeting came back.
  bool served(const std::string& name, UniqueFd* keep = nullptr) {
    UniqueFd c = connect_to(listener_port());
    if (!c) return false;
    if (send_all(c.get(), hello_for(name), Deadline::in(milliseconds(3000))) != IoStatus::ok)
      return false;
    std::vector<std::uint8_t> greeting;
    const bool ok =
        read_exact(c.get(), 2, greeting, Deadline::in(milliseconds(5000))) == IoStatus::ok;
    if (keep != nullptr) *keep = std::move(c);
    return ok;
  }

  RecordingBackend a_{"ok"}, b_{"ok"}, c_{"ok"};
};

TEST_P(PoolsTest, RoundRobinSplitsThreeHundredConnectionsEvenly) {
  ASSERT_NO_FATAL_FAILURE(start_pool("round_robin", {server(a_), server(b_), server(c_)}));
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(served("a.example")) << "connection " << i;
  EXPECT_EQ(a_.recording().connections(), 100);
  EXPECT_EQ(b_.recording().connections(), 100);
  EXPECT_EQ(c_.recording().connections(), 100);
}

TEST_P(PoolsTest, WeightsAreHonoured) {
  ASSERT_NO_FATAL_FAILURE(start_pool("round_robin", {server(a_), server(b_, ", weight = 2")}));
  for (int i = 0; i < 90; ++i) ASSERT_TRUE(served("a.example"));
  EXPECT_EQ(a_.recording().connections(), 30);
  EXPECT_EQ(b_.recording().connections(), 60);
}

TEST_P(PoolsTest, LeastConnPrefersTheIdleServer) {
  ASSERT_NO_FATAL_FAILURE(start_pool("least_conn", {server(a_), server(b_), server(c_)}));
  std::vector<UniqueFd> open(2);
  ASSERT_TRUE(served("a.example", &open[0]));
  ASSERT_TRUE(served("a.example", &open[1]));
  // Two servers hold a connection each: the next goes to the third.
  ASSERT_TRUE(served("a.example"));
  EXPECT_EQ(a_.recording().connections(), 1);
  EXPECT_EQ(b_.recording().connections(), 1);
  EXPECT_EQ(c_.recording().connections(), 1);
}

TEST_P(PoolsTest, AClosedPortCostsClientsNothing) {
  const std::string closed = "{ backend = \"127.0.0.1:" + std::to_string(closed_port()) + "\" }";
  ASSERT_NO_FATAL_FAILURE(start_pool("round_robin", {server(a_), closed, server(b_)}));
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(served("a.example")) << "connection " << i;
  EXPECT_EQ(a_.recording().connections() + b_.recording().connections(), 30);
  // Passive health: after `fall` (3) refusals in a row it is down, once.
  EXPECT_EQ(count_occurrences(proxy_->log(), "event=server_down"), 1) << proxy_->log();
  EXPECT_NE(proxy_->log().find("reason=\"connects failed\""), std::string::npos);
}

TEST_P(PoolsTest, MetricsAndStatusShowEachServersHealth) {
  const std::uint16_t closed = closed_port();
  const std::uint16_t admin = free_port();
  ConfigSpec spec = base_config();
  spec.workers = 1;
  spec.extra = "[admin]\nlisten = \"127.0.0.1:" + std::to_string(admin) +
               "\"\n\n[pools.web]\nservers = [{ backend = \"" + a_.address() +
               "\" }, { backend = \"127.0.0.1:" + std::to_string(closed) +
               "\" }]\n\n[pools.web.health]\ncheck = \"none\"\nfall = 1\n";
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {{.match = "a.example", .pool = "web"}}));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(served("a.example"));
  const std::string metrics = http_get(admin, "/metrics").body;
  EXPECT_NE(metrics.find("sniproxy_pool_server_up{pool=\"web\",server=\"" + a_.address() + "\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("sniproxy_pool_server_up{pool=\"web\",server=\"127.0.0.1:" +
                         std::to_string(closed) + "\"} 0"),
            std::string::npos)
      << metrics;
  const std::string status = http_get(admin, "/status").body;
  EXPECT_NE(status.find("\"pools\":[{\"name\":\"web\",\"servers\":[{\"server\":\"" + a_.address() +
                        "\",\"backup\":false,\"up\":true,\"name\":\"" + a_.address() + "\"}"),
            std::string::npos)
      << status;
}

TEST_P(PoolsTest, HashNameKeepsANameOnOneServer) {
  ASSERT_NO_FATAL_FAILURE(start_pool("hash_name", {server(a_), server(b_), server(c_)}));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(served("b.example"));
  const int a = a_.recording().connections();
  const int b = b_.recording().connections();
  const int c = c_.recording().connections();
  EXPECT_TRUE((a == 20 && b == 0 && c == 0) || (a == 0 && b == 20 && c == 0) ||
              (a == 0 && b == 0 && c == 20))
      << a << "/" << b << "/" << c;
}

TEST_P(PoolsTest, BackupsServeOnlyWhenNoPrimaryCan) {
  const std::string closed = "{ backend = \"127.0.0.1:" + std::to_string(closed_port()) + "\" }";
  ASSERT_NO_FATAL_FAILURE(start_pool("round_robin", {closed, server(c_, ", backup = true")}));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(served("a.example"));
  EXPECT_EQ(c_.recording().connections(), 5);
}

TEST_P(PoolsTest, ABackupGetsNothingWhileAPrimaryIsUp) {
  ASSERT_NO_FATAL_FAILURE(start_pool("round_robin", {server(b_), server(a_, ", backup = true")}));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(served("a.example"));
  EXPECT_EQ(b_.recording().connections(), 5);
  EXPECT_EQ(a_.recording().connections(), 0);
}

TEST_P(PoolsTest, WhenEveryServerFailsTheOutcomeNamesEachAttempt) {
  const std::uint16_t p1 = closed_port();
  const std::uint16_t p2 = closed_port();
  ASSERT_NO_FATAL_FAILURE(
      start_pool("round_robin", {"{ backend = \"127.0.0.1:" + std::to_string(p1) + "\" }",
                                 "{ backend = \"127.0.0.1:" + std::to_string(p2) + "\" }"}));
  UniqueFd c = connect_to(listener_port());
  ASSERT_TRUE(c.valid());
  const std::uint16_t port = local_endpoint(c.get()).port;
  ASSERT_EQ(send_all(c.get(), hello_for("a.example"), Deadline::in(milliseconds(3000))),
            IoStatus::ok);
  read_until_closed(c.get(), Deadline::in(milliseconds(5000)));
  auto entry = access_entry(port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "connect_failed");
  EXPECT_NE((*entry)["detail"].find(std::to_string(p1)), std::string::npos) << (*entry)["detail"];
  EXPECT_NE((*entry)["detail"].find(std::to_string(p2)), std::string::npos) << (*entry)["detail"];
}

// Active checks from one place per process: a server whose port is closed
// is taken down by `fall` failed checks before any client tries it, and is
// up again within interval x rise once something listens there.
TEST_P(PoolsTest, ActiveChecksTakeADeadServerOutAndBringItBack) {
  const std::uint16_t port = closed_port();
  const std::string dead = "127.0.0.1:" + std::to_string(port);
  ASSERT_NO_FATAL_FAILURE(start_pool(
      "round_robin", {server(a_), "{ backend = \"" + dead + "\" }"},
      "check = \"tcp\"\ninterval = \"100ms\"\ntimeout = \"100ms\"\nrise = 2\nfall = 2\n"));
  ASSERT_TRUE(proxy_->wait_for_log("event=server_down pool=web server=" + dead,
                                   Deadline::in(milliseconds(3000))))
      << proxy_->log();
  EXPECT_NE(proxy_->log().find("reason=\"checks failed\""), std::string::npos) << proxy_->log();
  // Down: every client goes to the other server (which also takes the
  // checks' connections, so its count says nothing here).
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(served("a.example"));

  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int one = 1;
  ASSERT_EQ(::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
  sockaddr_storage address{};
  const unsigned length = loopback(port).to_sockaddr(address);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::listen(listener.get(), 64), 0);
  const auto back_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(proxy_->wait_for_log("event=server_up pool=web server=" + dead,
                                   Deadline::in(milliseconds(3000))))
      << proxy_->log();
  // interval x rise (200 ms), and a check's own time: well under a second.
  EXPECT_LT(std::chrono::steady_clock::now() - back_at, milliseconds(1000));
}

// A reload keeps the health of servers that stay (a down one stays down,
// without being taken down again), and a new server takes no traffic until
// its first check passed.
TEST_P(PoolsTest, AReloadKeepsHealthAndChecksNewServersFirst) {
  const std::string dead = "127.0.0.1:" + std::to_string(closed_port());
  const std::string checks =
      "[pools.web.health]\ncheck = \"tcp\"\ninterval = \"100ms\"\ntimeout = \"100ms\"\n"
      "rise = 2\nfall = 2\n";
  ConfigSpec spec = base_config();
  spec.workers = 1;
  auto pool = [&](const std::vector<std::string>& servers) {
    std::string text = "[pools.web]\nservers = [\n";
    for (const auto& s : servers) text += "  " + s + ",\n";
    return text + "]\n\n" + checks;
  };
  spec.extra = pool({server(a_), "{ backend = \"" + dead + "\" }"});
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {{.match = "a.example", .pool = "web"}}));
  const std::string down = "event=server_down pool=web server=" + dead;
  ASSERT_TRUE(proxy_->wait_for_log(down, Deadline::in(milliseconds(3000)))) << proxy_->log();

  spec.extra = pool({server(a_), "{ backend = \"" + dead + "\" }", server(b_)});
  rewrite_config(spec.to_toml());
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(proxy_->wait_for_log("event=reload result=ok", Deadline::in(milliseconds(5000))))
      << proxy_->log();
  ASSERT_TRUE(proxy_->wait_for_log("event=server_up pool=web server=" + b_.address(),
                                   Deadline::in(milliseconds(3000))))
      << proxy_->log();
  // Traffic reaches the new server only after that line (it connected for
  // the check first: its first recorded connection is the check's).
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(served("a.example"));
  EXPECT_GE(b_.recording().connections(), 3);
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_EQ(count_occurrences(proxy_->log(), down), 1)
      << "the dead server's state was lost on reload:\n"
      << proxy_->log();
}

// A server that drops SYNs (a blackhole, made with iptables inside a
// network namespace of the test's own): it costs at most the first clients
// one connect_timeout each, then its checks take it down and clients skip it.
TEST_P(PoolsTest, ABlackholedServerSlowsOnlyTheFirstClients) {
  const std::string tag = unique_tag();
  VethLink link(
      {.ns = "pa" + tag, .device = "va" + tag, .mac = "", .addresses = {"10.203.0.1/24"}},
      {.ns = "pb" + tag, .device = "vb" + tag, .mac = "", .addresses = {"10.203.0.2/24"}});
  ASSERT_EQ(link.setup(), "");
  ASSERT_EQ(netns_exec(link.b().ns,
                       {"iptables", "-A", "INPUT", "-p", "tcp", "--dport", "443", "-j", "DROP"}),
            "");
  // The proxy, its good server and its clients all live in namespace a.
  const std::string entered = run_in(link.a().ns, [&] {
    RecordingBackend good("ok");
    ConfigSpec spec = base_config();
    spec.workers = 1;
    spec.extra = "[pools.web]\nconnect_timeout = \"1s\"\nservers = [{ backend = \"" +
                 good.address() +
                 "\" }, { backend = \"10.203.0.2:443\" }]\n\n[pools.web.health]\ncheck = \"tcp\"\n"
                 "interval = \"300ms\"\ntimeout = \"200ms\"\nfall = 2\nrise = 2\n";
    start_routing(spec, {{.match = "a.example", .pool = "web"}});
    if (HasFatalFailure()) return;
    int slow = 0;
    for (int i = 0; i < 12; ++i) {
      const auto started = std::chrono::steady_clock::now();
      EXPECT_TRUE(served("a.example"))
          << "connection " << i << " after "
          << std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started)
                 .count()
          << " ms\n"
          << proxy_->log() << read_file(access_log_path());
      if (std::chrono::steady_clock::now() - started > milliseconds(800)) ++slow;
    }
    EXPECT_LE(slow, 2) << proxy_->log();
    EXPECT_EQ(good.recording().connections() >= 12, true);
    EXPECT_TRUE(proxy_->wait_for_log("event=server_down pool=web server=10.203.0.2:443",
                                     Deadline::in(milliseconds(2000))))
        << proxy_->log();
    proxy_.reset();  // stopped inside the namespace it runs in
  });
  ASSERT_EQ(entered, "");
}

SNIPROXY_INSTANTIATE_FOR_MODES(PoolsTest);

}  // namespace
}  // namespace sniproxy::integration
