#pragma once
// The 64-bit hashes consistent hashing is built on: stable across runs and
// workers (unlike std::hash), so every worker builds the same table and a
// client keeps its server across restarts.
#include <cstdint>
#include <string_view>

#include "common/address.hpp"

namespace sniproxy::upstream {

struct MemberKey;

// FNV-1a over `bytes`, finished with a 64-bit mixer; `seed` gives
// independent hashes of the same bytes.
std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed = 0);

// hash_source's key: the client's address (an IPv4-mapped IPv6 address
// hashes as its IPv4 address).
std::uint64_t hash_of(const IpAddress& client);
// hash_name's key: the requested server name, as normalised.
std::uint64_t hash_of(std::string_view server_name);
std::uint64_t hash_of(const MemberKey& key);

}  // namespace sniproxy::upstream
