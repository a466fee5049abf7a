// Out of file descriptors: the proxy pauses accepting (logged once as
// event=accept_paused) instead of crashing or spinning on an accept that
// fails at once, and once descriptors are free again it resumes
// (event=accept_resumed) and serves new connections.
#include <fmt/format.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>

#include "support/admin_client.hpp"
#include "support/backend_behaviours.hpp"
#include "support/client_crowd.hpp"
#include "support/latency_probe.hpp"
#include "support/proxy_fixture.hpp"
#include "support/proxy_health.hpp"

namespace sniproxy::integration {
namespace {

// The proxy's descriptor limit, soft and hard; what it takes at start
// (listeners, rings, eventfds, the DNS map, io_uring's own) is measured.
constexpr rlim_t kProxyFdLimit = 128;

// Points SNIPROXY_BIN, for its lifetime, at a script that starts the real
// binary under `prlimit --nofile=N:N`, so the fixture starts the proxy with
// that limit (exec keeps the pid). The limit has to be in force when the
// proxy starts: on this kernel (6.18) lowering a running proxy's limit with
// prlimit(2) did not stop its io_uring accepts, which kept allocating
// descriptors past it. And the test cannot lower its own hard limit for the
// child to inherit: without CAP_SYS_RESOURCE it could not raise it again.
class LimitedBinary {
 public:
  LimitedBinary(const std::filesystem::path& script, rlim_t limit) : real_(sniproxy_binary()) {
    write_file(script, "#!/bin/sh\nexec prlimit --nofile=" + std::to_string(limit) + ":" +
                           std::to_string(limit) + " " + real_ + " \"$@\"\n");
    std::filesystem::permissions(script, std::filesystem::perms::owner_all);
    ::setenv("SNIPROXY_BIN", script.c_str(), 1);
  }
  ~LimitedBinary() { ::setenv("SNIPROXY_BIN", real_.c_str(), 1); }
  LimitedBinary(const LimitedBinary&) = delete;
  LimitedBinary& operator=(const LimitedBinary&) = delete;

 private:
  std::string real_;
};

class FdExhaustionTest : public ProxyTest {};

TEST_P(FdExhaustionTest, AcceptPausesWhenOutOfDescriptorsAndResumesAfter) {
  RecordingBackend backend("g");
  ConfigSpec spec = base_config();
  spec.hello_timeout = "30s";  // the crowd must hold its descriptors until we close it
  const std::uint16_t admin_port = free_port();
  spec.extra += fmt::format("[admin]\nlisten = \"127.0.0.1:{}\"\n", admin_port);
  {
    const LimitedBinary limited(dir_.file("sniproxy-limited.sh"), kProxyFdLimit);
    ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("fd.test", backend)}));
  }
  const std::uint16_t port = listener_port();
  const auto hello = hello_for("fd.test");
  ASSERT_TRUE(first_byte_latency_us(port, hello)) << "not served before the crowd";
  const int held = open_fds(proxy_->pid());
  const int spare = static_cast<int>(kProxyFdLimit) - held;
  ASSERT_GT(spare, 8) << "the proxy took " << held << " descriptors at start";
  const std::uint64_t rss_before = resident_kib(proxy_->pid());

  // More silent clients than descriptors left: the kernel completes their
  // handshakes into the backlog; the proxy accepts until EMFILE.
  const std::size_t clients = 3 * static_cast<std::size_t>(spare);
  auto crowd = open_crowd(loopback(port), clients, Deadline::in(milliseconds(10'000)),
                          IpAddress::v4(127, 0, 0, 1), 16);
  ASSERT_EQ(crowd.size(), clients);
  ASSERT_TRUE(proxy_->wait_for_log("event=accept_paused", Deadline::in(milliseconds(5000))))
      << "no accept_paused with " << crowd.size() << " clients and " << spare
      << " spare descriptors";
  EXPECT_NE(proxy_->log().find("Too many open files"), std::string::npos);
  // While paused and full nothing should happen: no spinning.
  expect_alive_and_quiet(*proxy_);
  // A new client now waits (backlog) rather than being served.
  std::fprintf(stderr, "fd exhaustion (%s): proxy holds %d descriptors at a limit of %d\n",
               GetParam().c_str(), open_fds(proxy_->pid()), static_cast<int>(kProxyFdLimit));

  crowd.clear();  // frees the proxy's descriptors once it sees the closes
  const Deadline served = Deadline::in(milliseconds(10'000));
  bool ok = false;
  while (!ok && !served.expired())
    ok = first_byte_latency_us(port, hello, milliseconds(3000)).has_value();
  EXPECT_TRUE(ok) << "not served after the descriptors were freed";
  EXPECT_TRUE(proxy_->wait_for_log("event=accept_resumed", Deadline::in(milliseconds(5000))));
  // Several more in a row, to show the pause is over for good. The backlog
  // may still hold crowd connections the clients closed, which the proxy
  // accepts (up to the limit again) before it sees the close: a client here
  // may get the last descriptor, and its backend socket then waits for one
  // (DescriptorWaitTest) instead of failing it.
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(first_byte_latency_us(port, hello)) << i;
  const HttpAnswer metrics = http_get(admin_port, "/metrics");
  EXPECT_GE(parse_exposition(metrics.body).at("sniproxy_accept_pauses_total"), 1) << metrics.body;
  const std::uint64_t rss_after = resident_kib(proxy_->pid());
  std::fprintf(stderr, "fd exhaustion (%s): RSS %llu -> %llu KiB\n", GetParam().c_str(),
               static_cast<unsigned long long>(rss_before),
               static_cast<unsigned long long>(rss_after));
  // A few hundred connections' worth of state at most.
  EXPECT_LT(rss_after, rss_before + 16 * 1024 + sanitizer_slack_kib()) << "KiB";

  expect_alive_and_quiet(*proxy_);
  expect_clean_exit_on_sigterm(*proxy_);
}

// The `n`th lowest descriptor number the process does not hold (n from 0):
// where its next descriptors will go.
int nth_free_fd(pid_t pid, int n) {
  std::set<int> held;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    held.insert(std::atoi(it->path().filename().c_str()));
  for (int fd = 0;; ++fd)
    if (held.count(fd) == 0 && n-- == 0) return fd;
}

void set_soft_fd_limit(pid_t pid, rlim_t soft) {
  rlimit now{};
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, nullptr, &now), 0) << std::strerror(errno);
  now.rlim_cur = soft;
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &now, nullptr), 0) << std::strerror(errno);
}

