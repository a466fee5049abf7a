// Two known processes stream over a lossy link; every retransmit on their
// connections must name its sender (>= 99%), and the test prints how often
// the task on the CPU at the retransmit (what tcpretrans reports) was right.
#include <unistd.h>

#include <gtest/gtest.h>

#include "attribution.hpp"
#include "bpf/retrans/retrans_tracer.hpp"
#include "bulk_traffic.hpp"
#include "lossy_link.hpp"
#include "retrans_support.hpp"

namespace sniproxy::retrans_test {
namespace {

using std::chrono::milliseconds;

TEST(RetransAttribution, TwoSendersOverLossyLink) {
  SKIP_UNLESS_RETRANS_POSSIBLE();
  LossyLink link(0.02);
  ASSERT_EQ(link.setup(), "");
  Receiver receiver(link.receiver_ns(), kReceiver4);
  ASSERT_EQ(receiver.error(), "");

  std::vector<bpf::RetransEvent> events;
  auto tracer = bpf::RetransTracer::start([&](const bpf::RetransEvent& e) { events.push_back(e); });
  ASSERT_TRUE(tracer.ok()) << tracer.error().message;
  for (const auto& hook : (*tracer)->hooks()) std::printf("hook: %s\n", hook.c_str());

  // Rounds of two senders until enough retransmits were seen: how many a
  // 2% drop yields depends on GSO sizes and CPU speed (a sanitizer build on
  // two busy cores once saw 9 in a round, and a CI run beside a benchmark
  // 12 in four rounds, all on one name), and the fraction needs a sample.
  constexpr std::size_t kWantEvents = 20;
  constexpr int kMaxRounds = 8;
  std::vector<Sender> senders;
  for (int round = 0; round < kMaxRounds; ++round) {
    for (const char* comm : {"rtx-alpha", "rtx-beta"}) {
      std::string error;
      senders.push_back(start_sender(link.sender_ns(), comm, receiver.endpoint(),
                                     milliseconds(3000), 16384, error));
      ASSERT_NE(senders.back().pid, -1) << error;
    }
    // Drain while they run, so a small perf ring cannot overflow.
    auto end = std::chrono::steady_clock::now() + milliseconds(3500);
    while (std::chrono::steady_clock::now() < end)
      ASSERT_TRUE((*tracer)->poll(milliseconds(100)).ok());
    for (auto it = senders.end() - 2; it != senders.end(); ++it)
      EXPECT_TRUE(wait_sender(*it, milliseconds(10'000))) << it->comm;
    // Data still queued after close() is retransmitted too: wait for EOF.
    EXPECT_TRUE(receiver.wait_finished(static_cast<int>(senders.size()), milliseconds(20'000)));
    ASSERT_TRUE((*tracer)->poll(milliseconds(200)).ok());
    // Enough in all, and some for each name: two senders sharing one lossy
    // link can split the drops unevenly (a CI run once saw 47 and 0).
    const Attribution so_far = score(events, senders);
    std::size_t alpha = 0;
    std::size_t beta = 0;
    for (std::size_t i = 0; i < senders.size(); ++i)
      (i % 2 == 0 ? alpha : beta) += so_far.per_sender[i];
    if (so_far.events >= kWantEvents && alpha > 0 && beta > 0) break;
  }
  for (std::size_t i = 2; i < senders.size(); ++i) ASSERT_NE(senders[i].pid, senders[i - 2].pid);
  ASSERT_NE(senders[0].pid, senders[1].pid);

  Attribution a = score(events, senders);
  std::size_t per_comm[2] = {0, 0};  // senders alternate alpha, beta
  for (std::size_t i = 0; i < senders.size(); ++i) per_comm[i % 2] += a.per_sender[i];
  std::printf(
      "retransmits on the senders' connections: %zu (alpha %zu, beta %zu) from %zu senders; "
      "all events %zu, lost %llu; received %llu bytes\n",
      a.events, per_comm[0], per_comm[1], senders.size(), events.size(),
      static_cast<unsigned long long>((*tracer)->lost_events()),
      static_cast<unsigned long long>(receiver.bytes()));
  std::printf("owner-map attribution correct: %.4f (%zu/%zu)\n", a.owner_fraction(),
              a.owner_correct, a.events);
  std::printf("current-task PID correct:      %.4f (%zu/%zu)\n", a.current_fraction(),
              a.current_correct, a.events);
  for (const auto& w : a.wrong) std::printf("wrong: %s\n", w.c_str());
  auto c = (*tracer)->counters();
  std::printf(
      "bpf counters: retransmits=%llu unknown_owner=%llu owners_recorded=%llu "
      "owners_removed=%llu kworker_skipped=%llu\n",
      static_cast<unsigned long long>(c.retransmits),
      static_cast<unsigned long long>(c.unknown_owner),
      static_cast<unsigned long long>(c.owners_recorded),
      static_cast<unsigned long long>(c.owners_removed),
      static_cast<unsigned long long>(c.kworker_sends_skipped));

  EXPECT_EQ((*tracer)->lost_events(), 0u);
  EXPECT_GT(per_comm[0], 0u) << "no retransmits for rtx-alpha";
  EXPECT_GT(per_comm[1], 0u) << "no retransmits for rtx-beta";
  EXPECT_GE(a.events, 10u);  // a floor for the fraction to mean anything
  EXPECT_GE(a.owner_fraction(), 0.99);
}

}  // namespace
}  // namespace sniproxy::retrans_test
