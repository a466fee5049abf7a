#pragma once
// [reactor]: which event loop the workers run (io_uring or epoll). Chosen
// once at start-up, when each worker's loop is made.
#include <toml++/toml.h>

#include <string>

#include "config/config.hpp"
#include "config/table_reader.hpp"

namespace sniproxy::config {

Reactor read_reactor(const toml::table& table, DiagnosticSink& sink);

// "" or why a reload cannot apply [reactor]: the workers' loops exist.
std::string reactor_reload_blocker(const Reactor& running, const Reactor& next);

}  // namespace sniproxy::config
