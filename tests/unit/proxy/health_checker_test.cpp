// The active checker on real loopback sockets, with short intervals and
// every wait bounded by a deadline.
#include "proxy/health_checker.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "protocol/client_hello.hpp"

namespace sniproxy::proxy {
namespace {

using namespace std::chrono_literals;
using upstream::Clock;

struct Seen {
  upstream::MemberKey key;
  upstream::HealthTransition transition;
  std::string detail;
};

// Collects the checker's transitions.
class Recorder {
 public:
  HealthChecker::TransitionSink sink() {
    return [this](const upstream::MemberKey& key, const upstream::HealthTransition& t,
                  std::string_view detail) {
      std::lock_guard lock(mutex_);
      seen_.push_back(Seen{key, t, std::string(detail)});
    };
  }
  // The first transition of `server`, waiting up to 3 s for it.
  std::optional<Seen> wait_for(const std::string& server) {
    const auto deadline = Clock::now() + 3s;
    while (Clock::now() < deadline) {
      if (auto s = find(server)) return s;
      std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
  }
  std::optional<Seen> find(const std::string& server) {
    std::lock_guard lock(mutex_);
    for (const auto& s : seen_)
      if (s.key.server == server) return s;
    return std::nullopt;
  }

 private:
  std::mutex mutex_;
  std::vector<Seen> seen_;
};

// A loopback TCP socket bound to a free port; listening or not.
UniqueFd bound_socket() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  return fd;
}

Endpoint endpoint_of(const UniqueFd& fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  return *Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
}

CheckTarget target(const std::string& server, const Endpoint& at,
                   config::HealthCheckKind kind = config::HealthCheckKind::tcp) {
  upstream::HealthSettings settings;
  settings.rise = 2;
  settings.fall = 2;
  settings.interval = 50ms;
  return CheckTarget{upstream::MemberKey{"pool", server, at.to_string()},
                     at,
                     kind,
                     kind == config::HealthCheckKind::tls_hello ? "health.example" : "",
                     50ms,
                     40ms,
                     std::make_shared<upstream::MemberHealth>(settings)};
}

void take_down(const CheckTarget& t) {
  t.health->on_check(false, Clock::now());
  t.health->on_check(false, Clock::now());
  ASSERT_FALSE(t.health->up());
}

// Accepts connections, reads the ClientHello, answers with `reply`.
class FakeTlsServer {
 public:
  explicit FakeTlsServer(std::vector<std::uint8_t> reply)
      : listen_(bound_socket()), reply_(std::move(reply)) {
    ::listen(listen_.get(), 16);
    thread_ = std::thread([this] { run(); });
  }
  ~FakeTlsServer() {
    stop_ = true;
    thread_.join();
  }
  [[nodiscard]] Endpoint endpoint() const { return endpoint_of(listen_); }
  [[nodiscard]] std::string server_name() const {
    std::lock_guard lock(mutex_);
    return server_name_;
  }

 private:
  void run() {
    while (!stop_) {
      pollfd p{listen_.get(), POLLIN, 0};
      if (::poll(&p, 1, 10) != 1) continue;
      UniqueFd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) continue;
      timeval tv{0, 200'000};
      ::setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      protocol::ClientHelloParser parser(16 * 1024);
      std::uint8_t buf[2048];
      ssize_t n = 0;
      while (parser.feed({}) == protocol::ParseStatus::need_more &&
             (n = ::recv(conn.get(), buf, sizeof buf, 0)) > 0)
        parser.feed({buf, static_cast<std::size_t>(n)});
      if (parser.feed({}) == protocol::ParseStatus::done) {
        std::lock_guard lock(mutex_);
        server_name_ = parser.info().server_name.value_or("");
      }
      ::send(conn.get(), reply_.data(), reply_.size(), MSG_NOSIGNAL);
    }
  }

