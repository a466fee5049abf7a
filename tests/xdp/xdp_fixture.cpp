#include "xdp_fixture.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <thread>

#include <fmt/format.h>

#include "packet_socket.hpp"
#include "support/config_text.hpp"
#include "support/tls_hello.hpp"

namespace sniproxy::xdp_test {

namespace {

using namespace std::chrono_literals;

bool is_v4(std::string_view text) {
  return address(text).family == Family::v4;
}

// The value of "key=" in `line`, if present.
std::optional<std::uint64_t> field(std::string_view line, std::string_view key) {
  const std::string needle = " " + std::string(key) + "=";
  const std::size_t at = line.find(needle);
  if (at == std::string_view::npos) return std::nullopt;
  std::uint64_t value = 0;
  const char* begin = line.data() + at + needle.size();
  auto [ptr, ec] = std::from_chars(begin, line.data() + line.size(), value);
  if (ec != std::errc()) return std::nullopt;
  return value;
}

}  // namespace

std::string describe(const bpf::XdpCounters& c) {
  return fmt::format(
      "passed={} dropped_deny={} dropped_not_allowed={} dropped_rate={} malformed={} ignored={}",
      c.passed, c.dropped_deny, c.dropped_not_allowed, c.dropped_rate, c.malformed, c.ignored);
}

void XdpProxyTest::SetUp() {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, XDP): skipped";
  if (integration::sniproxy_binary().empty()) GTEST_SKIP() << "SNIPROXY_BIN is not set";
  const std::string error = topology_.setup();
  ASSERT_EQ(error, "");
  const std::string entered = integration::run_in(topology_.server_ns(), [&] {
    backend_ = std::make_unique<integration::Backend>([](integration::BackendConnection& c) {
      std::vector<std::uint8_t> hello;
      if (integration::read_some(c.fd.get(), hello, c.within(5000ms)) != integration::IoStatus::ok)
        return;
      integration::send_all(c.fd.get(), kBackendGreeting, c.within(5000ms));
      integration::read_until_closed(c.fd.get(), c.within(5000ms));
    });
  });
  ASSERT_EQ(entered, "");
}

std::string XdpProxyTest::config(const std::string& xdp_lines) const {
  // ([reactor], when the suite runs on epoll, goes last: after the top-level keys.)
  return fmt::format(R"(workers = 1
[process]
allow_root = true
[timeouts]
hello = "2s"
shutdown = "1s"

[xdp]
interfaces = ["{}"]
log_interval = "200ms"
{}
[[listener]]
name = "v4"
address = "0.0.0.0:{}"
table = "t"

[[listener]]
name = "v6"
address = "[::]:{}"
table = "t"

[[tables.t]]
match = "{}"
backend = "{}"
)",
                     topology_.server_if(), xdp_lines, kPort, kPort, kServerName,
                     backend_->address()) +
         integration::reactor_section();
}

std::string XdpProxyTest::start_proxy(const std::string& toml, const std::string& binary) {
  integration::write_file(file("proxy.toml"), toml);
  proxy_ = std::make_unique<integration::ProxyProcess>(
      binary.empty() ? integration::sniproxy_binary() : binary, file("proxy.toml"), dir_.path());
  std::string started;
  // Started from inside the namespace: the child is born there, and the
  // readiness probe (a connect to 127.0.0.1:kPort) runs there too.
  const std::string entered = integration::run_in(
      topology_.server_ns(), [&] { started = proxy_->start({kPort}, 20'000ms); });
  return entered.empty() ? started : entered;
}

integration::CommandResult XdpProxyTest::run_proxy_to_exit(const std::string& toml) {
  integration::write_file(file("proxy.toml"), toml);
  integration::CommandResult result;
  const std::string entered = integration::run_in(topology_.server_ns(), [&] {
    result =
        integration::run_command(integration::sniproxy_binary(),
                                 {"--config", file("proxy.toml").string()}, dir_.path(), 20'000ms);
  });
  if (!entered.empty()) result.err = entered;
  return result;
}

integration::ConnectResult XdpProxyTest::connect_from(std::string_view source,
                                                      milliseconds timeout) {
  integration::ConnectResult result{UniqueFd(), EINVAL};
  const Endpoint from{address(source), 0};
  const Endpoint to{address(is_v4(source) ? kServer4 : kServer6), kPort};
  integration::run_in(topology_.client_ns(), [&] {
    sockaddr_storage local{};
    sockaddr_storage remote{};
    const unsigned local_len = from.to_sockaddr(local);
    const unsigned remote_len = to.to_sockaddr(remote);
    UniqueFd fd(::socket(local.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), local_len) != 0) {
      result.error = errno;
      return;
    }
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&remote), remote_len) != 0 &&
        errno != EINPROGRESS) {
      result.error = errno;
      return;
    }
    const Deadline deadline = Deadline::in(timeout);
    if (!integration::wait_for(fd.get(), POLLOUT, deadline)) {
      result.error = ETIMEDOUT;
      return;
    }
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    result.error = error;
    if (error == 0) result.fd = std::move(fd);
  });
  return result;
}

