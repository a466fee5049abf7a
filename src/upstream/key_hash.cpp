#include "upstream/key_hash.hpp"

#include "upstream/member.hpp"

namespace sniproxy::upstream {

namespace {

// splitmix64's finaliser: every input bit affects every output bit.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed) {
  constexpr std::uint64_t kOffset = 0xcbf29ce484222325ULL;
  constexpr std::uint64_t kPrime = 0x100000001b3ULL;
  std::uint64_t h = kOffset ^ mix(seed);
  for (char c : bytes) {
    h ^= static_cast<std::uint8_t>(c);
    h *= kPrime;
  }
  return mix(h);
}

std::uint64_t hash_of(const IpAddress& client) {
  const IpAddress ip = client.unmapped();
  const std::size_t length = ip.family == Family::v4 ? 4 : 16;
  const std::string_view bytes(reinterpret_cast<const char*>(ip.bytes.data()), length);
  return hash_bytes(bytes, ip.family == Family::v4 ? 4 : 6);
}

std::uint64_t hash_of(std::string_view server_name) {
  return hash_bytes(server_name);
}

std::uint64_t hash_of(const MemberKey& key) {
  // The NUL separators keep ("ab", "c") and ("a", "bc") apart.
  std::string joined = key.pool;
  joined.append(1, '\0').append(key.server).append(1, '\0').append(key.address);
  return hash_bytes(joined);
}

}  // namespace sniproxy::upstream
