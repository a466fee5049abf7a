// TCP Fast Open toward backends (fast_open on a route or a pool) with the
// real binary: once the proxy's kernel holds a cookie from a backend, the
// next connect carries the hello in its SYN, in every forwarding mode, and a
// pool fails over past a refused SYN with the hello intact.
// net.ipv4.tcp_fastopen is per network namespace: each test sets it in one
// of its own, where the proxy, the backends and the client all live, and
// the host's setting is never touched. The cookie the kernel caches is per
// destination address, so one fetched from one backend on 127.0.0.1 serves
// all of them.
#include <fmt/format.h>

#include <map>
#include <memory>
#include <mutex>

#include "common/fast_open.hpp"
#include "support/access_log.hpp"
#include "support/admin_client.hpp"
#include "support/backend_behaviours.hpp"
#include "support/fast_open_ns.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

// Whether each connection a backend accepted had its SYN data taken.
class SynData {
 public:
  void seen(int index, bool syn_data) {
    std::lock_guard lock(mutex_);
    by_index_[index] = syn_data;
  }
  std::map<int, bool> all() {
    std::lock_guard lock(mutex_);
    return by_index_;
  }

 private:
  std::mutex mutex_;
  std::map<int, bool> by_index_;
};

// An echoing backend listening with a Fast Open queue, noting for each
// connection whether its SYN carried data.
class FastOpenBackend {
 public:
  FastOpenBackend()
      : syn_data_(std::make_shared<SynData>()),
        backend_([syn = syn_data_, echo = echo_handler()](BackendConnection& c) {
          syn->seen(c.index, syn_data_accepted(c.fd.get()));
          echo(c);
        }) {
    EXPECT_TRUE(static_cast<bool>(set_fast_open_queue(backend_.listen_fd(), 16)));
  }
  [[nodiscard]] std::string address() const { return backend_.address(); }
  [[nodiscard]] std::map<int, bool> syn_data() const { return syn_data_->all(); }

 private:
  std::shared_ptr<SynData> syn_data_;
  Backend backend_;
};

class FastOpenConnectBase : public ProxyTest {
 protected:
  // A namespace of this test's with net.ipv4.tcp_fastopen = `sysctl`.
  std::unique_ptr<NetNs> make_namespace(int sysctl) {
    std::string error;
    auto ns = fast_open_namespace("fc", sysctl, error);
    EXPECT_EQ(error, "");
    return ns;
  }

  // One worker, [admin] on admin_port_, and `extra` (routes of table
  // "default", pools) as written.
  void start_fast_open_proxy(const std::string& extra) {
    admin_port_ = free_port();
    ConfigSpec spec = base_config();
    spec.workers = 1;
    spec.extra = fmt::format("[admin]\nlisten = \"127.0.0.1:{}\"\n\n{}", admin_port_, extra);
    start_proxy(spec, {admin_port_});
  }

  // A client whose hello for `name` and `payload_size` more bytes go
  // through to an echoing backend and come back exactly; it then half-closes
  // and sees the close. Returns the client's port (0 when it failed).
  // `pad_hello_to`: a hello of at least that many bytes.
  std::uint16_t echoed_exactly(const std::string& name, std::size_t payload_size,
                               std::size_t pad_hello_to = 0) {
    UniqueFd c = connect_to(listener_port());
    if (!c) return 0;
    const std::uint16_t port = local_endpoint(c.get()).port;
    std::vector<std::uint8_t> sent =
        build_client_hello({.server_name = name, .pad_handshake_to = pad_hello_to});
    for (std::size_t i = 0; i < payload_size; ++i)
      sent.push_back(static_cast<std::uint8_t>(i * 7 + 3));
    const bool sent_ok = send_all(c.get(), sent, Deadline::in(milliseconds(3000))) == IoStatus::ok;
    std::vector<std::uint8_t> back;
    const bool back_ok =
        read_exact(c.get(), sent.size(), back, Deadline::in(milliseconds(5000))) == IoStatus::ok;
    EXPECT_TRUE(sent_ok && back_ok && back == sent)
        << "sent " << sent.size() << " bytes, " << back.size() << " came back";
    shutdown_write(c.get());
    const ReadAll rest = read_until_closed(c.get(), Deadline::in(milliseconds(5000)));
    EXPECT_TRUE(rest.bytes.empty()) << rest.bytes.size() << " bytes more than were sent";
    return sent_ok && back_ok && back == sent && rest.bytes.empty() ? port : 0;
  }

  [[nodiscard]] double syn_data_sent() {
    const Scrape s = parse_exposition(http_get(admin_port_, "/metrics").body);
    return s.at("sniproxy_fast_open_syn_data_sent_total");
  }

  std::uint16_t admin_port_ = 0;
};

// Forwarding starts with the hello already upstream: every mode.
class FastOpenConnectTest : public FastOpenConnectBase {};

