#pragma once
// A hash that lets string-keyed maps be probed with a std::string_view.
#include <cstddef>
#include <functional>
#include <string_view>

namespace sniproxy::routing {

// Lets the maps be probed with a std::string_view without building a string.
// Deliberately not noexcept: libstdc++ then stores each node's hash, so a
// probe that misses compares stored hashes instead of rehashing every key in
// the bucket chain (that halved wildcard-probe cost at 10,000 routes).
struct TransparentStringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const {  // NOLINT(performance-noexcept-*)
    return std::hash<std::string_view>{}(s);
  }
};

}  // namespace sniproxy::routing