bool XdpProxyTest::proxied_from(std::string_view source) {
  auto connected = connect_from(source, 3000ms);
  if (!connected.fd) {
    ADD_FAILURE() << "connect from " << source << ": " << std::strerror(connected.error);
    return false;
  }
  const int fd = connected.fd.get();
  const auto hello = integration::hello_for(std::string(kServerName));
  if (integration::send_all(fd, hello, Deadline::in(3000ms)) != integration::IoStatus::ok) {
    ADD_FAILURE() << "send from " << source;
    return false;
  }
  std::vector<std::uint8_t> reply;
  const auto status =
      integration::read_exact(fd, kBackendGreeting.size(), reply, Deadline::in(3000ms));
  if (status != integration::IoStatus::ok) {
    ADD_FAILURE() << "reply to " << source << ": " << integration::to_string(status);
    return false;
  }
  return integration::to_text(reply) == kBackendGreeting;
}

bool XdpProxyTest::silently_dropped_from(std::string_view source) {
  // The first SYN and its retransmission after 1 s both go unanswered.
  auto connected = connect_from(source, 1500ms);
  if (connected.fd) return false;
  if (connected.error != ETIMEDOUT) {
    ADD_FAILURE() << "connect from " << source
                  << " failed, but not by timing out: " << std::strerror(connected.error);
    return false;
  }
  return true;
}

std::size_t XdpProxyTest::send_frames(const std::vector<frames::Bytes>& list) {
  std::size_t sent = 0;
  const std::string entered = integration::run_in(topology_.client_ns(), [&] {
    auto socket = frames::PacketSocket::open(topology_.client_if());
    if (!socket.ok()) {
      ADD_FAILURE() << socket.error().message;
      return;
    }
    sent = socket->send(list);
    if (!socket->error().empty()) ADD_FAILURE() << "send: " << socket->error();
  });
  EXPECT_EQ(entered, "");
  return sent;
}

frames::TcpFrame XdpProxyTest::segment_from(std::string_view source, std::uint16_t port) {
  frames::TcpFrame f;
  f.source_mac = kClientMac;
  f.destination_mac = kServerMac;
  f.source = address(source);
  f.destination = address(f.source.family == Family::v4 ? kServer4 : kServer6);
  f.destination_port = port;
  return f;
}

std::optional<bpf::XdpCounters> XdpProxyTest::last_counters() const {
  if (!proxy_) return std::nullopt;
  const std::string log = proxy_->log();
  const std::size_t at = log.rfind("event=xdp_counters ");
  if (at == std::string::npos) return std::nullopt;
  const std::size_t end = log.find('\n', at);
  if (end == std::string::npos) return std::nullopt;  // still being written
  const std::string_view line(log.data() + at, end - at);
  bpf::XdpCounters c;
  for (auto [key, slot] :
       {std::pair{"passed", &c.passed}, std::pair{"dropped_deny", &c.dropped_deny},
        std::pair{"dropped_not_allowed", &c.dropped_not_allowed},
        std::pair{"dropped_rate", &c.dropped_rate}, std::pair{"malformed", &c.malformed},
        std::pair{"ignored", &c.ignored}}) {
    auto value = field(line, key);
    if (!value) return std::nullopt;
    *slot = *value;
  }
  return c;
}

std::optional<bpf::XdpCounters> XdpProxyTest::wait_counters(
    const std::function<bool(const bpf::XdpCounters&)>& done, milliseconds timeout) {
  const Deadline deadline = Deadline::in(timeout);
  std::optional<bpf::XdpCounters> seen;
  while (true) {
    seen = last_counters();
    if (seen && done(*seen)) return seen;
    if (deadline.expired()) return seen;
    std::this_thread::sleep_for(20ms);
  }
}

bpf::XdpDevice XdpProxyTest::server_device() {
  bpf::XdpDevice device;
  integration::run_in(topology_.server_ns(), [&] {
    auto queried = bpf::query_xdp_device(topology_.server_if());
    if (queried.ok()) {
      device = *queried;
    } else {
      ADD_FAILURE() << queried.error().message;
    }
  });
  return device;
}

}  // namespace sniproxy::xdp_test
