// GCC 12 reports a false -Wmaybe-uninitialized inside <regex>'s
// std::function when optimising with sanitizers; the pragma
// must precede the include to cover locations in the library headers.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "config/pattern.hpp"

#include <cstdint>
#include <optional>
#include <regex>

#include "common/server_name.hpp"

namespace sniproxy::config {

namespace {

constexpr std::string_view kWildcardHint =
    "a wildcard is one leading '*.' followed by a name, e.g. \"*.example.com\"";

// libstdc++ parses a repetition count into a long without an overflow check
// (undefined behaviour, found by fuzz_config_load), and a large count
// multiplies the automaton. So every {m}, {m,} and {m,n} outside a bracket
// expression is checked here first, as are backreferences.
std::optional<std::string> check_unsafe_constructs(std::string_view expr) {
  bool in_bracket = false;
  for (std::size_t i = 0; i < expr.size(); ++i) {
    const char c = expr[i];
    if (c == '\\') {
      // libstdc++ reads a backreference number with the same unchecked
      // arithmetic, and no server name needs one.
      if (i + 1 < expr.size() && expr[i + 1] >= '1' && expr[i + 1] <= '9')
        return "backreferences ('\\1'...) are not supported in route patterns";
      ++i;  // an escaped character is never a quantifier or bracket
      continue;
    }
    if (in_bracket) {
      if (c == ']') in_bracket = false;
      continue;
    }
    if (c == '[') {
      in_bracket = true;
      if (i + 1 < expr.size() && expr[i + 1] == ']') ++i;  // "[]...]": ']' is literal
      continue;
    }
    if (c != '{') continue;
    std::size_t digits = 0;
    std::uint64_t value = 0;
    for (std::size_t j = i + 1; j < expr.size() && expr[j] != '}'; ++j) {
      if (expr[j] == ',') {
        digits = 0;
        value = 0;
        continue;
      }
      if (expr[j] < '0' || expr[j] > '9') break;
      if (++digits > 4) return "a repetition count in '{...}' has more than 4 digits";
      value = value * 10 + static_cast<unsigned>(expr[j] - '0');
      if (value > kMaxRegexRepetition)
        return "a repetition count in '{...}' is above " + std::to_string(kMaxRegexRepetition);
    }
  }
  return std::nullopt;
}

Result<Pattern> parse_regex(std::string_view expr) {
  if (expr.empty()) return make_error("empty regular expression after '~'");
  if (expr.size() > kMaxRegexLength)
    return make_error("regular expression longer than " + std::to_string(kMaxRegexLength) +
                      " characters");
  if (auto why = check_unsafe_constructs(expr)) return make_error(*why);
  try {
    const std::regex compiled(expr.begin(), expr.end(), kRegexFlags);
  } catch (const std::regex_error& e) {
    return make_error(std::string("invalid regular expression: ") + e.what());
  }
  return Pattern{PatternKind::regex, std::string(expr)};
}

}  // namespace

Result<Pattern> parse_pattern(std::string_view text) {
  if (!text.empty() && text.front() == '~') return parse_regex(text.substr(1));
  if (text.substr(0, 2) == "*.") {
    const std::string_view suffix = text.substr(2);
    if (suffix.find('*') != std::string_view::npos) return make_error(std::string(kWildcardHint));
    auto name = normalize_server_name(suffix);
    if (!name) return make_error("'" + std::string(suffix) + "' is not a valid server name");
    return Pattern{PatternKind::wildcard, "." + *name};
  }
  if (text.find('*') != std::string_view::npos) return make_error(std::string(kWildcardHint));
  auto name = normalize_server_name(text);
  if (!name)
    return make_error(R"(not a valid server name (use "*.name" or "~regex" for patterns))");
  return Pattern{PatternKind::exact, std::move(*name)};
}

}  // namespace sniproxy::config
