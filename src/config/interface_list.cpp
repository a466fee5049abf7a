#include "config/interface_list.hpp"

#include <fmt/format.h>

#include <set>

namespace sniproxy::config {

namespace {
// IFNAMSIZ is 16 with the terminating NUL.
constexpr std::size_t kMaxInterfaceName = 15;
}  // namespace

std::vector<std::string> read_interface_list(TableReader& r, std::string_view key, bool required) {
  std::vector<std::string> names;
  const toml::array* list = r.array(key, "an array of strings");
  if (list == nullptr) {
    if (required && !r.has(key)) r.missing(key);
    return names;
  }
  if (list->empty()) r.error_at(key, fmt::format("'{}' must name at least one interface", key));
  std::set<std::string> seen;
  for (const toml::node& entry : *list) {
    const auto* text = entry.as_string();
    if (text == nullptr) {
      r.sink().error(entry.source(), fmt::format("expected a string for each entry of '{}', got {}",
                                                 key, describe_type(entry)));
      continue;
    }
    const std::string& name = text->get();
    if (name.empty() || name.size() > kMaxInterfaceName ||
        name.find_first_of("/ \t\n:") != std::string::npos) {
      r.sink().error(entry.source(),
                     fmt::format("invalid interface name '{}': 1 to {} characters, without '/', "
                                 "':' or spaces",
                                 name, kMaxInterfaceName));
      continue;
    }
    if (!seen.insert(name).second) {
      r.sink().error(entry.source(), fmt::format("interface '{}' is listed twice", name));
      continue;
    }
    names.push_back(name);
  }
  return names;
}

}  // namespace sniproxy::config