TEST_P(FastOpenConnectTest, TheSecondConnectsHelloRidesInItsSynAndBytesFlowExactly) {
  auto ns = make_namespace(3);  // client and server
  ASSERT_FALSE(HasFailure());
  const std::string entered = run_in(ns->name(), [&] {
    FastOpenBackend backend;
    start_fast_open_proxy(fmt::format(
        "[[tables.default]]\nmatch = \"a.example\"\nbackend = \"{}\"\nfast_open = true\n",
        backend.address()));
    if (HasFatalFailure()) return;
    EXPECT_EQ(proxy_->log().find("event=fast_open_connect_disabled"), std::string::npos)
        << proxy_->log();
    // The first connect fetches the cookie (a plain handshake asking for
    // one); the second carries the hello in its SYN; so does the third,
    // with more than a window of bytes after it.
    EXPECT_NE(echoed_exactly("a.example", 1000), 0);
    EXPECT_NE(echoed_exactly("a.example", 1000), 0);
    const std::uint16_t third = echoed_exactly("a.example", 1'000'000);
    EXPECT_NE(third, 0);
    EXPECT_EQ(backend.syn_data(), (std::map<int, bool>{{0, false}, {1, true}, {2, true}}));
    EXPECT_EQ(syn_data_sent(), 2);
    auto entry = access_entry(third);
    ASSERT_TRUE(entry);
    EXPECT_EQ((*entry)["outcome"], "ok");
    // Each mode as itself (sockmap did not fall back, auto reached splice).
    const std::string mode = GetParam() == "auto" ? "auto/splice" : GetParam();
    EXPECT_EQ((*entry)["mode"], mode);
    EXPECT_EQ((*entry)["bytes_in"], std::to_string(hello_for("a.example").size() + 1'000'000));
    EXPECT_EQ((*entry)["bytes_out"], std::to_string(hello_for("a.example").size() + 1'000'000));
    proxy_.reset();  // stopped inside the namespace it runs in
  });
  ASSERT_EQ(entered, "");
}

TEST_P(FastOpenConnectTest, WhatTheSynCannotHoldOfTheHelloFollowsTheHandshake) {
  auto ns = make_namespace(3);
  ASSERT_FALSE(HasFailure());
  // An MTU of 1500 leaves a SYN room for about 1400 bytes of a 4000-byte hello.
  ASSERT_EQ(ip({"-n", ns->name(), "link", "set", "lo", "mtu", "1500"}), "");
  const std::string entered = run_in(ns->name(), [&] {
    FastOpenBackend backend;
    start_fast_open_proxy(fmt::format(
        "[[tables.default]]\nmatch = \"a.example\"\nbackend = \"{}\"\nfast_open = true\n",
        backend.address()));
    if (HasFatalFailure()) return;
    EXPECT_NE(echoed_exactly("a.example", 1000, 4000), 0);
    EXPECT_NE(echoed_exactly("a.example", 1000, 4000), 0);
    EXPECT_EQ(backend.syn_data(), (std::map<int, bool>{{0, false}, {1, true}}));
    EXPECT_EQ(syn_data_sent(), 1);
    proxy_.reset();
  });
  ASSERT_EQ(entered, "");
}

TEST_P(FastOpenConnectTest, APoolFailsOverPastARefusedSynWithTheHelloIntact) {
  auto ns = make_namespace(3);
  ASSERT_FALSE(HasFailure());
  const std::string entered = run_in(ns->name(), [&] {
    auto first = std::make_unique<FastOpenBackend>();
    FastOpenBackend second;
    const std::string first_address = first->address();
    // The backup is tried only when the first fails: the order is known.
    start_fast_open_proxy(
        fmt::format("[pools.web]\nfast_open = true\nconnect_timeout = \"2s\"\nservers = [\n"
                    "  {{ backend = \"{}\" }},\n  {{ backend = \"{}\", backup = true }},\n]\n\n"
                    "[pools.web.health]\ncheck = \"none\"\n\n"
                    "[[tables.default]]\nmatch = \"a.example\"\npool = \"web\"\n",
                    first_address, second.address()));
    if (HasFatalFailure()) return;
    // A cookie for 127.0.0.1 (the first connect), then a connect that uses it.
    EXPECT_NE(echoed_exactly("a.example", 100), 0);
    EXPECT_NE(echoed_exactly("a.example", 100), 0);
    EXPECT_EQ(first->syn_data(), (std::map<int, bool>{{0, false}, {1, true}}));
    // Its port closed: the SYN carrying the hello is refused, and the same
    // hello goes to the backup.
    first.reset();
    const std::uint16_t port = echoed_exactly("a.example", 5000);
    EXPECT_NE(port, 0);
    EXPECT_EQ(second.syn_data(), (std::map<int, bool>{{0, true}}));
    EXPECT_EQ(syn_data_sent(), 2);
    auto entry = access_entry(port);
    ASSERT_TRUE(entry);
    EXPECT_EQ((*entry)["outcome"], "ok");
    EXPECT_EQ((*entry)["backend"], second.address());
    const Scrape s = parse_exposition(http_get(admin_port_, "/metrics").body);
    EXPECT_EQ(s.at(fmt::format("sniproxy_pool_server_failures_total{{pool=\"web\",server=\"{}\"}}",
                               first_address)),
              1);
    proxy_.reset();
  });
  ASSERT_EQ(entered, "");
}

