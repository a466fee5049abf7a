// A backend that stops reading must stall the client through TCP, in every
// mode: the proxy (and, in sockmap mode, the kernel on its behalf) may hold
// only bounded memory for it, and once the backend reads again every byte
// arrives in order. Without sockmap's bound the kernel would queue what the
// client sends (about 1 GB measured, docs/kernel.md).
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "support/pattern.hpp"
#include "support/pattern_sender.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

constexpr std::uint64_t kSeed = 77;
constexpr std::uint64_t kOffered = 1024 * kMiB;  // what the client tries to send while stalled
constexpr std::uint64_t kAfterRelease = 16 * kMiB;

struct SlowReaderResult {
  std::atomic<bool> release{false};
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<bool> in_order{false};
};

// Reads the hello, then nothing until released, then everything to EOF.
BackendHandler slow_reader(std::size_t hello_size, std::shared_ptr<SlowReaderResult> result) {
  return [hello_size, result](BackendConnection& c) {
    const Deadline d = c.within(milliseconds(60'000));
    std::vector<std::uint8_t> hello;
    if (read_exact(c.fd.get(), hello_size, hello, d) != IoStatus::ok) return;
    while (!result->release && !d.expired()) std::this_thread::sleep_for(milliseconds(5));
    PatternChecker checker(kSeed);
    std::vector<std::uint8_t> buf;
    while (true) {
      buf.clear();
      if (read_some(c.fd.get(), buf, d) != IoStatus::ok) break;
      checker.consume(buf);
    }
    result->bytes = checker.bytes();
    result->in_order = !checker.first_mismatch().has_value();
    result->done = true;
  };
}

class SlowReaderTest : public ProxyTest {};

TEST_P(SlowReaderTest, BackendThatStopsReadingStallsTheClientAndLosesNothing) {
  auto result = std::make_shared<SlowReaderResult>();
  const auto hello = hello_for("slow.test");
  Backend backend(slow_reader(hello.size(), result));
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
  const Deadline done = Deadline::in(milliseconds(30'000));
  while (!result->done && !done.expired()) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_TRUE(result->done) << "the backend did not see the end of the stream";
  EXPECT_EQ(result->bytes.load(), total);
  EXPECT_TRUE(result->in_order);
}

SNIPROXY_INSTANTIATE_FOR_MODES(SlowReaderTest);

}  // namespace
}  // namespace sniproxy::integration
