#pragma once
// Orders (and for *_only, filters) a name's addresses by the configured
// family preference. Pure: no I/O.
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "config/config.hpp"
#include "dns/addresses.hpp"

namespace sniproxy::dns {

// Keeps the order within each family (the server's order). An empty result is
// an error naming the name and the family that was missing.
Result<Addresses> order_addresses(Addresses addresses, config::AddressPreference prefer,
                                  std::string_view name);

// The address family to ask the DNS for under `prefer`: AF_INET, AF_INET6
// or AF_UNSPEC (both A and AAAA).
int query_family(config::AddressPreference prefer);

// "no IPv4 address for NAME", "no IPv6 address for NAME" or
// "no address for NAME", whichever `prefer` asked for.
std::string no_address_message(config::AddressPreference prefer, std::string_view name);

}  // namespace sniproxy::dns
