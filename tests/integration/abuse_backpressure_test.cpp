// Backends that accept and never read while their clients push: each client
// is stalled by TCP flow control, the proxy's memory stays within its
// configured buffers, it does not spin while everything is stalled, and
// other connections are forwarded byte for byte meanwhile.
#include <poll.h>
#include <sys/socket.h>

#include <cstdio>
#include <thread>

#include "support/pattern.hpp"
#include "support/pattern_sender.hpp"
#include "support/planned_duplex.hpp"
#include "support/proxy_fixture.hpp"
#include "support/proxy_health.hpp"

namespace sniproxy::integration {
namespace {

constexpr int kStalled = 16;
constexpr int kBuffersPerWorker = 64;  // 64 x 64 KiB = 4 MiB of buffers per worker

// Holds the connection open and reads nothing until the Backend goes away.
BackendHandler never_reads() {
  return [](BackendConnection& c) {
    const Deadline d = c.within(milliseconds(120'000));
    while (!d.expired()) std::this_thread::sleep_for(milliseconds(20));
  };
}

class BackpressureTest : public ProxyTest {};

TEST_P(BackpressureTest, BackendsThatNeverReadStallTheirClientsOnlyAndBoundMemory) {
  Backend stuck(never_reads(), 256);
  auto tally = std::make_shared<ExchangeTally>();
  Backend exact(planned_exchange_handler(tally));
  ConfigSpec spec = base_config();
  spec.idle_timeout = "60s";
  spec.forwarding_extra = "buffers_per_worker = " + std::to_string(kBuffersPerWorker) + "\n";
  ASSERT_NO_FATAL_FAILURE(
      start_routing(spec, {route("stuck.test", stuck), route("exact.test", exact)}));
  const std::uint16_t port = listener_port();
  const std::uint64_t rss_before = resident_kib(proxy_->pid());

  std::vector<UniqueFd> pushing;
  for (int i = 0; i < kStalled; ++i) {
    auto c = connect_tcp(loopback(port), Deadline::in(milliseconds(3000)));
    ASSERT_TRUE(c.fd);
    ASSERT_EQ(send_all(c.fd.get(), hello_for("stuck.test"), Deadline::in(milliseconds(3000))),
              IoStatus::ok);
    pushing.push_back(std::move(c.fd));
  }
  ASSERT_TRUE(stuck.wait_accepted(kStalled, Deadline::in(milliseconds(5000))));
  // All push at once, each in its own thread, as independent clients would.
  std::vector<std::uint64_t> stalled_at(kStalled);
  {
    std::vector<std::thread> pushers;
    for (int i = 0; i < kStalled; ++i) {
      pushers.emplace_back([&, i] {
        PatternSender sender(3);
        stalled_at[i] =
            sender.send(pushing[i].get(), 512 * kMiB, milliseconds(700), milliseconds(20'000));
      });
    }
    for (auto& t : pushers) t.join();
  }
  std::uint64_t most = 0;
  for (auto b : stalled_at) most = std::max(most, b);
  const std::uint64_t rss_stalled = resident_kib(proxy_->pid());

  // Everything is stalled: the proxy must wait, not poll.
  expect_alive_and_quiet(*proxy_);

  // Others are unaffected: three exchanges of 4 MiB each way, checked at
  // both ends, while the stalled connections stay.
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    auto c = connect_tcp(loopback(port), Deadline::in(milliseconds(3000)));
    ASSERT_TRUE(c.fd);
    const ExchangePlan plan{seed, 4 * kMiB, seed + 50, 4 * kMiB};
    ASSERT_TRUE(
        send_plan(c.fd.get(), hello_for("exact.test"), plan, Deadline::in(milliseconds(3000))));
    const DuplexResult r = run_client_side(c.fd.get(), plan, Deadline::in(milliseconds(20'000)));
    EXPECT_TRUE(r.complete(DuplexPlan{seed, 4 * kMiB, seed + 50, 4 * kMiB}))
        << "status " << to_string(r.status) << " received " << r.received;
  }
  const Deadline counted = Deadline::in(milliseconds(5000));
  while (tally->complete.load() < 3 && !counted.expired())
    std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(tally->complete.load(), 3u);
  EXPECT_EQ(tally->mismatched.load(), 0u);
  const std::uint64_t rss_after = resident_kib(proxy_->pid());

  std::fprintf(stderr,
               "backpressure (%s): %d clients stalled after at most %.1f MiB each; proxy RSS "
               "%llu -> %llu (stalled) -> %llu KiB (after 3 exact exchanges)\n",
               GetParam().c_str(), kStalled, static_cast<double>(most) / kMiB,
               static_cast<unsigned long long>(rss_before),
               static_cast<unsigned long long>(rss_stalled),
               static_cast<unsigned long long>(rss_after));
  // TCP, not the proxy, holds what was offered: a client stalls after the
  // socket buffers on both hops and at most a pipe or a buffer in between.
  EXPECT_LT(most, 64 * kMiB);
  // The proxy's own memory for all of it is bounded by its buffer pool (two
  // workers x 4 MiB), whatever the clients offered; 8 MiB more for the
  // connections' state and the allocator.
  const std::uint64_t pool_kib = 2 * kBuffersPerWorker * 64;
  EXPECT_LT(rss_stalled, rss_before + pool_kib + 8 * 1024 + sanitizer_slack_kib()) << "KiB";
  EXPECT_LT(rss_after, rss_before + pool_kib + 8 * 1024 + sanitizer_slack_kib()) << "KiB";

  for (auto& fd : pushing) close_with_reset(fd);
  expect_alive_and_quiet(*proxy_);
  expect_clean_exit_on_sigterm(*proxy_);
}

SNIPROXY_INSTANTIATE_FOR_MODES(BackpressureTest);

}  // namespace
}  // namespace sniproxy::integration
