#include "routing/destination_guard.hpp"

#include <algorithm>
#include <utility>

namespace sniproxy::routing {

namespace {

// IPv6 addresses that carry an IPv4 address a translator or tunnel relay
// (possibly on this network) would deliver to; the embedded address must be
// as public as any other destination.
bool embeds_non_public_v4(const IpAddress& a) {
  if (a.family != Family::v6) return false;
  const auto& b = a.bytes;
  const auto zero = [&](std::size_t from, std::size_t to) {
    return std::all_of(b.begin() + from, b.begin() + to, [](std::uint8_t x) { return x == 0; });
  };
  // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052).
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(4, 12))
    return IpAddress::v4(b[12], b[13], b[14], b[15]).is_non_public();
  // 6to4 2002:AABB:CCDD::/48 (RFC 3056).
  if (b[0] == 0x20 && b[1] == 0x02) return IpAddress::v4(b[2], b[3], b[4], b[5]).is_non_public();
  // Deprecated IPv4-compatible ::a.b.c.d (RFC 4291 2.5.5.1); never a real
  // destination. (:: and ::1 are already non-public.)
  return zero(0, 12);
}

// Unmapped, and with a v4 address's unused bytes zeroed, so equal addresses
// hash and compare equal however they were built.
IpAddress canonical(const IpAddress& address) {
  IpAddress a = address.unmapped();
  if (a.family == Family::v4) std::fill(a.bytes.begin() + 4, a.bytes.end(), std::uint8_t{0});
  return a;
}

}  // namespace

DestinationGuard::DestinationGuard(const std::vector<IpAddress>& own_addresses) {
  own_.reserve(own_addresses.size());
  for (const auto& a : own_addresses) own_.insert(canonical(a));
}

bool DestinationGuard::allowed(const IpAddress& destination, bool allow_private) const {
  if (allow_private) return true;
  const IpAddress a = canonical(destination);
  if (a.is_non_public() || embeds_non_public_v4(a)) return false;
  return own_.find(a) == own_.end();
}

}  // namespace sniproxy::routing
