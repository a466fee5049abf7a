// Bulk transfer: many connections moving large deterministic streams both
// ways at once, every byte checked.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>

#include "support/backend_behaviours.hpp"
#include "support/duplex.hpp"
#include "support/pattern.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

constexpr std::uint64_t kReplySeedMix = 0x5a5a5a5a5a5a5a5aull;

// The backend side of one transfer: checks the hello, learns the seed from
// the next 8 bytes, then streams its own pattern while checking the client's.
BackendHandler duplex_backend(std::vector<std::uint8_t> hello, std::uint64_t bytes,
                              std::shared_ptr<std::atomic<int>> good, milliseconds limit) {
  return [=](BackendConnection& c) {
    const Deadline d = c.within(limit);
    std::vector<std::uint8_t> head;
    if (read_exact(c.fd.get(), hello.size() + 8, head, d) != IoStatus::ok) return;
    if (!std::equal(hello.begin(), hello.end(), head.begin())) return;
    std::uint64_t seed = 0;
    std::memcpy(&seed, head.data() + hello.size(), 8);
    DuplexPlan plan{.send_seed = seed ^ kReplySeedMix,
                    .send_bytes = bytes,
                    .receive_seed = seed,
                    .receive_bytes = bytes};
    const DuplexResult r = run_duplex(c.fd.get(), plan, d);
    if (r.complete(plan)) {
      ++*good;
    } else {
      // The client side reports its own view; this is the backend's.
      std::fprintf(stderr,
                   "backend side of connection %d: status=%s sent=%llu received=%llu "
                   "first_mismatch=%lld eof=%d\n",
                   c.index, std::string(to_string(r.status)).c_str(),
                   static_cast<unsigned long long>(r.sent),
                   static_cast<unsigned long long>(r.received),
                   r.first_mismatch ? static_cast<long long>(*r.first_mismatch) : -1LL, r.saw_eof);
    }
  };
}

class TransferTest : public ProxyTest {
 protected:
  void transfer(int connections, std::uint64_t bytes, milliseconds limit,
                const std::string& forwarding_extra = "") {
    auto good_at_backend = std::make_shared<std::atomic<int>>(0);
    const auto hello = hello_for("bulk.test");
    Backend backend(duplex_backend(hello, bytes, good_at_backend, limit));
    ConfigSpec spec = base_config();
    spec.idle_timeout = "30s";
    // Byte exactness is the point here, not timeouts: on two busy cores (CI
    // runs two suites at once) a starved backend can take more than the
    // default 2 s to accept, and a starved reactor can see a hello late.
    spec.hello_timeout = "15s";
    spec.connect_timeout = "15s";
    spec.forwarding_extra = forwarding_extra;
    ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("bulk.test", backend)}));

    std::vector<DuplexResult> results(connections);
    std::vector<std::string> errors(connections);
    std::vector<std::thread> clients;
    const Deadline deadline = Deadline::in(limit);
    const auto t0 = Clock::now();
    for (int i = 0; i < connections; ++i) {
      clients.emplace_back([&, i] {
        auto c = connect_tcp(loopback(listener_port()), deadline);
        if (!c.fd) {
          errors[i] = "connect failed";
          return;
        }
        const std::uint64_t seed = 1000 + static_cast<std::uint64_t>(i);
        std::vector<std::uint8_t> head = hello;
        head.resize(hello.size() + 8);
        std::memcpy(head.data() + hello.size(), &seed, 8);
        if (send_all(c.fd.get(), head, deadline) != IoStatus::ok) {
          errors[i] = "hello not sent";
          return;
        }
        DuplexPlan plan{.send_seed = seed,
                        .send_bytes = bytes,
                        .receive_seed = seed ^ kReplySeedMix,
                        .receive_bytes = bytes};
        results[i] = run_duplex(c.fd.get(), plan, deadline);
        if (!results[i].complete(plan)) {
          errors[i] = "status=" + std::string(to_string(results[i].status)) +
                      " sent=" + std::to_string(results[i].sent) +
                      " received=" + std::to_string(results[i].received) +
                      " eof=" + std::to_string(results[i].saw_eof) +
                      (results[i].first_mismatch
                           ? " first_mismatch=" + std::to_string(*results[i].first_mismatch)
                           : "");
        }
      });
    }
    for (auto& t : clients) t.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    for (int i = 0; i < connections; ++i) EXPECT_EQ(errors[i], "") << "connection " << i;
    ASSERT_TRUE(backend.wait_accepted(connections, Deadline::in(milliseconds(1000))));
    // The backend's checks finish just after the client's (it sees EOF last).
    const Deadline backend_done = Deadline::in(milliseconds(10'000));
    while (good_at_backend->load() < connections && !backend_done.expired())
      std::this_thread::sleep_for(milliseconds(10));
    EXPECT_EQ(good_at_backend->load(), connections) << "backend-side checks that passed";
    const double mib = 2.0 * connections * static_cast<double>(bytes) / (1 << 20);
    std::fprintf(stderr, "transfer: %d connections, %.0f MiB in %.1f s (%.0f MiB/s)\n", connections,
                 mib, seconds, mib / seconds);
  }
};

TEST_P(TransferTest, OneConnectionFourMiB) {
  transfer(1, 4 << 20, milliseconds(30'000));
}

TEST_P(TransferTest, ThirtyTwoConnectionsSixtyFourMiBEachWay) {
  transfer(32, 64ull << 20, milliseconds(120'000));
}

// Far fewer pipes and buffers than directions in flight: directions must wait
// for one (splice: the pipe pool; copy: -ENOBUFS) and still lose nothing.
TEST_P(TransferTest, ScarcePipesAndBuffersStillCarryEveryByte) {
  transfer(8, 8 << 20, milliseconds(60'000), "pipes_per_worker = 2\nbuffers_per_worker = 16\n");
}

SNIPROXY_INSTANTIATE_FOR_MODES(TransferTest);

}  // namespace
}  // namespace sniproxy::integration
