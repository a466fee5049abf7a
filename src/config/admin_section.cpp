#include "config/admin_section.hpp"

#include "config/known_keys.hpp"
#include "config/section_change.hpp"

#include <fmt/format.h>

namespace sniproxy::config {

Admin read_admin(const toml::table& table, DiagnosticSink& sink) {
  TableReader r(table, "[admin]", kAdminKeys, sink);
  Admin a;
  if (auto text = r.string("listen")) {
    if (auto endpoint = Endpoint::parse(*text)) {
      a.listen = *endpoint;
    } else {
      r.error_at("listen", fmt::format("invalid address '{}': expected IP:PORT or [IPV6]:PORT "
                                       "(e.g. \"127.0.0.1:9090\")",
                                       *text));
    }
  } else if (!r.has("listen")) {
    r.error_at("listen",
               "[admin] needs 'listen', e.g. listen = \"127.0.0.1:9090\" (remove the section "
               "to turn the endpoint off)");
  }
  if (auto v = r.integer("max_clients", 1, 1024)) a.max_clients = static_cast<std::uint32_t>(*v);
  if (auto v = r.duration("request_timeout", true)) a.request_timeout = *v;
  return a;
}

std::string admin_reload_blocker(const std::optional<Admin>& running,
                                 const std::optional<Admin>& next) {
  return restart_only_change("[admin]", running, next);
}

}  // namespace sniproxy::config