class DescriptorWaitTest : public ProxyTest {};

// A client the proxy accepted with its last descriptor has none left for the
// backend socket. It waits for one (until the connect timeout) rather than
// failing: the soft limit is lowered to leave exactly the client's
// descriptor (the ring's multishot accept keeps the limit it was armed
// with, so the accept still succeeds; socket(2) sees the new one).
TEST_P(DescriptorWaitTest, ABackendSocketWaitsForADescriptorUntilTheConnectTimeout) {
  RecordingBackend backend("g");
  ConfigSpec spec = base_config();
  spec.connect_timeout = "1500ms";
  const std::uint16_t admin_port = free_port();
  spec.extra += fmt::format("[admin]\nlisten = \"127.0.0.1:{}\"\n", admin_port);
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("fd.test", backend)}));
  const std::uint16_t port = listener_port();
  const auto hello = hello_for("fd.test");
  ASSERT_TRUE(first_byte_latency_us(port, hello)) << "not served before the limit";
  const pid_t pid = proxy_->pid();
  // A connection's descriptors are closed before its access log line.
  const auto wait_until_closed = [this](int connections) {
    const Deadline closed = Deadline::in(milliseconds(5000));
    while (count_occurrences(read_file(access_log_path()), "outcome=ok") < connections &&
           !closed.expired())
      std::this_thread::sleep_for(milliseconds(10));
  };
  wait_until_closed(1);
  // The client's descriptor goes to the lowest free number, the backend
  // socket's to the next: a limit between them admits only the client.
  const auto tight = static_cast<rlim_t>(nth_free_fd(pid, 1));

  // Freed while the client waits: served, later by the wait.
  ASSERT_NO_FATAL_FAILURE(set_soft_fd_limit(pid, tight));
  std::optional<double> waited_us;
  std::thread client([&] { waited_us = first_byte_latency_us(port, hello); });
  std::this_thread::sleep_for(milliseconds(400));
  ASSERT_NO_FATAL_FAILURE(set_soft_fd_limit(pid, kProxyFdLimit));
  client.join();
  ASSERT_TRUE(waited_us.has_value()) << "the client was not served once a descriptor was free";
  EXPECT_GE(*waited_us, 300'000.0) << "served before a descriptor was free?";
  EXPECT_EQ(read_file(access_log_path()).find("outcome=connect_failed"), std::string::npos);
  wait_until_closed(2);

  // Never freed: the client is closed at the connect timeout, and the
  // access log says why.
  ASSERT_NO_FATAL_FAILURE(set_soft_fd_limit(pid, tight));
  const auto t0 = Clock::now();
  EXPECT_FALSE(first_byte_latency_us(port, hello, milliseconds(5000)).has_value());
  const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  EXPECT_GE(elapsed.count(), 1300) << "gave up before the connect timeout";
  ASSERT_NO_FATAL_FAILURE(set_soft_fd_limit(pid, kProxyFdLimit));
  const Deadline logged = Deadline::in(milliseconds(5000));
  std::string failed_line;
  while (failed_line.empty() && !logged.expired()) {
    for (const auto& line : split_lines(read_file(access_log_path())))
      if (line.find("outcome=connect_failed") != std::string::npos) failed_line = line;
    if (failed_line.empty()) std::this_thread::sleep_for(milliseconds(20));
  }
  const std::string waited = "(out of file descriptors), still after ";
  const auto at = failed_line.find(waited);
  ASSERT_NE(at, std::string::npos) << failed_line;
  const int waited_ms = std::atoi(failed_line.c_str() + at + waited.size());
  EXPECT_GE(waited_ms, 1500) << failed_line;  // the connect timeout
  // (plus what a loaded CI machine adds to the last back-off timer)
  EXPECT_LT(waited_ms, 2500) << failed_line;

  // Descriptors back: served at once again, and both waits were counted.
  EXPECT_TRUE(first_byte_latency_us(port, hello));
  const HttpAnswer metrics = http_get(admin_port, "/metrics");
  EXPECT_EQ(parse_exposition(metrics.body).at("sniproxy_descriptor_waits_total"), 2)
      << metrics.body;
  expect_alive_and_quiet(*proxy_);
}

