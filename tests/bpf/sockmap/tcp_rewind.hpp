#pragma once
// Makes a TCP sender retransmit on demand, for tests of what a receiver does
// with a segment that partly overlaps bytes it already has. TCP_REPAIR
// (CAP_NET_ADMIN) takes the connected socket out silently and puts in its
// place a socket with the same 4-tuple, sequence numbers, window and
// options, except that its next send starts `rewind` bytes back: the bytes
// it sends first are, for the receiver, a retransmit of bytes it received.
#include <cstdint>
#include <string>

#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::bpf::testing {

// `connected` must have every byte it sent acknowledged (SIOCOUTQ 0); it is
// closed without a FIN or RST. The returned socket is ESTABLISHED.
Result<UniqueFd> rewind_sender(UniqueFd connected, std::uint32_t rewind);

}  // namespace sniproxy::bpf::testing
