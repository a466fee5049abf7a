#pragma once
// What the supervisor and the master both do with a loaded config's logging.
#include <string>

#include "config/loader.hpp"

namespace sniproxy::app {

// log_level = "debug" | "info" | "warn" | "error".
void apply_log_level(const std::string& level);
// One event=config_error line per diagnostic (at=FILE:LINE:COL: ...).
void log_config_errors(const config::LoadResult& loaded);

}  // namespace sniproxy::app
