#include "config/process_section.hpp"

#include <fmt/format.h>

#include <optional>

#include "config/known_keys.hpp"

namespace sniproxy::config {

namespace {

// A user or group name as the system accepts it: no ':' (the field separator
// of /etc/passwd), no whitespace, no NUL, not empty.
std::optional<std::string> account_name(TableReader& r, std::string_view key) {
  auto v = r.string(key);
  if (!v) return std::nullopt;
  const bool bad = v->empty() || v->size() > 256 ||
                   v->find_first_of(std::string_view(":/ \t\n\0", 6)) != std::string::npos;
  if (bad) {
    r.error_at(key,
               fmt::format(R"('{}' must be a {} name such as "sniproxy", got "{}")", key, key, *v));
    return std::nullopt;
  }
  return v;
}

}  // namespace

Process read_process(const toml::table& table, DiagnosticSink& sink) {
  TableReader r(table, "[process]", kProcessKeys, sink);
  Process p;
  if (auto v = account_name(r, "user")) p.user = std::move(*v);
  if (auto v = account_name(r, "group")) p.group = std::move(*v);
  if (auto v = r.boolean("allow_root")) p.allow_root = *v;
  if (auto v = r.boolean("master")) p.master = *v;
  if (!p.group.empty() && !r.has("user"))
    r.error_at("group", "'group' needs a 'user' in [process]: add user = \"NAME\" or remove group");
  return p;
}

std::string process_reload_blocker(const Process& running, const Process& next) {
  if (running == next) return "";
  return "[process] user, group, allow_root or master changed";
}

}  // namespace sniproxy::config
