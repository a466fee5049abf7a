#include "planned_duplex.hpp"

#include <cstring>

namespace sniproxy::integration {

namespace {

constexpr std::size_t kHeaderSize = 32;

std::vector<std::uint8_t> encode(const ExchangePlan& plan) {
  std::vector<std::uint8_t> out(kHeaderSize);
  const std::uint64_t words[4] = {plan.up_seed, plan.up_bytes, plan.down_seed, plan.down_bytes};
  std::memcpy(out.data(), words, sizeof words);
  return out;
}

ExchangePlan decode(const std::vector<std::uint8_t>& bytes, std::size_t at) {
  std::uint64_t words[4];
  std::memcpy(words, bytes.data() + at, sizeof words);
  return ExchangePlan{words[0], words[1], words[2], words[3]};
}

}  // namespace

bool send_plan(int fd, const std::vector<std::uint8_t>& hello, const ExchangePlan& plan,
               Deadline deadline) {
  std::vector<std::uint8_t> first = hello;
  const auto header = encode(plan);
  first.insert(first.end(), header.begin(), header.end());
  return send_all(fd, first, deadline) == IoStatus::ok;
}

DuplexResult run_client_side(int fd, const ExchangePlan& plan, Deadline deadline) {
  return run_duplex(fd,
                    DuplexPlan{.send_seed = plan.up_seed,
                               .send_bytes = plan.up_bytes,
                               .receive_seed = plan.down_seed,
                               .receive_bytes = plan.down_bytes},
                    deadline);
}

BackendHandler planned_exchange_handler(std::shared_ptr<ExchangeTally> tally, milliseconds limit) {
  return [tally, limit](BackendConnection& c) {
    const Deadline d = c.within(limit);
    std::vector<std::uint8_t> head;
    // The hello is one TLS record: 5-byte header, then its length.
    if (read_exact(c.fd.get(), 5, head, d) != IoStatus::ok) {
      ++tally->incomplete;
      return;
    }
    const std::size_t record = (std::size_t{head[3]} << 8) | head[4];
    if (head[0] != 0x16 || read_exact(c.fd.get(), record + kHeaderSize, head, d) != IoStatus::ok) {
      ++(head[0] != 0x16 ? tally->bad_header : tally->incomplete);
      return;
    }
    const ExchangePlan plan = decode(head, 5 + record);
    const DuplexPlan mine{.send_seed = plan.down_seed,
                          .send_bytes = plan.down_bytes,
                          .receive_seed = plan.up_seed,
                          .receive_bytes = plan.up_bytes};
    const DuplexResult r = run_duplex(c.fd.get(), mine, d);
    if (r.first_mismatch) {
      ++tally->mismatched;
    } else if (r.complete(mine)) {
      ++tally->complete;
    } else {
      ++tally->incomplete;
    }
  };
}

}  // namespace sniproxy::integration
