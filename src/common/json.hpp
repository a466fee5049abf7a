#pragma once
// JSON string literals for log lines and machine-readable output.
#include <string>
#include <string_view>

namespace sniproxy {

// `value` as a quoted JSON string; control bytes become \uXXXX escapes.
// Bytes >= 0x80 pass through unchanged (names are validated elsewhere).
std::string json_string(std::string_view value);

}  // namespace sniproxy
