#pragma once
// A byte-exact exchange whose sizes and seeds the client chooses per
// connection and tells the backend in-band: after the ClientHello (which the
// proxy forwards) comes a 32-byte plan header, then both directions run
// pattern streams checked byte for byte at the receiving end.
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "backend.hpp"
#include "duplex.hpp"

namespace sniproxy::integration {

struct ExchangePlan {
  std::uint64_t up_seed = 0;  // client -> backend
  std::uint64_t up_bytes = 0;
  std::uint64_t down_seed = 0;  // backend -> client
  std::uint64_t down_bytes = 0;
};

// What the backends saw, summed over connections.
struct ExchangeTally {
  std::atomic<std::uint64_t> complete{0};    // both directions exact, clean ends
  std::atomic<std::uint64_t> incomplete{0};  // ended early (a reset, a close)
  std::atomic<std::uint64_t> mismatched{0};  // any byte differed: never acceptable
  std::atomic<std::uint64_t> bad_header{0};
};

// Sends `hello` and the plan header; false when the send failed.
bool send_plan(int fd, const std::vector<std::uint8_t>& hello, const ExchangePlan& plan,
               Deadline deadline);
// The client's half of the plan (after send_plan).
DuplexResult run_client_side(int fd, const ExchangePlan& plan, Deadline deadline);

// Backend side: reads the TLS record holding the hello, the plan, then runs
// its half; the outcome goes to `tally`.
BackendHandler planned_exchange_handler(std::shared_ptr<ExchangeTally> tally,
                                        milliseconds limit = milliseconds(60'000));

}  // namespace sniproxy::integration
