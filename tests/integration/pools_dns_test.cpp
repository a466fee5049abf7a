// Pools whose server is a DNS name, with the real binary: [dns] points at a
// fake DNS server inside the test that answers web.test with loopback
// addresses (TTL 1 s), each address a backend on the same port. The pool
// follows the answer as it changes, keeps the last good addresses while the
// DNS server fails, and a reload keeps serving without a gap.
#include <poll.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include <atomic>

#include "support/backend_behaviours.hpp"
#include "support/dns_server_thread.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

using dns::testing::FakeDnsServer;

IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

class PoolsDnsTest : public ProxyTest {
 protected:
  void SetUp() override {
    // Three backends on one port, on 127.0.0.2, .3 and .4 (the pool's
    // server has one port); a port taken on one of them is tried again.
    for (int attempt = 0; attempt < 5 && !backends_[2]; ++attempt) {
      try {
        backends_[0] = std::make_unique<RecordingBackend>("ok", Endpoint{ip("127.0.0.2"), 0});
        const std::uint16_t port = backends_[0]->port();
        backends_[1] = std::make_unique<RecordingBackend>("ok", Endpoint{ip("127.0.0.3"), port});
        backends_[2] = std::make_unique<RecordingBackend>("ok", Endpoint{ip("127.0.0.4"), port});
      } catch (const std::runtime_error&) {
        for (auto& b : backends_) b.reset();
      }
    }
    ASSERT_TRUE(backends_[2]) << "no port free on 127.0.0.2-4";
    port_ = backends_[0]->port();
    answer({"127.0.0.2", "127.0.0.3"});
  }

  // web.test answers `addresses`, TTL 1 s, from now on.
  void answer(const std::vector<const char*>& addresses) {
    dns_.change([&](FakeDnsServer& s) {
      s.clear("web.test");
      s.set_behaviour("web.test", FakeDnsServer::Behaviour::answer);
      for (const char* a : addresses) s.add("web.test", ip(a), 1);
    });
  }

  [[nodiscard]] std::string server_text() const { return "web.test:" + std::to_string(port_); }

  ConfigSpec pool_config() {
    ConfigSpec spec = base_config();
    spec.workers = 1;  // one round_robin turn: an even split
    spec.extra = "[dns]\nservers = [\"" + dns_.endpoint().to_string() +
                 "\"]\ntimeout = \"300ms\"\nnegative_ttl = \"1s\"\n\n"
                 "[pools.web]\nbalance = \"round_robin\"\nservers = [{ backend = \"" +
                 server_text() + "\" }]\n\n[pools.web.health]\ncheck = \"none\"\n";
    return spec;
  }

  void start() {
    spec_ = pool_config();
    ASSERT_NO_FATAL_FAILURE(start_routing(spec_, {{.match = "a.example", .pool = "web"}}));
  }

  bool served() {
    UniqueFd c = connect_to(listener_port());
    if (!c) return false;
    if (send_all(c.get(), hello_for("a.example"), Deadline::in(milliseconds(3000))) != IoStatus::ok)
      return false;
    std::vector<std::uint8_t> greeting;
    return read_exact(c.get(), 2, greeting, Deadline::in(milliseconds(5000))) == IoStatus::ok;
  }

  int connections(int i) const { return backends_[i]->recording().connections(); }

  ConfigSpec spec_;  // as started
  DnsServerThread dns_;
  std::unique_ptr<RecordingBackend> backends_[3];
  std::uint16_t port_ = 0;
};

