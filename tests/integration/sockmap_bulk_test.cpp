// Sockmap mode keeps a bulk stream whose receiver is slower than its sender
// mostly on the kernel path: past the cap the verdict passes one receive
// window to the proxy, which moves it whole and hands the direction back,
// so the kernel carries about the cap between two such runs (before, every
// run lasted as long as the sender kept pace, and 97% of a bulk transfer
// went through userspace). Every byte still arrives, in order.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "support/admin_client.hpp"
#include "support/backend_behaviours.hpp"
#include "support/pattern.hpp"
#include "support/pattern_sender.hpp"
#include "support/proxy_fixture.hpp"
#include "support/slow_reader_backend.hpp"

namespace sniproxy::integration {
namespace {

constexpr std::uint64_t kSeed = 23;
constexpr std::uint64_t kStream = 128 * kMiB;
constexpr std::uint64_t kCap = 4 * kMiB;  // the default

constexpr const char* kRmemMax = "/proc/sys/net/core/rmem_max";

std::uint64_t receive_buffer_max() {
  std::ifstream file(kRmemMax);
  std::uint64_t value = 0;
  file >> value;
  return value;
}

// net.core.rmem_max set for one test and put back after (the integration
// suites run alone, not beside other tests): below the buffer it wants
// (cap/16, at least 512 KiB) the proxy leaves receive buffers to autotuning (sockmap_session.cpp),
// as on a kernel with the default 208 KiB.
class RmemMaxFor {
 public:
  explicit RmemMaxFor(std::uint64_t value) : before_(receive_buffer_max()) {
    if (before_ != 0) std::ofstream(kRmemMax) << value;
  }
  ~RmemMaxFor() {
    if (before_ != 0) std::ofstream(kRmemMax) << before_;
  }
  RmemMaxFor(const RmemMaxFor&) = delete;
  RmemMaxFor& operator=(const RmemMaxFor&) = delete;

 private:
  std::uint64_t before_;
};

struct PathBytes {
  double kernel = 0;
  double userspace = 0;
};

class SockmapBulkTest : public ProxyTest {
 protected:
  // Sends `stream` pattern bytes through a proxy with `cap` to the slow
  // reader and checks they all arrive in order; what each path carried.
  void stream_past_the_cap(std::uint64_t cap, std::uint64_t stream, PathBytes& moved);
};

void SockmapBulkTest::stream_past_the_cap(std::uint64_t cap, std::uint64_t stream,
                                          PathBytes& moved) {
  const std::uint64_t buffer = std::max<std::uint64_t>(cap / 16, 512 * 1024);
  const RmemMaxFor room(std::max<std::uint64_t>(receive_buffer_max(), buffer));
  ASSERT_GE(receive_buffer_max(), buffer) << "could not raise " << kRmemMax;
  auto result = std::make_shared<SlowReaderResult>();
  const auto hello = hello_for("bulk.test");
  // A millisecond's pause after each read: a receiver slower than the
  // sender, so the kernel's queue for it reaches the cap again and again.
  Backend backend(slow_reader(
      {.seed = kSeed, .hello_size = hello.size(), .pause_after_read = milliseconds(1)}, result));
  const std::uint16_t admin_port = free_port();
  ConfigSpec spec = base_config();
  spec.forwarding_extra = fmt::format("sockmap_queue_cap = {}\n", cap);
  spec.extra += fmt::format("[admin]\nlisten = \"127.0.0.1:{}\"\n", admin_port);
  // The admin port is scraped only after the transfer, long after start-up.
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("bulk.test", backend)}));

  auto c = connect_tcp(loopback(listener_port()), Deadline::in(milliseconds(3000)));
  ASSERT_TRUE(c.fd);
  ASSERT_EQ(send_all(c.fd.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
  PatternSender sender(kSeed);
  EXPECT_EQ(sender.send(c.fd.get(), stream, milliseconds(30'000), milliseconds(60'000)), stream);
  shutdown_write(c.fd.get());
  ASSERT_TRUE(result->wait_done(Deadline::in(milliseconds(60'000))))
      << "the backend did not see the end of the stream";
  EXPECT_EQ(result->bytes.load(), stream);
  EXPECT_TRUE(result->in_order);
  c.fd.reset();

  // The counters are added when the connection ends.
  double kernel = 0;
  double userspace = 0;
  for (int i = 0; i < 250; ++i) {
    const Scrape s = parse_exposition(http_get(admin_port, "/metrics").body);
    kernel = s.at("sniproxy_sockmap_bytes_total{path=\"kernel\"}");
    userspace = s.at("sniproxy_sockmap_bytes_total{path=\"userspace\"}");
    if (kernel + userspace >= static_cast<double>(stream + hello.size())) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  std::fprintf(stderr, "sockmap bulk, cap %llu: %.1f MiB in the kernel, %.1f MiB in userspace\n",
               static_cast<unsigned long long>(cap), kernel / kMiB, userspace / kMiB);
  // The hello was only peeked before the insert: the kernel carries it too.
  EXPECT_EQ(kernel + userspace, static_cast<double>(stream + hello.size()));
  EXPECT_GT(userspace, 0) << "the stream never reached the cap: nothing was tested";
  moved = {kernel, userspace};
}

TEST_P(SockmapBulkTest, AStreamPastTheCapStaysMostlyOnTheKernelPathAndArrivesWhole) {
  PathBytes moved;
  ASSERT_NO_FATAL_FAILURE(stream_past_the_cap(kCap, kStream, moved));
  EXPECT_GT(moved.kernel, 2 * moved.userspace);
}

// The receive buffer grows with the cap more slowly than the cap (cap/16),
// so a larger cap keeps a larger share in the kernel: at cap/8 every cap
// kept about 77%.
TEST_P(SockmapBulkTest, ALargerCapKeepsALargerShareOnTheKernelPath) {
  PathBytes moved;
  ASSERT_NO_FATAL_FAILURE(stream_past_the_cap(4 * kCap, 2 * kStream, moved));
  EXPECT_GT(moved.kernel, 5 * moved.userspace);
}

// Where rmem_max keeps the buffers from being fixed, the start says so and
// what to raise: bulk past the cap then mostly takes the userspace path.
TEST_P(SockmapBulkTest, ATooSmallRmemMaxIsNamedAtStart) {
  const RmemMaxFor small(212992);  // the kernel's default
  ASSERT_EQ(receive_buffer_max(), 212992u);
  Backend backend(echo_handler());
  ConfigSpec spec = base_config();
  spec.forwarding_extra = fmt::format("sockmap_queue_cap = {}\n", kCap);
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("bulk.test", backend)}));
  EXPECT_TRUE(proxy_->wait_for_log("event=sockmap_receive_buffer rmem_max=212992 wanted=524288",
                                   Deadline::in(milliseconds(3000))))
      << proxy_->log();
  EXPECT_NE(proxy_->log().find("sysctl -w net.core.rmem_max=524288"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Sockmap, SockmapBulkTest, ::testing::Values("sockmap"), mode_name);

}  // namespace
}  // namespace sniproxy::integration
