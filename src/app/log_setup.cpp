#include "app/log_setup.hpp"

#include "common/log.hpp"

namespace sniproxy::app {

void apply_log_level(const std::string& level) {
  if (level == "debug")
    log::set_min_level(log::Level::debug);
  else if (level == "warn")
    log::set_min_level(log::Level::warn);
  else if (level == "error")
    log::set_min_level(log::Level::error);
  else
    log::set_min_level(log::Level::info);
}

void log_config_errors(const config::LoadResult& loaded) {
  for (const auto& d : loaded.errors)
    log::error("config_error", "at={}", log::quote(d.to_string()));
}

}  // namespace sniproxy::app