TEST_P(PoolsDnsTest, FollowsTheAnswerAndKeepsTheLastGoodOneWhenDnsFails) {
  ASSERT_NO_FATAL_FAILURE(start());
  // Resolved before the workers accept: the first connection has members.
  EXPECT_NE(proxy_->log().find("event=pool_members_changed pool=web server=" + server_text() +
                               " added=127.0.0.2:" + std::to_string(port_) +
                               ",127.0.0.3:" + std::to_string(port_)),
            std::string::npos)
      << proxy_->log();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(served()) << "connection " << i;
  EXPECT_EQ(connections(0), 10);
  EXPECT_EQ(connections(1), 10);

  // The answer changes: within a few TTLs, new connections reach only .4.
  answer({"127.0.0.4"});
  const std::string changed = "event=pool_members_changed pool=web server=" + server_text() +
                              " added=127.0.0.4:" + std::to_string(port_) +
                              " removed=127.0.0.2:" + std::to_string(port_) +
                              ",127.0.0.3:" + std::to_string(port_);
  ASSERT_TRUE(proxy_->wait_for_log(changed, Deadline::in(milliseconds(6000)))) << proxy_->log();
  const int before_2 = connections(0), before_3 = connections(1);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(served()) << "connection " << i;
  EXPECT_EQ(connections(2), 10);
  EXPECT_EQ(connections(0), before_2);
  EXPECT_EQ(connections(1), before_3);

  // The DNS server fails: the last good address keeps serving, said once.
  dns_.change(
      [](FakeDnsServer& s) { s.set_behaviour("web.test", FakeDnsServer::Behaviour::servfail); });
  const std::string failed = "event=pool_dns_failed pool=web server=" + server_text();
  ASSERT_TRUE(proxy_->wait_for_log(failed, Deadline::in(milliseconds(6000)))) << proxy_->log();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(served()) << "connection " << i;
  EXPECT_EQ(connections(2), 20);
  std::this_thread::sleep_for(milliseconds(3500));  // two retries or more, each failing
  ASSERT_TRUE(served());
  EXPECT_EQ(count_occurrences(proxy_->log(), failed), 1) << proxy_->log();

  // It answers again: said once, and the members stand.
  answer({"127.0.0.4"});
  ASSERT_TRUE(proxy_->wait_for_log("event=pool_dns_recovered pool=web server=" + server_text(),
                                   Deadline::in(milliseconds(10000))))
      << proxy_->log();
  EXPECT_EQ(count_occurrences(proxy_->log(), "event=pool_members_changed"), 2) << proxy_->log();
}

TEST_P(PoolsDnsTest, AReloadKeepsTheResolvedMembersWithoutAGap) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_TRUE(served());
  spec_.extra += "# reloaded\n";
  rewrite_config(spec_.to_toml());
  proxy_->signal(SIGHUP);
  // Connections during and right after the reload all reach a member.
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(served()) << "connection " << i;
  ASSERT_TRUE(proxy_->wait_for_log("event=reload result=ok", Deadline::in(milliseconds(5000))))
      << proxy_->log();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(served()) << "connection " << i;
  EXPECT_EQ(connections(0) + connections(1), 51);
  // The name stayed: its members were carried, not resolved afresh.
  EXPECT_EQ(count_occurrences(proxy_->log(), "event=pool_members_changed"), 1) << proxy_->log();
}

TEST_P(PoolsDnsTest, ANameWithoutAnAnswerLeavesThePoolWithNoServer) {
  dns_.change(
      [](FakeDnsServer& s) { s.set_behaviour("web.test", FakeDnsServer::Behaviour::servfail); });
  ASSERT_NO_FATAL_FAILURE(start());
  EXPECT_NE(proxy_->log().find("event=pool_dns_failed pool=web server=" + server_text()),
            std::string::npos)
      << proxy_->log();
  EXPECT_FALSE(served());
  const std::string why = "pool web: no server is up (no server has an address yet";
  std::string log;
  for (int i = 0; i < 100 && log.find(why) == std::string::npos; ++i) {
    std::this_thread::sleep_for(milliseconds(30));
    log = read_file(access_log_path());
  }
  EXPECT_NE(log.find(why), std::string::npos) << log;
}

TEST_P(PoolsDnsTest, CheckAcceptsAPoolServerNamedByDns) {
  const auto path = dir_.file("check.toml");
  ConfigSpec spec = pool_config();
  spec.table("default").push_back({.match = "a.example", .pool = "web"});
  write_file(path, spec.to_toml());
  const auto r =
      run_command(sniproxy_binary(), {"--check", "--config", path.string()}, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

// Names are resolved apart from how bytes move: copy mode is enough.
INSTANTIATE_TEST_SUITE_P(Copy, PoolsDnsTest, ::testing::Values(std::string("copy")), mode_name);

}  // namespace
}  // namespace sniproxy::integration
