#pragma once
// The flat sections of the config: [timeouts], [limits], [dns],
// [access_log] and [forwarding]. Each starts from the defaults in
// config.hpp and overrides what the table sets.
#include <toml++/toml.h>

#include "config/config.hpp"
#include "config/table_reader.hpp"

namespace sniproxy::config {

Timeouts read_timeouts(const toml::table& table, DiagnosticSink& sink);
Limits read_limits(const toml::table& table, DiagnosticSink& sink);
Dns read_dns(const toml::table& table, DiagnosticSink& sink);
AccessLog read_access_log(const toml::table& table, DiagnosticSink& sink);
Forwarding read_forwarding(const toml::table& table, DiagnosticSink& sink);

}  // namespace sniproxy::config
