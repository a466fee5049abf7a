#pragma once
// A route's `match`: an exact name, a "*.suffix" wildcard or a "~regex".
#include <cstdint>
#include <regex>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "config/config.hpp"

namespace sniproxy::config {

struct Pattern {
  PatternKind kind = PatternKind::exact;
  std::string key;  // see Route::key
};

// Longest regex accepted: std::regex compiles recursively and expands
// repetitions, so an unbounded expression could exhaust stack or memory.
inline constexpr std::size_t kMaxRegexLength = 1024;
// Largest count in a {m,n} repetition (names are at most 253 bytes anyway).
inline constexpr std::uint64_t kMaxRegexRepetition = 1000;

// Regexes are matched against names from the network, so a pattern with
// nested repetitions such as "(a+)+" must not become a CPU-exhaustion attack:
// libstdc++'s default ECMAScript executor backtracks (seconds on 24 bytes).
// Its __polynomial flag selects the Thompson-NFA executor, linear in the
// (253-byte bounded) name; it cannot do back-references, so those are refused
// here, at config load, with the pattern's file:line:col.
#if defined(__GLIBCXX__)
inline constexpr auto kRegexFlags = std::regex::ECMAScript | std::regex::icase |
                                    std::regex::optimize | std::regex_constants::__polynomial;
#else
#error "sniproxy needs libstdc++'s polynomial-time std::regex mode (see the comment above)"
#endif

// Checks and normalises one pattern; a regex must compile with kRegexFlags.
Result<Pattern> parse_pattern(std::string_view text);

}  // namespace sniproxy::config
