// Out of file descriptors: the proxy pauses accepting (logged once as
// event=accept_paused) instead of crashing or spinning on an accept that
// fails at once, and once descriptors are free again it resumes
// (event=accept_resumed) and serves new connections.
#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "backend_behaviours.hpp"
#include "client_crowd.hpp"
#include "latency_probe.hpp"
#include "proxy_fixture.hpp"
#include "proxy_health.hpp"

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
  Backend backend(recording_handler(std::make_shared<Recording>(), "g"));
  ConfigSpec spec = base_config();
  spec.hello_timeout = "30s";  // the crowd must hold its descriptors until we close it
  spec.table("default").push_back({.match = "fd.test", .backend = backend.address()});
  {
    const LimitedBinary limited(dir_.file("sniproxy-limited.sh"), kProxyFdLimit);
    ASSERT_NO_FATAL_FAILURE(start_proxy(spec));
  }
  const std::uint16_t port = spec.listeners[0].port;
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
  // The backlog may still hold crowd connections the clients closed: the
  // proxy accepts each (up to the limit again) before it sees the close. A
  // client accepted with the last descriptor then has none for its backend,
  // which is the right outcome while descriptors are out, so the run below
  // starts once the proxy is back to what it held before the crowd (give or
  // take the other worker's idle pipes: two, four descriptors).
  const int settled = held + 8;
  const Deadline drained = Deadline::in(milliseconds(10'000));
  while (open_fds(proxy_->pid()) > settled && !drained.expired())
    std::this_thread::sleep_for(milliseconds(20));
  EXPECT_LE(open_fds(proxy_->pid()), settled) << "descriptors not given back";
  // Several more in a row, to show the pause is over for good.
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(first_byte_latency_us(port, hello)) << i;
  const std::uint64_t rss_after = resident_kib(proxy_->pid());
  std::fprintf(stderr, "fd exhaustion (%s): RSS %llu -> %llu KiB\n", GetParam().c_str(),
               static_cast<unsigned long long>(rss_before),
               static_cast<unsigned long long>(rss_after));
  // A few hundred connections' worth of state at most.
  EXPECT_LT(rss_after, rss_before + 16 * 1024 + sanitizer_slack_kib()) << "KiB";

  expect_alive_and_quiet(*proxy_);
  expect_clean_exit_on_sigterm(*proxy_);
}

// Splice needs the most descriptors per connection (two pipes), so its
// fallback to copy is exercised too when a pipe cannot be made.
INSTANTIATE_TEST_SUITE_P(Splice, FdExhaustionTest, ::testing::Values(std::string("splice")),
                         mode_name);

}  // namespace
}  // namespace sniproxy::integration