SNIPROXY_INSTANTIATE_FOR_MODES(FastOpenConnectTest);

// What happens before any forwarding starts: one mode says it all.
class FastOpenConnectPhaseTest : public FastOpenConnectBase {};

TEST_P(FastOpenConnectPhaseTest, ASynWhoseHandshakeNeverCompletesIsAConnectTimeout) {
  auto ns = make_namespace(3);
  ASSERT_FALSE(HasFailure());
  const std::string entered = run_in(ns->name(), [&] {
    FastOpenBackend backend;
    const std::string port = backend.address().substr(backend.address().rfind(':') + 1);
    start_fast_open_proxy(fmt::format(
        "[pools.solo]\nfast_open = true\nconnect_timeout = \"300ms\"\nretries = 0\n"
        "servers = [{{ backend = \"{}\" }}]\n\n[pools.solo.health]\ncheck = \"none\"\n\n"
        "[[tables.default]]\nmatch = \"a.example\"\npool = \"solo\"\n",
        backend.address()));
    if (HasFatalFailure()) return;
    EXPECT_NE(echoed_exactly("a.example", 100), 0);  // fetches the cookie
    EXPECT_NE(echoed_exactly("a.example", 100), 0);  // uses it
    EXPECT_EQ(backend.syn_data(), (std::map<int, bool>{{0, false}, {1, true}}));
    // From now on the backend's SYNs, data and all, are dropped unanswered.
    ASSERT_EQ(netns_exec(ns->name(),
                         {"iptables", "-A", "INPUT", "-p", "tcp", "--dport", port, "-j", "DROP"}),
              "");
    UniqueFd c = connect_to(listener_port());
    ASSERT_TRUE(c.valid());
    const std::uint16_t client_port = local_endpoint(c.get()).port;
    ASSERT_EQ(send_all(c.get(), hello_for("a.example"), Deadline::in(milliseconds(3000))),
              IoStatus::ok);
    const ReadAll rest = read_until_closed(c.get(), Deadline::in(milliseconds(5000)));
    EXPECT_NE(rest.status, IoStatus::timeout);
    auto entry = access_entry(client_port);
    ASSERT_TRUE(entry);
    EXPECT_EQ((*entry)["outcome"], "connect_timeout");
    EXPECT_NE((*entry)["detail"].find(backend.address() + ": timed out"), std::string::npos)
        << (*entry)["detail"];
    EXPECT_EQ(backend.syn_data().size(), 2u);
    proxy_.reset();
  });
  ASSERT_EQ(entered, "");
}

TEST_P(FastOpenConnectPhaseTest, AHostWithoutTheClientBitIsNamedAndConnectsStillWork) {
  auto ns = make_namespace(0);
  ASSERT_FALSE(HasFailure());
  const std::string entered = run_in(ns->name(), [&] {
    FastOpenBackend backend;
    start_fast_open_proxy(
        fmt::format("[pools.web]\nfast_open = true\nservers = [{{ backend = \"{}\" }}]\n\n"
                    "[pools.web.health]\ncheck = \"none\"\n\n"
                    "[[tables.default]]\nmatch = \"a.example\"\npool = \"web\"\n",
                    backend.address()));
    if (HasFatalFailure()) return;
    EXPECT_TRUE(
        proxy_->wait_for_log("event=fast_open_connect_disabled targets=table:default,pool:web "
                             "detail=\"net.ipv4.tcp_fastopen=0 is off; set bit 1 (sysctl -w "
                             "net.ipv4.tcp_fastopen=1)",
                             Deadline::in(milliseconds(2000))))
        << proxy_->log();
    for (int i = 0; i < 3; ++i) EXPECT_NE(echoed_exactly("a.example", 1000), 0) << i;
    EXPECT_EQ(backend.syn_data(), (std::map<int, bool>{{0, false}, {1, false}, {2, false}}));
    EXPECT_EQ(syn_data_sent(), 0);
    proxy_.reset();
  });
  ASSERT_EQ(entered, "");
}

INSTANTIATE_TEST_SUITE_P(Copy, FastOpenConnectPhaseTest, ::testing::Values(std::string("copy")),
                         mode_name);

}  // namespace
}  // namespace sniproxy::integration
