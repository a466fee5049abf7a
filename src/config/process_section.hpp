#pragma once
// [process]: the user and group the proxy drops to after start-up, and
// whether running on as root is allowed. The names are checked against the
// system's user database when the proxy starts, not here: the loader stays
// pure and `--check` works on another machine.
#include <toml++/toml.h>

#include <string>

#include "config/config.hpp"
#include "config/table_reader.hpp"

namespace sniproxy::config {

Process read_process(const toml::table& table, DiagnosticSink& sink);

// "" or why a reload cannot apply [process]: credentials are dropped once,
// at start-up, and cannot be taken back.
std::string process_reload_blocker(const Process& running, const Process& next);

}  // namespace sniproxy::config
