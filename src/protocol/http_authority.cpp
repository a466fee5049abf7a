#include "protocol/http_authority.hpp"

#include <algorithm>

#include "common/address.hpp"

namespace sniproxy::protocol {
namespace {

// RFC 3986 reg-name: unreserved / pct-encoded / sub-delims.
bool is_reg_name_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("-._~%!$&'()*+,;=").find(c) != std::string_view::npos;
}

// `text` is what follows the host: empty, ":" or ":digits".
bool parse_port(std::string_view text, std::optional<std::uint16_t>& port) {
  if (text.empty()) return true;
  if (text[0] != ':') return false;
  text.remove_prefix(1);
  if (text.empty()) return true;
  if (text.size() > 5) return false;
  std::uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value == 0 || value > 65535) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace

std::optional<Authority> parse_authority(std::string_view text) {
  Authority out;
  std::string_view rest;
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view literal = text.substr(1, close - 1);
    auto ip = IpAddress::parse(literal);
    if (!ip || ip->family != Family::v6) return std::nullopt;
    out.host = std::string(literal);
    rest = text.substr(close + 1);
  } else {
    const auto colon = text.find(':');
    const std::string_view host = text.substr(0, colon);
    if (host.empty() || !std::all_of(host.begin(), host.end(), is_reg_name_char))
      return std::nullopt;
    out.host = std::string(host);
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
  }
  if (!parse_port(rest, out.port)) return std::nullopt;
  return out;
}

}  // namespace sniproxy::protocol
