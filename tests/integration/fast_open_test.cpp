// TCP Fast Open on a listener (fast_open_queue) with the real binary: a
// returning client's ClientHello rides in its SYN, is routed, and counted.
// net.ipv4.tcp_fastopen is per network namespace: each test sets it in one
// of its own, where the proxy, the backend and the client all live, and the
// host's setting is never touched.
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>
#include <span>

#include "support/admin_client.hpp"
#include "support/backend_behaviours.hpp"
#include "support/fast_open_ns.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

// A connection to 127.0.0.1:port that sends `bytes` with MSG_FASTOPEN: in
// the SYN when the kernel holds a cookie from the proxy, after the handshake
// (asking for a cookie) when not. Blocking, bounded by SO_SNDTIMEO.
UniqueFd fast_open_send(std::uint16_t port, std::span<const std::uint8_t> bytes) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  timeval limit{.tv_sec = 3, .tv_usec = 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const ssize_t sent = ::sendto(fd.get(), bytes.data(), bytes.size(), MSG_FASTOPEN,
                                reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  if (sent != static_cast<ssize_t>(bytes.size())) return UniqueFd{};
  return fd;
}

// The SYN-ACK acknowledged data sent in the SYN.
bool syn_data_acked(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
         (info.tcpi_options & TCPI_OPT_SYN_DATA) != 0;
}

class FastOpenTest : public ProxyTest {
 protected:
  // A namespace of this test's with net.ipv4.tcp_fastopen = `sysctl`.
  std::unique_ptr<NetNs> make_namespace(int sysctl) {
    std::string error;
    auto ns = fast_open_namespace("fo", sysctl, error);
    EXPECT_EQ(error, "");
    return ns;
  }

  // Listener "tls" with fast_open_queue = 16, a.example -> backend, and an
  // [admin] endpoint on admin_port.
  void start_fast_open_proxy(const RecordingBackend& backend, std::uint16_t admin_port) {
    ConfigSpec spec = base_config();
    spec.workers = 1;
    spec.listeners[0].lines = "fast_open_queue = 16\n";
    spec.table("default").push_back(route("a.example", backend));
    spec.extra = fmt::format("[admin]\nlisten = \"127.0.0.1:{}\"\n", admin_port);
    start_proxy(spec, {admin_port});
  }

  // Sends the hello for a.example with Fast Open and waits for the
  // backend's greeting; true when the hello rode in the SYN.
  bool served_in_syn() {
    const auto hello = hello_for("a.example");
    UniqueFd c = fast_open_send(listener_port(), hello);
    EXPECT_TRUE(c) << "sendto(MSG_FASTOPEN): " << std::strerror(errno);
    if (!c) return false;
    std::vector<std::uint8_t> greeting;
    EXPECT_EQ(read_exact(c.get(), 2, greeting, Deadline::in(milliseconds(5000))), IoStatus::ok);
    return syn_data_acked(c.get());
  }
};

TEST_P(FastOpenTest, TheSecondConnectionsHelloRidesInItsSynAndIsCounted) {
  auto ns = make_namespace(3);  // client and server
  ASSERT_FALSE(HasFailure());
  const std::string entered = run_in(ns->name(), [&] {
    RecordingBackend backend("ok");
    const std::uint16_t admin_port = free_port();
    start_fast_open_proxy(backend, admin_port);
    if (HasFatalFailure()) return;
    EXPECT_FALSE(proxy_->log().find("event=fast_open_disabled") != std::string::npos)
        << proxy_->log();
    // The first connection only fetches the cookie: its hello follows the
    // handshake. The second carries its hello in the SYN.
    EXPECT_FALSE(served_in_syn());
    EXPECT_TRUE(served_in_syn());
    const auto hello = hello_for("a.example");
    for (int i = 0; i < 2; ++i) {
      const Recording::Seen seen =
          backend.recording().wait_bytes(i, hello.size(), Deadline::in(milliseconds(3000)));
      EXPECT_EQ(seen.bytes, hello) << "connection " << i;
    }
    const Scrape s = parse_exposition(http_get(admin_port, "/metrics").body);
    EXPECT_EQ(s.at("sniproxy_fast_open_syn_data_total{listener=\"tls\"}"), 1);
    proxy_.reset();  // stopped inside the namespace it runs in
  });
  ASSERT_EQ(entered, "");
}

TEST_P(FastOpenTest, AHostThatAllowsClientsOnlyIsNamedAtStartUp) {
  auto ns = make_namespace(1);  // the kernel's default: clients only
  ASSERT_FALSE(HasFailure());
  const std::string entered = run_in(ns->name(), [&] {
    RecordingBackend backend("ok");
    const std::uint16_t admin_port = free_port();
    start_fast_open_proxy(backend, admin_port);
    if (HasFatalFailure()) return;
    EXPECT_TRUE(proxy_->wait_for_log(
        "event=fast_open_disabled listener=tls detail=\"net.ipv4.tcp_fastopen=1 allows clients "
        "only",
        Deadline::in(milliseconds(2000))))
        << proxy_->log();
    // Connections still work, with the hello after the handshake.
    EXPECT_FALSE(served_in_syn());
    EXPECT_FALSE(served_in_syn());
    const Scrape s = parse_exposition(http_get(admin_port, "/metrics").body);
    EXPECT_EQ(s.at("sniproxy_fast_open_syn_data_total{listener=\"tls\"}"), 0);
    proxy_.reset();
  });
  ASSERT_EQ(entered, "");
}

// Fast Open happens at accept, before any forwarding: one mode says it all.
INSTANTIATE_TEST_SUITE_P(Copy, FastOpenTest, ::testing::Values(std::string("copy")), mode_name);

}  // namespace
}  // namespace sniproxy::integration
