#pragma once
// [admin]: the operator's HTTP endpoint (GET /metrics, GET /status). Off
// unless the section is present; `listen` is then required.
#include <toml++/toml.h>

#include "config/config.hpp"
#include "config/table_reader.hpp"

namespace sniproxy::config {

Admin read_admin(const toml::table& table, DiagnosticSink& sink);

// Why a change of [admin] needs a restart ("" when it does not).
std::string admin_reload_blocker(const std::optional<Admin>& running,
                                 const std::optional<Admin>& next);

}  // namespace sniproxy::config
