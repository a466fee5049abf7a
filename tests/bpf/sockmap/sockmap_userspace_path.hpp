#pragma once
// What the proxy does for one sockmap direction while the kernel passes
// bytes to it (sockmap_flow.hpp), written out for the tests: recv() the
// passed bytes from the source, send() them to the peer, report them as
// consumed, and hand the direction back to the kernel once the peer drained.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "bpf/sockmap/sockmap.hpp"

namespace sniproxy::bpf::testing {

class UserspacePath {
 public:
  UserspacePath(Sockmap& map, const SockPair& pair, Direction direction, std::uint64_t cap);

  // One round: at most 64 recv()/send() pairs of passed bytes (each send
  // bounded to 10 s), then the limit. ADD_FAILURE on errors (false then).
  bool step();

  [[nodiscard]] std::uint64_t moved() const { return moved_; }      // bytes copied by userspace
  [[nodiscard]] std::uint64_t resumes() const { return resumes_; }  // limits written while over
  [[nodiscard]] std::uint64_t raises() const { return raises_; }    // limits raised while not over
  // Rounds that found passed bytes but had to wait for the kernel queue.
  [[nodiscard]] std::uint64_t waits() const { return waits_; }
  // `redirected` when the first resume was written (0: none yet).
  [[nodiscard]] std::uint64_t redirected_at_first_resume() const { return first_resume_at_; }

 private:
  // Duties 1 and 2 while passed > consumed; `state` is refreshed as it goes.
  bool move_passed(ForwardState& state, ForwardControl& control);
  // Sends buffer_[0, size) to the peer.
  bool send_all(std::size_t size);
  bool adjust_limit(const ForwardState& state, ForwardControl& control);

  Sockmap& map_;
  SockPair pair_;
  Direction direction_;
  std::uint64_t cap_;
  int source_;
  int peer_;
  std::vector<std::uint8_t> buffer_;
  std::uint64_t moved_ = 0;
  std::uint64_t resumes_ = 0;
  std::uint64_t raises_ = 0;
  std::uint64_t waits_ = 0;
  std::uint64_t first_resume_at_ = 0;
};

}  // namespace sniproxy::bpf::testing
