#include "dns/address_order.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <string>

namespace sniproxy::dns {

using config::AddressPreference;

int query_family(AddressPreference prefer) {
  switch (prefer) {
    case AddressPreference::ipv4_only:
      return AF_INET;
    case AddressPreference::ipv6_only:
      return AF_INET6;
    case AddressPreference::ipv4_first:
    case AddressPreference::ipv6_first:
      break;
  }
  return AF_UNSPEC;
}

std::string no_address_message(AddressPreference prefer, std::string_view name) {
  const char* what = "address";
  if (prefer == AddressPreference::ipv4_only) what = "IPv4 address";
  if (prefer == AddressPreference::ipv6_only) what = "IPv6 address";
  return std::string("no ") + what + " for " + std::string(name);
}

Result<Addresses> order_addresses(Addresses addresses, AddressPreference prefer,
                                  std::string_view name) {
  const auto is_v4 = [](const IpAddress& a) { return a.family == Family::v4; };
  const auto is_v6 = [](const IpAddress& a) { return a.family == Family::v6; };
  switch (prefer) {
    case AddressPreference::ipv4_first:
      std::stable_partition(addresses.begin(), addresses.end(), is_v4);
      break;
    case AddressPreference::ipv6_first:
      std::stable_partition(addresses.begin(), addresses.end(), is_v6);
      break;
    case AddressPreference::ipv4_only:
      std::erase_if(addresses, is_v6);
      break;
    case AddressPreference::ipv6_only:
      std::erase_if(addresses, is_v4);
      break;
  }
  if (addresses.empty()) return make_error(no_address_message(prefer, name));
  return addresses;
}

}  // namespace sniproxy::dns
