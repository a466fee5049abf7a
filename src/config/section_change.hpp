#pragma once
// Reload rule shared by the optional sections that only apply at start-up
// ([admin], [retrans]): adding, removing or changing one needs a restart.
#include <optional>
#include <string>
#include <string_view>

namespace sniproxy::config {

// "" when `running` and `next` are the same; else why a restart is needed,
// naming `section` (e.g. "[admin]").
template <class Section>
std::string restart_only_change(std::string_view section, const std::optional<Section>& running,
                                const std::optional<Section>& next) {
  if (running.has_value() != next.has_value()) return std::string(section) + " added or removed";
  if (running && !(*running == *next)) return std::string(section) + " changed";
  return {};
}

}  // namespace sniproxy::config
