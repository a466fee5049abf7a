#include "config/reactor_section.hpp"

#include "config/choices.hpp"
#include "config/known_keys.hpp"

namespace sniproxy::config {

Reactor read_reactor(const toml::table& table, DiagnosticSink& sink) {
  TableReader r(table, "[reactor]", kReactorKeys, sink);
  Reactor reactor;
  if (auto v = r.choice("backend", kReactorBackends)) reactor.backend = *v;
  return reactor;
}

std::string reactor_reload_blocker(const Reactor& running, const Reactor& next) {
  if (running == next) return {};
  return "[reactor] backend changed (each worker's event loop is made at start-up; restart to "
         "change it)";
}

}  // namespace sniproxy::config
