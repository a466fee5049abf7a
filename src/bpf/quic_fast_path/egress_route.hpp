#pragma once
// The device a datagram to an address leaves by, asked of the kernel's
// routing table (one RTM_GETROUTE over rtnetlink, in this thread's network
// namespace). The same lookup the kernel makes when the proxy sends, so it
// honours policy rules (by source address), multiple tables and devices
// that are up but carry no address; needs no capability.
#include "common/address.hpp"
#include "common/result.hpp"

namespace sniproxy::bpf {

// The ifindex of the device that a datagram from `source` to `destination`
// leaves by. Fails on no route (ENETUNREACH and the like) or a route that
// names no device (blackhole, unreachable, prohibit).
Result<int> egress_ifindex(const IpAddress& source, const IpAddress& destination);

}  // namespace sniproxy::bpf
