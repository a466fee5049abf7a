#include "config/prefix.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace sniproxy::config {

namespace {

constexpr std::string_view kForm =
    R"(expected an IP address or ADDRESS/LENGTH, e.g. "192.0.2.0/24" or "2001:db8::/32")";

unsigned max_length(Family family) {
  return family == Family::v4 ? 32 : 128;
}

// Clears every bit of `address` after the first `length`.
IpAddress masked(IpAddress address, unsigned length) {
  for (unsigned byte = 0; byte < address.bytes.size(); ++byte) {
    const unsigned first_bit = byte * 8;
    if (first_bit >= length) {
      address.bytes[byte] = 0;
    } else if (length - first_bit < 8) {
      address.bytes[byte] &= static_cast<std::uint8_t>(0xff00u >> (length - first_bit));
    }
  }
  return address;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

}  // namespace

bool contains(const Prefix& prefix, const IpAddress& address) {
  if (prefix.address.family != address.family) return false;
  const std::size_t whole = prefix.length / 8;
  if (!std::equal(prefix.address.bytes.begin(), prefix.address.bytes.begin() + whole,
                  address.bytes.begin()))
    return false;
  const unsigned rest = prefix.length % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (prefix.address.bytes[whole] & mask) == (address.bytes[whole] & mask);
}

bool contains(const std::vector<Prefix>& prefixes, const IpAddress& address) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const Prefix& p) { return contains(p, address); });
}

Result<Prefix> parse_prefix(std::string_view text) {
  const std::size_t slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return make_error(fmt::format("invalid prefix '{}': {}", text, kForm));
  const unsigned limit = max_length(address->family);
  unsigned length = limit;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const char* end = digits.data() + digits.size();
    auto [ptr, ec] = std::from_chars(digits.data(), end, length);
    // from_chars takes no sign; a length of more than 3 digits is never valid.
    if (digits.empty() || digits.size() > 3 || ec != std::errc() || ptr != end) {
      return make_error(
          fmt::format("invalid prefix '{}': the length after '/' must be a number", text));
    }
    if (length > limit) {
      return make_error(fmt::format("invalid prefix '{}': the length of an {} prefix is 0..{}",
                                    text, address->family == Family::v4 ? "IPv4" : "IPv6", limit));
    }
  }
  Prefix prefix{*address, static_cast<std::uint8_t>(length)};
  if (IpAddress network = masked(*address, length); network != *address) {
    return make_error(
        fmt::format("invalid prefix '{}': address bits are set after the first {}; did you mean "
                    "\"{}\"?",
                    text, length, to_string(Prefix{network, prefix.length})));
  }
  return prefix;
}

std::string to_string(const Prefix& prefix) {
  return fmt::format("{}/{}", prefix.address.to_string(), prefix.length);
}

PrefixFile parse_prefix_file(std::string_view text) {
  PrefixFile out;
  std::uint32_t line_number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (std::size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    std::size_t first = 0;
    while (first < line.size() && is_blank(line[first])) ++first;
    std::size_t last = first;
    while (last < line.size() && !is_blank(line[last])) ++last;
    if (first == line.size()) continue;
    const auto column = [](std::size_t at) { return static_cast<std::uint32_t>(at + 1); };
    const std::string_view token = line.substr(first, last - first);
    std::size_t more = last;
    while (more < line.size() && is_blank(line[more])) ++more;
    if (more < line.size()) {
      out.errors.push_back(
          {line_number, column(more),
           fmt::format("one prefix per line: '{}' follows '{}'",
                       line.substr(more, line.find_first_of(" \t\r", more) - more), token)});
      continue;
    }
    auto prefix = parse_prefix(token);
    if (prefix.ok()) {
      out.prefixes.push_back(*prefix);
    } else {
      out.errors.push_back({line_number, column(first), prefix.error().message});
    }
  }
  return out;
}

}  // namespace sniproxy::config
