#pragma once
// Values the DNS tests share: cached answers, a fixed clock origin, and an
// answer as the text of its addresses.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dns/cache.hpp"

namespace sniproxy::dns::testing {

inline CachedAnswer answer_with(std::uint8_t last_octet) {
  return std::make_shared<const Result<Addresses>>(Addresses{IpAddress::v4(192, 0, 2, last_octet)});
}

// An arbitrary origin, far enough from the epoch to subtract from.
inline const Cache::TimePoint t0{std::chrono::hours(1)};

// The addresses as text, in order; empty for an error.
inline std::vector<std::string> texts(const Result<Addresses>& r) {
  std::vector<std::string> out;
  if (r)
    for (const IpAddress& a : *r) out.push_back(a.to_string());
  return out;
}

}  // namespace sniproxy::dns::testing
