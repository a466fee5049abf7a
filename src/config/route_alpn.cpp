#include "config/route_alpn.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace sniproxy::config {

namespace {
// RFC 7301 3.1: a protocol name is 1 to 255 bytes.
constexpr std::size_t kMaxProtocolName = 255;
}  // namespace

std::optional<std::vector<std::string>> read_alpn(TableReader& r) {
  std::vector<std::string> protocols;
  if (!r.has("alpn")) return protocols;
  const toml::array* list = r.array("alpn", "an array of strings");
  if (list == nullptr) return std::nullopt;
  if (list->empty()) {
    // An empty list could only mean "never matches", surely not what was meant.
    r.error_at("alpn", "'alpn' must name at least one protocol, e.g. [\"acme-tls/1\"]");
    return std::nullopt;
  }
  bool ok = true;
  for (const toml::node& entry : *list) {
    const auto* text = entry.as_string();
    if (text == nullptr) {
      r.sink().error(
          entry.source(),
          fmt::format("expected a string for each entry of 'alpn', got {}", describe_type(entry)));
      ok = false;
      continue;
    }
    const std::string& name = text->get();
    if (name.empty() || name.size() > kMaxProtocolName) {
      r.sink().error(entry.source(), fmt::format("invalid ALPN protocol '{}': 1 to {} bytes", name,
                                                 kMaxProtocolName));
      ok = false;
      continue;
    }
    if (std::find(protocols.begin(), protocols.end(), name) != protocols.end()) {
      r.sink().error(entry.source(), fmt::format("ALPN protocol '{}' is listed twice", name));
      ok = false;
      continue;
    }
    protocols.push_back(name);
  }
  if (!ok) return std::nullopt;
  return protocols;
}

}  // namespace sniproxy::config
