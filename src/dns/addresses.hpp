#pragma once
// What a lookup yields: a name's addresses, in the order to try them.
#include <vector>

#include "common/address.hpp"

namespace sniproxy::dns {

using Addresses = std::vector<IpAddress>;

}  // namespace sniproxy::dns
