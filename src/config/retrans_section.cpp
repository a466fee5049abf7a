#include "config/retrans_section.hpp"

#include "config/known_keys.hpp"
#include "config/section_change.hpp"

namespace sniproxy::config {

Retrans read_retrans(const toml::table& table, DiagnosticSink& sink) {
  TableReader r(table, "[retrans]", kRetransKeys, sink);
  Retrans t;
  if (auto v = r.integer("log_rate", 0, 100'000)) t.log_rate = static_cast<std::uint32_t>(*v);
  if (auto v = r.integer("max_sockets", 1024, 4'194'304))
    t.max_sockets = static_cast<std::uint32_t>(*v);
  return t;
}

std::string retrans_reload_blocker(const std::optional<Retrans>& running,
                                   const std::optional<Retrans>& next) {
  return restart_only_change("[retrans]", running, next);
}

}  // namespace sniproxy::config