  UniqueFd listen_;
  std::vector<std::uint8_t> reply_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::string server_name_;
  std::thread thread_;
};

TEST(HealthChecker, ListeningStaysUpClosedGoesDownAfterFall) {
  const UniqueFd listening = bound_socket();
  ASSERT_EQ(::listen(listening.get(), SOMAXCONN), 0);
  const UniqueFd closed = bound_socket();  // bound, not listening: refused
  const auto up = target("up", endpoint_of(listening));
  const auto down = target("down", endpoint_of(closed));

  Recorder recorder;
  HealthChecker checker(recorder.sink());
  checker.set_targets({up, down});
  checker.start();

  const auto seen = recorder.wait_for("down");
  ASSERT_TRUE(seen);
  EXPECT_FALSE(seen->transition.up);
  EXPECT_EQ(seen->transition.cause, upstream::HealthCause::checks_failed);
  EXPECT_EQ(seen->transition.in_a_row, 2u);
  EXPECT_EQ(seen->detail, std::strerror(ECONNREFUSED));
  EXPECT_FALSE(down.health->up());

  // Both were checked at least `fall` times by now; a few more intervals.
  std::this_thread::sleep_for(150ms);
  EXPECT_TRUE(up.health->up());
  EXPECT_FALSE(recorder.find("up"));
}

TEST(HealthChecker, DownComesBackUpAfterRiseOnceThePortListens) {
  const UniqueFd server = bound_socket();
  const auto t = target("back", endpoint_of(server));
  take_down(t);

  Recorder recorder;
  HealthChecker checker(recorder.sink());
  checker.start();
  checker.set_targets({t});
  std::this_thread::sleep_for(120ms);  // refused checks keep it down
  EXPECT_FALSE(t.health->up());
  EXPECT_FALSE(recorder.find("back"));

  ASSERT_EQ(::listen(server.get(), SOMAXCONN), 0);
  const auto seen = recorder.wait_for("back");
  ASSERT_TRUE(seen);
  EXPECT_TRUE(seen->transition.up);
  EXPECT_EQ(seen->transition.cause, upstream::HealthCause::checks_passed);
  EXPECT_EQ(seen->transition.in_a_row, 2u);
  EXPECT_TRUE(t.health->up());
}

TEST(HealthChecker, TlsHelloPassesOnAHandshakeRecord) {
  FakeTlsServer server({0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00});
  const auto t = target("tls", server.endpoint(), config::HealthCheckKind::tls_hello);
  take_down(t);

  Recorder recorder;
  HealthChecker checker(recorder.sink());
  checker.set_targets({t});
  checker.start();
  const auto seen = recorder.wait_for("tls");
  ASSERT_TRUE(seen);
  EXPECT_TRUE(seen->transition.up);
  EXPECT_EQ(server.server_name(), "health.example");
}

TEST(HealthChecker, TlsHelloFailsOnSomethingElse) {
  const std::string http = "HTTP/1.1 400 Bad Request\r\n\r\n";
  FakeTlsServer server({http.begin(), http.end()});
  const auto t = target("http", server.endpoint(), config::HealthCheckKind::tls_hello);

  Recorder recorder;
  HealthChecker checker(recorder.sink());
  checker.set_targets({t});
  checker.start();
  const auto seen = recorder.wait_for("http");
  ASSERT_TRUE(seen);
  EXPECT_FALSE(seen->transition.up);
  EXPECT_EQ(seen->detail, "no TLS record");
}

TEST(HealthChecker, TlsHelloTimesOutOnASilentServer) {
  // The kernel completes the connect; nothing ever answers.
  const UniqueFd silent = bound_socket();
  ASSERT_EQ(::listen(silent.get(), SOMAXCONN), 0);
  const auto t = target("silent", endpoint_of(silent), config::HealthCheckKind::tls_hello);

  Recorder recorder;
  HealthChecker checker(recorder.sink());
  checker.set_targets({t});
  checker.start();
  const auto seen = recorder.wait_for("silent");
  ASSERT_TRUE(seen);
  EXPECT_FALSE(seen->transition.up);
  EXPECT_EQ(seen->detail, "timed out awaiting a TLS record");
}

TEST(HealthChecker, ARemovedTargetIsNoLongerChecked) {
  const UniqueFd server = bound_socket();
  const auto t = target("gone", endpoint_of(server));
  Recorder recorder;
  HealthChecker checker(recorder.sink());
  checker.start();
  checker.set_targets({t});
  ASSERT_TRUE(recorder.wait_for("gone"));  // down: it was checked
  checker.set_targets({});
  ASSERT_EQ(::listen(server.get(), SOMAXCONN), 0);
  std::this_thread::sleep_for(250ms);  // checked, it would be up in ~100 ms
  EXPECT_FALSE(t.health->up());
}

TEST(CheckTargets, EveryMemberOfPoolsWithChecks) {
  config::Pool checked;
  checked.name = "web";
  checked.health.check = config::HealthCheckKind::tls_hello;
  checked.health.server_name = "web.example";
  config::Pool unchecked;
  unchecked.name = "db";
  unchecked.health.check = config::HealthCheckKind::none;

  const auto member = [](const std::string& pool, const std::string& address) {
    upstream::Member m;
    m.endpoint = *Endpoint::parse(address);
    m.key = upstream::MemberKey{pool, address, address};
    return m;
  };
  const auto health = std::make_shared<upstream::MemberHealth>(upstream::HealthSettings{});
  const auto published = [](std::vector<upstream::Member> members,
                            std::vector<std::shared_ptr<upstream::MemberHealth>> health) {
    return std::make_shared<PublishedMembers>(std::make_shared<const MemberSnapshot>(
        MemberSnapshot{next_member_version(), std::move(members), std::move(health)}));
  };
  std::map<std::string, PoolMembers> pools;
  pools["web"] = PoolMembers{
      &checked,
      published({member("web", "10.0.0.1:443"), member("web", "10.0.0.2:443")}, {health, health})};
  pools["db"] = PoolMembers{&unchecked, published({member("db", "10.0.1.1:5432")}, {health})};

  const auto targets = check_targets(pools);
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].key.address, "10.0.0.1:443");
  EXPECT_EQ(targets[1].key.address, "10.0.0.2:443");
  EXPECT_EQ(targets[0].kind, config::HealthCheckKind::tls_hello);
  EXPECT_EQ(targets[0].server_name, "web.example");
  EXPECT_EQ(targets[0].interval, checked.health.interval);

  // A new answer's members are the targets from then on.
  pools["web"].current->publish(std::make_shared<const MemberSnapshot>(
      MemberSnapshot{next_member_version(), {member("web", "10.0.0.3:443")}, {health}}));
  const auto followed = check_targets(pools);
  ASSERT_EQ(followed.size(), 1u);
  EXPECT_EQ(followed[0].key.address, "10.0.0.3:443");
}

}  // namespace
}  // namespace sniproxy::proxy