class PipeDescriptorTest : public ProxyTest {};

// A splice direction that cannot make its pipe, for want of descriptors,
// carries on by copying instead of failing the connection. On a fresh proxy
// (its pipe pool empty) the soft limit admits the client's and the backend
// socket's descriptors but not a pipe's two.
TEST_P(PipeDescriptorTest, ADirectionWithoutAPipeCarriesOnCopying) {
  Backend backend(echo_handler());
  ASSERT_NO_FATAL_FAILURE(start_routing({route("echo.test", backend)}));
  // Counted only once the proxy is whole: its port answers before every
  // worker holds its ring, and the readiness probe's connection holds a
  // descriptor until the proxy sees it close.
  ASSERT_TRUE(proxy_->wait_for_log("event=listening", Deadline::in(milliseconds(5000)), 2));
  const Deadline probed = Deadline::in(milliseconds(5000));
  while (read_file(access_log_path()).find("closed before sending a byte") == std::string::npos &&
         !probed.expired())
    std::this_thread::sleep_for(milliseconds(10));
  const pid_t pid = proxy_->pid();
  ASSERT_NO_FATAL_FAILURE(set_soft_fd_limit(pid, static_cast<rlim_t>(nth_free_fd(pid, 2))));

  UniqueFd c = connect_to(listener_port());
  ASSERT_TRUE(c);
  const std::uint16_t client_port = local_endpoint(c.get()).port;
  std::vector<std::uint8_t> sent = hello_for("echo.test");
  // Small enough to sit in the sockets' buffers while nothing reads it back.
  for (std::size_t i = 0; i < 64 * 1024; ++i) sent.push_back(static_cast<std::uint8_t>(i * 7));
  ASSERT_EQ(send_all(c.get(), sent, Deadline::in(milliseconds(5000))), IoStatus::ok);
  std::vector<std::uint8_t> got;
  ASSERT_EQ(read_exact(c.get(), sent.size(), got, Deadline::in(milliseconds(5000))), IoStatus::ok);
  EXPECT_TRUE(got == sent) << "the echo differs from what was sent";
  // Both directions: the client's bytes first, then the backend's answer.
  EXPECT_EQ(count_occurrences(proxy_->log(), "event=splice_fallback"), 2) << proxy_->log();
  EXPECT_NE(proxy_->log().find("reason=\"Too many open files\" now=copy"), std::string::npos)
      << proxy_->log();
  c.reset();
  ASSERT_NO_FATAL_FAILURE(set_soft_fd_limit(pid, kProxyFdLimit));
  auto entry = access_entry(client_port);
  ASSERT_TRUE(entry) << "no access-log line for client port " << client_port;
  EXPECT_EQ((*entry)["outcome"], "ok");
  EXPECT_EQ((*entry)["bytes_in"], std::to_string(sent.size()));
  EXPECT_EQ((*entry)["bytes_out"], std::to_string(sent.size()));
  expect_alive_and_quiet(*proxy_);
}

INSTANTIATE_TEST_SUITE_P(Splice, PipeDescriptorTest, ::testing::Values(std::string("splice")),
                         mode_name);

INSTANTIATE_TEST_SUITE_P(Copy, DescriptorWaitTest, ::testing::Values(std::string("copy")),
                         mode_name);

// Splice needs the most descriptors per connection (a pipe per direction
// while bytes pass).
INSTANTIATE_TEST_SUITE_P(Splice, FdExhaustionTest, ::testing::Values(std::string("splice")),
                         mode_name);

}  // namespace
}  // namespace sniproxy::integration
