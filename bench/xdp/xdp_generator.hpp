#pragma once
// The kernel as a packet generator: BPF_PROG_TEST_RUN in live-frames mode
// (BPF_F_TEST_XDP_LIVE_FRAMES, Linux 5.18+) runs a two-instruction XDP
// program that redirects one frame out of a veth, `count` times. The frames
// reach the peer as XDP frames in its receive ring, as from a NIC, without
// the per-packet skb of a packet socket (for which veth's XDP must first
// copy each packet into a page: a cost a real NIC driver does not have).
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace sniproxy::frames {

// Sends `frame` `count` times out of `ifname` (in this thread's network
// namespace); returns once all were handed to the device.
Result<bool> redirect_frames(const std::string& ifname, const std::vector<std::uint8_t>& frame,
                             std::uint32_t count);

// Turns GRO on for `ifname`, as on a NIC; on a veth this also gives the
// receive side the NAPI context it needs to take XDP frames when no XDP
// program is attached to it.
Result<bool> enable_gro(const std::string& ifname);

}  // namespace sniproxy::frames
