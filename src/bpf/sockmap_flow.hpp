#pragma once
// The userspace half of sockmap's memory bound, as pure arithmetic over the
// counters (no I/O, so it is tested without root). sockmap.bpf.c explains
// the rule the kernel half follows and why it never reorders bytes.
//
// One direction = the bytes one socket (the source) receives and its peer
// sends. The proxy's duty for that direction while the kernel passes bytes
// to it (state.over, or passed > consumed):
//  1. before sending any passed byte to the peer, wait until every
//     redirected byte has left the psock queue for the peer's send queue
//     (unflushed_bytes() == 0); those bytes come first in the stream;
//  2. recv() the passed bytes from the source, send() all of them to the
//     peer, and only then add them to `consumed` (set_control);
//  3. once passed == consumed and the peer's send queue has drained below
//     cap / 2, write limit = resume_limit(): the next skb the source
//     receives is redirected again, if passed == consumed still holds when
//     the verdict judges it. A sender as fast as the userspace copy can keep
//     passing bytes between the last recv() and the report, and so keep the
//     direction in userspace (correct, only dearer) until its traffic pauses.
#include <cstdint>

namespace sniproxy::bpf {

// What the verdict did with one source socket's bytes (BPF-owned).
struct ForwardState {
  std::uint64_t redirected = 0;  // to the peer's egress, in the kernel
  std::uint64_t passed = 0;      // left on the source for userspace to recv()
  std::uint64_t unpaired = 0;    // of passed: the peer was not in the sockhash (yet)
  std::uint64_t trimmed = 0;     // old bytes cut off the front of overlapping retransmits
  std::uint64_t untrimmed = 0;   // old bytes that could not be cut: reset the connection
  bool over = false;             // over the limit: bytes go to userspace

  friend bool operator==(const ForwardState&, const ForwardState&) = default;
};

// What userspace allows (userspace-owned).
struct ForwardControl {
  std::uint64_t limit = 0;     // redirect while redirected stays <= limit
  std::uint64_t consumed = 0;  // passed bytes recv()ed from the source and sent to the peer

  friend bool operator==(const ForwardControl&, const ForwardControl&) = default;
};

// Bytes of one direction that are not yet in the peer's TCP stream: the
// redirected skbs still queued on the peer's psock (userspace's own sends,
// counted in `consumed`, are in the stream once send() returned).
// peer_written: bytes written into the peer's stream since the insert
// (stream_bytes_written() now minus at the insert). 0: everything the
// direction carried so far is in the peer's send queue or beyond.
std::uint64_t unflushed_bytes(std::uint64_t redirected, std::uint64_t consumed,
                              std::uint64_t peer_written);

// Whether kernel forwarding may resume: userspace holds nothing (passed ==
// consumed) and the peer's send queue is below cap / 2.
bool may_resume(const ForwardState& state, const ForwardControl& control,
                std::uint64_t peer_send_queue, std::uint64_t cap);

// The limit that lets the kernel queue at most `cap` bytes for the peer
// again: redirected + cap - (what the kernel still holds for the peer, its
// send queue plus the unflushed bytes), never below `redirected` (a full
// queue allows nothing more). Raising the limit this way is safe at any
// time, over or not: the limit never affects the order of bytes.
std::uint64_t resume_limit(std::uint64_t redirected, std::uint64_t cap,
                           std::uint64_t peer_send_queue, std::uint64_t unflushed = 0);

}  // namespace sniproxy::bpf
