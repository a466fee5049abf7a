#pragma once
// Durations are written as an integer with a unit: "250ms", "5s", "2m", "1h".
// A bare number is refused: nobody can tell whether 5 meant seconds or ms.
#include <string_view>

#include "common/result.hpp"
#include "config/config.hpp"

namespace sniproxy::config {

// The longest duration accepted, so every value fits in an int32 of ms.
inline constexpr Millis kMaxDuration{7LL * 24 * 3600 * 1000};

// Returns the duration, or an error describing the accepted form.
Result<Millis> parse_duration(std::string_view text);

}  // namespace sniproxy::config
