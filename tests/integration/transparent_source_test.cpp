// source_address = "client": the proxy connects to its backends from the
// client's own address (IP_TRANSPARENT). Three network namespaces of the
// test's own: a client C (10.77.1.2, fd77:1::2), the proxy's P (10.77.1.1
// and fd77:1::1 toward C, 10.77.2.1 toward B) and a backend B (10.77.2.2,
// default route via P). In P the policy routing an operator sets up (README,
// "Transparent source") hands B's replies to the client's address to the
// proxy's sockets. A client of the other family connects from the proxy's
// own address and is counted; a proxy without CAP_NET_RAW or CAP_NET_ADMIN
// refuses to start.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/admin_client.hpp"
#include "support/credentials.hpp"
#include "support/netns.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

constexpr const char* kClient4 = "10.77.1.2";
constexpr const char* kProxyToClient4 = "10.77.1.1";
constexpr const char* kProxyToBackend4 = "10.77.2.1";
constexpr const char* kBackend4 = "10.77.2.2";
constexpr const char* kProxyToClient6 = "fd77:1::1";

// C -- P -- B, each namespace removed with the object (its devices go along).
class Topology {
 public:
  Topology()
      : tag_(unique_tag()),
        c_("tc" + tag_),
        p_("tp" + tag_),
        b_("tb" + tag_),
        c_dev_("vc" + tag_),
        pc_dev_("wc" + tag_),
        b_dev_("vb" + tag_),
        pb_dev_("wb" + tag_) {}

  // "" or the first step that failed.
  std::string setup() {
    for (const NetNs* ns : {&c_, &p_, &b_})
      if (!ns->error().empty()) return ns->error();
    const std::vector<std::vector<std::string>> steps = {
        {"link", "add", c_dev_, "netns", c_.name(), "type", "veth", "peer", "name", pc_dev_,
         "netns", p_.name()},
        {"link", "add", b_dev_, "netns", b_.name(), "type", "veth", "peer", "name", pb_dev_,
         "netns", p_.name()},
        {"-n", c_.name(), "addr", "add", "10.77.1.2/24", "dev", c_dev_},
        {"-n", c_.name(), "addr", "add", "fd77:1::2/64", "dev", c_dev_, "nodad"},
        {"-n", p_.name(), "addr", "add", "10.77.1.1/24", "dev", pc_dev_},
        {"-n", p_.name(), "addr", "add", "fd77:1::1/64", "dev", pc_dev_, "nodad"},
        {"-n", p_.name(), "addr", "add", "10.77.2.1/24", "dev", pb_dev_},
        {"-n", b_.name(), "addr", "add", "10.77.2.2/24", "dev", b_dev_},
        {"-n", c_.name(), "link", "set", "lo", "up"},
        {"-n", p_.name(), "link", "set", "lo", "up"},
        {"-n", b_.name(), "link", "set", "lo", "up"},
        {"-n", c_.name(), "link", "set", c_dev_, "up"},
        {"-n", p_.name(), "link", "set", pc_dev_, "up"},
        {"-n", p_.name(), "link", "set", pb_dev_, "up"},
        {"-n", b_.name(), "link", "set", b_dev_, "up"},
        // The backend answers every address through the proxy's host.
        {"-n", b_.name(), "route", "add", "default", "via", kProxyToBackend4},
        // What an operator runs on the proxy's host: whatever comes in from
        // the backends' side is delivered locally, so the replies to a
        // client's address reach the transparent socket bound to it.
        {"-n", p_.name(), "rule", "add", "iif", pb_dev_, "lookup", "100"},
        {"-n", p_.name(), "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "100"},
    };
    for (const auto& step : steps)
      if (auto error = ip(step); !error.empty()) return error;
    return "";
  }

  [[nodiscard]] const std::string& client_ns() const { return c_.name(); }
  [[nodiscard]] const std::string& proxy_ns() const { return p_.name(); }
  [[nodiscard]] const std::string& backend_ns() const { return b_.name(); }

 private:
  std::string tag_;
  NetNs c_, p_, b_;
  std::string c_dev_, pc_dev_, b_dev_, pb_dev_;
};

// An echo server on 0.0.0.0 inside a namespace, one connection at a time,
// recording the address each connection came from.
class NsEchoServer {
 public:
  explicit NsEchoServer(const std::string& ns) {
    error_ = run_in(ns, [this] {
      listener_ = listen_tcp(Endpoint{*IpAddress::parse("0.0.0.0"), 0});
    });
    if (!error_.empty() || !listener_) {
      if (error_.empty()) error_ = "listen failed";
      return;
    }
    port_ = local_endpoint(listener_.get()).port;
    thread_ = std::thread([this] { serve(); });
  }
  ~NsEchoServer() {
    stopping_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  NsEchoServer(const NsEchoServer&) = delete;
  NsEchoServer& operator=(const NsEchoServer&) = delete;

  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] std::string address() const { return fmt::format("{}:{}", kBackend4, port_); }
  [[nodiscard]] std::vector<std::string> peers() const {
    std::lock_guard lock(mutex_);
    return peers_;
  }

