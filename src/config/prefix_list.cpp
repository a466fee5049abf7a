#include "config/prefix_list.hpp"

#include <fmt/format.h>

#include "config/prefix.hpp"

namespace sniproxy::config {

void read_prefix_list(TableReader& r, std::string_view key, std::vector<Prefix>& out) {
  const toml::array* list = r.array(key, "an array of strings");
  if (list == nullptr) return;
  for (const toml::node& entry : *list) {
    const auto* text = entry.as_string();
    if (text == nullptr) {
      r.sink().error(entry.source(), fmt::format("expected a string for each entry of '{}', got {}",
                                                 key, describe_type(entry)));
      continue;
    }
    auto prefix = parse_prefix(text->get());
    if (prefix.ok()) {
      out.push_back(*prefix);
    } else {
      r.sink().error(entry.source(), prefix.error().message);
    }
  }
}

}  // namespace sniproxy::config
