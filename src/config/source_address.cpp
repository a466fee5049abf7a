#include "config/source_address.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace sniproxy::config {

namespace {

bool is_client(const std::optional<SourceAddress>& source) {
  return source && source->client;
}

}  // namespace

std::optional<SourceAddress> read_source_address(TableReader& r) {
  auto text = r.string("source_address");
  if (!text) return std::nullopt;
  if (*text == "client") return SourceAddress{true, {}};
  if (auto ip = IpAddress::parse(*text)) return SourceAddress{false, *ip};
  r.error_at(
      "source_address",
      fmt::format("invalid source_address '{}': expected an IP address or \"client\"", *text));
  return std::nullopt;
}

bool uses_client_source(const Config& config) {
  for (const Listener& l : config.listeners)
    if (is_client(l.source) || (l.fallback && is_client(l.fallback->source))) return true;
  for (const auto& [name, table] : config.tables)
    for (const Route& route : table.routes)
      if (is_client(route.target.source)) return true;
  return std::ranges::any_of(config.pools,
                             [](const auto& entry) { return is_client(entry.second.source); });
}

}  // namespace sniproxy::config