 private:
  void serve() {
    // Bounded by the object's life, and by a minute at most.
    const Deadline overall = Deadline::in(milliseconds(60'000), &stopping_);
    while (!overall.expired()) {
      UniqueFd c = accept_one(listener_.get(), Deadline::in(milliseconds(100), &stopping_));
      if (!c) continue;
      {
        std::lock_guard lock(mutex_);
        peers_.push_back(peer_endpoint(c.get()).ip.to_string());
      }
      const Deadline d = Deadline::in(milliseconds(10'000), &stopping_);
      std::vector<std::uint8_t> buf;
      for (;;) {
        buf.clear();
        if (read_some(c.get(), buf, d) != IoStatus::ok) break;
        if (send_all(c.get(), buf, d) != IoStatus::ok) break;
      }
      shutdown_write(c.get());
    }
  }

  std::string error_;
  UniqueFd listener_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> peers_;
  std::thread thread_;
};

// A hello for `name` and 200 000 patterned bytes to `proxy`, echoed back
// byte-exact, then a clean close both ways. Run inside the client's
// namespace.
// `preamble` (a PROXY header from a load balancer) goes first, unechoed.
void exchange_through(const Endpoint& proxy, const std::string& name,
                      const std::string& preamble = "") {
  ConnectResult c = connect_tcp(proxy, Deadline::in(milliseconds(3000)));
  ASSERT_TRUE(c.fd.valid()) << "connect " << proxy.to_string() << ": " << std::strerror(c.error);
  if (!preamble.empty()) {
    const std::vector<std::uint8_t> header(preamble.begin(), preamble.end());
    ASSERT_EQ(send_all(c.fd.get(), header, Deadline::in(milliseconds(3000))), IoStatus::ok);
  }
  std::vector<std::uint8_t> sent = hello_for(name);
  for (std::size_t i = 0; i < 200'000; ++i) sent.push_back(static_cast<std::uint8_t>(i * 7 % 251));
  ASSERT_EQ(send_all(c.fd.get(), sent, Deadline::in(milliseconds(5000))), IoStatus::ok);
  std::vector<std::uint8_t> got;
  ASSERT_EQ(read_exact(c.fd.get(), sent.size(), got, Deadline::in(milliseconds(10'000))),
            IoStatus::ok);
  EXPECT_TRUE(got == sent) << "the echoed bytes differ";
  shutdown_write(c.fd.get());
  const ReadAll rest = read_until_closed(c.fd.get(), Deadline::in(milliseconds(5000)));
  EXPECT_EQ(rest.status, IoStatus::eof);
  EXPECT_TRUE(rest.bytes.empty()) << rest.bytes.size() << " bytes more than were sent";
}

Endpoint at(const std::string& host, std::uint16_t port) {
  return *Endpoint::parse(host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                                              : fmt::format("{}:{}", host, port));
}

class TransparentSourceTest : public ProxyTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: network namespaces";
    ASSERT_EQ(topology_.setup(), "");
    ASSERT_EQ(backend_.error(), "");
  }

  // One dual-stack listener "[::]" in P with `listener_lines`, routes
  // a.example (plain) to the backend, `extra` appended, and /metrics on
  // 127.0.0.1 in P.
  ConfigSpec transparent_config(const std::string& listener_lines, const std::string& extra = "") {
    ConfigSpec spec = base_config();
    spec.workers = 1;
    spec.listeners[0].host = "[::]";
    spec.listeners[0].lines = listener_lines;
    spec.table("default").push_back({.match = "a.example", .backend = backend_.address()});
    spec.extra = fmt::format("[admin]\nlisten = \"127.0.0.1:{}\"\n\n{}", admin_port_, extra);
    return spec;
  }

  // Starts the proxy inside P and runs `clients` inside C; the proxy is
  // stopped inside P afterwards.
  void run(const ConfigSpec& spec, const std::function<void()>& clients,
           const std::function<void()>& in_proxy_ns_after = {}) {
    std::string entered = run_in(topology_.proxy_ns(), [&] { start_proxy(spec, {admin_port_}); });
    ASSERT_EQ(entered, "");
    if (HasFatalFailure()) return;
    ASSERT_EQ(run_in(topology_.client_ns(), clients), "");
    entered = run_in(topology_.proxy_ns(), [&] {
      if (in_proxy_ns_after) in_proxy_ns_after();
      if (HasFailure())
        ADD_FAILURE() << "proxy log:\n"
                      << proxy_->log() << "access log:\n"
                      << read_file(access_log_path());
      proxy_.reset();  // stopped inside the namespace it runs in
    });
    ASSERT_EQ(entered, "");
  }

  double skipped_count() {
    const Scrape s = parse_exposition(http_get(admin_port_, "/metrics").body);
    return s.at("sniproxy_transparent_source_skipped_total");
  }

  Topology topology_;
  NsEchoServer backend_{topology_.backend_ns()};
  std::uint16_t admin_port_ = free_port();
};

TEST_P(TransparentSourceTest, TheBackendSeesTheClientsAddressAndBytesPassExactlyBothWays) {
  const std::string pool = fmt::format(
      "[pools.web]\nsource_address = \"client\"\nservers = [{{ backend = \"{}\" }}]\n"
      "[pools.web.health]\ncheck = \"none\"\n",
      backend_.address());
  ConfigSpec spec = transparent_config("source_address = \"client\"\n", pool);
  spec.table("default").push_back({.match = "pool.example", .pool = "web"});
  double skipped = -1;
  std::string log;
  run(
      spec,
      [&] {
        exchange_through(at(kProxyToClient4, listener_port()), "a.example");
        exchange_through(at(kProxyToClient4, listener_port()), "pool.example");
      },
      [&] {
        skipped = skipped_count();
        log = proxy_->log() + read_file(access_log_path());
      });
  EXPECT_THAT(backend_.peers(), ::testing::ElementsAre(kClient4, kClient4)) << log;
  EXPECT_EQ(skipped, 0);
}

// The listener binds to P's own address toward B; a route's "client" wins
// over it, and a route without its own keeps the listener's.
TEST_P(TransparentSourceTest, ARoutesClientSourceWinsOverTheListenersAddress) {
  const std::string route = fmt::format(
      "[[tables.default]]\nmatch = \"own.example\"\nbackend = \"{}\"\nsource_address = "
      "\"client\"\n",
      backend_.address());
  const ConfigSpec spec =
      transparent_config(fmt::format("source_address = \"{}\"\n", kProxyToBackend4), route);
  run(spec, [&] {
    exchange_through(at(kProxyToClient4, listener_port()), "own.example");
    exchange_through(at(kProxyToClient4, listener_port()), "a.example");
  });
  EXPECT_THAT(backend_.peers(), ::testing::ElementsAre(kClient4, kProxyToBackend4));
}

// Behind a load balancer that sends PROXY headers, the client the header
// names is the source toward the backend, not the balancer.
TEST_P(TransparentSourceTest, TheClientAPROXYHeaderNamesIsTheSource) {
  const ConfigSpec spec =
      transparent_config(fmt::format("source_address = \"client\"\nproxy_protocol_in = \"v1\"\n"
                                     "trusted_sources = [\"{}/32\"]\n",
                                     kClient4));
  run(spec, [&] {
    exchange_through(
        at(kProxyToClient4, listener_port()), "a.example",
        fmt::format("PROXY TCP4 10.77.1.99 {} 40000 {}\r\n", kProxyToClient4, listener_port()));
  });
  EXPECT_THAT(backend_.peers(), ::testing::ElementsAre("10.77.1.99"));
}

// An IPv6 client cannot be the source of a connect to an IPv4 backend: that
// connect goes from P's own address, still forwards, and is counted.
TEST_P(TransparentSourceTest, AnIpv6ClientToAnIpv4BackendConnectsFromTheProxysAddressCounted) {
  const ConfigSpec spec = transparent_config("source_address = \"client\"\n");
  double skipped = -1;
  run(
      spec, [&] { exchange_through(at(kProxyToClient6, listener_port()), "a.example"); },
      [&] { skipped = skipped_count(); });
  EXPECT_THAT(backend_.peers(), ::testing::ElementsAre(kProxyToBackend4));
  EXPECT_EQ(skipped, 1);
}

// Started with neither capability in its bounding set (so not even root
// has them after the exec), the proxy says what to grant and exits 1.
TEST_P(TransparentSourceTest, WithoutNetRawOrNetAdminTheStartFailsNamingWhatToGrant) {
  if (GetParam() != "copy") GTEST_SKIP() << "one mode is enough: it never forwards";
  if (::access("/usr/sbin/capsh", X_OK) != 0) GTEST_SKIP() << "needs /usr/sbin/capsh";
  const std::string binary =
      launcher_script(dir_.file("without-net-raw.sh"),
                      "/usr/sbin/capsh --drop=cap_net_raw,cap_net_admin -- -c 'exec \"$0\" \"$@\"'",
                      sniproxy_binary());
  ConfigSpec spec = base_config();
  spec.listeners[0].lines = "source_address = \"client\"\n";
  spec.table("default").push_back({.match = "a.example", .backend = "127.0.0.1:9"});
  write_file(config_path(), spec.to_toml());
  const CommandResult r = run_command(binary, {"--config", config_path().string()}, dir_.path());
  ASSERT_TRUE(r.exit_code.has_value()) << "still running: it should have refused";
  EXPECT_EQ(*r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("event=startup result=failed detail=\"source_address = \\\"client\\\" "
                       "needs CAP_NET_RAW (or CAP_NET_ADMIN)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("AmbientCapabilities=CAP_NET_RAW"), std::string::npos) << r.err;
}

SNIPROXY_INSTANTIATE_FOR_MODES(TransparentSourceTest);

}  // namespace
}  // namespace sniproxy::integration
