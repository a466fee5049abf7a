#pragma once
// The userspace half of sockmap's memory bound, as pure arithmetic over the
// counters (no I/O, so it is tested without root). sockmap.bpf.c explains
// the rule the kernel half follows and why it never reorders bytes.
//
// One direction = the bytes one socket (the source) receives and its peer
// sends. The proxy's duties for that direction:
//  1. keep raising the limit while bytes flow (resume_limit(), at the
//     times next_look() gives), so the verdict passes bytes only when the
//     peer stops taking them;
//  2. while the verdict passes bytes (state.over, or passed > consumed):
//     send none before every redirected byte has left the psock queue for
//     the peer's send queue (unflushed_bytes() == 0), since those come
//     first in the stream; then MSG_PEEK the whole run of passed bytes,
//     send() it to the peer, add it to `consumed` (set_control, raising
//     the limit in the same write), and only then recv() it off the
//     source. While the run is on the source its receive memory holds the
//     sender's window shut, so when the recv()s reopen it the next skb
//     finds passed == consumed and the verdict hands the direction back to
//     the kernel (a run reported in parts let a fast sender keep it).
#include <chrono>
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

// Whether every byte the source received is in the peer's TCP stream:
// `received` since the insert (tcpi_bytes_received, in which the FIN takes
// one when `fin`) all judged by the verdict, every passed byte consumed,
// none unflushed (`forwarded`: the peer's stream since the insert).
// Meaningful once the source showed POLLRDHUP, polled before the counts
// were read: then no more bytes can come, and shutdown(peer, SHUT_WR) puts
// the FIN after the last byte.
bool all_forwarded(const ForwardState& state, const ForwardControl& control,
                   std::uint64_t forwarded, std::uint64_t received, bool fin);

// The limit that lets the verdict queue up to `cap` bytes for the peer
// beyond the `unflushed` ones its psock queue holds now: redirected + cap -
// unflushed, never below `redirected` (a full queue allows nothing more).
// Raising the limit is safe at any time, over or not: the limit never
// affects the order of bytes. The cap bounds only that psock queue, the
// memory no socket is charged for; the peer's send queue and the source's
// receive queue are TCP's own, bounded by its buffer sizes as in any mode.
std::uint64_t resume_limit(std::uint64_t redirected, std::uint64_t cap, std::uint64_t unflushed);

// When userspace should look at a direction again: before the bytes moving
// now (`moved` redirected in `elapsed`) could use half of the `headroom`
// the limit leaves, between 1 ms and 1 s; while nothing moves, twice the
// `previous` wait (at least 10 ms), up to 1 s. A late look costs no byte:
// the verdict then passes bytes to userspace, which the poll sees.
std::chrono::microseconds next_look(std::uint64_t headroom, std::uint64_t moved,
                                    std::chrono::microseconds elapsed,
                                    std::chrono::microseconds previous);

}  // namespace sniproxy::bpf
