#pragma once
// Moves a deterministic stream each way over one socket at the same time
// (one thread, one poll loop) and checks what arrives byte for byte.
#include <cstdint>
#include <optional>

#include "socket_io.hpp"

namespace sniproxy::integration {

struct DuplexPlan {
  std::uint64_t send_seed = 0;
  std::uint64_t send_bytes = 0;
  std::uint64_t receive_seed = 0;
  std::uint64_t receive_bytes = 0;
  // After the last byte is sent, shutdown(SHUT_WR); then wait for the peer's
  // EOF after the expected bytes.
  bool half_close_when_sent = true;
};

struct DuplexResult {
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::optional<std::uint64_t> first_mismatch;
  bool saw_eof = false;
  IoStatus status = IoStatus::ok;  // first failure, ok when everything went to plan
  [[nodiscard]] bool complete(const DuplexPlan& plan) const {
    return status == IoStatus::ok && sent == plan.send_bytes && received == plan.receive_bytes &&
           !first_mismatch && (saw_eof || !plan.half_close_when_sent);
  }
};

DuplexResult run_duplex(int fd, const DuplexPlan& plan, Deadline deadline);

}  // namespace sniproxy::integration
