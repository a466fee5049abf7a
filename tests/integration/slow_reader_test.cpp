// A backend that stops reading must stall the client through TCP, in every
// mode: the proxy (and, in sockmap mode, the kernel on its behalf) may hold
// only bounded memory for it, and once the backend reads again every byte
// arrives in order. Without sockmap's bound the kernel would queue what the
// client sends (about 1 GB measured, docs/kernel.md).
#include <poll.h>
#include <sys/socket.h>

#include <cstdio>
#include <thread>

#include "support/pattern.hpp"
#include "support/pattern_sender.hpp"
#include "support/proxy_fixture.hpp"
#include "support/slow_reader_backend.hpp"

namespace sniproxy::integration {
namespace {

constexpr std::uint64_t kSeed = 77;
constexpr std::uint64_t kOffered = 1024 * kMiB;  // what the client tries to send while stalled
constexpr std::uint64_t kAfterRelease = 16 * kMiB;

class SlowReaderTest : public ProxyTest {};

TEST_P(SlowReaderTest, BackendThatStopsReadingStallsTheClientAndLosesNothing) {
  auto result = std::make_shared<SlowReaderResult>();
  const auto hello = hello_for("slow.test");
  Backend backend(slow_reader(
      {.seed = kSeed, .hello_size = hello.size(), .hold_until_released = true}, result));
  ConfigSpec spec = base_config();
  spec.idle_timeout = "60s";
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("slow.test", backend)}));

  auto c = connect_tcp(loopback(listener_port()), Deadline::in(milliseconds(3000)));
  ASSERT_TRUE(c.fd);
  ASSERT_EQ(send_all(c.fd.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
  PatternSender sender(kSeed);
  // Phase 1: the backend reads nothing; the client must stall far below
  // what it offers.
  const std::uint64_t stalled =
      sender.send(c.fd.get(), kOffered, milliseconds(700), milliseconds(20'000));
  std::fprintf(stderr, "slow reader (%s): client stalled after %.1f MiB of %.0f MiB offered\n",
               GetParam().c_str(), static_cast<double>(stalled) / kMiB,
               static_cast<double>(kOffered) / kMiB);
  EXPECT_LT(stalled, 64 * kMiB);

  // Phase 2: the backend reads; the rest goes through and arrives in order.
  result->release = true;
  // What phase 1 generated but could not send goes first, then 16 MiB more.
  const std::uint64_t total = stalled + sender.pending() + kAfterRelease;
  const std::uint64_t more = sender.send(c.fd.get(), sender.pending() + kAfterRelease,
                                         milliseconds(10'000), milliseconds(30'000));
  EXPECT_EQ(stalled + more, total);
  shutdown_write(c.fd.get());
  ASSERT_TRUE(result->wait_done(Deadline::in(milliseconds(30'000))))
      << "the backend did not see the end of the stream";
  EXPECT_EQ(result->bytes.load(), total);
  EXPECT_TRUE(result->in_order);
}

SNIPROXY_INSTANTIATE_FOR_MODES(SlowReaderTest);

}  // namespace
}  // namespace sniproxy::integration
