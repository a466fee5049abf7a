#include "bpf/sockmap_flow.hpp"

namespace sniproxy::bpf {

std::uint64_t unflushed_bytes(std::uint64_t redirected, std::uint64_t consumed,
                              std::uint64_t peer_written) {
  std::uint64_t taken = redirected + consumed;
  return taken > peer_written ? taken - peer_written : 0;
}

bool may_resume(const ForwardState& state, const ForwardControl& control,
                std::uint64_t peer_send_queue, std::uint64_t cap) {
  return state.passed == control.consumed && peer_send_queue < cap / 2;
}

std::uint64_t resume_limit(std::uint64_t redirected, std::uint64_t cap,
                           std::uint64_t peer_send_queue, std::uint64_t unflushed) {
  std::uint64_t held = peer_send_queue + unflushed;
  return held >= cap ? redirected : redirected + (cap - held);
}

}  // namespace sniproxy::bpf
