#include "config/duration.hpp"

#include <array>
#include <charconv>
#include <cstdint>

namespace sniproxy::config {

namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t millis;
};

// "ms" before "m" and "s": the first suffix that matches wins.
constexpr std::array<Unit, 4> kUnits{{{"ms", 1}, {"s", 1'000}, {"m", 60'000}, {"h", 3'600'000}}};

}  // namespace

Result<Millis> parse_duration(std::string_view text) {
  const auto fail = [] {
    return make_error("expected an integer followed by a unit (ms, s, m or h), e.g. \"5s\"");
  };
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return fail();
  const std::string_view suffix = text.substr(digits);
  const Unit* unit = nullptr;
  for (const Unit& u : kUnits) {
    if (suffix == u.suffix) {
      unit = &u;
      break;
    }
  }
  if (unit == nullptr) return fail();
  std::uint64_t count = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, count);
  const auto max_count = static_cast<std::uint64_t>(kMaxDuration.count() / unit->millis);
  if (ec != std::errc() || end != text.data() + digits || count > max_count)
    return make_error("longer than the maximum of 168h (7 days)");
  return Millis{static_cast<std::int64_t>(count) * unit->millis};
}

}  // namespace sniproxy::config
